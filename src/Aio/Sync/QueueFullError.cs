namespace Aio.Sync;

/// <summary>
/// A put that does not wait found the queue full [asyncio.QueueFull]: thrown by <see cref="AsyncQueue{T}.PutNoWait"/>.
/// </summary>
public class QueueFullError : InvalidOperationException
{
    private const string DefaultMessage = "The queue is full: use PutAsync to wait for room, or TryPut to test without an exception.";

    /// <summary>Creates the error with the default message.</summary>
    public QueueFullError()
        : base(DefaultMessage)
    {
    }

    /// <summary>Creates the error with <paramref name="message"/>.</summary>
    public QueueFullError(string? message)
        : base(message ?? DefaultMessage)
    {
    }

    /// <summary>Creates the error with a message and an inner exception.</summary>
    public QueueFullError(string? message, Exception? innerException)
        : base(message ?? DefaultMessage, innerException)
    {
    }
}
