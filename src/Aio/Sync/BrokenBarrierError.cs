namespace Aio.Sync;

/// <summary>
/// The barrier was aborted or reset while waiting, or is broken [asyncio.BrokenBarrierError]: see
/// <see cref="AsyncBarrier.Abort"/> and <see cref="AsyncBarrier.Reset"/>.
/// </summary>
public class BrokenBarrierError : InvalidOperationException
{
    /// <summary>Creates the error with the default message.</summary>
    public BrokenBarrierError()
        : base("The barrier is broken.")
    {
    }

    /// <summary>Creates the error with <paramref name="message"/>.</summary>
    public BrokenBarrierError(string? message)
        : base(message ?? "The barrier is broken.")
    {
    }

    /// <summary>Creates the error with a message and an inner exception.</summary>
    public BrokenBarrierError(string? message, Exception? innerException)
        : base(message ?? "The barrier is broken.", innerException)
    {
    }
}
