using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// One answer of <see cref="NameResolutionLoopExtensions.GetAddrInfoAsync"/> [an entry of
/// socket.getaddrinfo's list: (family, type, proto, canonname, sockaddr)]: what to pass to
/// <see cref="Socket(AddressFamily, SocketType, ProtocolType)"/> and where to connect or bind.
/// </summary>
/// <param name="Family">The address family (InterNetwork or InterNetworkV6).</param>
/// <param name="SocketType">The socket type (Stream, Dgram or Raw).</param>
/// <param name="ProtocolType">The protocol (Tcp, Udp, or Unspecified for raw sockets).</param>
/// <param name="CanonicalName">The host's canonical name on the first entry when <see cref="AddressInfoOptions.CanonicalName"/> was asked for; "" otherwise.</param>
/// <param name="EndPoint">The address and port.</param>
public readonly record struct AddressInfo(AddressFamily Family, SocketType SocketType, ProtocolType ProtocolType, string CanonicalName, IPEndPoint EndPoint);
