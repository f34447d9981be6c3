// Virtual time for tests (trio's MockClock). A loop whose TimeProvider is a VirtualClock reads
// its time from here. With auto-jump on (the default), whenever the loop would wait for the
// earliest timer and nothing else happens within AutoJumpThreshold of real time (zero by default),
// the loop sets the clock to that timer's deadline instead of sleeping: timer-heavy code runs
// instantly and deterministically, in exactly the order real time would produce. With auto-jump
// off, time moves only through Advance.
//
// Timers. The clock is a full TimeProvider: CreateTimer gives .NET timers that run in virtual time,
// so Task.Delay(span, clock), CancellationTokenSource(span, clock) and anything else built on a
// TimeProvider follow it. The earliest of these timers is a deadline like any loop timer: auto-jump
// jumps to it too. Loops themselves wait through such a timer (EventLoop.Clock.cs), which is what
// lets Advance, from any thread, wake a loop whose timers came due. When time moves (Advance or a
// jump), the timers due fire in deadline order, FIFO among equal deadlines, synchronously on the
// thread that moved the time, each seeing the clock at its own deadline (as FakeTimeProvider does);
// periodic timers fire once per period passed. Callbacks run outside the clock's lock, so they may
// create, change and dispose timers.
using System.Diagnostics;

namespace Aio;

/// <summary>
/// A manually driven clock for <see cref="EventLoopOptions.TimeProvider"/>. Time starts at zero and
/// never goes backwards. Timers from <see cref="CreateTimer"/> (and so <c>Task.Delay(delay, clock)</c>)
/// run in its time. Advance it from one thread at a time (the loop's, or a test's while the loop runs
/// elsewhere: the loop is woken when its timers come due); reading and creating timers is thread-safe.
/// </summary>
public sealed class VirtualClock : TimeProvider
{
    private const long TicksPerSecond = TimeSpan.TicksPerSecond;
    private readonly DateTimeOffset _epoch;
    private readonly object _gate = new();
    private readonly SortedSet<VirtualTimer> _timers = new(VirtualTimer.DeadlineOrder);
    private Action? _timersChanged;
    private long _ticks;
    private long _sequence;

    /// <summary>Creates a clock at time zero.</summary>
    /// <param name="autoJump">Whether loops jump to their next timer when idle (see <see cref="AutoJumpThreshold"/>).</param>
    public VirtualClock(bool autoJump = true)
    {
        _epoch = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
        AutoJumpThreshold = autoJump ? TimeSpan.Zero : null;
    }

    /// <summary>
    /// How long, in real time, a loop waits for I/O or posts before jumping to its next timer (or the
    /// clock's next .NET timer); null or <see cref="Timeout.InfiniteTimeSpan"/> turns auto-jump off.
    /// Zero (the default with auto-jump) jumps as soon as the loop is idle; other negative spans
    /// count as zero. Give a small positive value when real I/O must get a chance to arrive before time jumps.
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

    /// <summary>
    /// Moves time forward by <paramref name="delta"/>. Timers of this clock that come due fire on
    /// this thread, in deadline order, before it returns; loop timers that come due fire on the
    /// loop's next iteration (a loop waiting on another thread is woken).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delta"/> is negative (<see cref="Timeout.InfiniteTimeSpan"/> included: time cannot move to infinity).</exception>
    /// <exception cref="AggregateException">Timer callbacks threw; every due timer still fired.</exception>
    public void Advance(TimeSpan delta)
    {
        if (delta < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "A virtual clock only moves forward: pass a zero or positive span (Timeout.InfiniteTimeSpan is not one).");
        }

        long target;
        lock (_gate)
        {
            target = checked(_ticks + delta.Ticks);
        }

        MoveTo(target);
    }

    /// <summary>
    /// Creates a timer that runs in this clock's time: it fires when the clock reaches its deadline,
    /// on the thread that moved the clock. The execution context is not captured.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="callback"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A span is negative other than <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>The deadline of the earliest pending timer, in clock ticks, if any.</summary>
    internal bool TryGetNextDeadline(out long ticks)
    {
        lock (_gate)
        {
            if (_timers.Count == 0)
            {
                ticks = 0;
                return false;
            }

            ticks = _timers.Min!.Due;
            return true;
        }
    }

    /// <summary>Called (outside the lock, on the scheduling thread) whenever a timer is scheduled, so idle loops can re-plan their wait.</summary>
    internal event Action? TimersChanged
    {
        add
        {
            lock (_gate)
            {
                _timersChanged += value;
            }
        }

        remove
        {
            lock (_gate)
            {
                _timersChanged -= value;
            }
        }
    }

    /// <summary>Sets time to <paramref name="target"/> (never backwards), firing the timers due on the way, each at its deadline.</summary>
    internal void MoveTo(long target)
    {
        List<Exception>? errors = null;
        while (true)
        {
            VirtualTimer? due;
            lock (_gate)
            {
                due = _timers.Count > 0 && _timers.Min!.Due <= target ? _timers.Min : null;
                if (due is null)
                {
                    if (target > _ticks)
                    {
                        Volatile.Write(ref _ticks, target);
                    }

                    break;
                }

                _timers.Remove(due);
                Debug.Assert(due.Due >= 0 && !due.Disposed, "only scheduled, live timers are in the set");
                if (due.Due > _ticks)
                {
                    Volatile.Write(ref _ticks, due.Due);
                }

                if (due.Period > 0)
                {
                    due.Due = checked(due.Due + due.Period);
                    due.Sequence = ++_sequence;
                    _timers.Add(due);
                }
                else
                {
                    due.Due = VirtualTimer.Unscheduled;
                }
            }

            try
            {
                due.Callback(due.State);
            }
            catch (Exception error)
            {
                (errors ??= []).Add(error);
            }
        }

        if (errors is not null)
        {
            throw new AggregateException("Callbacks of virtual-clock timers threw; every timer due still fired.", errors);
        }
    }

    /// <summary>(Re)schedules <paramref name="timer"/>; <see cref="Timeout.InfiniteTimeSpan"/> due time unschedules it.</summary>
    private bool Schedule(VirtualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        CheckSpan(dueTime, nameof(dueTime));
        CheckSpan(period, nameof(period));
        Action? notify;
        lock (_gate)
        {
            if (timer.Disposed)
            {
                return false;
            }

            if (timer.Due != VirtualTimer.Unscheduled)
            {
                _timers.Remove(timer);
            }

            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                timer.Due = VirtualTimer.Unscheduled;
                return true;
            }

            timer.Due = _ticks + Math.Min(dueTime.Ticks, long.MaxValue - _ticks - 1);
            timer.Period = period == Timeout.InfiniteTimeSpan ? 0 : Math.Max(period.Ticks, 0);
            timer.Sequence = ++_sequence;
            _timers.Add(timer);
            notify = _timersChanged;
        }

        notify?.Invoke();
        return true;
    }

    private void Unschedule(VirtualTimer timer)
    {
        lock (_gate)
        {
            if (timer.Due != VirtualTimer.Unscheduled)
            {
                _timers.Remove(timer);
                timer.Due = VirtualTimer.Unscheduled;
            }

            timer.Disposed = true;
        }
    }

    private static void CheckSpan(TimeSpan span, string name)
    {
        if (span < TimeSpan.Zero && span != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, span, "A timer's span must be zero or positive, or Timeout.InfiniteTimeSpan.");
        }
    }

    /// <summary>A timer of the clock; its fields are guarded by the clock's lock.</summary>
    private sealed class VirtualTimer(VirtualClock clock, TimerCallback callback, object? state) : ITimer
    {
        public const long Unscheduled = long.MinValue;

        public static readonly IComparer<VirtualTimer> DeadlineOrder = Comparer<VirtualTimer>.Create(static (a, b) =>
        {
            int byDue = a.Due.CompareTo(b.Due);
            return byDue != 0 ? byDue : a.Sequence.CompareTo(b.Sequence);
        });

        public TimerCallback Callback { get; } = callback;

        public object? State { get; } = state;

        public long Due { get; set; } = Unscheduled;

        public long Period { get; set; }

        public long Sequence { get; set; }

        public bool Disposed { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period) => clock.Schedule(this, dueTime, period);

        public void Dispose() => clock.Unschedule(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }

        public override string ToString() =>
            Due == Unscheduled ? "<VirtualTimer unscheduled>" : $"<VirtualTimer due={TimeSpan.FromTicks(Due)}>";
    }
}
