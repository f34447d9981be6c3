// The thread-safe inbox and the wake-up protocol.
//
// Other threads never touch the ready queue: they enqueue into a lock-free multi-producer queue
// (ConcurrentQueue of structs: its ring segment is reused, so a steady stream of posts allocates
// nothing) and the loop moves the inbox into the ready queue once per iteration.
//
// The wake-up is a flag, never the carrier of messages. Before it blocks, the loop announces
// Sleeping with a full fence and re-checks the inbox; a producer enqueues and then tries to flip
// Sleeping to Woken with a compare-exchange, and only the producer that wins that race writes to
// the backend's wake channel. Either the loop's re-check sees the item, or the producer sees
// Sleeping and wakes it: with sequentially consistent interlocked operations on both sides, one of
// the two must happen, so no wake-up is lost, and at most one wake write is paid per sleep. A wake
// written just after the loop stopped waiting is harmless: the next poll returns at once.
using System.Collections.Concurrent;

namespace Aio;

/// <summary>The multi-producer queue of cross-thread posts plus the loop's sleep flag.</summary>
internal sealed class Inbox
{
    private const int Awake = 0;
    private const int Sleeping = 1;
    private const int Woken = 2;

    private readonly ConcurrentQueue<ReadyItem> _queue = new();
    private readonly Action _wake;
    private int _state;

    public Inbox(Action wake) => _wake = wake;

    public bool IsEmpty => _queue.IsEmpty;

    /// <summary>Enqueues from any thread and wakes the loop if it is asleep.</summary>
    public void Post(object callback, object? state)
    {
        _queue.Enqueue(new ReadyItem(callback, state));
        if (Volatile.Read(ref _state) == Sleeping &&
            Interlocked.CompareExchange(ref _state, Woken, Sleeping) == Sleeping)
        {
            _wake();
        }
    }

    /// <summary>
    /// Loop thread, before blocking: announces the sleep. Returns false (and stays awake) when the
    /// inbox already holds work, in which case the loop must poll without blocking.
    /// </summary>
    public bool TryEnterSleep()
    {
        Interlocked.Exchange(ref _state, Sleeping);
        if (_queue.IsEmpty)
        {
            return true;
        }

        Interlocked.Exchange(ref _state, Awake);
        return false;
    }

    /// <summary>Loop thread, after the poll returned.</summary>
    public void LeaveSleep() => Volatile.Write(ref _state, Awake);

    /// <summary>Moves every item posted so far into <paramref name="ready"/>, in post order.</summary>
    public void DrainInto(ReadyQueue ready)
    {
        // Bound the drain by the count seen at the start, so a producer that posts as fast as we
        // drain cannot keep the loop here forever.
        int budget = _queue.Count;
        while (budget-- > 0 && _queue.TryDequeue(out ReadyItem item))
        {
            ready.Enqueue(item.Callback, item.State);
        }
    }

    /// <summary>Drops everything still queued (the loop is closing).</summary>
    public void Clear() => _queue.Clear();
}
