// The futures a queue's waiters suspend on, and the list that keeps them in arrival order.
//
// Each waiter is a future of its own (a pending future is never shared: cancelling the task that
// awaits it cancels it, which must not touch anyone else). The waiter is also its own list node,
// so a cancelled waiter unlinks itself in O(1) from inside Cancel, the very moment it is cancelled:
// it leaves nothing behind, and no later put or get has to skip over dead entries. A waiter that
// was given a CancellationToken cancels itself through it (on the loop: a token fired on another
// thread posts the cancel) and drops the registration once it is done, whichever way it ended.
namespace Aio.Sync;

/// <summary>A waiter's place in a <see cref="QueueWaiterList{TNode}"/>.</summary>
internal interface IQueueWaiterNode<TNode>
    where TNode : class, IQueueWaiterNode<TNode>
{
    TNode? Next { get; set; }

    TNode? Previous { get; set; }
}

/// <summary>An intrusive FIFO list of waiters with O(1) removal. Loop thread only.</summary>
internal sealed class QueueWaiterList<TNode>
    where TNode : class, IQueueWaiterNode<TNode>
{
    private TNode? _tail;

    public TNode? First { get; private set; }

    public void AddLast(TNode node)
    {
        node.Previous = _tail;
        node.Next = null;
        if (_tail is null)
        {
            First = node;
        }
        else
        {
            _tail.Next = node;
        }

        _tail = node;
    }

    /// <summary>Unlinks <paramref name="node"/> if it is in this list (a no-op otherwise).</summary>
    public void Remove(TNode node)
    {
        if (node.Previous is null && !ReferenceEquals(First, node))
        {
            return;
        }

        if (node.Previous is null)
        {
            First = node.Next;
        }
        else
        {
            node.Previous.Next = node.Next;
        }

        if (node.Next is null)
        {
            _tail = node.Previous;
        }
        else
        {
            node.Next.Previous = node.Previous;
        }

        node.Next = null;
        node.Previous = null;
    }

    /// <summary>Unlinks and returns the first waiter, or null.</summary>
    public TNode? RemoveFirst()
    {
        TNode? first = First;
        if (first is not null)
        {
            Remove(first);
        }

        return first;
    }
}

/// <summary>Cancels a waiter when its <see cref="CancellationToken"/> fires.</summary>
internal static class QueueWaiterToken
{
    public const string Message = "The queue operation was cancelled by its CancellationToken.";

    private static readonly Action<object?> CancelOnLoop = static state => ((Future)state!).Cancel(Message);

    private static readonly Action<object?> OnTokenCancelled = static state =>
    {
        var waiter = (Future)state!;
        if (waiter.Loop.IsOnLoopThread)
        {
            waiter.Cancel(Message);
        }
        else
        {
            waiter.Loop.TryCallSoonThreadSafe(CancelOnLoop, waiter);
        }
    };

    /// <summary>Links <paramref name="waiter"/> to <paramref name="token"/>; the registration is for the waiter to drop.</summary>
    public static CancellationTokenRegistration Link(Future waiter, CancellationToken token) =>
        token.CanBeCanceled ? token.UnsafeRegister(OnTokenCancelled, waiter) : default;
}

/// <summary>A pending get: completed with the item a put hands it, or failed at shutdown.</summary>
internal sealed class QueueGetWaiter<T> : Future<T>, IQueueWaiterNode<QueueGetWaiter<T>>
{
    private readonly AsyncQueue<T> _queue;
    private CancellationTokenRegistration _registration;
    private long _ticket;
    private bool _givenBack;

    public QueueGetWaiter(EventLoop loop, AsyncQueue<T> queue)
        : base(loop) => _queue = queue;

    public QueueGetWaiter<T>? Next { get; set; }

    public QueueGetWaiter<T>? Previous { get; set; }

    public void Link(CancellationToken token) => _registration = QueueWaiterToken.Link(this, token);

    /// <summary>Hands the waiter its item (the queue unlinked it first).</summary>
    public void Deliver(T item, long ticket)
    {
        _ticket = ticket;
        SetResult(item);
    }

    /// <inheritdoc />
    public override bool Cancel(string? message = null)
    {
        if (!TryCancel(message))
        {
            return false;
        }

        _queue.RemoveGetter(this);
        return true;
    }

    /// <summary>An await of this get resumes: a get whose item went back to the queue has nothing to give.</summary>
    internal override void EndAwait()
    {
        if (_givenBack)
        {
            throw new CancelledError("The item of this get was given back to the queue when its task was cancelled.");
        }

        base.EndAwait();
    }

    /// <summary>
    /// The awaiting task was cancelled after the item was handed over but before it resumed: the item
    /// goes back to the queue (to the next getter, or where its ticket places it), as asyncio's get
    /// leaves it there; awaiting this get again throws <see cref="CancelledError"/>.
    /// </summary>
    internal override void GiveBack()
    {
        if (!_givenBack)
        {
            _givenBack = true;
            _queue.GiveBack(Result, _ticket);
        }
    }

    private protected override void OnCompleted() => _registration.Unregister();
}

/// <summary>A pending put of a full queue: it holds the item until a slot frees, or fails at shutdown.</summary>
internal sealed class QueuePutWaiter<T> : Future, IQueueWaiterNode<QueuePutWaiter<T>>
{
    private readonly AsyncQueue<T> _queue;
    private CancellationTokenRegistration _registration;

    public QueuePutWaiter(EventLoop loop, AsyncQueue<T> queue, T item)
        : base(loop)
    {
        _queue = queue;
        Item = item;
    }

    public T Item { get; private set; }

    /// <summary>A put that succeeded stands: its item is in the queue and may already have been taken.</summary>
    internal override bool CanGiveBack => false;

    public QueuePutWaiter<T>? Next { get; set; }

    public QueuePutWaiter<T>? Previous { get; set; }

    public void Link(CancellationToken token) => _registration = QueueWaiterToken.Link(this, token);

    /// <summary>The queue took the item (the queue unlinked the waiter first).</summary>
    public void Succeed()
    {
        Item = default!;
        CompleteSucceeded();
    }

    /// <inheritdoc />
    public override bool Cancel(string? message = null)
    {
        if (!TryCancel(message))
        {
            return false;
        }

        Item = default!;
        _queue.RemovePutter(this);
        return true;
    }

    private protected override void OnCompleted() => _registration.Unregister();
}

/// <summary>A pending join: completed when the count of unfinished items reaches zero.</summary>
internal sealed class QueueJoinWaiter : Future, IQueueWaiterNode<QueueJoinWaiter>
{
    private readonly QueueWaiterList<QueueJoinWaiter> _list;
    private CancellationTokenRegistration _registration;

    public QueueJoinWaiter(EventLoop loop, QueueWaiterList<QueueJoinWaiter> list)
        : base(loop) => _list = list;

    public QueueJoinWaiter? Next { get; set; }

    public QueueJoinWaiter? Previous { get; set; }

    public void Link(CancellationToken token) => _registration = QueueWaiterToken.Link(this, token);

    public void Succeed() => CompleteSucceeded();

    /// <inheritdoc />
    public override bool Cancel(string? message = null)
    {
        if (!TryCancel(message))
        {
            return false;
        }

        _list.Remove(this);
        return true;
    }

    private protected override void OnCompleted() => _registration.Unregister();
}
