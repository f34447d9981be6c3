namespace Aio.Sync;

/// <summary>
/// The queue was shut down [asyncio.QueueShutDown]: thrown by a put after
/// <see cref="AsyncQueue{T}.Shutdown"/>, by a get once a shut-down queue is empty, and into every
/// put and get that was waiting when the queue shut down.
/// </summary>
public class QueueShutDownError : InvalidOperationException
{
    /// <summary>Creates the error with the default message.</summary>
    public QueueShutDownError()
        : base("The queue is shut down.")
    {
    }

    /// <summary>Creates the error with <paramref name="message"/>.</summary>
    public QueueShutDownError(string? message)
        : base(message ?? "The queue is shut down.")
    {
    }

    /// <summary>Creates the error with a message and an inner exception.</summary>
    public QueueShutDownError(string? message, Exception? innerException)
        : base(message ?? "The queue is shut down.", innerException)
    {
    }
}
