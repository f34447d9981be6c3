using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>Endpoint helpers shared by the socket awaits and the datagram transport.</summary>
internal static class SocketAddresses
{
    /// <summary>An endpoint of the socket's family for recvfrom to fill in.</summary>
    /// <exception cref="NotSupportedException">The family has no endpoint type here.</exception>
    public static EndPoint AnyEndPoint(Socket socket) => AnyEndPoint(socket.AddressFamily);

    /// <inheritdoc cref="AnyEndPoint(Socket)"/>
    public static EndPoint AnyEndPoint(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => new IPEndPoint(IPAddress.Any, 0),
        AddressFamily.InterNetworkV6 => new IPEndPoint(IPAddress.IPv6Any, 0),
        AddressFamily.Unix => new UnixDomainSocketEndPoint(UnixSocketPath.UnnamedTemplate),
        _ => throw new NotSupportedException($"Receiving from a {family} socket is not supported; use an IPv4, IPv6 or Unix socket."),
    };

    /// <summary>Throws unless <paramref name="socket"/> is non-blocking [asyncio's "the socket must be non-blocking"].</summary>
    public static void CheckNonBlocking(Socket socket, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(socket, parameterName);
        if (socket.Blocking)
        {
            throw new ArgumentException("The socket must be non-blocking: set socket.Blocking = false before handing it to the loop.", parameterName);
        }
    }
}
