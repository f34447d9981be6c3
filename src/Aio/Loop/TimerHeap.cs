// The loop's timers: a 4-ary min-heap in an array of structs, ordered by (when, sequence). Four
// children per node halve the levels a pop walks down compared with a binary heap, and the four
// siblings sit next to each other in memory, so a heap of many timers (past the cache) takes about
// half the cache misses per pop; pushes, which walk up, get shorter too.
//
// The sequence number is taken when the timer is scheduled, so timers with equal deadlines fire in
// the order they were scheduled (asyncio's heapq compares handles and gives no such promise).
// Cancellation is lazy: a cancelled timer stays in the heap until it reaches the top, where it is
// dropped. When more than half of the heap (and more than a few dozen entries) is cancelled, the
// heap is rebuilt without them, so a program that schedules and cancels many timeouts keeps a heap
// proportional to its live timers, as asyncio does with _MIN_CANCELLED_TIMER_HANDLES_FRACTION.
namespace Aio;

/// <summary>A min-heap of timer handles by (deadline, schedule order). Loop thread only.</summary>
internal sealed class TimerHeap
{
    private const int MinCancelledToCompact = 64;

    private struct Entry
    {
        public double When;
        public long Sequence;
        public TimerHandle Handle;
    }

    private Entry[] _entries = new Entry[64];
    private int _count;
    private long _nextSequence;
    private int _cancelled;

    /// <summary>Entries in the heap, cancelled ones included.</summary>
    public int Count => _count;

    /// <summary>Entries that are cancelled but not yet removed.</summary>
    public int CancelledCount => _cancelled;

    public void Push(TimerHandle handle)
    {
        if (_count == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }

        handle.Scheduled = true;
        _entries[_count] = new Entry { When = handle.When, Sequence = _nextSequence++, Handle = handle };
        SiftUp(_count++);
    }

    /// <summary>Called when a scheduled timer is cancelled; compacts when cancelled ones dominate.</summary>
    public void OnCancelled()
    {
        _cancelled++;
        if (_cancelled > MinCancelledToCompact && _cancelled * 2 > _count)
        {
            Compact();
        }
    }

    /// <summary>Drops cancelled timers from the top; returns the earliest live deadline, if any.</summary>
    public bool TryPeekWhen(out double when)
    {
        while (_count > 0)
        {
            TimerHandle top = _entries[0].Handle;
            if (!top.IsCancelled)
            {
                when = _entries[0].When;
                return true;
            }

            RemoveTop();
            _cancelled--;
        }

        when = 0;
        return false;
    }

    /// <summary>Removes and returns the earliest live timer if it is due by <paramref name="deadline"/>.</summary>
    public TimerHandle? PopDue(double deadline)
    {
        if (!TryPeekWhen(out double when) || when >= deadline)
        {
            return null;
        }

        TimerHandle handle = _entries[0].Handle;
        RemoveTop();
        return handle;
    }

    public void Clear()
    {
        for (int i = 0; i < _count; i++)
        {
            _entries[i].Handle.Scheduled = false;
        }

        Array.Clear(_entries, 0, _count);
        _count = 0;
        _cancelled = 0;
    }

    private void RemoveTop()
    {
        _entries[0].Handle.Scheduled = false;
        _count--;
        _entries[0] = _entries[_count];
        _entries[_count] = default;
        if (_count > 0)
        {
            SiftDown(0);
        }
    }

    private void Compact()
    {
        int kept = 0;
        for (int i = 0; i < _count; i++)
        {
            if (_entries[i].Handle.IsCancelled)
            {
                _entries[i].Handle.Scheduled = false;
            }
            else
            {
                _entries[kept++] = _entries[i];
            }
        }

        Array.Clear(_entries, kept, _count - kept);
        _count = kept;
        _cancelled = 0;
        for (int i = (_count - 2) / 4; i >= 0; i--)
        {
            SiftDown(i);
        }
    }

    private static bool Less(in Entry a, in Entry b) =>
        a.When < b.When || (a.When == b.When && a.Sequence < b.Sequence);

    private void SiftUp(int index)
    {
        Entry entry = _entries[index];
        while (index > 0)
        {
            int parent = (index - 1) >> 2;
            if (!Less(entry, _entries[parent]))
            {
                break;
            }

            _entries[index] = _entries[parent];
            index = parent;
        }

        _entries[index] = entry;
    }

    private void SiftDown(int index)
    {
        Entry entry = _entries[index];
        while (true)
        {
            int first = (4 * index) + 1;
            if (first >= _count)
            {
                break;
            }

            int last = Math.Min(first + 4, _count);
            int child = first;
            for (int sibling = first + 1; sibling < last; sibling++)
            {
                if (Less(_entries[sibling], _entries[child]))
                {
                    child = sibling;
                }
            }

            if (!Less(_entries[child], entry))
            {
                break;
            }

            _entries[index] = _entries[child];
            index = child;
        }

        _entries[index] = entry;
    }
}
