// The socket transport's part of loop.sendfile [asyncio's _SelectorSocketTransport with
// _sendfile_compatible = TRY_NATIVE]. While a sendfile runs, Write and WriteEof throw (asyncio:
// "unable to write; sendfile is in progress"), so the file's bytes never interleave with the
// protocol's. The native route is a SendFileOperation that installs the transport's own writer slot
// (the write buffer is empty by then, so the transport's writer is not installed, and writes are
// refused, so it cannot be installed meanwhile). The end of the connection fails that operation
// before the socket is disposed, which removes its writer: nothing stays registered.
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace Aio.Net;

/// <summary>The sendfile support of <see cref="SocketTransport"/>.</summary>
internal sealed partial class SocketTransport : ISendFileTransport
{
    private SendFileOperation? _sendFile;

    /// <inheritdoc/>
    public bool SendFileInProgress { get; set; }

    /// <inheritdoc/>
    public Action? WriteBufferShrunk { get; set; }

    /// <inheritdoc/>
    public bool IsLost => _connectionLost;

    /// <inheritdoc/>
    public void WriteFileChunk(ReadOnlySpan<byte> data) => WriteCore(data);

    /// <inheritdoc/>
    public SendFileOperation? CreateNativeSendFile(SafeFileHandle file, long offset, long? count)
    {
        System.Diagnostics.Debug.Assert(_buffer.IsEmpty && !_writing.IsWatching, "the native sendfile starts on a flushed transport");
        if (!OperatingSystem.IsLinux() || _socket.SocketType != SocketType.Stream)
        {
            return null;
        }

        _sendFile = new SendFileOperation(_loop, _socket, file, offset, count, ownSocket: true);
        return _sendFile;
    }

    private void CheckNoSendFile(string what)
    {
        if (SendFileInProgress)
        {
            throw new InvalidOperationException(
                $"Cannot call {what}() while loop.SendFileAsync() is sending a file over this transport [asyncio: unable to write; sendfile is in progress]: await it first.");
        }
    }

    /// <summary>The connection ends: a running native sendfile fails (removing its writer) and a waiting sendfile wakes.</summary>
    private void EndSendFile()
    {
        if (_sendFile is { IsDone: false } running)
        {
            running.SetException(new IOException("The connection was closed while sendfile was sending the file."));
        }

        _sendFile = null;
        WriteBufferShrunk?.Invoke();
    }
}
