using System.Diagnostics.CodeAnalysis;

namespace Aio.Net;

/// <summary>
/// A read looking for a separator went past the reader's limit [asyncio.LimitOverrunError].
/// <see cref="Consumed"/> is how many bytes may be consumed without finding the separator, or the
/// position of a separator found beyond the limit. Thrown by
/// <see cref="AsyncStreamReader.ReadUntilAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, which
/// leaves the data in the buffer, and by <see cref="AsyncStreamReader.ReadLineAsync"/>, which first
/// removes the over-long line (asyncio's readline raises ValueError instead; see the mapping).
/// </summary>
[SuppressMessage("Naming", "CA1710:Identifiers should have correct suffix", Justification = "asyncio's name, as docs/design.md lists it.")]
public class LimitOverrunError : Exception
{
    /// <summary>Creates the error with the default message and <see cref="Consumed"/> 0.</summary>
    public LimitOverrunError()
        : base("The separator was not found within the limit.")
    {
    }

    /// <summary>Creates the error with <paramref name="message"/> and <see cref="Consumed"/> 0.</summary>
    public LimitOverrunError(string? message)
        : base(message ?? "The separator was not found within the limit.")
    {
    }

    /// <summary>Creates the error with a message and an inner exception, and <see cref="Consumed"/> 0.</summary>
    public LimitOverrunError(string? message, Exception? innerException)
        : base(message ?? "The separator was not found within the limit.", innerException)
    {
    }

    /// <summary>Creates the error [LimitOverrunError(message, consumed)].</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="consumed">The number of bytes to be consumed [e.consumed].</param>
    public LimitOverrunError(string? message, int consumed)
        : base(message ?? "The separator was not found within the limit.")
    {
        Consumed = consumed;
    }

    /// <summary>
    /// The number of bytes to be consumed [e.consumed]: when the separator was not found, how many
    /// bytes are known not to start it; when it was found beyond the limit, its position.
    /// </summary>
    public int Consumed { get; }
}
