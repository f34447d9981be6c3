// sendfile(2) from a file descriptor to a non-blocking stream socket [asyncio's
// _sock_sendfile_native]: each readiness callback sends as much as the kernel takes, with an
// explicit offset (the file's own position is left alone; the caller sets it at the end). An
// error before the first byte means "not available here" (a file sendfile cannot read, a socket it
// cannot write), so the caller may fall back to reading and sending; after a byte it is a real error.
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Aio.Net;

/// <summary>A sendfile(2) loop on the socket's writability; the result is the byte count sent. Linux only.</summary>
internal sealed partial class SendFileOperation(EventLoop loop, Socket socket, SafeFileHandle file, long offset, long? count, bool ownSocket = false)
    : SocketOperation<long>(loop, socket, write: true, ownSocket)
{
    /// <summary>Linux's largest single transfer (0x7ffff000).</summary>
    private const long MaxChunk = 0x7ffff000;

    private const int EAgain = 11;
    private const int EIntr = 4;

    private long _position = offset;
    private long _sent;

    /// <summary>The bytes sent so far (all of them once done, also when it failed or was cancelled midway).</summary>
    public long Sent => _sent;

    protected override void TryComplete()
    {
        while (count is not { } total || _sent < total)
        {
            long chunk = count is { } limit ? Math.Min(limit - _sent, MaxChunk) : MaxChunk;
            bool added = false;
            long result;
            try
            {
                file.DangerousAddRef(ref added);
                result = (long)SendFile((int)Socket.Handle, (int)file.DangerousGetHandle(), ref _position, (nuint)chunk);
            }
            finally
            {
                if (added)
                {
                    file.DangerousRelease();
                }
            }

            if (result < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is EAgain or EIntr)
                {
                    return; // the send buffer is full: wait for writability
                }

                if (_sent == 0)
                {
                    SetException(new SendfileNotAvailableError($"sendfile(2) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})."));
                }
                else
                {
                    SetException(new SocketException(errno));
                }

                return;
            }

            if (result == 0)
            {
                break; // end of the file
            }

            _sent += result;
        }

        SetResult(_sent);
    }

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    private static partial nint SendFile(int outFd, int inFd, ref long offset, nuint count);
}
