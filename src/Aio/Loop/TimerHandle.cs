namespace Aio;

/// <summary>
/// A callback scheduled for a loop time [asyncio.TimerHandle]. Returned by
/// <see cref="EventLoop.CallLater(TimeSpan, Action)"/> and <see cref="EventLoop.CallAt(double, Action)"/>.
/// </summary>
public sealed class TimerHandle : Handle
{
    internal TimerHandle(EventLoop loop, double when, Delegate callback, object? state)
        : base(loop, callback, state)
    {
        When = when;
    }

    /// <summary>The loop time (<see cref="EventLoop.Time"/>) at which the callback is due.</summary>
    public double When { get; }

    /// <summary>Whether the timer still sits in the loop's timer heap.</summary>
    internal bool Scheduled { get; set; }

    /// <inheritdoc />
    public override void Cancel()
    {
        if (IsCancelled)
        {
            return;
        }

        base.Cancel();
        if (Scheduled)
        {
            Loop.TimerCancelled();
        }
    }
}
