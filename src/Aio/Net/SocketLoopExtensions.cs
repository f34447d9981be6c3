// Socket-level awaits [loop.sock_recv, sock_recv_into, sock_sendall, sock_accept, sock_connect,
// sock_recvfrom, sock_recvfrom_into, sock_sendto] as extension methods of EventLoop.
//
// Why extension methods on the loop. asyncio has them as loop methods, and an operation does belong
// to a loop: it registers the socket with that loop's reactor and its future resumes on that loop.
// Extension methods keep that call shape (loop.SockRecvAsync(socket, ...)), so asyncio code ports
// line by line and IntelliSense shows them next to AddReader; living in Aio.Net they keep the core
// EventLoop type free of networking and appear only where `using Aio.Net` is. Extensions of Socket
// would hide which loop is used and read like .NET's own Socket.ReceiveAsync, which they are not.
// The Sock prefix is asyncio's and groups the family; each returns an Aio future (an Aio await:
// cancelling the awaiting task cancels it), not a .NET Task.
using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// Awaitable socket operations on a non-blocking socket, driven by the loop's readiness callbacks
/// [loop.sock_*]. Call them on the loop's thread from code running on the loop. Each returns a
/// <see cref="Future"/> that completes when the operation did (inside the call when the kernel could
/// answer at once); awaiting it from a <see cref="LoopTask"/> is an Aio await, so cancelling the task
/// — or <c>cancellationToken</c> — ends it with <see cref="CancelledError"/> and removes the reader or
/// writer it had installed. At most one pending receive-side (recv, recvfrom, accept) and one pending
/// send-side (send, sendto, connect) operation per socket, and none on a socket a transport owns.
/// </summary>
public static class SocketLoopExtensions
{
    /// <summary>
    /// Receives at most <paramref name="maxBytes"/> bytes [loop.sock_recv(sock, nbytes)].
    /// </summary>
    /// <returns>A future with a new array of the bytes received; empty at EOF. A socket error fails it with <see cref="SocketException"/>.</returns>
    /// <exception cref="ArgumentException">The socket is blocking.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is not positive.</exception>
    /// <exception cref="InvalidOperationException">Not on the running loop's thread, the loop is closed, a transport owns the socket, or another receive is pending on the socket.</exception>
    public static Future<byte[]> SockRecvAsync(this EventLoop loop, Socket socket, int maxBytes, CancellationToken cancellationToken = default)
    {
        Check(loop, socket, read: true);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        return new ReceiveOperation(loop, socket, maxBytes).Start(cancellationToken);
    }

    /// <summary>Receives into <paramref name="buffer"/> [loop.sock_recv_into(sock, buf)].</summary>
    /// <returns>A future with the number of bytes written at the start of <paramref name="buffer"/>; 0 at EOF.</returns>
    /// <exception cref="ArgumentException">The socket is blocking, or <paramref name="buffer"/> is empty.</exception>
    /// <exception cref="InvalidOperationException">Not on the running loop's thread, the loop is closed, a transport owns the socket, or another receive is pending on the socket.</exception>
    public static Future<int> SockRecvIntoAsync(this EventLoop loop, Socket socket, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Check(loop, socket, read: true);
        CheckBuffer(buffer.Length, nameof(buffer));
        return new ReceiveIntoOperation(loop, socket, buffer).Start(cancellationToken);
    }

    /// <summary>
    /// Sends every byte of <paramref name="data"/> [loop.sock_sendall(sock, data)], waiting for
    /// writability as often as needed. A cancelled send may have sent part of the data.
    /// </summary>
    /// <returns>A future done once the kernel took the last byte.</returns>
    /// <exception cref="ArgumentException">The socket is blocking.</exception>
    /// <exception cref="InvalidOperationException">Not on the running loop's thread, the loop is closed, a transport owns the socket, or another send is pending on the socket.</exception>
    public static Future SockSendAllAsync(this EventLoop loop, Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        Check(loop, socket, read: false);
        return new SendAllOperation(loop, socket, data).Start(cancellationToken);
    }

    /// <summary>
    /// Accepts a connection on a listening socket [loop.sock_accept(sock)].
    /// </summary>
    /// <returns>A future with the connection (already non-blocking; you own it) and the peer's address (null if the peer is gone already).</returns>
    /// <exception cref="ArgumentException">The socket is blocking.</exception>
    /// <exception cref="InvalidOperationException">Not on the running loop's thread, the loop is closed, a transport owns the socket, or another receive-side operation is pending on the socket.</exception>
    public static Future<(Socket Connection, EndPoint? RemoteEndPoint)> SockAcceptAsync(this EventLoop loop, Socket socket, CancellationToken cancellationToken = default)
    {
        Check(loop, socket, read: true);
        return new AcceptOperation(loop, socket).Start(cancellationToken);
    }

    /// <summary>
    /// Connects <paramref name="socket"/> to <paramref name="remote"/> [loop.sock_connect(sock, address)].
    /// A <see cref="DnsEndPoint"/> is resolved first (<see cref="NameResolutionLoopExtensions.GetAddrInfoAsync"/>,
    /// the socket's family and type) and its first address connected, as asyncio does.
    /// </summary>
    /// <returns>A future done once connected; failed with a <see cref="SocketException"/> "Connect call failed" otherwise.
    /// After a cancellation the socket's state is undefined: close it.</returns>
    /// <exception cref="ArgumentException">The socket is blocking.</exception>
    /// <exception cref="InvalidOperationException">Not on the running loop's thread, the loop is closed, a transport owns the socket, or another send-side operation is pending on the socket.</exception>
    public static Future SockConnectAsync(this EventLoop loop, Socket socket, EndPoint remote, CancellationToken cancellationToken = default)
    {
        Check(loop, socket, read: false);
        ArgumentNullException.ThrowIfNull(remote);
        if (remote is DnsEndPoint named)
        {
            return ConnectByNameAsync(loop, socket, named, cancellationToken);
        }

        return new ConnectOperation(loop, socket, remote).Start(cancellationToken);
    }

    /// <summary>Receives one datagram of at most <paramref name="maxBytes"/> bytes [loop.sock_recvfrom(sock, bufsize)].</summary>
    /// <returns>A future with the bytes (a longer datagram is truncated or fails, as the system does) and the sender's address.</returns>
    /// <exception cref="ArgumentException">The socket is blocking.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is not positive.</exception>
    /// <exception cref="InvalidOperationException">Not on the running loop's thread, the loop is closed, a transport owns the socket, or another receive is pending on the socket.</exception>
    public static Future<(byte[] Data, EndPoint RemoteEndPoint)> SockRecvFromAsync(this EventLoop loop, Socket socket, int maxBytes, CancellationToken cancellationToken = default)
    {
        Check(loop, socket, read: true);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        return new ReceiveFromOperation(loop, socket, maxBytes).Start(cancellationToken);
    }

    /// <summary>Receives one datagram into <paramref name="buffer"/> [loop.sock_recvfrom_into(sock, buf)].</summary>
    /// <returns>A future with the byte count and the sender's address.</returns>
    /// <exception cref="ArgumentException">The socket is blocking, or <paramref name="buffer"/> is empty.</exception>
    /// <exception cref="InvalidOperationException">Not on the running loop's thread, the loop is closed, a transport owns the socket, or another receive is pending on the socket.</exception>
    public static Future<(int Count, EndPoint RemoteEndPoint)> SockRecvFromIntoAsync(this EventLoop loop, Socket socket, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Check(loop, socket, read: true);
        CheckBuffer(buffer.Length, nameof(buffer));
        return new ReceiveFromIntoOperation(loop, socket, buffer).Start(cancellationToken);
    }

    /// <summary>Sends one datagram to <paramref name="remote"/> [loop.sock_sendto(sock, data, address)].</summary>
    /// <returns>A future with the number of bytes sent.</returns>
    /// <exception cref="ArgumentException">The socket is blocking, or <paramref name="remote"/> is a <see cref="DnsEndPoint"/> (resolve it first).</exception>
    /// <exception cref="InvalidOperationException">Not on the running loop's thread, the loop is closed, a transport owns the socket, or another send is pending on the socket.</exception>
    public static Future<int> SockSendToAsync(this EventLoop loop, Socket socket, ReadOnlyMemory<byte> data, EndPoint remote, CancellationToken cancellationToken = default)
    {
        Check(loop, socket, read: false);
        ArgumentNullException.ThrowIfNull(remote);
        if (remote is DnsEndPoint)
        {
            throw new ArgumentException("SockSendToAsync needs a resolved address (an IPEndPoint): resolve the name first with GetAddrInfoAsync.", nameof(remote));
        }

        return new SendToOperation(loop, socket, data, remote).Start(cancellationToken);
    }

    private static void Check(EventLoop loop, Socket socket, bool read)
    {
        ArgumentNullException.ThrowIfNull(loop);
        SocketAddresses.CheckNonBlocking(socket, nameof(socket));
        loop.CheckClosed();
        if (!loop.IsOnLoopThread)
        {
            throw new InvalidOperationException("Socket awaits run on the loop's thread: call them from code running on the loop (a LoopTask or a loop callback).");
        }

        loop.CheckNotOwnedByTransport(socket);
        if (loop.IsWatching(socket, read))
        {
            throw new InvalidOperationException(
                $"The socket already has a {(read ? "reader" : "writer")} installed (another pending {(read ? "receive or accept" : "send or connect")}, a transport, or AddReader/AddWriter): wait for that to finish first.");
        }
    }

    private static void CheckBuffer(int length, string parameterName)
    {
        if (length == 0)
        {
            throw new ArgumentException("The buffer is empty: give at least one byte to receive into.", parameterName);
        }
    }

    private static LoopTask<bool> ConnectByNameAsync(EventLoop loop, Socket socket, DnsEndPoint remote, CancellationToken cancellationToken)
    {
        LoopTask<bool> task = loop.CreateTask(
            async () =>
            {
                AddressFamily family = socket.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6 ? socket.AddressFamily : AddressFamily.Unspecified;
                IReadOnlyList<AddressInfo> resolved = await loop.GetAddrInfoAsync(remote.Host, remote.Port, family, socket.SocketType, cancellationToken: cancellationToken);
                if (resolved.Count == 0)
                {
                    throw new SocketException((int)SocketError.HostNotFound, $"getaddrinfo() returned no address for {remote.Host}");
                }

                await new ConnectOperation(loop, socket, resolved[0].EndPoint).Start(cancellationToken);
                return true;
            },
            "sock-connect",
            eager: true);
        return task;
    }
}
