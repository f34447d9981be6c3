namespace Aio;

/// <summary>
/// A future was used in a state that does not allow it [asyncio.InvalidStateError]: its result
/// read before it is done, or a result set twice.
/// </summary>
public class InvalidStateError : InvalidOperationException
{
    /// <summary>Creates the error with a default message.</summary>
    public InvalidStateError()
        : base("The future is in the wrong state for this operation.")
    {
    }

    /// <summary>Creates the error with a message.</summary>
    public InvalidStateError(string message)
        : base(message)
    {
    }

    /// <summary>Creates the error with a message and an inner exception.</summary>
    public InvalidStateError(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
