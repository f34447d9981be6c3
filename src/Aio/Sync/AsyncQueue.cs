// Queues [asyncio.Queue, PriorityQueue, LifoQueue], loop-affine and correct under cancellation.
//
// Hand-off. asyncio's put stores the item and wakes a getter, which then runs and takes whatever is
// first; a woken getter can find the item gone and wait again, at the back of the line. Here a put
// that finds getters waiting hands its item straight to the one that has waited longest (completes
// that getter's future with it), and a get that frees a slot of a full queue moves the item of the
// longest-waiting putter into the queue and completes that put. So waiters are served strictly in
// arrival order, each wake-up is final, and a get or put never loops. Invariants: getters wait only
// while the queue is empty, putters only while it is full.
//
// Cancellation. Every waiter is a future of its own (QueueWaiters.cs); cancelling it, by its task
// or its token, unlinks it at once, so a cancelled waiter leaves nothing behind and the next put or
// free slot goes to the next waiter. The race asyncio guards against is a waiter woken and then
// cancelled before it runs. For a getter, the item was already handed over: its awaiter checks, as
// it resumes, whether its task was cancelled meanwhile, and if so gives the item back (to the next
// getter, or into the queue at the place its ticket gives it, see QueueStore.cs) and throws
// CancelledError, as asyncio would: the item is never lost and never delivered twice. (A give-back
// into a queue that filled up meanwhile may leave it over MaxSize until gets drain it.) For a putter,
// the item is in the queue and may already be taken: the put stands, and the task's cancellation is
// raised at its next await, Aio's rule for any await whose future completed first. Nothing is left
// to wake: no slot was wasted.
//
// Allocation. A get that finds an item completes synchronously through a struct awaitable that
// carries the item (QueueGetAwaitable<T>): nothing is allocated. A put that need not wait returns a
// completed future cached per queue. Only an operation that really waits allocates its waiter (one
// future, which is also its list node); the stores are arrays that grow and are reused.
using System.Diagnostics.CodeAnalysis;

namespace Aio.Sync;

/// <summary>
/// A first-in, first-out queue for producers and consumers on one loop [asyncio.Queue]: bounded
/// (<see cref="MaxSize"/> &gt; 0; a put waits while it is full) or unbounded. Waiting gets and puts
/// are served in arrival order and are cancelled by cancelling their task (or through their
/// <see cref="CancellationToken"/>); a cancelled get never loses an item. Supports
/// <see cref="TaskDone"/>/<see cref="JoinAsync"/> and <see cref="Shutdown"/> as Python 3.13 does.
/// Loop-affine and not thread-safe: the queue is bound to the loop running on the thread that
/// first uses it, and a use from another loop, or from another thread while that loop runs,
/// throws <see cref="InvalidOperationException"/>. The forms that never wait (try-forms,
/// <see cref="TaskDone"/>, <see cref="Shutdown"/>) also work while no loop runs, for setup code.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "asyncio's name: a queue is what it is.")]
public partial class AsyncQueue<T>
{
    private readonly QueueStore<T> _store;
    private readonly QueueWaiterList<QueueGetWaiter<T>> _getters = new();
    private readonly QueueWaiterList<QueuePutWaiter<T>> _putters = new();
    private readonly QueueWaiterList<QueueJoinWaiter> _joiners = new();
    private LoopAffinity _affinity;
    private Future? _completed;
    private long _nextTicket;
    private int _unfinished;
    private ShutdownState _shutdown;

    /// <summary>Creates a FIFO queue holding at most <paramref name="maxSize"/> items, or any number when 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxSize"/> is negative.</exception>
    public AsyncQueue(int maxSize = 0)
        : this(maxSize, new QueueDequeStore<T>(lifo: false))
    {
    }

    private protected AsyncQueue(int maxSize, QueueStore<T> store)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSize);
        MaxSize = maxSize;
        _store = store;
    }

    private enum ShutdownState : byte
    {
        Open,
        Draining,
        Dropped,
    }

    /// <summary>The most items the queue holds, or 0 for no limit [queue.maxsize].</summary>
    public int MaxSize { get; }

    /// <summary>
    /// How many items are in the queue [queue.qsize()]. An item put while a get waits goes straight
    /// to that get and is never counted.
    /// </summary>
    public int Count => _store.Count;

    /// <summary>Whether the queue holds no item [queue.empty()].</summary>
    public bool IsEmpty => _store.Count == 0;

    /// <summary>Whether a put would wait: the queue is bounded and holds <see cref="MaxSize"/> items [queue.full()].</summary>
    public bool IsFull => MaxSize > 0 && _store.Count >= MaxSize;

    /// <summary>Whether <see cref="Shutdown"/> was called.</summary>
    public bool IsShutDown => _shutdown != ShutdownState.Open;

    /// <summary>
    /// Puts <paramref name="item"/> into the queue, waiting while it is full [queue.put(item)].
    /// Completes at once (a cached completed future) when there is room; a waiting put is served
    /// in arrival order and, once done, its item is in the queue even if its task was cancelled
    /// meanwhile (the cancellation is raised at the task's next await).
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="cancellationToken">Cancels a waiting put (the await throws <see cref="CancelledError"/>); cancelling the task does too.</param>
    /// <returns>A future that completes when the item is in the queue; it fails with
    /// <see cref="QueueShutDownError"/> if the queue is or gets shut down first.</returns>
    /// <exception cref="InvalidOperationException">No loop runs on this thread, or the queue is bound to another loop.</exception>
    public Future PutAsync(T item, CancellationToken cancellationToken = default)
    {
        EventLoop loop = BindLoop();
        if (cancellationToken.IsCancellationRequested)
        {
            return Cancelled(loop);
        }

        if (_shutdown != ShutdownState.Open)
        {
            return ShutDown(loop);
        }

        if (!IsFull)
        {
            PutNow(item);
            return _completed!;
        }

        var waiter = new QueuePutWaiter<T>(loop, this, item);
        _putters.AddLast(waiter);
        waiter.Link(cancellationToken);
        return waiter;
    }

    /// <summary>
    /// Removes and returns the next item, waiting while the queue is empty [queue.get()]. Completes
    /// synchronously, allocating nothing, when the queue has an item; waiting gets are served in
    /// arrival order, and a cancelled one never loses an item.
    /// </summary>
    /// <param name="cancellationToken">Cancels a waiting get (the await throws <see cref="CancelledError"/>); cancelling the task does too.</param>
    /// <returns>An awaitable of the item; awaiting it throws <see cref="QueueShutDownError"/> when
    /// the queue is shut down and empty (or shuts down while the get waits).</returns>
    /// <exception cref="InvalidOperationException">No loop runs on this thread, or the queue is bound to another loop.</exception>
    public QueueGetAwaitable<T> GetAsync(CancellationToken cancellationToken = default)
    {
        EventLoop loop = BindLoop();
        if (cancellationToken.IsCancellationRequested)
        {
            var cancelled = new Future<T>(loop);
            cancelled.Cancel(QueueWaiterToken.Message);
            return new QueueGetAwaitable<T>(cancelled);
        }

        if (_store.Count > 0)
        {
            return new QueueGetAwaitable<T>(TakeNow());
        }

        if (_shutdown != ShutdownState.Open)
        {
            var failed = new Future<T>(loop);
            failed.SetException(new QueueShutDownError());
            return new QueueGetAwaitable<T>(failed);
        }

        var waiter = new QueueGetWaiter<T>(loop, this);
        _getters.AddLast(waiter);
        waiter.Link(cancellationToken);
        return new QueueGetAwaitable<T>(waiter);
    }

    /// <summary>
    /// Puts <paramref name="item"/> without waiting [queue.put_nowait(item)]: hands it to the
    /// longest-waiting get if there is one, else stores it.
    /// </summary>
    /// <returns>False, doing nothing, when the queue is full (where asyncio raises QueueFull).</returns>
    /// <exception cref="QueueShutDownError">The queue is shut down.</exception>
    public bool TryPut(T item)
    {
        _affinity.ForAccess(this);
        if (_shutdown != ShutdownState.Open)
        {
            throw new QueueShutDownError();
        }

        if (IsFull)
        {
            return false;
        }

        PutNow(item);
        return true;
    }

    /// <summary>
    /// Removes the next item without waiting [queue.get_nowait()]; a slot it frees goes to the
    /// longest-waiting put.
    /// </summary>
    /// <returns>False when the queue is empty (where asyncio raises QueueEmpty).</returns>
    /// <exception cref="QueueShutDownError">The queue is empty and shut down.</exception>
    public bool TryGet([MaybeNullWhen(false)] out T item)
    {
        _affinity.ForAccess(this);
        if (_store.Count > 0)
        {
            item = TakeNow();
            return true;
        }

        if (_shutdown != ShutdownState.Open)
        {
            throw new QueueShutDownError();
        }

        item = default;
        return false;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"<{GetType().Name.Split('`')[0]} maxsize={MaxSize} count={Count} unfinished={_unfinished}{(IsShutDown ? " shutdown" : string.Empty)}>";
}
