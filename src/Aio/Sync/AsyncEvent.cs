namespace Aio.Sync;

/// <summary>
/// A flag that code on one event loop can wait for [asyncio.Event]: <see cref="Set"/> wakes every
/// waiter, <see cref="Clear"/> makes later waits wait again. Created clear. No OS lock. Bound to the
/// loop it is first used on; loop thread only.
/// </summary>
public sealed class AsyncEvent
{
    private readonly WaiterList _waiters = new();
    private LoopAffinity _affinity;
    private bool _isSet;

    /// <summary>Whether the flag is set [event.is_set()]; also the non-waiting form of <see cref="WaitAsync(CancellationToken)"/>.</summary>
    public bool IsSet => _isSet;

    /// <summary>How many waits are pending (for tests and diagnostics).</summary>
    internal int WaiterCount => _waiters.Count;

    /// <summary>
    /// Sets the flag [event.set()]: every pending wait completes with true, in the order they
    /// started (their code resumes in later callbacks, never inside this call); waits started while
    /// it stays set complete at once. Idempotent.
    /// </summary>
    /// <exception cref="InvalidOperationException">The event is used from another thread than its loop's, or from another loop.</exception>
    public void Set()
    {
        _affinity.ForAccess(this);
        if (_isSet)
        {
            return;
        }

        _isSet = true;
        while (_waiters.Dequeue() is { } waiter)
        {
            waiter.Grant();
        }
    }

    /// <summary>
    /// Clears the flag [event.clear()]: later waits wait for the next <see cref="Set"/>. Waits that a
    /// set already completed stay completed.
    /// </summary>
    /// <exception cref="InvalidOperationException">The event is used from another thread than its loop's, or from another loop.</exception>
    public void Clear()
    {
        _affinity.ForAccess(this);
        _isSet = false;
    }

    /// <summary>
    /// Waits until the flag is set [await event.wait()]: the future yields true, at once when it is
    /// set already. Cancelling the awaiting task, the future, or <paramref name="cancellationToken"/>
    /// ends the wait with <see cref="CancelledError"/> and leaves no trace. A task cancelled after
    /// the set woke it but before its await resumed gets <see cref="CancelledError"/> too, as in
    /// asyncio (the set stands for every other waiter).
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop runs on this thread, or the event is bound to another loop.</exception>
    public Future<bool> WaitAsync(CancellationToken cancellationToken = default) =>
        Start(timeout: null, cancellationToken);

    /// <summary>
    /// Waits until the flag is set, at most <paramref name="timeout"/> of loop time
    /// [asyncio.wait_for(event.wait(), timeout)]: the future yields true when it was set, false when
    /// the timeout expired first. <see cref="TimeSpan.Zero"/> answers at once (same as
    /// <see cref="IsSet"/>); <see cref="Timeout.InfiniteTimeSpan"/> never times out. Cancellation as
    /// for <see cref="WaitAsync(CancellationToken)"/>, also when the wait had timed out before the
    /// cancel reached its task.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than infinite).</exception>
    /// <exception cref="InvalidOperationException">No loop runs on this thread, or the event is bound to another loop.</exception>
    public Future<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Start(WaitTimeout.Check(timeout), cancellationToken);

    /// <inheritdoc />
    public override string ToString() =>
        $"<AsyncEvent {(_isSet ? "set" : "unset")}{(_waiters.Count > 0 ? $" waiters={_waiters.Count}" : "")}>";

    private BoolWaiter Start(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        EventLoop loop = _affinity.ForWait(this);
        var waiter = new BoolWaiter(loop, RunningTask.Current, this);
        if (cancellationToken.IsCancellationRequested)
        {
            waiter.Cancel(SyncWaiter<bool>.TokenCancelMessage);
        }
        else if (_isSet)
        {
            waiter.Grant();
        }
        else if (timeout == TimeSpan.Zero)
        {
            waiter.ExpireNow();
        }
        else
        {
            _waiters.Enqueue(waiter);
            waiter.Arm(timeout, cancellationToken);
        }

        return waiter;
    }
}
