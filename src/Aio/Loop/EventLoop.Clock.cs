// Loop timers on any TimeProvider.
//
// With the system clock the loop waits for its earliest timer the fast way: the backend's poll
// timeout (epoll_wait's, or the portable backend's wait). Any other provider keeps its own time,
// which a poll timeout in real milliseconds knows nothing about: a FakeTimeProvider advanced by hand
// moves three seconds in no real time, a provider for a simulation may run slower than real time.
// So with such a provider the loop asks the provider itself for one timer (TimeProvider.CreateTimer)
// and keeps it armed at its earliest deadline; the poll waits without a timeout, and when the
// provider's time reaches the deadline its timer's callback wakes the loop through the ordinary
// thread-safe post path (an empty callback into the inbox, which wakes a sleeping loop and is never
// lost, see Inbox). The loop then finds its timers due and runs them.
//
// Arming races the provider's time: if the time moves between reading it and arming the timer, the
// timer would be due late by that much. The loop re-reads the time after arming and arms again while
// it moved (at most three tries: a provider whose time runs continuously is late by microseconds at
// worst, a fake one advanced in jumps is exact). A deadline that is already due (within the clock's
// resolution) is not armed: the poll does not block and the timer runs in this iteration.
//
// A VirtualClock is such a provider too (its timers fire when it is advanced), plus auto-jump: when
// the loop is idle, it moves the clock to the clock's earliest timer, which is the loop's own wake-up
// timer or an earlier .NET timer (Task.Delay(span, clock)); timer callbacks then run on the loop
// thread, inside the jump, and what they throw goes to the exception handler.
namespace Aio;

public sealed partial class EventLoop
{
    private static readonly Action<object?> Nothing = static _ => { };

    /// <summary>True when the loop waits for its timers through the provider's timer, not the poll timeout.</summary>
    private readonly bool _providerTimers;

    /// <summary>The timestamp subtracted from a foreign provider's, so loop times stay small and exact in a double.</summary>
    private readonly long _timestampOrigin;

    private ITimer? _clockTimer;

    /// <summary>The deadline the clock timer is armed for; +∞ when disarmed, NaN when it must be re-armed.</summary>
    private double _clockTimerFor = double.PositiveInfinity;

    private Action? _onVirtualTimersChanged;

    /// <summary>
    /// With a provider other than the system clock: arms the provider timer for
    /// <paramref name="nextTimer"/> and returns the poll timeout (-1, or 0 when the deadline is due
    /// already); with a virtual clock, also plans the auto-jump.
    /// </summary>
    private int PlanProviderWait(double nextTimer, out bool jumpArmed)
    {
        jumpArmed = false;
        if (!ArmClockTimer(nextTimer))
        {
            return 0;
        }

        return _virtualClock is null ? -1 : VirtualWait(out jumpArmed);
    }

    /// <summary>Arms (or disarms, for +∞) the provider timer; false when <paramref name="when"/> is due already.</summary>
    private bool ArmClockTimer(double when)
    {
        if (double.IsPositiveInfinity(when))
        {
            if (!double.IsPositiveInfinity(_clockTimerFor))
            {
                _clockTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _clockTimerFor = double.PositiveInfinity;
            }

            return true;
        }

        if (when - Time() <= ClockResolution)
        {
            return false; // due: the poll must not block
        }

        if (when == _clockTimerFor)
        {
            return true; // armed already (or fired, and the wake-up is in the inbox)
        }

        _clockTimer ??= CreateClockTimer();
        for (int attempt = 0; ; attempt++)
        {
            double now = Time();
            double delay = when - now;
            if (delay <= ClockResolution)
            {
                _clockTimerFor = double.NaN; // armed for about now: it fires, and the next plan arms again
                return false;
            }

            bool clamped = delay > MaxTimeoutSeconds;
            long ticks = clamped
                ? (long)(MaxTimeoutSeconds * TimeSpan.TicksPerSecond)
                : Math.Max(1, (long)Math.Ceiling((delay * TimeSpan.TicksPerSecond) - 1e-3));
            _clockTimer.Change(TimeSpan.FromTicks(ticks), Timeout.InfiniteTimeSpan);
            if (Time() == now || attempt == 2)
            {
                // A clamped wait wakes early on purpose: NaN makes the next iteration arm again.
                _clockTimerFor = clamped ? double.NaN : when;
                return true;
            }
        }
    }

    private ITimer CreateClockTimer()
    {
        // Internal timers never capture the caller's execution context.
        bool suppress = !ExecutionContext.IsFlowSuppressed();
        AsyncFlowControl flow = suppress ? ExecutionContext.SuppressFlow() : default;
        try
        {
            return _clock.CreateTimer(static state => ((EventLoop)state!).WakeFromClock(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        finally
        {
            if (suppress)
            {
                flow.Undo();
            }
        }
    }

    /// <summary>The provider's time moved to a deadline (or a virtual timer was scheduled): wake the loop unless this is its own thread.</summary>
    private void WakeFromClock()
    {
        if (!IsOnLoopThread && !_closed)
        {
            _inbox.Post(Nothing, null);
        }
    }

    /// <summary>With a virtual clock: how long to really wait, and whether to jump afterwards.</summary>
    private int VirtualWait(out bool jumpArmed)
    {
        TimeSpan? threshold = _virtualClock!.AutoJumpThreshold;
        jumpArmed = threshold is { } limit && limit != Timeout.InfiniteTimeSpan && _virtualClock.TryGetNextDeadline(out _);
        if (!jumpArmed)
        {
            // Virtual timers never come due by themselves: wait for I/O, posts or an Advance.
            return -1;
        }

        return (int)Math.Ceiling(Math.Max(0, threshold!.Value.TotalMilliseconds));
    }

    /// <summary>The loop stayed idle: move the virtual clock to its earliest timer, which fires.</summary>
    private void JumpVirtualClock()
    {
        if (!_virtualClock!.TryGetNextDeadline(out long deadline))
        {
            return;
        }

        try
        {
            _virtualClock.MoveTo(deadline);
        }
        catch (AggregateException errors)
        {
            foreach (Exception error in errors.InnerExceptions)
            {
                CallExceptionHandler(new ExceptionContext("Exception in a callback of a VirtualClock timer", error));
            }
        }
    }

    /// <summary>Constructor part: subscribes to a virtual clock's timer changes, so an idle loop re-plans its jump.</summary>
    private void AttachClock()
    {
        if (_virtualClock is not null)
        {
            _onVirtualTimersChanged = WakeFromClock;
            _virtualClock.TimersChanged += _onVirtualTimersChanged;
        }
    }

    /// <summary>Close part: releases the provider timer and the clock subscription.</summary>
    private void DetachClock()
    {
        _clockTimer?.Dispose();
        _clockTimer = null;
        if (_virtualClock is not null && _onVirtualTimersChanged is not null)
        {
            _virtualClock.TimersChanged -= _onVirtualTimersChanged;
        }
    }
}
