// loop.sock_sendfile: sendfile(2) on Linux, the documented fallback (read a chunk, send it all,
// repeat) elsewhere or when the kernel refuses. Both leave the file's position just past the last
// byte sent, as asyncio does.
using System.Buffers;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// Sending a file over a socket [loop.sock_sendfile]. Extension methods of <see cref="EventLoop"/>,
/// as the other socket-level awaits (<see cref="SocketLoopExtensions"/>). Loop thread only.
/// </summary>
public static partial class SendFileLoopExtensions
{
    private const int FallbackChunkSize = 256 * 1024;

    /// <summary>
    /// Sends <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/>
    /// (null: to the end of the file) over the connected non-blocking stream <paramref name="socket"/>
    /// [loop.sock_sendfile(sock, file, offset, count, fallback=)]. On Linux a <see cref="FileStream"/>
    /// goes through sendfile(2), the kernel copying from the page cache; otherwise, or when sendfile
    /// is not possible for this file and socket, and <paramref name="fallback"/> is true, the file is
    /// read in 256 KiB chunks (on the default executor) and each chunk sent with
    /// <see cref="SocketLoopExtensions.SockSendAllAsync"/>. Afterwards the file's position is just
    /// past the last byte sent (also when it fails or is cancelled midway).
    /// </summary>
    /// <returns>A task (already running) with the number of bytes sent. Cancelling it (or the token) stops the transfer; part of the file may have been sent.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The socket is blocking or not a stream socket, or the file is not readable and seekable.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative, or <paramref name="count"/> is not positive.</exception>
    /// <exception cref="InvalidOperationException">Not on the loop's thread; a transport owns the socket, or a send is pending on it.</exception>
    /// <remarks>The task fails with <see cref="SendfileNotAvailableError"/> when sendfile(2) cannot be used and <paramref name="fallback"/> is false (before any byte was sent).</remarks>
    public static LoopTask<long> SockSendFileAsync(this EventLoop loop, Socket socket, Stream file, long offset = 0, long? count = null, bool fallback = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(loop);
        SocketAddresses.CheckNonBlocking(socket, nameof(socket));
        ArgumentNullException.ThrowIfNull(file);
        if (socket.SocketType != SocketType.Stream)
        {
            throw new ArgumentException($"SockSendFileAsync needs a stream socket, not {socket.SocketType}.", nameof(socket));
        }

        if (!file.CanRead || !file.CanSeek)
        {
            throw new ArgumentException("The file must be readable and seekable (a FileStream opened for reading).", nameof(file));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (count is { } positive)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(positive, nameof(count));
        }

        if (!loop.IsOnLoopThread)
        {
            throw new InvalidOperationException("Socket awaits run on the loop's thread: call SockSendFileAsync from code running on the loop.");
        }

        loop.CheckNotOwnedByTransport(socket);
        if (loop.IsWatching(socket, read: false))
        {
            throw new InvalidOperationException("The socket already has a writer installed (another pending send or connect, a transport, or AddWriter): wait for that to finish first.");
        }

        return loop.CreateTask(() => SendAsync(loop, socket, file, offset, count, fallback, cancellationToken), "sock-sendfile", eager: true);
    }

    private static async Task<long> SendAsync(EventLoop loop, Socket socket, Stream file, long offset, long? count, bool fallback, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsLinux() && file is FileStream { SafeFileHandle: var handle })
        {
            long sent = 0;
            try
            {
                sent = await new SendFileOperation(loop, socket, handle, offset, count).Start(cancellationToken);
                return sent;
            }
            catch (SendfileNotAvailableError) when (fallback)
            {
                // Not for this file or socket (nothing was sent): read and send instead.
            }
            finally
            {
                file.Position = offset + sent;
            }
        }
        else if (!fallback)
        {
            throw new SendfileNotAvailableError(OperatingSystem.IsLinux()
                ? $"sendfile(2) needs a FileStream, not a {file.GetType().Name}; pass fallback: true to read and send it."
                : "sendfile(2) is used on Linux only; pass fallback: true to read and send the file.");
        }

        return await FallbackAsync(loop, socket, file, offset, count, cancellationToken);
    }

    /// <summary>asyncio's _sock_sendfile_fallback: read a chunk off the loop thread, send it all, repeat.</summary>
    private static async Task<long> FallbackAsync(EventLoop loop, Socket socket, Stream file, long offset, long? count, CancellationToken cancellationToken)
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(FallbackChunkSize);
        long sent = 0;
        try
        {
            file.Position = offset;
            while (count is not { } total || sent < total)
            {
                int wanted = (int)Math.Min(FallbackChunkSize, count is { } limit ? limit - sent : FallbackChunkSize);
                // Awaited to its end (a disk read is short): the buffer and the position are never
                // touched by a read still running; a cancel lands on the send that follows.
                int read = await loop.RunInExecutor(() => file.Read(chunk, 0, wanted));
                if (read == 0)
                {
                    break;
                }

                await loop.SockSendAllAsync(socket, chunk.AsMemory(0, read), cancellationToken);
                sent += read;
            }

            return sent;
        }
        finally
        {
            file.Position = offset + sent;
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
