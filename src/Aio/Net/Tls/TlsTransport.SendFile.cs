// The TLS transport's part of loop.sendfile [asyncio's SSL transports: _sendfile_compatible =
// FALLBACK]. The bytes must be encrypted in user space, so there is no native route: the loop reads
// the file and writes it through WriteFileChunk, refusing the protocol's own writes meanwhile. The
// write buffer shrinks in two places, the plaintext queue (an SslStream write finished) and the
// socket transport underneath; both report through WriteBufferShrunk.
using Microsoft.Win32.SafeHandles;

namespace Aio.Net;

/// <summary>The sendfile support of <see cref="TlsTransport"/>: the fallback only.</summary>
internal sealed partial class TlsTransport : ISendFileTransport
{
    /// <inheritdoc/>
    public bool SendFileInProgress { get; set; }

    /// <inheritdoc/>
    public Action? WriteBufferShrunk { get; set; }

    /// <inheritdoc/>
    public bool IsLost => _state == TlsState.Closed;

    /// <inheritdoc/>
    public void WriteFileChunk(ReadOnlySpan<byte> data) => WriteCore(data);

    /// <summary>Null: TLS encrypts in user space, sendfile(2) cannot be used.</summary>
    public SendFileOperation? CreateNativeSendFile(SafeFileHandle file, long offset, long? count) => null;

    private void CheckNoSendFile()
    {
        if (SendFileInProgress)
        {
            throw new InvalidOperationException(
                "Cannot call Write() while loop.SendFileAsync() is sending a file over this transport [asyncio: unable to write; sendfile is in progress]: await it first.");
        }
    }

    private void OnWriteBufferShrunk() => WriteBufferShrunk?.Invoke();
}
