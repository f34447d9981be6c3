// Sockets that something else created [create_connection(sock=), connect_accepted_socket,
// create_server(sock=)].
//
// The caller owns an adopted socket until its transport exists and the protocol heard
// ConnectionMade. If the operation is cancelled before that, asyncio's rule applies: the transport
// is detached — its reader and writer removed at once, the socket left open and handed back — so
// nothing the loop does later can close the descriptor. (Closing it would let the number be reused
// by a new connection while the caller still writes to the old one: data to the wrong peer.)
using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

public static partial class Network
{
    /// <summary>
    /// Binds a protocol to an already connected stream socket that something else created
    /// [loop.create_connection(protocol_factory, sock=sock)]. The socket is made non-blocking and
    /// belongs to the transport once the task completed (closing the transport closes it). The task
    /// completes once the protocol's ConnectionMade has run.
    /// </summary>
    /// <returns>A task (already running) with the transport and the protocol. Cancelled before it
    /// completes, it ends cancelled with the socket detached: unregistered from the loop at once,
    /// never closed, the caller's again (a protocol that already heard ConnectionMade — queued when
    /// the transport was made, as asyncio does — hears ConnectionLost with the
    /// <see cref="CancelledError"/>; one that did not hears nothing). If ConnectionMade throws, the
    /// connection is closed and the task fails with that exception.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> or <paramref name="socket"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="socket"/> is not a stream socket.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="socket"/> was disposed.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread, a transport owns the socket, or it already has a reader or writer on this loop.</exception>
    public static LoopTask<(ITransport Transport, Protocol Protocol)> CreateConnectionAsync(Func<Protocol> protocolFactory, Socket socket, CancellationToken cancellationToken = default) =>
        Adopt(protocolFactory, socket, "create-connection", cancellationToken);

    /// <summary>
    /// Binds a protocol to a connection accepted outside the loop (by another library, a blocking
    /// accept, a socket handed over by a parent process) [loop.connect_accepted_socket]. As
    /// <see cref="CreateConnectionAsync(Func{Protocol}, Socket, CancellationToken)"/>, with the same cancellation rule.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> or <paramref name="socket"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="socket"/> is not a stream socket.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="socket"/> was disposed.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread, a transport owns the socket, or it already has a reader or writer on this loop.</exception>
    public static LoopTask<(ITransport Transport, Protocol Protocol)> ConnectAcceptedSocketAsync(Func<Protocol> protocolFactory, Socket socket, CancellationToken cancellationToken = default) =>
        Adopt(protocolFactory, socket, "connect-accepted-socket", cancellationToken);

    /// <summary>
    /// Serves on a listening (or bound) stream socket that something else created
    /// [loop.create_server(protocol_factory, sock=sock)]. The socket is made non-blocking and belongs
    /// to the server (closing the server closes it). <see cref="ServerOptions.Backlog"/>,
    /// <see cref="ServerOptions.StartServing"/> and <see cref="ServerOptions.Tls"/> apply;
    /// <see cref="ServerOptions.ReuseAddress"/> and <see cref="ServerOptions.ReusePort"/> do not
    /// (set them on the socket before binding).
    /// </summary>
    /// <returns>A task (already completed) with the server, serving unless <see cref="ServerOptions.StartServing"/> is false.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> or <paramref name="socket"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="socket"/> is not a stream socket, or reuse options were given.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The backlog is below 1.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<Server> CreateServerAsync(Func<Protocol> protocolFactory, Socket socket, ServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        CheckStreamSocket(socket);
        options ??= new ServerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Backlog, 1, "options.Backlog");
        if (options.ReuseAddress is not null || options.ReusePort)
        {
            throw new ArgumentException("ReuseAddress and ReusePort cannot apply to a socket you created: set them on the socket before binding it, and leave them unset here.", nameof(options));
        }

        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(
            () =>
            {
                socket.Blocking = false;
                return Task.FromResult(StartServingIfAsked(new Server(loop, [socket], protocolFactory, options.Backlog, options.Tls), options.StartServing));
            },
            "create-server",
            cancellationToken);
    }

    private static LoopTask<(ITransport Transport, Protocol Protocol)> Adopt(Func<Protocol> protocolFactory, Socket socket, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        CheckStreamSocket(socket);
        EventLoop loop = EventLoop.GetRunningLoop();
        loop.CheckNotOwnedByTransport(socket);
        if (loop.IsWatching(socket, read: true) || loop.IsWatching(socket, read: false))
        {
            throw new InvalidOperationException("The socket already has a reader or writer on this loop (a pending socket await, a transport, AddReader/AddWriter): finish or remove it first.");
        }

        return loop.CreateCancellableTask(
            () =>
            {
                socket.Blocking = false;
                return AdoptAsync(loop, protocolFactory, socket);
            },
            name,
            cancellationToken);
    }

    private static async Task<(ITransport Transport, Protocol Protocol)> AdoptAsync(EventLoop loop, Func<Protocol> protocolFactory, Socket socket)
    {
        // asyncio calls the factory without closing the caller's socket when it fails.
        Protocol protocol = protocolFactory() ?? throw new InvalidOperationException("The protocol factory returned null.");
        return (await MakeTransportAsync(loop, socket, protocol, peerName: null, callerOwned: true), protocol);
    }

    private static void CheckStreamSocket(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ObjectDisposedException.ThrowIf(socket.SafeHandle.IsClosed, socket);
        if (socket.SocketType != SocketType.Stream)
        {
            throw new ArgumentException($"A stream socket was expected, got {socket.SocketType}.", nameof(socket));
        }
    }

    /// <summary>Binds a connecting socket to the local address [local_addr=], with asyncio's message on failure.</summary>
    private static void BindLocal(Socket socket, IPEndPoint localAddress)
    {
        try
        {
            socket.Bind(localAddress);
        }
        catch (SocketException error)
        {
            throw new SocketException((int)error.SocketErrorCode, $"error while attempting to bind on address {localAddress}: {error.Message}");
        }
    }
}
