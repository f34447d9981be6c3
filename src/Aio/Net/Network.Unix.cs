// Unix domain stream sockets [loop.create_unix_connection, loop.create_unix_server]: the same
// SocketTransport and Server as TCP, over UnixDomainSocketEndPoint. The path rules (abstract names,
// stale files, removal on close) are UnixSocketPath's.
using System.Net.Sockets;

namespace Aio.Net;

public static partial class Network
{
    /// <summary>
    /// Connects to the Unix stream socket at <paramref name="path"/> and binds a protocol to it
    /// [loop.create_unix_connection]. On Linux a path starting with NUL or '@' names an abstract
    /// socket. The task completes once the protocol's ConnectionMade has run.
    /// </summary>
    /// <param name="protocolFactory">Makes the protocol; called once, after the socket connected.</param>
    /// <param name="path">The socket's file path, or an abstract name.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the attempt is abandoned and nothing stays open or registered.</param>
    /// <returns>A task (already running) with the transport and the protocol. It fails with a
    /// <see cref="SocketException"/> when nobody listens there (ConnectionRefused, or AddressNotAvailable for a missing file),
    /// and ends cancelled when cancelled — the socket is then closed and nothing stays registered.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null, empty or too long.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(ITransport Transport, Protocol Protocol)> CreateUnixConnectionAsync(
        Func<Protocol> protocolFactory,
        string path,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        UnixDomainSocketEndPoint endPoint = UnixSocketPath.ToEndPoint(path, nameof(path));
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(
            async () =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    socket.Blocking = false;
                    await new ConnectOperation(loop, socket, endPoint).Start(CancellationToken.None);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }

                Protocol protocol = MakeProtocol(protocolFactory, socket);
                return (await MakeTransportAsync(loop, socket, protocol, endPoint), protocol);
            },
            "create-unix-connection",
            cancellationToken);
    }

    /// <summary>
    /// Creates a Unix stream socket server at <paramref name="path"/> [loop.create_unix_server]. A
    /// socket file already at the path (left by a server that is gone) is removed first; any other
    /// kind of file makes the bind fail and is left alone. Closing the server removes the socket file
    /// (<see cref="UnixServerOptions.CleanupSocket"/>). On Linux a path starting with NUL or '@'
    /// names an abstract socket (no file). Each accepted connection gets a protocol from
    /// <paramref name="protocolFactory"/> and a transport, as with TCP.
    /// </summary>
    /// <param name="protocolFactory">Makes one protocol per accepted connection, on the loop thread.</param>
    /// <param name="path">The socket's file path, or an abstract name.</param>
    /// <param name="options">Backlog, whether to start serving, whether to remove the file on close; null for defaults.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would; one already cancelled binds nothing.</param>
    /// <returns>A task (already running) with the server. It fails with a <see cref="SocketException"/> "error while
    /// attempting to bind on address" (AddressAlreadyInUse when a non-socket file, or a live abstract socket, is there).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null, empty or too long.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The backlog is below 1.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<Server> CreateUnixServerAsync(
        Func<Protocol> protocolFactory,
        string path,
        UnixServerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        UnixDomainSocketEndPoint endPoint = UnixSocketPath.ToEndPoint(path, nameof(path));
        options ??= new UnixServerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Backlog, 1, "options.Backlog");
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(() => Task.FromResult(ServeUnix(loop, protocolFactory, path, endPoint, options)), "create-unix-server", cancellationToken);
    }

    private static Server ServeUnix(EventLoop loop, Func<Protocol> protocolFactory, string path, UnixDomainSocketEndPoint endPoint, UnixServerOptions options)
    {
        bool isFile = !UnixSocketPath.IsAbstract(path);
        if (isFile)
        {
            UnixSocketPath.RemoveStaleSocket(loop, path);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            UnixSocketPath.Bind(socket, endPoint);
            socket.Blocking = false;
        }
        catch (SocketException error)
        {
            socket.Dispose();
            throw new SocketException((int)error.SocketErrorCode, $"error while attempting to bind on address '{path}': {error.Message}");
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var server = new Server(loop, [socket], protocolFactory, options.Backlog);
        if (isFile && options.CleanupSocket && UnixSocketPath.TryStat(path, out bool isSocket, out ulong inode) && isSocket)
        {
            server.AddCloseCleanup(() => UnixSocketPath.RemoveIfSame(path, inode));
        }

        return StartServingIfAsked(server, options.StartServing);
    }
}
