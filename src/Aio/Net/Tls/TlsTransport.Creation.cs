using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>The three ways a <see cref="TlsTransport"/> begins: connect, accept, upgrade.</summary>
internal sealed partial class TlsTransport
{
    /// <summary>
    /// The client side over a freshly connected <paramref name="socket"/>: completes once the handshake
    /// succeeded and <paramref name="protocol"/>'s ConnectionMade ran. On failure or cancellation the
    /// connection is aborted (the socket is closed when its ConnectionLost runs) and the error rethrown.
    /// </summary>
    public static async Task<ITransport> ConnectAsync(EventLoop loop, Socket socket, Protocol protocol, TlsClientOptions options, string host)
    {
        var made = new Future<bool>(loop);
        var tls = new TlsTransport(loop, protocol, options.ForHost(host), null, options.HandshakeTimeout, options.ShutdownTimeout, made, callConnectionMade: true);
        tls._socket = new SocketTransport(loop, socket, tls.Wire, waiter: null, server: null);
        await tls.WaitAsync(made);
        return tls;
    }

    /// <summary>The server side of an accepted connection: the handshake starts once the socket transport does.</summary>
    public static void Accept(EventLoop loop, Socket connection, Protocol protocol, TlsServerOptions options, Server server)
    {
        var tls = new TlsTransport(loop, protocol, null, options.Authentication, options.HandshakeTimeout, options.ShutdownTimeout, waiter: null, callConnectionMade: true);
        tls._socket = new SocketTransport(loop, connection, tls.Wire, waiter: null, server);
    }

    /// <summary>
    /// Upgrades an open plain connection [loop.start_tls]: <paramref name="socket"/> reports to the TLS
    /// layer from now on, the handshake starts at once, and the result is the TLS transport for
    /// <paramref name="protocol"/>, whose ConnectionMade is not called again. Whatever happens, the
    /// protocol hears ConnectionLost once the connection ends, as it would have from the plain one.
    /// </summary>
    public static async Task<ITransport> UpgradeAsync(EventLoop loop, SocketTransport socket, Protocol protocol, TlsClientOptions? client, TlsServerOptions? server)
    {
        var made = new Future<bool>(loop);
        TlsTransport tls = client is not null
            ? new TlsTransport(loop, protocol, client.ForHost(PeerHost(socket)), null, client.HandshakeTimeout, client.ShutdownTimeout, made, callConnectionMade: false)
            : new TlsTransport(loop, protocol, null, server!.Authentication, server.HandshakeTimeout, server.ShutdownTimeout, made, callConnectionMade: false);
        socket.SetProtocol(tls.Wire);
        socket.ResumeReading(); // the plain protocol may have paused it; the TLS layer reads from now on
        tls.OnSocketMade(socket);
        await tls.WaitAsync(made);
        return tls;
    }

    /// <summary>The peer's address as text: the default server name for an upgrade.</summary>
    private static string PeerHost(SocketTransport socket) =>
        socket.GetExtraInfo("peername") is IPEndPoint peer ? peer.Address.ToString() : "";

    /// <summary>Waits for the handshake; a cancelled or failed wait aborts the connection.</summary>
    private async Task WaitAsync(Future<bool> made)
    {
        try
        {
            await made;
        }
        catch
        {
            Abort();
            throw;
        }
    }
}
