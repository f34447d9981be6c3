// Where a queue keeps its items. The three asyncio queues differ only in which stored item comes
// out next, so AsyncQueue<T> owns every rule (waiters, hand-off, shutdown, counting) and delegates
// the order to one of these stores.
//
// Tickets. Every item that enters a queue gets a ticket, a number that grows with each put. The
// priority store breaks ties between equal priorities with it (FIFO among equals). All stores use
// it for the one insertion that is not a plain put: a getter that was handed an item but whose task
// was cancelled before it resumed gives the item back (see AsyncQueue<T>), and the item must take
// up the place it would have had if it had never left, that is, by its ticket. A hand-off only
// happens while the store is empty, so a given-back item is older than every item put since; the
// deque finds its place within the (short) run of given-back items at its oldest end.
namespace Aio.Sync;

/// <summary>The order of a queue's stored items. Loop thread only, like the queue.</summary>
internal abstract class QueueStore<T>
{
    /// <summary>How many items are stored.</summary>
    public abstract int Count { get; }

    /// <summary>Stores a newly put item with its ticket.</summary>
    public abstract void Add(T item, long ticket);

    /// <summary>Removes and returns the next item; the store is not empty.</summary>
    public abstract T Take();

    /// <summary>Stores an item given back by a cancelled getter where its ticket places it.</summary>
    public abstract void Restore(T item, long ticket);

    /// <summary>Removes every item; returns how many there were.</summary>
    public abstract int Clear();

    /// <summary>An item with the ticket it entered the queue with.</summary>
    protected struct Entry(T item, long ticket)
    {
        public T Item = item;
        public long Ticket = ticket;
    }
}

/// <summary>A ring buffer: FIFO takes from the oldest end, LIFO from the newest.</summary>
internal sealed class QueueDequeStore<T>(bool lifo) : QueueStore<T>
{
    private readonly bool _lifo = lifo;
    private Entry[] _entries = [];
    private int _head;
    private int _count;

    public override int Count => _count;

    public override void Add(T item, long ticket)
    {
        if (_count == _entries.Length)
        {
            Grow();
        }

        _entries[(_head + _count) & (_entries.Length - 1)] = new Entry(item, ticket);
        _count++;
    }

    public override T Take()
    {
        int index = _lifo ? (_head + _count - 1) & (_entries.Length - 1) : _head;
        ref Entry slot = ref _entries[index];
        T item = slot.Item;
        slot = default;
        _count--;
        if (!_lifo)
        {
            _head = (_head + 1) & (_entries.Length - 1);
        }

        return item;
    }

    public override void Restore(T item, long ticket)
    {
        if (_count == _entries.Length)
        {
            Grow();
        }

        int mask = _entries.Length - 1;
        _head = (_head - 1) & mask;
        _entries[_head] = new Entry(item, ticket);
        _count++;

        // Move it past the given-back items that are older still (normally none).
        for (int i = 0; i + 1 < _count; i++)
        {
            ref Entry current = ref _entries[(_head + i) & mask];
            ref Entry next = ref _entries[(_head + i + 1) & mask];
            if (next.Ticket > current.Ticket)
            {
                break;
            }

            (current, next) = (next, current);
        }
    }

    public override int Clear()
    {
        int count = _count;
        Array.Clear(_entries);
        _head = 0;
        _count = 0;
        return count;
    }

    private void Grow()
    {
        var larger = new Entry[Math.Max(8, _entries.Length * 2)];
        for (int i = 0; i < _count; i++)
        {
            larger[i] = _entries[(_head + i) & (_entries.Length - 1)];
        }

        _entries = larger;
        _head = 0;
    }
}

/// <summary>A binary min-heap ordered by the comparer, then by ticket (FIFO among equal priorities).</summary>
internal sealed class QueuePriorityStore<T>(IComparer<T> comparer) : QueueStore<T>
{
    private readonly IComparer<T> _comparer = comparer;
    private Entry[] _heap = [];
    private int _count;

    public override int Count => _count;

    public override void Add(T item, long ticket)
    {
        if (_count == _heap.Length)
        {
            Array.Resize(ref _heap, Math.Max(8, _heap.Length * 2));
        }

        int index = _count++;
        var entry = new Entry(item, ticket);
        while (index > 0)
        {
            int parent = (index - 1) >> 1;
            if (!Before(entry, _heap[parent]))
            {
                break;
            }

            _heap[index] = _heap[parent];
            index = parent;
        }

        _heap[index] = entry;
    }

    public override T Take()
    {
        T item = _heap[0].Item;
        Entry last = _heap[--_count];
        _heap[_count] = default;
        if (_count > 0)
        {
            int index = 0;
            while (true)
            {
                int child = (2 * index) + 1;
                if (child >= _count)
                {
                    break;
                }

                if (child + 1 < _count && Before(_heap[child + 1], _heap[child]))
                {
                    child++;
                }

                if (!Before(_heap[child], last))
                {
                    break;
                }

                _heap[index] = _heap[child];
                index = child;
            }

            _heap[index] = last;
        }

        return item;
    }

    public override void Restore(T item, long ticket) => Add(item, ticket);

    public override int Clear()
    {
        int count = _count;
        Array.Clear(_heap);
        _count = 0;
        return count;
    }

    private bool Before(in Entry a, in Entry b)
    {
        int order = _comparer.Compare(a.Item, b.Item);
        return order != 0 ? order < 0 : a.Ticket < b.Ticket;
    }
}
