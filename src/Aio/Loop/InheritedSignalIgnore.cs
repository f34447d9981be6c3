// Why the loop's signal handlers and the runner override an inherited SIGINT "ignore".
//
// A shell without job control (sh -c 'app &', many CI runners, nohup-style launchers) starts
// background jobs with SIGINT and SIGQUIT set to SIG_IGN, and exec keeps that disposition. .NET
// respects an inherited ignore: when its signal machinery starts it leaves an ignored signal alone
// and marks it "installed", so a later PosixSignalRegistration for SIGINT succeeds but never fires,
// and `kill -INT` does nothing to the application. Python's loop.add_signal_handler overrides the
// inherited ignore (it installs its own handler with signal.signal), and a handler (or the runner's
// stop signals) is the user asking for the signal; so EventLoop.AddSignalHandler and Runner.Run do
// the same here.
//
// How. .NET installs one native handler (System.Native's SignalHandler, which forwards the signal
// number to its dispatch thread) for every signal it handles, and dispatches by number to the
// registrations of that number. After registering, the runner reads SIGINT's disposition with
// sigaction(2); if it is still SIG_IGN, it copies the disposition .NET installed for a donor signal
// it registered too (any stop signal .NET did install, else a short-lived SIGWINCH registration,
// whose default is to ignore). The registration for SIGINT already exists, so the dispatch thread
// delivers SIGINT to it. Overrides are counted per signal for the whole process: when the last
// holder releases (the handler is removed, the run ends), the inherited SIG_IGN is put back, so
// child processes and later code see what the process was started with. If no donor can be found
// (a .NET that changes this design), nothing is changed and the caller is told why.
using System.Runtime.InteropServices;

namespace Aio;

/// <summary>Linux: turns an inherited SIG_IGN of a handled signal into .NET's handler while someone holds it, and back.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static unsafe partial class InheritedSignalIgnore
{
    private const int SigActionSize = 256; // larger than struct sigaction on every Linux ABI (152 on glibc x64/arm64)
    private const nint SigDfl = 0;
    private const nint SigIgn = 1;
    private const int SigWinch = 28;

    private static readonly object Gate = new();
    private static readonly Dictionary<int, int> Holders = [];   // signal number → overrides held

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
        lock (Gate)
        {
            foreach (PosixSignal signal in signals)
            {
                int number = Number(signal);
                if (number <= 0)
                {
                    continue;
                }

                if (Holders.TryGetValue(number, out int held))
                {
                    Holders[number] = held + 1; // already overridden: hold it too, so it stays until the last release
                    overridden.Add(number);
                    continue;
                }

                if (!IsIgnored(number))
                {
                    continue;
                }

                haveDonor = haveDonor || FindDonor(signals, donor);
                if (!haveDonor)
                {
                    problem = $"signal {number} was inherited as ignored and .NET's handler could not be found to replace the ignore; it stays ignored";
                    continue;
                }

                if (SigAction(number, donor, null) == 0)
                {
                    Holders[number] = 1;
                    overridden.Add(number);
                }
                else
                {
                    problem = $"sigaction({number}) failed: errno {Marshal.GetLastPInvokeError()}; the signal stays ignored";
                }
            }
        }

        return overridden;
    }

    /// <summary>Releases the overrides in <paramref name="overridden"/>; the last holder of a signal puts the inherited SIG_IGN back.</summary>
    public static void Restore(List<int> overridden)
    {
        byte* ignore = stackalloc byte[SigActionSize];
        lock (Gate)
        {
            foreach (int number in overridden)
            {
                if (!Holders.TryGetValue(number, out int held))
                {
                    continue;
                }

                if (held > 1)
                {
                    Holders[number] = held - 1;
                    continue;
                }

                _ = Holders.Remove(number);
                new Span<byte>(ignore, SigActionSize).Clear();
                *(nint*)ignore = SigIgn;
                _ = SigAction(number, ignore, null);
            }
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
