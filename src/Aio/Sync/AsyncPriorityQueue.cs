using System.Diagnostics.CodeAnalysis;

namespace Aio.Sync;

/// <summary>
/// A queue that returns the smallest item first [asyncio.PriorityQueue], by an
/// <see cref="IComparer{T}"/>; items that compare equal come out in the order they were put (FIFO,
/// which asyncio's heap does not promise). All else, waiting, cancellation,
/// <see cref="AsyncQueue{T}.TaskDone"/>/<see cref="AsyncQueue{T}.JoinAsync"/> and shutdown, is as
/// <see cref="AsyncQueue{T}"/>. An item put while gets wait goes straight to the longest-waiting
/// get. Loop thread only.
/// </summary>
/// <typeparam name="T">The item type; for (priority, payload) pairs, compare on the priority.</typeparam>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "asyncio's name: a queue is what it is.")]
public sealed class AsyncPriorityQueue<T> : AsyncQueue<T>
{
    /// <summary>
    /// Creates a priority queue holding at most <paramref name="maxSize"/> items, or any number when
    /// 0, ordered by <paramref name="comparer"/> (default: <see cref="Comparer{T}.Default"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxSize"/> is negative.</exception>
    public AsyncPriorityQueue(int maxSize = 0, IComparer<T>? comparer = null)
        : base(maxSize, new QueuePriorityStore<T>(comparer ?? Comparer<T>.Default)) =>
        Comparer = comparer ?? Comparer<T>.Default;

    /// <summary>The order of the items: smaller comes out first.</summary>
    public IComparer<T> Comparer { get; }
}
