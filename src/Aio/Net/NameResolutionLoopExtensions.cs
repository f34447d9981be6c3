// Name resolution on the loop [loop.getaddrinfo, loop.getnameinfo].
//
// asyncio runs the C library's getaddrinfo in the default executor. .NET has no getaddrinfo with
// asyncio's arguments, so this builds its answer from System.Net.Dns (whose async lookups run off
// the loop thread and honour a CancellationToken) and the C library's rules for what it adds:
// an IP literal is answered without a lookup; a missing host means loopback, or the wildcard
// addresses with Passive; an address is listed once per socket type (stream/TCP, datagram/UDP,
// raw) unless a type or protocol narrows it; a family filters the addresses (an IPv4 literal asked
// for as IPv6 is an error, as glibc's EAI_ADDRFAMILY). Each call is a LoopTask created eagerly: a
// literal completes inside the call; a lookup is awaited as an Aio future (EventLoop.WrapTask), so
// cancelling the task — or the caller's token — ends the await at once and cancels the lookup.
using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// Host name and address lookups that do not block the loop [loop.getaddrinfo, loop.getnameinfo].
/// Call them on the loop's thread; each returns a <see cref="LoopTask{T}"/> (already running) that
/// cancelling, or cancelling <c>cancellationToken</c>, abandons.
/// </summary>
public static class NameResolutionLoopExtensions
{
    private static readonly (SocketType Type, ProtocolType Protocol)[] AllKinds =
        [(SocketType.Stream, ProtocolType.Tcp), (SocketType.Dgram, ProtocolType.Udp), (SocketType.Raw, ProtocolType.Unspecified)];

    private static readonly Lazy<Dictionary<(int Port, bool Udp), string>> Services = new(ReadServices);

    /// <summary>
    /// Resolves <paramref name="host"/> and <paramref name="port"/> into socket addresses
    /// [loop.getaddrinfo(host, port, family=, type=, proto=, flags=)].
    /// </summary>
    /// <param name="loop">The loop the task runs on.</param>
    /// <param name="host">A host name or an IP literal (answered without a lookup); null or "" for loopback, or the wildcard addresses with <see cref="AddressInfoOptions.Passive"/>.</param>
    /// <param name="port">The port of every answer, 0–65535.</param>
    /// <param name="family">InterNetwork or InterNetworkV6 to keep only that family; Unspecified (the default) for both.</param>
    /// <param name="type">Stream, Dgram or Raw to answer only that socket type; Unknown (the default) for all three.</param>
    /// <param name="protocol">Tcp or Udp to answer only that protocol; Unspecified (the default) for any.</param>
    /// <param name="flags">Passive, CanonicalName, NumericHost.</param>
    /// <param name="cancellationToken">Cancels the task.</param>
    /// <returns>A task with the answers, in the resolver's order, one per address and socket type. It fails with a
    /// <see cref="SocketException"/> (HostNotFound, AddressFamilyNotSupported, ...) when the name cannot be resolved.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 0–65535.</exception>
    /// <exception cref="ArgumentException"><paramref name="family"/>, <paramref name="type"/> or <paramref name="protocol"/> is not one of the values listed.</exception>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public static LoopTask<IReadOnlyList<AddressInfo>> GetAddrInfoAsync(
        this EventLoop loop,
        string? host,
        int port,
        AddressFamily family = AddressFamily.Unspecified,
        SocketType type = SocketType.Unknown,
        ProtocolType protocol = ProtocolType.Unspecified,
        AddressInfoOptions flags = AddressInfoOptions.None,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(loop);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)port, (uint)IPEndPoint.MaxPort, nameof(port));
        if (family is not (AddressFamily.Unspecified or AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"family must be Unspecified, InterNetwork or InterNetworkV6, not {family}.", nameof(family));
        }

        (SocketType Type, ProtocolType Protocol)[] kinds = KindsFor(type, protocol);
        return loop.CreateCancellableTask(
            ct => ResolveAsync(loop, host, port, family, kinds, flags, ct),
            "getaddrinfo",
            cancellationToken);
    }

    /// <summary>
    /// The host and service names of <paramref name="endPoint"/> [loop.getnameinfo(sockaddr, flags)]:
    /// a reverse lookup of the address (the numeric address when it has no name, unless
    /// <see cref="NameInfoOptions.NameRequired"/>), and the port's service name from the system's
    /// services database (the number when it has none).
    /// </summary>
    /// <returns>A task with the host and the service; it fails with a <see cref="SocketException"/> HostNotFound when a name was required and there is none.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endPoint"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public static LoopTask<(string Host, string Service)> GetNameInfoAsync(
        this EventLoop loop,
        IPEndPoint endPoint,
        NameInfoOptions flags = NameInfoOptions.None,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(loop);
        ArgumentNullException.ThrowIfNull(endPoint);
        return loop.CreateCancellableTask(
            async ct =>
            {
                string service = (flags & NameInfoOptions.NumericService) == 0 && Services.Value.TryGetValue((endPoint.Port, (flags & NameInfoOptions.Datagram) != 0), out string? name)
                    ? name
                    : endPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if ((flags & NameInfoOptions.NumericHost) != 0)
                {
                    return (endPoint.Address.ToString(), service);
                }

                try
                {
                    IPHostEntry entry = await loop.WrapTask(Dns.GetHostEntryAsync(endPoint.Address.ToString(), ct));
                    return (entry.HostName, service);
                }
                catch (SocketException) when ((flags & NameInfoOptions.NameRequired) == 0)
                {
                    return (endPoint.Address.ToString(), service);
                }
            },
            "getnameinfo",
            cancellationToken);
    }

    private static (SocketType Type, ProtocolType Protocol)[] KindsFor(SocketType type, ProtocolType protocol)
    {
        if (protocol is not (ProtocolType.Unspecified or ProtocolType.Tcp or ProtocolType.Udp))
        {
            throw new ArgumentException($"protocol must be Unspecified, Tcp or Udp, not {protocol}.", nameof(protocol));
        }

        (SocketType Type, ProtocolType Protocol)[] kinds = type switch
        {
            SocketType.Unknown => AllKinds,
            SocketType.Stream => [AllKinds[0]],
            SocketType.Dgram => [AllKinds[1]],
            SocketType.Raw => [(SocketType.Raw, protocol)],
            _ => throw new ArgumentException($"type must be Unknown (any), Stream, Dgram or Raw, not {type}.", nameof(type)),
        };
        if (protocol == ProtocolType.Unspecified || type == SocketType.Raw)
        {
            return kinds;
        }

        (SocketType Type, ProtocolType Protocol)[] matching = [.. kinds.Where(kind => kind.Protocol == protocol)];
        return matching.Length > 0
            ? matching
            : throw new ArgumentException($"protocol {protocol} does not go with socket type {type}.", nameof(protocol));
    }

    private static async Task<IReadOnlyList<AddressInfo>> ResolveAsync(
        EventLoop loop,
        string? host,
        int port,
        AddressFamily family,
        (SocketType Type, ProtocolType Protocol)[] kinds,
        AddressInfoOptions flags,
        CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        string canonicalName;
        if (string.IsNullOrEmpty(host))
        {
            bool passive = (flags & AddressInfoOptions.Passive) != 0;
            addresses = passive ? [IPAddress.Any, IPAddress.IPv6Any] : [IPAddress.IPv6Loopback, IPAddress.Loopback];
            canonicalName = "";
        }
        else if (IPAddress.TryParse(host, out IPAddress? literal))
        {
            if (family != AddressFamily.Unspecified && literal.AddressFamily != family)
            {
                throw new SocketException((int)SocketError.AddressFamilyNotSupported, $"Address family for hostname not supported: {host} is not an {family} address");
            }

            addresses = [literal];
            canonicalName = host;
        }
        else if ((flags & AddressInfoOptions.NumericHost) != 0)
        {
            throw new SocketException((int)SocketError.HostNotFound, $"Name or service not known: {host} is not an IP literal (NumericHost)");
        }
        else
        {
            IPHostEntry entry = await loop.WrapTask(Dns.GetHostEntryAsync(host, family, cancellationToken));
            addresses = entry.AddressList;
            canonicalName = entry.HostName;
        }

        var answers = new List<AddressInfo>(addresses.Length * kinds.Length);
        foreach (IPAddress address in addresses)
        {
            if (family != AddressFamily.Unspecified && address.AddressFamily != family)
            {
                continue;
            }

            foreach ((SocketType type, ProtocolType protocol) in kinds)
            {
                string name = answers.Count == 0 && (flags & AddressInfoOptions.CanonicalName) != 0 ? canonicalName : "";
                answers.Add(new AddressInfo(address.AddressFamily, type, protocol, name, new IPEndPoint(address, port)));
            }
        }

        return answers.Count > 0
            ? answers
            : throw new SocketException((int)SocketError.HostNotFound, $"getaddrinfo() returned no {(family == AddressFamily.Unspecified ? "" : family + " ")}address for {host}");
    }

    /// <summary>port → service name, from /etc/services (empty where there is none).</summary>
    private static Dictionary<(int Port, bool Udp), string> ReadServices()
    {
        var services = new Dictionary<(int Port, bool Udp), string>();
        try
        {
            foreach (string line in File.ReadLines("/etc/services"))
            {
                string[] fields = line.Split('#')[0].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 2 || fields[1].Split('/') is not [string number, string transport]
                    || !int.TryParse(number, System.Globalization.CultureInfo.InvariantCulture, out int port))
                {
                    continue;
                }

                services.TryAdd((port, transport == "udp"), fields[0]);
            }
        }
        catch (IOException)
        {
            // No services database: every service is answered by number.
        }
        catch (UnauthorizedAccessException)
        {
            // Likewise.
        }

        return services;
    }
}
