namespace Aio;

public sealed partial class EventLoop
{
    /// <summary>
    /// Schedules <paramref name="callback"/> to run on the next iteration [loop.call_soon].
    /// Callbacks run in the order they were scheduled.
    /// </summary>
    /// <returns>A handle that can cancel the call.</returns>
    /// <exception cref="InvalidOperationException">The loop is closed, or (debug mode) the call comes from another thread.</exception>
    public Handle CallSoon(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        CheckClosed();
        CheckThread(nameof(CallSoon));
        var handle = new Handle(this, callback, null);
        EnqueueSoon(handle, null);
        return handle;
    }

    /// <summary>
    /// Schedules <paramref name="callback"/>(<paramref name="state"/>) to run on the next iteration,
    /// in FIFO order with every other call-soon, without allocating: no handle is created, so the
    /// call cannot be cancelled. Pass a cached delegate (a static lambda) to keep it allocation-free.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is closed, or (debug mode) the call comes from another thread.</exception>
    public void CallSoon(Action<object?> callback, object? state)
    {
        ArgumentNullException.ThrowIfNull(callback);
        CheckClosed();
        CheckThread(nameof(CallSoon));
        EnqueueSoon(callback, state);
    }

    /// <summary>
    /// Schedules <paramref name="callback"/> to run after <paramref name="delay"/> [loop.call_later].
    /// A zero or negative delay runs it as soon as possible, after the callbacks already ready —
    /// except <see cref="Timeout.InfiniteTimeSpan"/>, which means "never": the timer is scheduled at
    /// <see cref="double.PositiveInfinity"/>, never fires, and can be cancelled like any other.
    /// Timers with the same deadline run in the order they were scheduled.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is closed, or (debug mode) the call comes from another thread.</exception>
    public TimerHandle CallLater(TimeSpan delay, Action callback) => CallAt(DeadlineAfter(delay), callback);

    /// <summary>As <see cref="CallLater(TimeSpan, Action)"/>, passing <paramref name="state"/> to the callback.</summary>
    /// <exception cref="InvalidOperationException">The loop is closed, or (debug mode) the call comes from another thread.</exception>
    public TimerHandle CallLater(TimeSpan delay, Action<object?> callback, object? state) =>
        CallAt(DeadlineAfter(delay), callback, state);

    /// <summary>
    /// Schedules <paramref name="callback"/> to run at loop time <paramref name="when"/> (seconds,
    /// same reference as <see cref="Time"/>) [loop.call_at]. A time in the past runs it as soon as
    /// possible; <see cref="double.PositiveInfinity"/> never fires.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="when"/> is NaN.</exception>
    /// <exception cref="InvalidOperationException">The loop is closed, or (debug mode) the call comes from another thread.</exception>
    public TimerHandle CallAt(double when, Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return ScheduleTimer(when, callback, null);
    }

    /// <summary>As <see cref="CallAt(double, Action)"/>, passing <paramref name="state"/> to the callback.</summary>
    /// <exception cref="ArgumentException"><paramref name="when"/> is NaN.</exception>
    /// <exception cref="InvalidOperationException">The loop is closed, or (debug mode) the call comes from another thread.</exception>
    public TimerHandle CallAt(double when, Action<object?> callback, object? state)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return ScheduleTimer(when, callback, state);
    }

    /// <summary>
    /// Schedules <paramref name="callback"/> from any thread [loop.call_soon_threadsafe]: it runs on
    /// the loop thread, after the callbacks already queued, in the order this thread posted.
    /// Wakes the loop if it is waiting.
    /// </summary>
    /// <returns>A handle; cancel it on the loop thread only.</returns>
    /// <exception cref="InvalidOperationException">The loop is closed. Use <see cref="TryCallSoonThreadSafe(Action)"/> where a close may race.</exception>
    public Handle CallSoonThreadSafe(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        CheckClosed();
        var handle = new Handle(this, callback, null);
        PostSoon(handle, null);
        return handle;
    }

    /// <summary>
    /// As <see cref="CallSoonThreadSafe(Action)"/>, passing <paramref name="state"/>, without
    /// allocating (no handle). Thread-safe.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public void CallSoonThreadSafe(Action<object?> callback, object? state)
    {
        ArgumentNullException.ThrowIfNull(callback);
        CheckClosed();
        PostSoon(callback, state);
    }

    /// <summary>
    /// As <see cref="CallSoonThreadSafe(Action)"/>, but returns false instead of throwing when the
    /// loop is closed, so worker threads racing a close need no try/catch. A post that races the
    /// close itself may be accepted and then dropped. Thread-safe.
    /// </summary>
    public bool TryCallSoonThreadSafe(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (_closed)
        {
            return false;
        }

        PostSoon(new Handle(this, callback, null), null);
        return true;
    }

    /// <summary>As <see cref="TryCallSoonThreadSafe(Action)"/>, passing <paramref name="state"/>, without allocating.</summary>
    public bool TryCallSoonThreadSafe(Action<object?> callback, object? state)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (_closed)
        {
            return false;
        }

        PostSoon(callback, state);
        return true;
    }

    /// <summary>
    /// The one FIFO (asyncio has a single ready deque for call_soon and call_soon_threadsafe): a
    /// call-soon from the thread that owns the loop first moves the inbox into the ready queue when
    /// the loop is not running (posts made on this thread before the loop started, or from others,
    /// keep their place ahead of it). While the loop runs, the loop thread's posts never enter the
    /// inbox (see <see cref="PostSoon"/>), so nothing needs moving.
    /// </summary>
    private void EnqueueSoon(object callback, object? state)
    {
        if (_threadId == 0 && !_inbox.IsEmpty)
        {
            _inbox.DrainInto(_ready);
        }

        _ready.Enqueue(callback, state);
    }

    /// <summary>
    /// A thread-safe post: on the running loop's own thread it joins the ready queue directly, so
    /// <c>CallSoonThreadSafe(a); CallSoon(b)</c> runs a before b; from any other thread it goes
    /// through the inbox, which keeps each thread's order.
    /// </summary>
    private void PostSoon(object callback, object? state)
    {
        if (IsOnLoopThread)
        {
            _ready.Enqueue(callback, state);
        }
        else
        {
            _inbox.Post(callback, state);
        }
    }

    /// <summary>
    /// The loop time <paramref name="delay"/> from now, by .NET's rule for spans:
    /// <see cref="Timeout.InfiniteTimeSpan"/> is no limit (<see cref="double.PositiveInfinity"/>);
    /// any other span, negative ones included (asyncio's "as soon as possible"), is added to <see cref="Time"/>.
    /// </summary>
    internal double DeadlineAfter(TimeSpan delay) =>
        delay == Timeout.InfiniteTimeSpan ? double.PositiveInfinity : Time() + delay.TotalSeconds;

    /// <summary>Queues a work item for the next iteration; loop thread only, no checks.</summary>
    internal void EnqueueReady(object callback, object? state) => EnqueueSoon(callback, state);

    /// <summary>Queues from any thread: directly when on the running loop thread, else through the inbox.</summary>
    internal bool TryPost(object callback, object? state)
    {
        if (IsOnLoopThread)
        {
            _ready.Enqueue(callback, state);
            return true;
        }

        if (_closed)
        {
            return false;
        }

        _inbox.Post(callback, state);
        return true;
    }

    private TimerHandle ScheduleTimer(double when, Delegate callback, object? state)
    {
        if (double.IsNaN(when))
        {
            throw new ArgumentException("The timer's time is NaN; pass a finite loop time (see EventLoop.Time()).", nameof(when));
        }

        CheckClosed();
        CheckThread(nameof(CallAt));
        var timer = new TimerHandle(this, when, callback, state);
        _timers.Push(timer);
        return timer;
    }
}
