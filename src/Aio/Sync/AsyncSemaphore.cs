// A counting semaphore for the loop [asyncio.Semaphore].
//
// Hand-off, as in AsyncLock: Release() gives its permit straight to the oldest waiting
// acquisition when there is one, instead of raising the count and waking someone to take it. So
// the count is above zero only while nobody waits (asyncio's locked() = "no permit, or a
// non-cancelled waiter" collapses to "no permit"), a newcomer can never take a permit a waiter
// was promised (FIFO), and a permit is never in flight: asyncio 3.11.x had to give back, in
// acquire's except-branch, the permit of a waiter cancelled after _wake_up_next had already
// counted it, and to wake further waiters in a finally. Here a cancelled or timed-out waiter that
// is still listed simply leaves. One whose task is cancelled after it was granted, before the task
// resumed, gives its permit back as the task resumes — to the next waiter, or to the count, exactly
// as Release() — and its await throws CancelledError (see SyncWaiter).
namespace Aio.Sync;

/// <summary>
/// A counting semaphore for code on one event loop [asyncio.Semaphore]: <see cref="CurrentCount"/>
/// permits, FIFO fair, no OS lock. Take a permit with <c>await using (await gate.AcquireAsync())
/// { ... }</c>. Bound to the loop it is first used on; loop thread only.
/// </summary>
/// <remarks>
/// Permits are not owned: any code may <see cref="Release"/>, and (unlike
/// <see cref="BoundedAsyncSemaphore"/>) releasing more often than acquiring raises the count
/// above its initial value.
/// </remarks>
public class AsyncSemaphore : IGrantOwner
{
    private readonly WaiterList _waiters = new();
    private readonly int? _maxCount;
    private LoopAffinity _affinity;
    private int _count;

    /// <summary>Creates a semaphore with <paramref name="initialCount"/> permits [asyncio.Semaphore(value)].</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="initialCount"/> is negative.</exception>
    public AsyncSemaphore(int initialCount = 1)
        : this(initialCount, bounded: false)
    {
    }

    private protected AsyncSemaphore(int initialCount, bool bounded)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initialCount);
        _count = initialCount;
        _maxCount = bounded ? initialCount : null;
    }

    /// <summary>How many permits are free now [semaphore._value].</summary>
    public int CurrentCount => _count;

    /// <summary>Whether an acquisition would have to wait [semaphore.locked()].</summary>
    public bool IsLocked => _count == 0;

    /// <summary>How many acquisitions are waiting (for tests and diagnostics).</summary>
    internal int WaiterCount => _waiters.Count;

    /// <summary>
    /// Takes a permit [await semaphore.acquire()]: the returned future completes with a
    /// <see cref="Releaser"/> once a permit is this caller's — at once if one is free and nobody
    /// waits (then it is taken before this method returns), else when every earlier waiter has
    /// had one. Cancelling the awaiting task, the future, or <paramref name="cancellationToken"/>
    /// while it waits ends the wait with <see cref="CancelledError"/> and leaves no trace. A task
    /// cancelled after a permit was handed to it but before its await resumed gives the permit
    /// back (to the next waiter, or to the count) and the await throws <see cref="CancelledError"/>
    /// with the cancel's message, so <c>await using (await gate.AcquireAsync())</c> never holds a
    /// permit it will not release [asyncio.Semaphore]; a cancel withdrawn by <c>Uncancel()</c>
    /// before it resumed leaves the permit the caller's.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop runs on this thread, or the semaphore is bound to another loop.</exception>
    public Future<Releaser> AcquireAsync(CancellationToken cancellationToken = default)
    {
        EventLoop loop = _affinity.ForWait(this);
        var waiter = new AcquireWaiter(loop, RunningTask.Current, this);
        Start(waiter, timeout: null, cancellationToken);
        return waiter;
    }

    /// <summary>
    /// Takes a permit if one is free, without waiting; give it back with <see cref="Release"/>.
    /// Never overtakes a waiting acquisition.
    /// </summary>
    /// <returns>True when a permit was taken.</returns>
    /// <exception cref="InvalidOperationException">The semaphore's loop runs on another thread, or it is bound to another loop.</exception>
    public bool TryAcquire()
    {
        _affinity.ForAccess(this);
        if (_count == 0)
        {
            return false;
        }

        _count--;
        return true;
    }

    /// <summary>
    /// Takes a permit, waiting at most <paramref name="timeout"/> of loop time [asyncio.wait_for(
    /// semaphore.acquire(), timeout)]: the future yields true when a permit was taken (give it back
    /// with <see cref="Release"/>), false when the timeout expired first. <see cref="TimeSpan.Zero"/>
    /// answers at once; <see cref="Timeout.InfiniteTimeSpan"/> never times out. A release and the
    /// expiry in the same loop iteration resolve in the order they run: no permit is ever lost.
    /// Cancellation as for <see cref="AcquireAsync"/>: a task cancelled after a permit was handed
    /// to it gives it back, and the await throws <see cref="CancelledError"/> instead of yielding true.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than infinite).</exception>
    /// <exception cref="InvalidOperationException">As for <see cref="AcquireAsync"/>.</exception>
    public Future<bool> TryAcquireAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        TimeSpan? limit = WaitTimeout.Check(timeout);
        EventLoop loop = _affinity.ForWait(this);
        var waiter = new BoolWaiter(loop, RunningTask.Current, this, this);
        Start(waiter, limit, cancellationToken);
        return waiter;
    }

    /// <summary>
    /// Gives a permit back [semaphore.release()]: to the oldest waiting acquisition if there is
    /// one (its future then completes), else to the free count.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// A <see cref="BoundedAsyncSemaphore"/> would go above its initial count; or the semaphore is
    /// used from another thread than its loop's, or from another loop.
    /// </exception>
    public void Release()
    {
        _affinity.ForAccess(this);
        if (_count >= _maxCount)
        {
            throw new InvalidOperationException(
                $"{GetType().Name} released too many times: every permit ({_maxCount}) is already free. Release once per acquisition.");
        }

        while (_waiters.Dequeue() is { } next)
        {
            if (next.Grant())
            {
                return;
            }
        }

        _count++;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"<{GetType().Name} {(_count == 0 ? "locked" : $"unlocked value={_count}")}{(_waiters.Count > 0 ? $" waiters={_waiters.Count}" : "")}>";

    void IGrantOwner.ReleaseGrant(IWaiterNode grant) => Release();

    private void Start<T>(SyncWaiter<T> waiter, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            waiter.Cancel(SyncWaiter<T>.TokenCancelMessage);
        }
        else if (_count > 0)
        {
            _count--;
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
    }
}
