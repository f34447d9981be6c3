namespace Aio.Net;

/// <summary>Upgrading a stream pair to TLS [StreamWriter.start_tls, Python 3.11].</summary>
public sealed partial class AsyncStreamWriter
{
    /// <summary>
    /// Upgrades the connection to TLS as the client [await writer.start_tls(sslcontext, server_hostname=...)]:
    /// drains, then runs the handshake (see <see cref="Network.StartTlsAsync(ITransport, Protocol, TlsClientOptions, CancellationToken)"/>);
    /// afterwards <see cref="Transport"/> is the TLS transport and this writer and its reader carry
    /// plaintext. Bytes the reader buffered before the upgrade stay in it.
    /// </summary>
    /// <param name="tls">The TLS settings; the server name defaults to the peer's address.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the connection is aborted.</param>
    /// <returns>A task (already running) that completes after the handshake; it fails with the
    /// handshake's error (the connection is then closed), and cancelling it aborts the connection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tls"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The writer writes to a subprocess's pipe, not a connection.</exception>
    public LoopTask StartTlsAsync(TlsClientOptions tls, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tls);
        return StartTls(tls, null, cancellationToken);
    }

    /// <summary>
    /// Upgrades the connection to TLS as the server [writer.start_tls on a start_server connection]; see
    /// <see cref="StartTlsAsync(TlsClientOptions, CancellationToken)"/>.
    /// </summary>
    /// <param name="tls">The TLS settings, with the server's certificate.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the connection is aborted.</param>
    /// <returns>A task (already running) that completes after the handshake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tls"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The writer writes to a subprocess's pipe, not a connection.</exception>
    public LoopTask StartTlsAsync(TlsServerOptions tls, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tls);
        return StartTls(null, tls, cancellationToken);
    }

    private LoopTask StartTls(TlsClientOptions? client, TlsServerOptions? server, CancellationToken cancellationToken)
    {
        if (Transport is not ITransport connection)
        {
            throw new InvalidOperationException("Only a connection's writer can be upgraded to TLS; this one writes to a pipe.");
        }

        // The token cancels the upgrade itself (one cancel request; this task then ends with its CancelledError).
        return Loop.CreateTask(
            async () =>
            {
                await DrainAsync();
                ITransport upgraded = client is not null
                    ? await Network.StartTlsAsync(connection, _protocol, client, cancellationToken)
                    : await Network.StartTlsAsync(connection, _protocol, server!, cancellationToken);
                Transport = upgraded;
                _protocol.ReplaceTransport(upgraded);
            },
            "start-tls",
            eager: true);
    }
}
