using Aio.Net;
using Aio.Sync;

namespace Aio;

// WaitFor overloads for the struct awaitables of stream reads and queue gets. C# cannot infer T
// of WaitFor<T>(Future<T>, ...) through a user-defined implicit conversion, so without these
// `await LoopTask.WaitFor(reader.ReadLineAsync(), t)` bound to the result-less overload and failed
// with CS0029. Each converts the awaitable to its future (AsFuture) and waits for that.
public partial class LoopTask
{
    /// <summary>
    /// Waits for a stream read for at most <paramref name="timeout"/> and returns its bytes
    /// [asyncio.wait_for(reader.readline(), t)]; see <see cref="WaitFor{T}(Future{T}, TimeSpan?)"/>.
    /// On timeout the read is cancelled (the reader's buffer stays intact) and
    /// <see cref="TimeoutException"/> is thrown. Null: no limit.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<byte[]> WaitFor(AsyncStreamReadAwaitable read, TimeSpan? timeout) =>
        WaitFor(read.AsFuture(), timeout);

    /// <summary>
    /// Waits for a queue get for at most <paramref name="timeout"/> and returns the item
    /// [asyncio.wait_for(queue.get(), t)]; see <see cref="WaitFor{T}(Future{T}, TimeSpan?)"/>.
    /// On timeout the get is withdrawn (no item is lost) and <see cref="TimeoutException"/> is thrown.
    /// Null: no limit.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<T> WaitFor<T>(QueueGetAwaitable<T> get, TimeSpan? timeout) =>
        WaitFor(get.AsFuture(), timeout);
}
