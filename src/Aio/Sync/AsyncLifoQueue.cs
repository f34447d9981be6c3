using System.Diagnostics.CodeAnalysis;

namespace Aio.Sync;

/// <summary>
/// A last-in, first-out queue [asyncio.LifoQueue]: a get returns the most recently put item. All
/// else, waiting, cancellation, <see cref="AsyncQueue{T}.TaskDone"/>/<see cref="AsyncQueue{T}.JoinAsync"/>
/// and shutdown, is as <see cref="AsyncQueue{T}"/>. An item put while gets wait goes straight to the
/// longest-waiting get. Loop thread only.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "asyncio's name: a queue is what it is.")]
public sealed class AsyncLifoQueue<T> : AsyncQueue<T>
{
    /// <summary>Creates a LIFO queue holding at most <paramref name="maxSize"/> items, or any number when 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxSize"/> is negative.</exception>
    public AsyncLifoQueue(int maxSize = 0)
        : base(maxSize, new QueueDequeStore<T>(lifo: true))
    {
    }
}
