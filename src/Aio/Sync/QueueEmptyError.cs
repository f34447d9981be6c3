namespace Aio.Sync;

/// <summary>
/// A get that does not wait found the queue empty [asyncio.QueueEmpty]: thrown by <see cref="AsyncQueue{T}.GetNoWait"/>.
/// </summary>
public class QueueEmptyError : InvalidOperationException
{
    private const string DefaultMessage = "The queue is empty: use GetAsync to wait for an item, or TryGet to test without an exception.";

    /// <summary>Creates the error with the default message.</summary>
    public QueueEmptyError()
        : base(DefaultMessage)
    {
    }

    /// <summary>Creates the error with <paramref name="message"/>.</summary>
    public QueueEmptyError(string? message)
        : base(message ?? DefaultMessage)
    {
    }

    /// <summary>Creates the error with a message and an inner exception.</summary>
    public QueueEmptyError(string? message, Exception? innerException)
        : base(message ?? DefaultMessage, innerException)
    {
    }
}
