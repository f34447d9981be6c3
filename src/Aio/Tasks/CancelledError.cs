namespace Aio;

/// <summary>
/// The operation was cancelled [asyncio.CancelledError]: thrown by the await of a cancelled future,
/// and into a task's pending await when the task is cancelled. A task may catch it and go on.
/// </summary>
public class CancelledError : OperationCanceledException
{
    /// <summary>Creates the error with the default message.</summary>
    public CancelledError()
        : base("The operation was cancelled.")
    {
    }

    /// <summary>Creates the error with the message given to <c>Cancel(message)</c>.</summary>
    public CancelledError(string? message)
        : base(message ?? "The operation was cancelled.")
    {
    }

    /// <summary>Creates the error with a message and an inner exception.</summary>
    public CancelledError(string? message, Exception? innerException)
        : base(message ?? "The operation was cancelled.", innerException)
    {
    }
}
