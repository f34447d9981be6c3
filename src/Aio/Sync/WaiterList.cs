namespace Aio.Sync;

/// <summary>
/// A waiter of a synchronization primitive, as its queue sees it: the links of an intrusive list,
/// and how to grant it what it waits for. Implemented by <see cref="SyncWaiter{T}"/>.
/// </summary>
internal interface IWaiterNode
{
    /// <summary>The previous waiter in the list (toward the head).</summary>
    IWaiterNode? Previous { get; set; }

    /// <summary>The next waiter in the list (toward the tail).</summary>
    IWaiterNode? Next { get; set; }

    /// <summary>The list that holds the waiter, or null when it is in none.</summary>
    WaiterList? List { get; set; }

    /// <summary>The task that started the wait (null outside tasks): a lock records it as its owner.</summary>
    ITaskInternals? Task { get; }

    /// <summary>What a lock records as its current hold when it grants this waiter (see <see cref="AsyncLock"/>).</summary>
    object? HoldToken { get; }

    /// <summary>Completes the waiter's future with what it waited for; false if it was already done.</summary>
    bool Grant();
}

/// <summary>
/// A FIFO of waiters, linked through the waiters themselves: enqueue, dequeue and removal of any
/// waiter (a cancelled one) are O(1) and allocate nothing. A waiter is in at most one list.
/// Loop thread only.
/// </summary>
internal sealed class WaiterList
{
    private IWaiterNode? _head;
    private IWaiterNode? _tail;

    /// <summary>How many waiters the list holds.</summary>
    public int Count { get; private set; }

    /// <summary>The oldest waiter, or null.</summary>
    public IWaiterNode? First => _head;

    /// <summary>Appends <paramref name="waiter"/>, which is in no list.</summary>
    public void Enqueue(IWaiterNode waiter)
    {
        if (waiter.List is not null)
        {
            throw new InvalidOperationException("A waiter is already queued.");
        }

        waiter.List = this;
        waiter.Previous = _tail;
        waiter.Next = null;
        if (_tail is null)
        {
            _head = waiter;
        }
        else
        {
            _tail.Next = waiter;
        }

        _tail = waiter;
        Count++;
    }

    /// <summary>Removes and returns the oldest waiter, or null when empty.</summary>
    public IWaiterNode? Dequeue()
    {
        IWaiterNode? head = _head;
        if (head is not null)
        {
            Remove(head);
        }

        return head;
    }

    /// <summary>Removes <paramref name="waiter"/> if this list holds it; returns whether it did.</summary>
    public bool Remove(IWaiterNode waiter)
    {
        if (!ReferenceEquals(waiter.List, this))
        {
            return false;
        }

        if (waiter.Previous is { } previous)
        {
            previous.Next = waiter.Next;
        }
        else
        {
            _head = waiter.Next;
        }

        if (waiter.Next is { } next)
        {
            next.Previous = waiter.Previous;
        }
        else
        {
            _tail = waiter.Previous;
        }

        waiter.Previous = null;
        waiter.Next = null;
        waiter.List = null;
        Count--;
        return true;
    }
}
