namespace Aio.Net;

/// <summary>
/// What <see cref="SendFileLoopExtensions.SendFileAsync"/> needs of a transport [asyncio's
/// _sendfile_compatible and _make_empty_waiter]: a switch that refuses the user's writes while a
/// file is being sent (so nothing interleaves with the file's bytes), a write that goes around that
/// switch for the fallback's chunks, a callback when the write buffer shrinks or the connection
/// ends (to honour flow control and wait for the flush), and the native route when there is one.
/// Loop thread only.
/// </summary>
internal interface ISendFileTransport
{
    /// <summary>While true, <see cref="IWriteTransport.Write"/> and <see cref="IWriteTransport.WriteEof"/> throw.</summary>
    bool SendFileInProgress { get; set; }

    /// <summary>
    /// Called after the write buffer shrank and when the connection ends; one subscriber (the running
    /// sendfile), null when none.
    /// </summary>
    Action? WriteBufferShrunk { get; set; }

    /// <summary>True once the connection has ended (ConnectionLost is scheduled or done).</summary>
    bool IsLost { get; }

    /// <summary>Writes a chunk of the file during a sendfile (the fallback), around <see cref="SendFileInProgress"/>.</summary>
    void WriteFileChunk(ReadOnlySpan<byte> data);

    /// <summary>
    /// Creates a sendfile(2) operation on the transport's own socket (not started), or null when the
    /// transport cannot send natively (TLS encrypts in user space).
    /// </summary>
    SendFileOperation? CreateNativeSendFile(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long? count);
}
