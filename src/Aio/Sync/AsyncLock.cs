// The loop's mutual-exclusion lock [asyncio.Lock].
//
// Hand-off. Release() does not make the lock free and wake someone to race for it: when a waiter
// is listed, the lock passes to the oldest one at once (its future completes; the lock stays
// locked, now in that waiter's name). So the lock is free only when nobody waits, TryAcquire and
// a new AcquireAsync can never overtake a waiter (FIFO fairness), and there is no window in which
// a woken waiter holds nothing — asyncio needs Lock._wake_up_first and its "cancelled after being
// woken" branch to close that window; here it does not exist. A waiter cancelled (or timed out)
// while listed just leaves the list. One whose task is cancelled after it was granted, before the
// task resumed, gives the lock back as the task resumes — it passes to the next waiter exactly as
// Release() would pass it — and its await throws CancelledError, as asyncio's acquire does (see
// SyncWaiter).
//
// Owner and hold. The lock records the task that holds it (RunningTask.Current when it was taken),
// to refuse re-entry with an exception instead of a deadlock; code outside tasks is not tracked.
// It also records the "hold": the waiter that took it (the AcquireWaiter whose Releaser may
// release it, or the timed acquisition's waiter; null for TryAcquire). A Releaser, or a waiter
// giving the lock back, releases it only while its own hold is current, which makes disposing
// twice, or after an explicit Release(), harmless. A condition
// wait saves the hold when it releases the lock and restores it when it takes the lock back, so
// the Releaser of the enclosing AcquireAsync still works (see AsyncCondition).
namespace Aio.Sync;

/// <summary>
/// A mutual-exclusion lock for code on one event loop [asyncio.Lock]: not reentrant, FIFO fair,
/// no OS lock. Take it with <c>await using (await gate.AcquireAsync()) { ... }</c>. Bound to the
/// loop it is first used on; loop thread only.
/// </summary>
/// <remarks>
/// Like asyncio's, the lock is not owned in the thread sense: any code may release it. A task that
/// tries to take the lock it already holds gets <see cref="InvalidOperationException"/> at once.
/// </remarks>
public sealed class AsyncLock : IGrantOwner
{
    private readonly WaiterList _waiters = new();
    private LoopAffinity _affinity;
    private bool _locked;
    private object? _hold;
    private ITaskInternals? _owner;

    /// <summary>Whether the lock is held [lock.locked()].</summary>
    public bool IsLocked => _locked;

    /// <summary>How many acquisitions are waiting (for tests and diagnostics).</summary>
    internal int WaiterCount => _waiters.Count;

    /// <summary>The hold a condition wait saves and restores.</summary>
    internal object? Hold => _hold;

    /// <summary>The task holding the lock, when it was taken inside one.</summary>
    internal ITaskInternals? Owner => _owner;

    /// <summary>
    /// Takes the lock [await lock.acquire()]: the returned future completes with a
    /// <see cref="Releaser"/> once the lock is this caller's — at once if it is free (then it is
    /// taken before this method returns), else when every earlier waiter has had it. Cancelling
    /// the awaiting task, the future, or <paramref name="cancellationToken"/> while it waits ends
    /// the wait with <see cref="CancelledError"/> and leaves no trace. A task cancelled after the
    /// lock was handed to it but before its await resumed gives the lock back (it passes to the
    /// next waiter, or becomes free) and the await throws <see cref="CancelledError"/> with the
    /// cancel's message, so <c>await using (await gate.AcquireAsync())</c> never holds a lock it
    /// will not release [asyncio.Lock]; a cancel withdrawn by <c>Uncancel()</c> before it resumed
    /// leaves the lock the caller's.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The current task already holds the lock (not reentrant); no loop runs on this thread; or the
    /// lock is bound to another loop.
    /// </exception>
    public Future<Releaser> AcquireAsync(CancellationToken cancellationToken = default)
    {
        EventLoop loop = _affinity.ForWait(this);
        ITaskInternals? task = RunningTask.Current;
        ThrowIfHeldBy(task);
        var waiter = new AcquireWaiter(loop, task, this);
        Start(waiter, timeout: null, cancellationToken);
        return waiter;
    }

    /// <summary>
    /// Takes the lock if it is free, without waiting [lock.acquire() on a free lock]; release it
    /// with <see cref="Release"/>. Never overtakes a waiting acquisition.
    /// </summary>
    /// <returns>True when the lock was taken; false when it is held.</returns>
    /// <exception cref="InvalidOperationException">
    /// The current task already holds the lock; the lock's loop runs on another thread; or it is
    /// bound to another loop.
    /// </exception>
    public bool TryAcquire()
    {
        _affinity.ForAccess(this);
        ITaskInternals? task = RunningTask.Current;
        ThrowIfHeldBy(task);
        if (_locked)
        {
            return false;
        }

        _locked = true;
        _hold = null;
        _owner = task;
        return true;
    }

    /// <summary>
    /// Takes the lock, waiting at most <paramref name="timeout"/> of loop time [asyncio.wait_for(
    /// lock.acquire(), timeout)]: the future yields true when the lock was taken (release it with
    /// <see cref="Release"/>), false when the timeout expired first. <see cref="TimeSpan.Zero"/>
    /// answers at once; <see cref="Timeout.InfiniteTimeSpan"/> never times out. A release and the
    /// expiry in the same loop iteration resolve in the order they run: the lock is never lost.
    /// Cancellation as for <see cref="AcquireAsync"/>: a task cancelled after the lock was handed
    /// to it gives it back, and the await throws <see cref="CancelledError"/> instead of yielding true.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than infinite).</exception>
    /// <exception cref="InvalidOperationException">As for <see cref="AcquireAsync"/>.</exception>
    public Future<bool> TryAcquireAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        TimeSpan? limit = WaitTimeout.Check(timeout);
        EventLoop loop = _affinity.ForWait(this);
        ITaskInternals? task = RunningTask.Current;
        ThrowIfHeldBy(task);
        var waiter = new BoolWaiter(loop, task, this, this);
        Start(waiter, limit, cancellationToken);
        return waiter;
    }

    /// <summary>
    /// Releases the lock [lock.release()]: it passes at once to the oldest waiting acquisition, if
    /// any (whose future then completes), else becomes free. Any code may release it, not only the
    /// holder.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The lock is not held; or it is used from another thread than its loop's, or another loop.
    /// </exception>
    public void Release()
    {
        _affinity.ForAccess(this);
        if (!_locked)
        {
            throw new InvalidOperationException("The lock is not acquired; release it only after acquiring it (once per acquisition).");
        }

        while (_waiters.Dequeue() is { } next)
        {
            _hold = next.HoldToken;
            _owner = next.Task;
            if (next.Grant())
            {
                return;
            }
        }

        _locked = false;
        _hold = null;
        _owner = null;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"<AsyncLock {(_locked ? "locked" : "unlocked")}{(_waiters.Count > 0 ? $" waiters={_waiters.Count}" : "")}>";

    void IGrantOwner.ReleaseGrant(IWaiterNode grant)
    {
        if (_locked && ReferenceEquals(_hold, grant))
        {
            Release();
        }
    }

    /// <summary>Binds and checks the thread, for an operation of a condition on this lock that waits.</summary>
    internal EventLoop BindForWait() => _affinity.ForWait(this);

    /// <summary>Gives the lock to <paramref name="waiter"/> now if it is free, else lists it (a condition waiter re-acquiring).</summary>
    internal void GrantOrEnqueue(IWaiterNode waiter)
    {
        if (_locked)
        {
            _waiters.Enqueue(waiter);
        }
        else
        {
            _locked = true;
            _hold = waiter.HoldToken;
            _owner = waiter.Task;
            waiter.Grant();
        }
    }

    /// <summary>Throws when <paramref name="task"/> holds the lock: taking it again would deadlock.</summary>
    internal void ThrowIfHeldBy(ITaskInternals? task)
    {
        if (task is not null && _locked && ReferenceEquals(_owner, task))
        {
            throw new InvalidOperationException(
                $"This lock is already held by the current task ({task.Name}); it is not reentrant, so waiting for it here would deadlock. Release it before taking it again.");
        }
    }

    private void Start<T>(SyncWaiter<T> waiter, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            waiter.Cancel(SyncWaiter<T>.TokenCancelMessage);
        }
        else if (!_locked)
        {
            GrantOrEnqueue(waiter);
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
    }
}
