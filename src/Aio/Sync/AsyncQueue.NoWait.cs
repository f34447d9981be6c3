namespace Aio.Sync;

// asyncio's throwing non-waiting forms, beside the Try… forms that return false instead.
public partial class AsyncQueue<T>
{
    /// <summary>
    /// Puts <paramref name="item"/> without waiting [queue.put_nowait(item)], as
    /// <see cref="TryPut"/> does, but throws when the queue is full.
    /// </summary>
    /// <exception cref="QueueFullError">The queue is full; nothing was put.</exception>
    /// <exception cref="QueueShutDownError">The queue is shut down.</exception>
    public void PutNoWait(T item)
    {
        if (!TryPut(item))
        {
            throw new QueueFullError();
        }
    }

    /// <summary>
    /// Removes and returns the next item without waiting [queue.get_nowait()], as
    /// <see cref="TryGet"/> does, but throws when the queue is empty.
    /// </summary>
    /// <exception cref="QueueEmptyError">The queue is empty (and open).</exception>
    /// <exception cref="QueueShutDownError">The queue is empty and shut down.</exception>
    public T GetNoWait() => TryGet(out T? item) ? item : throw new QueueEmptyError();
}
