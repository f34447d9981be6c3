// Why the runner overrides an inherited SIGINT "ignore".
//
// A shell without job control (sh -c 'app &', many CI runners, nohup-style launchers) starts
// background jobs with SIGINT and SIGQUIT set to SIG_IGN, and exec keeps that disposition. .NET
// respects an inherited ignore: when its signal machinery starts it leaves an ignored signal alone
// and marks it "installed", so a later PosixSignalRegistration for SIGINT succeeds but never fires,
// and `kill -INT` does nothing to the application. Python's loop.add_signal_handler overrides the
// inherited ignore (it installs its own handler with signal.signal), and the runner is the one
// place where the user asked for SIGINT to mean "shut down"; so Runner.Run does the same here.
//
// How. .NET installs one native handler (System.Native's SignalHandler, which forwards the signal
// number to its dispatch thread) for every signal it handles, and dispatches by number to the
// registrations of that number. After registering, the runner reads SIGINT's disposition with
// sigaction(2); if it is still SIG_IGN, it copies the disposition .NET installed for a donor signal
// it registered too (any stop signal .NET did install, else a short-lived SIGWINCH registration,
// whose default is to ignore). The registration for SIGINT already exists, so the dispatch thread
// delivers SIGINT to it. When the run ends the inherited SIG_IGN is put back, so child processes
// and later code see what the process was started with. If no donor can be found (a .NET that
// changes this design), nothing is changed and the runner logs why; SIGTERM still works.
using System.Runtime.InteropServices;

namespace Aio.Hosting;

/// <summary>Linux: turns an inherited SIG_IGN of a stop signal into .NET's handler for the run, and back.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static unsafe partial class InheritedSignalIgnore
{
    private const int SigActionSize = 256; // larger than struct sigaction on every Linux ABI (152 on glibc x64/arm64)
    private const nint SigDfl = 0;
    private const nint SigIgn = 1;
    private const int SigWinch = 28;

    /// <summary>
    /// For each of <paramref name="signals"/> still ignored although registered, installs the
    /// handler .NET installed for another signal. Returns the signals overridden (restore them
    /// with <see cref="Restore"/>); sets <paramref name="problem"/> when one could not be.
    /// </summary>
    public static List<int> Override(IEnumerable<PosixSignal> signals, out string? problem)
    {
        problem = null;
        var overridden = new List<int>();
        if (!OperatingSystem.IsLinux())
        {
            return overridden;
        }

        byte* donor = stackalloc byte[SigActionSize];
        bool haveDonor = false;
        foreach (PosixSignal signal in signals)
        {
            int number = Number(signal);
            if (number <= 0 || !IsIgnored(number))
            {
                continue;
            }

            haveDonor = haveDonor || FindDonor(signals, donor);
            if (!haveDonor)
            {
                problem = $"signal {number} was inherited as ignored and .NET's handler could not be found to replace the ignore; it stays ignored (send SIGTERM instead)";
                continue;
            }

            if (SigAction(number, donor, null) == 0)
            {
                overridden.Add(number);
            }
            else
            {
                problem = $"sigaction({number}) failed: errno {Marshal.GetLastPInvokeError()}; the signal stays ignored";
            }
        }

        return overridden;
    }

    /// <summary>Puts the inherited SIG_IGN back on <paramref name="overridden"/>.</summary>
    public static void Restore(List<int> overridden)
    {
        byte* ignore = stackalloc byte[SigActionSize];
        foreach (int number in overridden)
        {
            new Span<byte>(ignore, SigActionSize).Clear();
            *(nint*)ignore = SigIgn;
            _ = SigAction(number, ignore, null);
        }

        overridden.Clear();
    }

    /// <summary>Whether <paramref name="number"/>'s disposition is SIG_IGN now.</summary>
    public static bool IsIgnored(int number)
    {
        byte* current = stackalloc byte[SigActionSize];
        return SigAction(number, null, current) == 0 && *(nint*)current == SigIgn;
    }

    private static bool FindDonor(IEnumerable<PosixSignal> signals, byte* donor)
    {
        foreach (PosixSignal signal in signals)
        {
            int number = Number(signal);
            if (number > 0 && TryRead(number, donor))
            {
                return true;
            }
        }

        // No registered signal has .NET's handler (all of them were ignored): register one whose
        // default is to ignore, just long enough to read the handler .NET installs for it.
        if (IsIgnored(SigWinch))
        {
            return false;
        }

        using PosixSignalRegistration probe = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, static _ => { });
        return TryRead(SigWinch, donor);
    }

    /// <summary>Reads <paramref name="number"/>'s disposition; true when it is a handler (neither default nor ignore).</summary>
    private static bool TryRead(int number, byte* action)
    {
        if (SigAction(number, null, action) != 0)
        {
            return false;
        }

        nint handler = *(nint*)action;
        return handler != SigDfl && handler != SigIgn;
    }

    private static int Number(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGQUIT => 3,
        PosixSignal.SIGTERM => 15,
        _ => (int)signal,
    };

    [LibraryImport("libc", EntryPoint = "sigaction", SetLastError = true)]
    private static partial int SigAction(int signal, byte* action, byte* previous);
}
