// Connections and servers on the running loop (loop.create_connection / loop.create_server).
//
// Each operation is a LoopTask created eagerly: the synchronous part (parsing an IP literal,
// creating and binding sockets, starting a non-blocking connect) runs inside the call, and the task
// suspends only on Aio futures — the writer readiness of a connecting socket, the transport's
// "connection made" waiter, a name lookup wrapped with EventLoop.WrapTask — so cancelling the task
// reaches whatever it waits on, and the cleanup in the task's finally/catch blocks (remove the
// writer, dispose the socket, close the transport) runs before the task ends cancelled: nothing
// stays registered with the loop and no descriptor leaks.
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Aio.Net;

/// <summary>
/// TCP connections and servers with transports and protocols [loop.create_connection,
/// loop.create_server]. Every method uses the loop running on the calling thread
/// (<see cref="EventLoop.GetRunningLoop"/>) and returns a <see cref="LoopTask{T}"/>: await it, or
/// cancel it to abandon the operation without leaving anything open.
/// </summary>
public static partial class Network
{
    /// <summary>
    /// Opens a TCP connection to <paramref name="host"/>:<paramref name="port"/> and binds a protocol
    /// to it [loop.create_connection]. <paramref name="host"/> is an IP literal or a name resolved
    /// through <see cref="Dns.GetHostAddressesAsync(string)"/>; each address is tried in turn until
    /// one connects. The task completes once the protocol's ConnectionMade has run.
    /// </summary>
    /// <param name="protocolFactory">Makes the protocol; called once, after the socket connected.</param>
    /// <param name="host">An IPv4/IPv6 literal or a host name.</param>
    /// <param name="port">The TCP port, 0–65535.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the attempt is abandoned and nothing stays open or registered.</param>
    /// <returns>A task (already running) with the transport and the protocol. It fails with a
    /// <see cref="SocketException"/> when no address accepts the connection (one that lists every
    /// error when they differ), and ends cancelled when cancelled (or its token is) — the socket is
    /// then closed and nothing stays registered with the loop.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> or <paramref name="host"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 0–65535.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(ITransport Transport, Protocol Protocol)> CreateConnectionAsync(
        Func<Protocol> protocolFactory,
        string host,
        int port,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        ArgumentException.ThrowIfNullOrEmpty(host);
        CheckPort(port);
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(() => ConnectAsync(loop, protocolFactory, host, port), "create-connection", cancellationToken);
    }

    /// <summary>
    /// Creates a TCP server on <paramref name="host"/>:<paramref name="port"/> [loop.create_server].
    /// Null or "" means every interface (0.0.0.0, and :: when the system has IPv6); an IP literal
    /// binds that address; a name binds every address it resolves to. Port 0 lets the system pick a
    /// free port for each socket (see <see cref="Server.Sockets"/>). Each accepted connection gets a
    /// protocol from <paramref name="protocolFactory"/> and a transport.
    /// </summary>
    /// <param name="protocolFactory">Makes one protocol per accepted connection, on the loop thread. If it throws, the error is reported to the loop's exception handler and that connection closed.</param>
    /// <param name="host">Where to listen; null or "" for all interfaces.</param>
    /// <param name="port">The TCP port, 0–65535; 0 picks a free one.</param>
    /// <param name="options">Backlog, address/port reuse, whether to start serving; null for defaults.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the sockets bound so far are closed.</param>
    /// <returns>A task (already running) with the server, serving unless <see cref="ServerOptions.StartServing"/> is false.
    /// It fails with a <see cref="SocketException"/> when a socket cannot be bound (the others are closed).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 0–65535, or the backlog is below 1.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    [OverloadResolutionPriority(1)] // a bare null is a host, not a list of hosts
    public static LoopTask<Server> CreateServerAsync(
        Func<Protocol> protocolFactory,
        string? host,
        int port,
        ServerOptions? options = null,
        CancellationToken cancellationToken = default) =>
        CreateServerAsync(protocolFactory, [host ?? ""], port, options, cancellationToken);

    /// <summary>
    /// As <see cref="CreateServerAsync(Func{Protocol}, string?, int, ServerOptions?, CancellationToken)"/>, listening on
    /// every address of every host in <paramref name="hosts"/> [create_server with a host sequence];
    /// addresses that several hosts share are bound once. An empty string stands for all interfaces.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> or <paramref name="hosts"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="hosts"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 0–65535, or the backlog is below 1.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<Server> CreateServerAsync(
        Func<Protocol> protocolFactory,
        IEnumerable<string> hosts,
        int port,
        ServerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        ArgumentNullException.ThrowIfNull(hosts);
        string[] hostList = [.. hosts];
        if (hostList.Length == 0)
        {
            throw new ArgumentException("Give at least one host (\"\" for all interfaces).", nameof(hosts));
        }

        CheckPort(port);
        options ??= new ServerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Backlog, 1, "options.Backlog");
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(() => ServeAsync(loop, protocolFactory, hostList, port, options), "create-server", cancellationToken);
    }

    private static void CheckPort(int port) =>
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)port, (uint)IPEndPoint.MaxPort, nameof(port));

    private static async Task<(ITransport Transport, Protocol Protocol)> ConnectAsync(EventLoop loop, Func<Protocol> protocolFactory, string host, int port, TlsClientOptions? tls = null)
    {
        IPAddress[] addresses = await ResolveAsync(loop, host);
        var errors = new List<SocketException>();
        Socket? socket = null;
        foreach (IPAddress address in addresses)
        {
            try
            {
                socket = await ConnectSocketAsync(loop, new IPEndPoint(address, port));
                break;
            }
            catch (SocketException error)
            {
                errors.Add(error);
            }
        }

        if (socket is null)
        {
            throw CombinedError(errors);
        }

        Protocol protocol = MakeProtocol(protocolFactory, socket);
        if (tls is not null)
        {
            return (await TlsTransport.ConnectAsync(loop, socket, protocol, tls, host), protocol);
        }

        return (await MakeTransportAsync(loop, socket, protocol, peerName: null), protocol);
    }

    /// <summary>Calls the factory for a connected socket; the socket is disposed if it throws or returns null.</summary>
    private static T MakeProtocol<T>(Func<T> protocolFactory, Socket socket)
        where T : class
    {
        try
        {
            return protocolFactory() ?? throw new InvalidOperationException("The protocol factory returned null.");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Binds a connected socket to its protocol; completes once ConnectionMade ran (the transport is closed if that fails or is cancelled).</summary>
    /// <remarks>A caller-owned socket (<paramref name="callerOwned"/>) is detached instead when the wait is cancelled: unregistered at once and never closed.</remarks>
    private static async Task<ITransport> MakeTransportAsync(EventLoop loop, Socket socket, Protocol protocol, EndPoint? peerName, bool callerOwned = false)
    {
        var made = new Future<bool>(loop);
        var transport = new SocketTransport(loop, socket, protocol, made, server: null, peerName);
        try
        {
            await made;
        }
        catch (OperationCanceledException cancelled) when (callerOwned && transport.Detach(cancelled))
        {
            throw;
        }
        catch
        {
            transport.Close();
            throw;
        }

        return transport;
    }

    /// <summary>Starts serving unless the options say not to; a server that cannot start is closed.</summary>
    private static Server StartServingIfAsked(Server server, bool startServing)
    {
        if (startServing)
        {
            try
            {
                server.StartServing();
            }
            catch
            {
                server.Close();
                throw;
            }
        }

        return server;
    }

    /// <summary>A non-blocking connect; completes when the socket is connected (SO_ERROR says 0).</summary>
    private static async Task<Socket> ConnectSocketAsync(EventLoop loop, IPEndPoint endPoint, IPEndPoint? localAddress = null)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Blocking = false;
            if (localAddress is not null)
            {
                BindLocal(socket, localAddress);
            }

            if (loop.Backend == LoopBackend.Portable)
            {
                // Completion-based: the socket engine connects; a cancel disposes the socket (below).
                await SocketCompletion.ConnectAsync(loop, socket, endPoint);
                return socket;
            }

            try
            {
                socket.Connect(endPoint);
                return socket;
            }
            catch (SocketException pending) when (pending.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress or SocketError.Interrupted)
            {
                // In progress: the socket becomes writable once the handshake succeeded or failed.
            }

            var connected = new Future<bool>(loop);
            loop.AddWriter(socket, () =>
            {
                if (connected.IsDone)
                {
                    return; // cancelled; the awaiting code removes the writer on its next step
                }

                SocketError error;
                try
                {
                    error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
                }
                catch (SocketException failure)
                {
                    error = failure.SocketErrorCode;
                }

                if (error == SocketError.Success)
                {
                    connected.SetResult(true);
                }
                else if (error is not (SocketError.WouldBlock or SocketError.InProgress))
                {
                    connected.SetException(new SocketException((int)error, $"Connect call failed {endPoint}"));
                }
            });
            try
            {
                await connected;
            }
            finally
            {
                loop.RemoveWriter(socket);
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<Server> ServeAsync(EventLoop loop, Func<Protocol> protocolFactory, string[] hosts, int port, ServerOptions options)
    {
        var addresses = new List<IPAddress>();
        foreach (string host in hosts)
        {
            IPAddress[] resolved = host.Length == 0
                ? Socket.OSSupportsIPv6 ? [IPAddress.Any, IPAddress.IPv6Any] : [IPAddress.Any]
                : await ResolveAsync(loop, host);
            foreach (IPAddress address in resolved)
            {
                if (!addresses.Contains(address))
                {
                    addresses.Add(address);
                }
            }
        }

        List<Socket> sockets = BindAll(addresses, port, options);
        return StartServingIfAsked(new Server(loop, sockets, protocolFactory, options.Backlog, options.Tls), options.StartServing);
    }

    /// <summary>Creates and binds one socket per address (asyncio's rules); all or nothing.</summary>
    private static List<Socket> BindAll(List<IPAddress> addresses, int port, ServerOptions options)
    {
        bool reuseAddress = options.ReuseAddress ?? !OperatingSystem.IsWindows();
        var sockets = new List<Socket>();
        bool completed = false;
        try
        {
            foreach (IPAddress address in addresses)
            {
                Socket socket;
                try
                {
                    socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                }
                catch (SocketException)
                {
                    continue; // the family is not supported here
                }

                sockets.Add(socket);
                if (reuseAddress)
                {
                    SocketOptions.SetReuseAddress(socket);
                }

                if (options.ReusePort)
                {
                    SocketOptions.SetReusePort(socket);
                }

                if (address.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    socket.DualMode = false; // :: and 0.0.0.0 are two sockets, as asyncio binds them
                }

                var endPoint = new IPEndPoint(address, port);
                try
                {
                    socket.Bind(endPoint);
                }
                catch (SocketException error) when (error.SocketErrorCode == SocketError.AddressNotAvailable)
                {
                    sockets.Remove(socket); // the family is not enabled (bpo-30945)
                    socket.Dispose();
                }
                catch (SocketException error)
                {
                    throw new SocketException((int)error.SocketErrorCode, $"error while attempting to bind on address {endPoint}: {error.Message}");
                }
            }

            if (sockets.Count == 0)
            {
                throw new SocketException(
                    (int)SocketError.AddressNotAvailable,
                    $"could not bind on any address out of [{string.Join(", ", addresses.Select(address => new IPEndPoint(address, port)))}]");
            }

            foreach (Socket socket in sockets)
            {
                socket.Blocking = false;
            }

            completed = true;
            return sockets;
        }
        finally
        {
            if (!completed)
            {
                foreach (Socket socket in sockets)
                {
                    socket.Dispose();
                }
            }
        }
    }

    private static async Task<IPAddress[]> ResolveAsync(EventLoop loop, string host)
    {
        if (IPAddress.TryParse(host, out IPAddress? literal))
        {
            return [literal];
        }

        IPAddress[] addresses = await loop.WrapTask(Dns.GetHostAddressesAsync(host));
        return addresses.Length > 0
            ? addresses
            : throw new SocketException((int)SocketError.HostNotFound, $"getaddrinfo() returned no address for {host}");
    }

    /// <summary>asyncio's rule: one error as is; several with one message, the first; else one listing all.</summary>
    private static SocketException CombinedError(List<SocketException> errors)
    {
        if (errors.Count == 1 || errors.All(error => error.Message == errors[0].Message))
        {
            return errors[0];
        }

        return new SocketException((int)errors[0].SocketErrorCode, "Multiple exceptions: " + string.Join(", ", errors.Select(error => error.Message)));
    }
}
