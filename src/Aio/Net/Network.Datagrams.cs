// Datagram endpoints on the running loop [loop.create_datagram_endpoint], with asyncio's recipe:
// resolve the local and remote addresses (names through GetAddrInfoAsync; IP endpoints as they are),
// pair them by family, and for each pair in turn create a UDP socket, set the options, bind the
// local address and connect the remote one (connecting a UDP socket never blocks: it only fixes the
// peer, so the kernel filters other senders and reports ICMP errors); the first pair that works
// wins, else the first error is thrown. With AllowBroadcast the remote is not connected (a connected
// socket could not send to a broadcast address), only remembered as the default destination.
using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

public static partial class Network
{
    /// <summary>
    /// Creates a UDP endpoint and binds a datagram protocol to it [loop.create_datagram_endpoint].
    /// <paramref name="local"/> is the address to bind (port 0 picks a free port); <paramref name="remote"/>
    /// the peer to connect to — the transport's SendTo then accepts only null or that address, and only
    /// that peer's datagrams arrive. Either may be an <see cref="IPEndPoint"/> or a
    /// <see cref="DnsEndPoint"/> (host name and port, resolved first) for UDP, or a
    /// <see cref="UnixDomainSocketEndPoint"/> for a Unix datagram socket (a socket file at the local
    /// path is removed first, as asyncio does). The task completes once the protocol's ConnectionMade
    /// has run.
    /// </summary>
    /// <param name="protocolFactory">Makes the protocol; called once, after the socket is set up.</param>
    /// <param name="local">Where to bind; null to let the system pick when sending.</param>
    /// <param name="remote">The peer to connect to; null for an unconnected endpoint.</param>
    /// <param name="options">Family, SO_REUSEPORT, SO_BROADCAST; null for defaults.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the socket is closed and nothing stays registered.</param>
    /// <returns>A task (already running) with the transport and the protocol. It fails with a
    /// <see cref="SocketException"/> when no address can be bound or connected, and ends cancelled when
    /// cancelled — the socket is then closed and nothing stays registered with the loop.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> is null.</exception>
    /// <exception cref="ArgumentException">Neither endpoint is given and no <see cref="DatagramEndpointOptions.Family"/> either;
    /// an endpoint is neither an IPEndPoint nor a DnsEndPoint, or not of the family asked for; the family is not InterNetwork or InterNetworkV6.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(IDatagramTransport Transport, DatagramProtocol Protocol)> CreateDatagramEndpointAsync(
        Func<DatagramProtocol> protocolFactory,
        EndPoint? local = null,
        EndPoint? remote = null,
        DatagramEndpointOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        options ??= new DatagramEndpointOptions();
        AddressFamily family = options.Family;
        if (family is not (AddressFamily.Unspecified or AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"options.Family must be Unspecified, InterNetwork or InterNetworkV6, not {family}.", nameof(options));
        }

        if (local is null && remote is null && family == AddressFamily.Unspecified)
        {
            throw new ArgumentException("Give a local or a remote endpoint, or options.Family to create an unbound endpoint of that family.", nameof(local));
        }

        CheckDatagramEndPoint(local, family, nameof(local));
        CheckDatagramEndPoint(remote, family, nameof(remote));
        if (local is not null && remote is not null && local is UnixDomainSocketEndPoint != remote is UnixDomainSocketEndPoint)
        {
            throw new ArgumentException("A Unix datagram endpoint needs Unix socket addresses for both local and remote (or null).", nameof(remote));
        }
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(() => OpenDatagramEndpointAsync(loop, protocolFactory, local, remote, options), "create-datagram-endpoint", cancellationToken);
    }

    private static void CheckDatagramEndPoint(EndPoint? endPoint, AddressFamily family, string parameterName)
    {
        switch (endPoint)
        {
            case null:
                return;
            case IPEndPoint ip when family != AddressFamily.Unspecified && ip.AddressFamily != family:
                throw new ArgumentException($"{ip} is not an {family} address, as options.Family asks.", parameterName);
            case IPEndPoint:
                return;
            case DnsEndPoint named:
                ArgumentException.ThrowIfNullOrEmpty(named.Host, parameterName);
                return;
            case UnixDomainSocketEndPoint when family != AddressFamily.Unspecified:
                throw new ArgumentException($"{endPoint} is a Unix socket address; options.Family asks for {family}.", parameterName);
            case UnixDomainSocketEndPoint:
                return;
            default:
                throw new ArgumentException($"A datagram endpoint takes an IPEndPoint, a DnsEndPoint or a UnixDomainSocketEndPoint, not {endPoint.GetType().Name}.", parameterName);
        }
    }

    private static async Task<(IDatagramTransport Transport, DatagramProtocol Protocol)> OpenDatagramEndpointAsync(
        EventLoop loop,
        Func<DatagramProtocol> protocolFactory,
        EndPoint? local,
        EndPoint? remote,
        DatagramEndpointOptions options)
    {
        if (local is UnixDomainSocketEndPoint || remote is UnixDomainSocketEndPoint)
        {
            return await OpenUnixDatagramEndpointAsync(loop, protocolFactory, (UnixDomainSocketEndPoint?)local, (UnixDomainSocketEndPoint?)remote);
        }

        List<IPEndPoint>? locals = local is null ? null : await ResolveDatagramAsync(loop, local, options.Family);
        List<IPEndPoint>? remotes = remote is null ? null : await ResolveDatagramAsync(loop, remote, options.Family);
        var candidates = new List<(AddressFamily Family, IPEndPoint? Local, IPEndPoint? Remote)>();
        if (locals is null && remotes is null)
        {
            candidates.Add((options.Family, null, null));
        }
        else
        {
            foreach (AddressFamily family in (locals ?? []).Concat(remotes ?? []).Select(endPoint => endPoint.AddressFamily).Distinct())
            {
                IPEndPoint? l = locals?.FirstOrDefault(endPoint => endPoint.AddressFamily == family);
                IPEndPoint? r = remotes?.FirstOrDefault(endPoint => endPoint.AddressFamily == family);
                if ((locals is null || l is not null) && (remotes is null || r is not null))
                {
                    candidates.Add((family, l, r));
                }
            }

            if (candidates.Count == 0)
            {
                throw new SocketException(
                    (int)SocketError.AddressFamilyNotSupported,
                    $"No local and remote addresses of the same family: local [{string.Join(", ", locals!)}], remote [{string.Join(", ", remotes!)}]");
            }
        }

        Socket? socket = null;
        IPEndPoint? connectedTo = null;
        SocketException? firstError = null;
        foreach ((AddressFamily family, IPEndPoint? l, IPEndPoint? r) in candidates)
        {
            var candidate = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                if (options.ReusePort)
                {
                    SocketOptions.SetReusePort(candidate);
                }

                if (options.AllowBroadcast)
                {
                    candidate.EnableBroadcast = true;
                }

                candidate.Blocking = false;
                if (l is not null)
                {
                    candidate.Bind(l);
                }

                if (r is not null && !options.AllowBroadcast)
                {
                    candidate.Connect(r);
                }

                socket = candidate;
                connectedTo = r;
                break;
            }
            catch (SocketException error)
            {
                candidate.Dispose();
                firstError ??= error;
            }
            catch
            {
                candidate.Dispose();
                throw;
            }
        }

        if (socket is null)
        {
            throw firstError!;
        }

        return await StartDatagramTransportAsync(loop, protocolFactory, socket, connectedTo, connected: connectedTo is not null && !options.AllowBroadcast);
    }

    /// <summary>
    /// A Unix datagram endpoint [create_datagram_endpoint with family=AF_UNIX]: as asyncio, a socket
    /// file at the local path is removed first (a stale one; any other file makes bind fail).
    /// </summary>
    private static async Task<(IDatagramTransport Transport, DatagramProtocol Protocol)> OpenUnixDatagramEndpointAsync(
        EventLoop loop,
        Func<DatagramProtocol> protocolFactory,
        UnixDomainSocketEndPoint? local,
        UnixDomainSocketEndPoint? remote)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Blocking = false;
            if (local is not null)
            {
                string path = local.ToString();
                if (!UnixSocketPath.IsAbstract(path))
                {
                    UnixSocketPath.RemoveStaleSocket(loop, path);
                }

                UnixSocketPath.Bind(socket, local);
            }

            if (remote is not null)
            {
                socket.Connect(remote);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return await StartDatagramTransportAsync(loop, protocolFactory, socket, remote, connected: remote is not null);
    }

    private static async Task<(IDatagramTransport Transport, DatagramProtocol Protocol)> StartDatagramTransportAsync(
        EventLoop loop,
        Func<DatagramProtocol> protocolFactory,
        Socket socket,
        EndPoint? address,
        bool connected)
    {
        DatagramProtocol protocol = MakeProtocol(protocolFactory, socket);

        var made = new Future<bool>(loop);
        var transport = new DatagramTransport(loop, socket, protocol, address, connected, made);
        try
        {
            await made;
        }
        catch
        {
            transport.Close();
            throw;
        }

        return (transport, protocol);
    }

    private static async Task<List<IPEndPoint>> ResolveDatagramAsync(EventLoop loop, EndPoint endPoint, AddressFamily family)
    {
        if (endPoint is IPEndPoint ip)
        {
            return [ip];
        }

        var named = (DnsEndPoint)endPoint;
        AddressFamily wanted = family != AddressFamily.Unspecified ? family : named.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6 ? named.AddressFamily : AddressFamily.Unspecified;
        IReadOnlyList<AddressInfo> answers = await loop.GetAddrInfoAsync(named.Host, named.Port, wanted, SocketType.Dgram);
        return [.. answers.Select(answer => answer.EndPoint)];
    }
}
