namespace Aio.Net;

/// <summary>
/// The system cannot send this file with sendfile(2) here [asyncio.SendfileNotAvailableError]: not
/// Linux, the file is not a regular file (a pipe, a <see cref="MemoryStream"/>), or the kernel
/// refused, or the transport is TLS. Thrown by <see cref="SendFileLoopExtensions.SockSendFileAsync"/>
/// and <see cref="SendFileLoopExtensions.SendFileAsync"/> only when their fallback is off, and only
/// before any byte was sent.
/// </summary>
public class SendfileNotAvailableError : InvalidOperationException
{
    private const string DefaultMessage = "sendfile(2) is not available for this socket and file.";

    /// <summary>Creates the error with the default message.</summary>
    public SendfileNotAvailableError()
        : base(DefaultMessage)
    {
    }

    /// <summary>Creates the error with <paramref name="message"/>.</summary>
    public SendfileNotAvailableError(string? message)
        : base(message ?? DefaultMessage)
    {
    }

    /// <summary>Creates the error with a message and an inner exception.</summary>
    public SendfileNotAvailableError(string? message, Exception? innerException)
        : base(message ?? DefaultMessage, innerException)
    {
    }
}
