using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// Settings for <see cref="Network.CreateDatagramEndpointAsync"/> [the keyword arguments of
/// loop.create_datagram_endpoint]. Immutable once built.
/// </summary>
public sealed class DatagramEndpointOptions
{
    /// <summary>
    /// InterNetwork or InterNetworkV6 to use only that family [family]; Unspecified (the default)
    /// lets the addresses decide. Required when neither a local nor a remote endpoint is given.
    /// </summary>
    public AddressFamily Family { get; init; } = AddressFamily.Unspecified;

    /// <summary>
    /// Whether to bind with SO_REUSEPORT, so several endpoints (of this or other processes) can bind
    /// the same address and port [reuse_port]. Default false; Linux, macOS and the BSDs only.
    /// </summary>
    public bool ReusePort { get; init; }

    /// <summary>
    /// Whether the socket may send to broadcast addresses (SO_BROADCAST) [allow_broadcast]. As
    /// asyncio, a remote endpoint is then not connected to, only used as the default destination.
    /// </summary>
    public bool AllowBroadcast { get; init; }
}
