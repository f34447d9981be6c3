namespace Aio.Net;

/// <summary>TLS connections and upgrades [create_connection(ssl=), loop.start_tls].</summary>
public static partial class Network
{
    /// <summary>
    /// Opens a TLS connection to <paramref name="host"/>:<paramref name="port"/> and binds a protocol to
    /// it [loop.create_connection(ssl=...)]: connects as
    /// <see cref="CreateConnectionAsync(Func{Protocol}, string, int, CancellationToken)"/>, then runs the TLS handshake
    /// (server name: <see cref="TlsClientOptions.ServerHostname"/>, else <paramref name="host"/>). The
    /// task completes once the handshake succeeded and the protocol's ConnectionMade has run; the
    /// protocol sees plaintext only.
    /// </summary>
    /// <param name="protocolFactory">Makes the protocol; called once, after the socket connected.</param>
    /// <param name="host">An IPv4/IPv6 literal or a host name.</param>
    /// <param name="port">The TCP port, 0–65535.</param>
    /// <param name="tls">The TLS settings.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the connection is closed, whether the handshake had begun or not.</param>
    /// <returns>A task (already running) with the TLS transport and the protocol. It fails with
    /// <see cref="System.Security.Authentication.AuthenticationException"/> when the server's certificate is
    /// rejected or the handshake fails, <see cref="TimeoutException"/> when the handshake takes longer
    /// than <see cref="TlsClientOptions.HandshakeTimeout"/>, <see cref="IOException"/> when the server
    /// closes during the handshake, and as the plain overload otherwise; the connection is closed in
    /// every such case, and when the task is cancelled.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/>, <paramref name="host"/> or <paramref name="tls"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 0–65535.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(ITransport Transport, Protocol Protocol)> CreateConnectionAsync(
        Func<Protocol> protocolFactory,
        string host,
        int port,
        TlsClientOptions tls,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentNullException.ThrowIfNull(tls);
        CheckPort(port);
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(() => ConnectAsync(loop, protocolFactory, host, port, tls), "create-connection", cancellationToken);
    }

    /// <summary>
    /// Upgrades an open plain connection to TLS as the client [loop.start_tls(server_side=False)]: the
    /// handshake starts at once over <paramref name="transport"/>, which must not be used afterwards;
    /// use the returned transport. <paramref name="protocol"/> (normally the one the plain transport
    /// had) receives the plaintext from then on; its ConnectionMade is not called again, and its
    /// ConnectionLost runs once when the connection ends — also when the handshake fails (asyncio
    /// says nothing to the protocol then). The server name defaults to the peer's address.
    /// </summary>
    /// <param name="transport">A transport made by <see cref="CreateConnectionAsync(Func{Protocol}, string, int, CancellationToken)"/>, a server, or <see cref="Streams"/>.</param>
    /// <param name="protocol">The protocol for the TLS transport.</param>
    /// <param name="tls">The TLS settings.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the connection is aborted.</param>
    /// <returns>A task (already running) with the TLS transport, once the handshake succeeded. It fails
    /// as the handshake of <see cref="CreateConnectionAsync(Func{Protocol}, string, int, TlsClientOptions, CancellationToken)"/>
    /// does; the connection is aborted then, and when the task is cancelled.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="transport"/> is not a plain TCP transport of Aio.Net (a TLS one, say).</exception>
    /// <exception cref="InvalidOperationException"><paramref name="transport"/> is closing, or no loop is running on this thread.</exception>
    public static LoopTask<ITransport> StartTlsAsync(ITransport transport, Protocol protocol, TlsClientOptions tls, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tls);
        SocketTransport socket = CheckUpgradable(transport, protocol);
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(() => TlsTransport.UpgradeAsync(loop, socket, protocol, tls, null), "start-tls", cancellationToken);
    }

    /// <summary>
    /// Upgrades an open plain connection to TLS as the server [loop.start_tls(server_side=True)]; see
    /// <see cref="StartTlsAsync(ITransport, Protocol, TlsClientOptions, CancellationToken)"/>.
    /// </summary>
    /// <param name="transport">A plain TCP transport of Aio.Net.</param>
    /// <param name="protocol">The protocol for the TLS transport.</param>
    /// <param name="tls">The TLS settings, with the server's certificate.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the connection is aborted.</param>
    /// <returns>A task (already running) with the TLS transport, once the handshake succeeded; it fails
    /// with the handshake's error (the connection is aborted then, and when the task is cancelled).</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="transport"/> is not a plain TCP transport of Aio.Net.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="transport"/> is closing, or no loop is running on this thread.</exception>
    public static LoopTask<ITransport> StartTlsAsync(ITransport transport, Protocol protocol, TlsServerOptions tls, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tls);
        SocketTransport socket = CheckUpgradable(transport, protocol);
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(() => TlsTransport.UpgradeAsync(loop, socket, protocol, null, tls), "start-tls", cancellationToken);
    }

    private static SocketTransport CheckUpgradable(ITransport transport, Protocol protocol)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(protocol);
        if (transport is not SocketTransport socket)
        {
            throw new ArgumentException(
                $"StartTlsAsync upgrades a plain TCP transport made by Aio.Net; {transport.GetType().Name} is not one (a TLS transport cannot be upgraded again).",
                nameof(transport));
        }

        if (socket.IsClosing)
        {
            throw new InvalidOperationException("The transport is closing: there is no connection left to upgrade to TLS.");
        }

        return socket;
    }
}
