// Virtual time for tests (trio's MockClock). A loop whose TimeProvider is a VirtualClock reads
// its time from here. With auto-jump on (the default), whenever the loop would wait for its
// earliest timer and nothing else happens within AutoJumpThreshold of real time (zero by
// default), the loop sets the clock to that timer's deadline instead of sleeping: timer-heavy
// code runs instantly and deterministically, in exactly the order real time would produce.
// With auto-jump off, time moves only through Advance.
namespace Aio;

/// <summary>
/// A manually driven clock for <see cref="EventLoopOptions.TimeProvider"/>. Time starts at zero and
/// never goes backwards. Not thread-safe for writers: advance it on the loop thread (or while the
/// loop is not running); reading is safe from any thread.
/// </summary>
public sealed class VirtualClock : TimeProvider
{
    private const long TicksPerSecond = TimeSpan.TicksPerSecond;
    private readonly DateTimeOffset _epoch;
    private long _ticks;

    /// <summary>Creates a clock at time zero.</summary>
    /// <param name="autoJump">Whether loops jump to their next timer when idle (see <see cref="AutoJumpThreshold"/>).</param>
    public VirtualClock(bool autoJump = true)
    {
        _epoch = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
        AutoJumpThreshold = autoJump ? TimeSpan.Zero : null;
    }

    /// <summary>
    /// How long, in real time, a loop waits for I/O or posts before jumping to its next timer; null
    /// turns auto-jump off. Zero (the default with auto-jump) jumps as soon as the loop is idle.
    /// Give a small positive value when real I/O must get a chance to arrive before time jumps.
    /// </summary>
    public TimeSpan? AutoJumpThreshold { get; set; }

    /// <summary>The virtual time elapsed since the clock was created.</summary>
    public TimeSpan Elapsed => TimeSpan.FromTicks(Volatile.Read(ref _ticks));

    /// <inheritdoc />
    public override long TimestampFrequency => TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => Volatile.Read(ref _ticks);

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => _epoch + Elapsed;

    /// <summary>Moves time forward by <paramref name="delta"/>; timers that come due fire on the loop's next iteration.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delta"/> is negative.</exception>
    public void Advance(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        Volatile.Write(ref _ticks, checked(_ticks + delta.Ticks));
    }

    /// <summary>Moves time to at least <paramref name="seconds"/> (a loop time); never backwards.</summary>
    internal void JumpTo(double seconds)
    {
        double ticks = Math.Ceiling(seconds * TicksPerSecond);
        long target = ticks >= long.MaxValue ? long.MaxValue : (long)ticks;
        if (target > _ticks)
        {
            Volatile.Write(ref _ticks, target);
        }
    }
}
