// Signal handling [loop.add_signal_handler]. .NET owns the process's signal handlers; a
// PosixSignalRegistration asks it to call us (on its own signal-dispatch thread) instead of taking
// the default action. That callback only cancels the default action and posts the user's handler
// into the loop's inbox, so the handler runs on the loop thread like any other callback, and a
// signal arriving while the loop is busy or not yet running waits in the inbox. Disposing the
// registration gives the signal back to .NET, which restores the default action. A signal
// inherited as ignored (a background start without job control) is made to reach the handler, as
// Python's add_signal_handler overrides the ignore; InheritedSignalIgnore.cs explains how.
using System.Runtime.InteropServices;

namespace Aio;

public sealed partial class EventLoop
{
    private const int SigKill = 9;
    private const int SigStop = 19;
    private const int HighestSignal = 64;

    private readonly Dictionary<PosixSignal, PosixSignalRegistration> _signals = new();
    private readonly Dictionary<PosixSignal, List<int>> _ignoreOverrides = new();

    /// <summary>
    /// Runs <paramref name="handler"/> on the loop thread whenever <paramref name="signal"/> arrives
    /// [loop.add_signal_handler], instead of the signal's default action. Replaces a handler already
    /// installed for the signal. Raw Unix signal numbers may be passed by casting, e.g.
    /// <c>(PosixSignal)10</c> for SIGUSR1. Loop thread only.
    /// </summary>
    /// <remarks>
    /// Unlike asyncio, any thread may register (asyncio accepts only the main thread, a limit of
    /// Python's <c>signal.set_wakeup_fd</c>): .NET delivers signals on its own dispatch thread
    /// whichever thread registered, so a loop running in a background thread (a shared loop, a
    /// hosted service) can handle them too. Loop thread only, as every loop API.
    /// </remarks>
    /// <exception cref="ArgumentException">The signal is not a signal number (0, above 64, or an undefined negative <see cref="PosixSignal"/>).</exception>
    /// <exception cref="PlatformNotSupportedException">The OS does not support handling this signal.</exception>
    /// <exception cref="InvalidOperationException">
    /// The signal cannot be caught (SIGKILL, SIGSTOP: "sig 9 cannot be caught"), the loop is closed,
    /// or (debug mode) the call comes from another thread than the running loop's.
    /// </exception>
    public void AddSignalHandler(PosixSignal signal, Action handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ValidateSignal(signal, catching: true);
        CheckClosed();
        CheckThread(nameof(AddSignalHandler));

        PosixSignalRegistration registration = PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            TryCallSoonThreadSafe(handler);
        });

        if (_signals.Remove(signal, out PosixSignalRegistration? previous))
        {
            previous.Dispose();
        }

        _signals[signal] = registration;
        if (OperatingSystem.IsLinux() && !_ignoreOverrides.ContainsKey(signal))
        {
            List<int> overridden = InheritedSignalIgnore.Override([signal], out string? problem);
            if (problem is not null)
            {
                LogSignalIgnored(Logger, problem, null);
            }

            if (overridden.Count > 0)
            {
                _ignoreOverrides[signal] = overridden;
            }
        }
    }

    /// <summary>
    /// Removes the handler for <paramref name="signal"/> and restores the default action
    /// [loop.remove_signal_handler]. Returns whether a handler was installed. Loop thread only.
    /// </summary>
    /// <remarks>SIGKILL and SIGSTOP never have a handler: removing one returns false, as in asyncio.</remarks>
    /// <exception cref="ArgumentException">The signal is not a signal number.</exception>
    public bool RemoveSignalHandler(PosixSignal signal)
    {
        ValidateSignal(signal, catching: false);
        CheckThread(nameof(RemoveSignalHandler));
        if (!_signals.Remove(signal, out PosixSignalRegistration? registration))
        {
            return false;
        }

        registration.Dispose();
        ReleaseIgnoreOverride(signal);
        return true;
    }

    private void ReleaseIgnoreOverride(PosixSignal signal)
    {
        if (OperatingSystem.IsLinux() && _ignoreOverrides.Remove(signal, out List<int>? overridden))
        {
            InheritedSignalIgnore.Restore(overridden);
        }
    }

    private static readonly Action<Microsoft.Extensions.Logging.ILogger, string, Exception?> LogSignalIgnored =
        Microsoft.Extensions.Logging.LoggerMessage.Define<string>(
            Microsoft.Extensions.Logging.LogLevel.Warning, new Microsoft.Extensions.Logging.EventId(5, "SignalIgnored"), "{Problem}");

    private static void ValidateSignal(PosixSignal signal, bool catching)
    {
        int value = (int)signal;
        if (value < 0)
        {
            if (!Enum.IsDefined(signal))
            {
                throw new ArgumentException($"{value} is not a PosixSignal value; pass a PosixSignal member or a raw signal number between 1 and {HighestSignal}.", nameof(signal));
            }

            return;
        }

        if (value == 0 || value > HighestSignal)
        {
            throw new ArgumentException($"Signal number {value} is out of range; pass a signal number between 1 and {HighestSignal}.", nameof(signal));
        }

        if (catching && (value is SigKill or SigStop))
        {
            // asyncio raises RuntimeError("sig 9 cannot be caught"): the number is valid, the OS refuses.
            throw new InvalidOperationException($"sig {value} ({(value == SigKill ? "SIGKILL" : "SIGSTOP")}) cannot be caught; the OS never lets a process handle it.");
        }
    }

    private void RemoveAllSignalHandlers()
    {
        foreach ((PosixSignal signal, PosixSignalRegistration registration) in _signals)
        {
            registration.Dispose();
            ReleaseIgnoreOverride(signal);
        }

        _signals.Clear();
    }
}
