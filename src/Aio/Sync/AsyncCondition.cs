namespace Aio.Sync;

/// <summary>
/// A condition variable for code on one event loop [asyncio.Condition]: tasks holding its lock
/// wait for a notification, releasing the lock while they wait and holding it again when the wait
/// ends — however it ends, cancellation included. FIFO fair, no OS lock. Bound to the loop it is
/// first used on; loop thread only.
/// </summary>
/// <example>
/// <code>
/// await using (await condition.AcquireAsync())
/// {
///     await condition.WaitForAsync(() => queue.Count > 0);
///     item = queue.Dequeue();
/// }
/// </code>
/// </example>
public sealed class AsyncCondition
{
    private readonly AsyncLock _lock;
    private readonly WaiterList _waiters = new();
    private LoopAffinity _affinity;

    /// <summary>
    /// Creates a condition on <paramref name="asyncLock"/>, or on a new lock when null
    /// [asyncio.Condition(lock=None)]. Several conditions may share one lock.
    /// </summary>
    public AsyncCondition(AsyncLock? asyncLock = null) => _lock = asyncLock ?? new AsyncLock();

    /// <summary>Whether the condition's lock is held [condition.locked()].</summary>
    public bool IsLocked => _lock.IsLocked;

    /// <summary>How many waits wait for a notification (not those re-taking the lock; for tests and diagnostics).</summary>
    internal int WaiterCount => _waiters.Count;

    /// <summary>Takes the condition's lock; see <see cref="AsyncLock.AcquireAsync"/> [await condition.acquire()].</summary>
    /// <exception cref="InvalidOperationException">As for <see cref="AsyncLock.AcquireAsync"/>.</exception>
    public Future<Releaser> AcquireAsync(CancellationToken cancellationToken = default) => _lock.AcquireAsync(cancellationToken);

    /// <summary>Takes the condition's lock if it is free; see <see cref="AsyncLock.TryAcquire"/>.</summary>
    /// <exception cref="InvalidOperationException">As for <see cref="AsyncLock.TryAcquire"/>.</exception>
    public bool TryAcquire() => _lock.TryAcquire();

    /// <summary>Takes the condition's lock within a timeout; see <see cref="AsyncLock.TryAcquireAsync"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than infinite).</exception>
    /// <exception cref="InvalidOperationException">As for <see cref="AsyncLock.TryAcquireAsync"/>.</exception>
    public Future<bool> TryAcquireAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _lock.TryAcquireAsync(timeout, cancellationToken);

    /// <summary>Releases the condition's lock; see <see cref="AsyncLock.Release"/> [condition.release()].</summary>
    /// <exception cref="InvalidOperationException">As for <see cref="AsyncLock.Release"/>.</exception>
    public void Release() => _lock.Release();

    /// <summary>
    /// Waits for a notification [await condition.wait()]: releases the lock (which passes to its next
    /// waiter), waits for <see cref="Notify"/> or <see cref="NotifyAll"/>, then waits for the lock
    /// again; the future yields true once the lock is the caller's again. Cancelling the awaiting
    /// task, the future, or <paramref name="cancellationToken"/> ends the wait too, but the future
    /// still completes (as cancelled, so the await throws <see cref="CancelledError"/>) only after
    /// the lock has been re-taken: the caller always holds the lock when the await returns or
    /// throws. (So code that cancels a waiting task must release the lock before it awaits that
    /// task, or both wait forever.) A task cancelled after its wait had the lock back but before
    /// its await resumed throws <see cref="CancelledError"/> as well, holding the lock. A wait that
    /// was notified and then throws passes the notification on to the next waiting wait. A
    /// notification is delivered to waits in the order they started.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The lock is not held, or is held by another task; no loop runs on this thread; or the
    /// condition or its lock is bound to another loop.
    /// </exception>
    public Future<bool> WaitAsync(CancellationToken cancellationToken = default) => Start(timeout: null, cancellationToken);

    /// <summary>
    /// As <see cref="WaitAsync(CancellationToken)"/>, but stops waiting for a notification after
    /// <paramref name="timeout"/> of loop time [threading.Condition.wait(timeout)]: the future
    /// yields true when notified, false when the timeout expired first — in both cases once the
    /// lock is the caller's again (so it may complete later than the timeout).
    /// <see cref="Timeout.InfiniteTimeSpan"/> never times out.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than infinite).</exception>
    /// <exception cref="InvalidOperationException">As for <see cref="WaitAsync(CancellationToken)"/>.</exception>
    public Future<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Start(WaitTimeout.Check(timeout), cancellationToken);

    /// <summary>
    /// Waits until <paramref name="predicate"/> is true [await condition.wait_for(predicate)]: checks
    /// it now, and after every wake-up, with the lock held; returns its last value (true). Runs in
    /// the calling task (an async method, not a new task), so cancelling the task cancels its
    /// pending <see cref="WaitAsync(CancellationToken)"/>, which re-takes the lock before the
    /// <see cref="CancelledError"/> leaves.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// In the returned task: the predicate was false and the lock is not held by the caller (see
    /// <see cref="WaitAsync(CancellationToken)"/>).
    /// </exception>
    public Task<bool> WaitForAsync(Func<bool> predicate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return WaitForCoreAsync(predicate, null, cancellationToken);
    }

    /// <summary>
    /// As <see cref="WaitForAsync(Func{bool}, CancellationToken)"/>, giving up after
    /// <paramref name="timeout"/> of loop time in all [threading.Condition.wait_for(predicate,
    /// timeout)]: returns the predicate's last value, false when the time ran out. The lock is
    /// held when it returns, either way.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than infinite).</exception>
    /// <exception cref="InvalidOperationException">
    /// No loop runs on this thread; in the returned task, as for <see cref="WaitForAsync(Func{bool}, CancellationToken)"/>.
    /// </exception>
    public Task<bool> WaitForAsync(Func<bool> predicate, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        TimeSpan? limit = WaitTimeout.Check(timeout);
        EventLoop loop = _affinity.ForWait(this);
        return WaitForCoreAsync(predicate, limit is TimeSpan span ? (loop, loop.Time() + span.TotalSeconds) : null, cancellationToken);
    }

    /// <summary>
    /// Wakes up to <paramref name="count"/> waits, oldest first [condition.notify(n)]: each then
    /// waits for the lock, which the caller still holds, so they resume one by one after it releases.
    /// No waiter: nothing happens.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">
    /// The lock is not held; or the condition is used from another thread than its loop's, or from another loop.
    /// </exception>
    public void Notify(int count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        CheckNotify();
        NotifyListed(count);
    }

    /// <summary>Wakes every waiting wait, in the order they started [condition.notify_all()].</summary>
    /// <exception cref="InvalidOperationException">As for <see cref="Notify"/>.</exception>
    public void NotifyAll()
    {
        CheckNotify();
        NotifyListed(_waiters.Count);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"<AsyncCondition {(_lock.IsLocked ? "locked" : "unlocked")}{(_waiters.Count > 0 ? $" waiters={_waiters.Count}" : "")}>";

    /// <summary>Moves up to <paramref name="count"/> listed waiters to the lock.</summary>
    internal void NotifyListed(int count)
    {
        for (; count > 0 && _waiters.Dequeue() is ConditionWaiter waiter; count--)
        {
            waiter.Notify();
        }
    }

    /// <summary>Takes <paramref name="waiter"/> off the list of waits for a notification; false if it is not there.</summary>
    internal bool Unlist(ConditionWaiter waiter) => _waiters.Remove(waiter);

    private ConditionWaiter Start(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        EventLoop loop = _affinity.ForWait(this);
        if (!ReferenceEquals(_lock.BindForWait(), loop))
        {
            throw new InvalidOperationException("The condition's lock belongs to another event loop than the condition.");
        }

        ITaskInternals? task = RunningTask.Current;
        if (!_lock.IsLocked)
        {
            throw new InvalidOperationException(
                "Cannot wait on the condition without holding its lock; take it first: await using (await condition.AcquireAsync()) { ... }.");
        }

        if (task is not null && _lock.Owner is { } owner && !ReferenceEquals(owner, task))
        {
            throw new InvalidOperationException(
                $"The condition's lock is held by another task ({owner.Name}); wait only while the current task holds it.");
        }

        var waiter = new ConditionWaiter(loop, task, this, _lock, _lock.Hold);
        if (cancellationToken.IsCancellationRequested)
        {
            waiter.CancelUnstarted(SyncWaiter<bool>.TokenCancelMessage);
            return waiter;
        }

        _waiters.Enqueue(waiter);
        _lock.Release();
        waiter.Arm(timeout, cancellationToken);
        return waiter;
    }

    private async Task<bool> WaitForCoreAsync(Func<bool> predicate, (EventLoop Loop, double When)? deadline, CancellationToken cancellationToken)
    {
        bool result = predicate();
        bool first = true;
        while (!result)
        {
            if (deadline is not { } limit)
            {
                await WaitAsync(cancellationToken);
            }
            else
            {
                double left = limit.When - limit.Loop.Time();
                if (!first && left <= 0)
                {
                    break;
                }

                await WaitAsync(TimeSpan.FromSeconds(Math.Max(left, 0)), cancellationToken);
            }

            first = false;
            result = predicate();
        }

        return result;
    }

    private void CheckNotify()
    {
        _affinity.ForAccess(this);
        if (!_lock.IsLocked)
        {
            throw new InvalidOperationException("Cannot notify on the condition without holding its lock; take it first.");
        }
    }
}
