// A cyclic barrier [asyncio.Barrier, 3.11].
//
// asyncio builds its Barrier on a Condition, with a "draining" state in which the released tasks
// leave one by one (each must re-take the condition's lock to return) while newcomers wait. Here
// passing is one step: when the last party arrives, every listed waiter's future completes with
// its index, the list is empty again, and the barrier is ready for its next cycle in the same
// call. A newcomer after that simply belongs to the next cycle, which is what draining achieves.
//
// Indexes are handed out when the barrier passes, in arrival order, 0 to parties - 1, the last
// arrival getting parties - 1. (asyncio numbers arrivals as they come, so a waiter that left by
// cancellation could make two tasks share an index; the documented contract is a unique index.)
// A waiter cancelled, timed out or cancelled by its token while filling leaves the barrier
// without breaking it (as asyncio.wait_for(barrier.wait(), t) would). A pass cannot be undone: a
// waiter whose task is cancelled after the pass but before it resumed throws CancelledError, as
// asyncio's does (see SyncWaiter), while the other parties go on with their indexes and its own
// index is not handed to anyone else.
namespace Aio.Sync;

/// <summary>
/// A cyclic barrier for tasks on one event loop [asyncio.Barrier]: each <see cref="WaitAsync(CancellationToken)"/>
/// waits until <see cref="Parties"/> waits are pending, then all of them complete together and the
/// barrier starts over. <see cref="Abort"/> breaks it; <see cref="Reset"/> mends it. No OS lock.
/// Bound to the loop it is first used on; loop thread only.
/// </summary>
/// <remarks>
/// There is no synchronous try form: passing needs the other parties. The timeout form throws
/// <see cref="TimeoutException"/> (the waiter leaves; the barrier is not broken — call
/// <see cref="Abort"/> to break it, as threading.Barrier would).
/// </remarks>
public sealed class AsyncBarrier
{
    private readonly WaiterList _waiters = new();
    private LoopAffinity _affinity;
    private bool _broken;

    /// <summary>Creates a barrier for <paramref name="parties"/> tasks [asyncio.Barrier(parties)].</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parties"/> is less than 1.</exception>
    public AsyncBarrier(int parties)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parties, 1);
        Parties = parties;
    }

    /// <summary>How many waits pass the barrier together [barrier.parties].</summary>
    public int Parties { get; }

    /// <summary>How many waits are pending in the current cycle [barrier.n_waiting].</summary>
    public int WaitingCount => _waiters.Count;

    /// <summary>Whether the barrier is broken [barrier.broken]: every wait throws <see cref="BrokenBarrierError"/> until <see cref="Reset"/>.</summary>
    public bool IsBroken => _broken;

    /// <summary>
    /// Waits for the barrier [await barrier.wait()]: the future yields this wait's index, unique in
    /// the cycle (0 to <see cref="Parties"/> - 1, in arrival order), when the last party arrives —
    /// at once for that last one. Cancelling the awaiting task, the future, or
    /// <paramref name="cancellationToken"/> before the barrier passes withdraws this wait (the
    /// barrier goes on filling, not broken) and the await throws <see cref="CancelledError"/>; a
    /// task cancelled after the barrier passed but before its await resumed throws
    /// <see cref="CancelledError"/> too, while the other parties pass (a pass is never undone). An
    /// <see cref="Abort"/> or <see cref="Reset"/> while waiting fails it with <see cref="BrokenBarrierError"/>.
    /// </summary>
    /// <exception cref="BrokenBarrierError">Thrown synchronously: the barrier is broken.</exception>
    /// <exception cref="InvalidOperationException">No loop runs on this thread, or the barrier is bound to another loop.</exception>
    public Future<int> WaitAsync(CancellationToken cancellationToken = default) => Start(timeout: null, cancellationToken);

    /// <summary>
    /// As <see cref="WaitAsync(CancellationToken)"/>, but waits at most <paramref name="timeout"/> of
    /// loop time [asyncio.wait_for(barrier.wait(), timeout)]: when it expires first, this wait
    /// leaves the barrier (which is not broken) and the future fails with <see cref="TimeoutException"/>.
    /// <see cref="Timeout.InfiniteTimeSpan"/> never times out.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than infinite).</exception>
    /// <exception cref="BrokenBarrierError">Thrown synchronously: the barrier is broken.</exception>
    /// <exception cref="InvalidOperationException">No loop runs on this thread, or the barrier is bound to another loop.</exception>
    public Future<int> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Start(WaitTimeout.Check(timeout), cancellationToken);

    /// <summary>
    /// Breaks the barrier [await barrier.abort()]: every pending wait fails with
    /// <see cref="BrokenBarrierError"/> (their code resumes in later callbacks), and so does every
    /// later wait until <see cref="Reset"/>. Idempotent.
    /// </summary>
    /// <exception cref="InvalidOperationException">The barrier is used from another thread than its loop's, or from another loop.</exception>
    public void Abort()
    {
        _affinity.ForAccess(this);
        _broken = true;
        FailAll("The barrier was aborted.");
    }

    /// <summary>
    /// Returns the barrier to its empty, unbroken state [await barrier.reset()]: every pending wait
    /// fails with <see cref="BrokenBarrierError"/>, and later waits start a new cycle.
    /// </summary>
    /// <exception cref="InvalidOperationException">The barrier is used from another thread than its loop's, or from another loop.</exception>
    public void Reset()
    {
        _affinity.ForAccess(this);
        _broken = false;
        FailAll("The barrier was reset while this wait was pending.");
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"<AsyncBarrier {(_broken ? "broken" : "filling")} waiters={_waiters.Count}/{Parties}>";

    private BarrierWaiter Start(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        EventLoop loop = _affinity.ForWait(this);
        if (_broken)
        {
            throw new BrokenBarrierError("The barrier is broken (aborted); call Reset() before waiting on it again.");
        }

        var waiter = new BarrierWaiter(loop, RunningTask.Current, this);
        if (cancellationToken.IsCancellationRequested)
        {
            waiter.Cancel(SyncWaiter<int>.TokenCancelMessage);
        }
        else if (_waiters.Count + 1 == Parties)
        {
            int index = 0;
            while (_waiters.Dequeue() is BarrierWaiter passing)
            {
                passing.Index = index++;
                passing.Grant();
            }

            waiter.Index = index;
            waiter.Grant();
        }
        else
        {
            _waiters.Enqueue(waiter);
            waiter.Arm(timeout, cancellationToken);
        }

        return waiter;
    }

    private void FailAll(string message)
    {
        while (_waiters.Dequeue() is BarrierWaiter waiter)
        {
            waiter.SetException(new BrokenBarrierError(message));
        }
    }

    /// <summary>A wait on the barrier; its index is set when the barrier passes.</summary>
    private sealed class BarrierWaiter(EventLoop loop, ITaskInternals? task, AsyncBarrier barrier) : SyncWaiter<int>(loop, task, barrier)
    {
        public int Index { get; set; }

        public override bool Grant()
        {
            if (IsDone)
            {
                return false;
            }

            SetResult(Index);
            return true;
        }

        protected override void OnTimeout()
        {
            List?.Remove(this);
            SetException(new TimeoutException("The barrier did not pass within the timeout; this wait left it."));
        }
    }
}
