namespace Aio.Sync;

/// <summary>
/// A semaphore that refuses to be released above its initial count [asyncio.BoundedSemaphore]:
/// an extra <see cref="AsyncSemaphore.Release"/> throws instead of silently adding a permit, which
/// catches a release without a matching acquisition. Otherwise an <see cref="AsyncSemaphore"/>.
/// Loop thread only.
/// </summary>
public sealed class BoundedAsyncSemaphore : AsyncSemaphore
{
    /// <summary>Creates a semaphore with <paramref name="initialCount"/> permits, which is also its maximum.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="initialCount"/> is negative.</exception>
    public BoundedAsyncSemaphore(int initialCount = 1)
        : base(initialCount, bounded: true)
    {
        MaxCount = initialCount;
    }

    /// <summary>The initial count, above which <see cref="AsyncSemaphore.Release"/> throws.</summary>
    public int MaxCount { get; }
}
