namespace Aio.Net;

/// <summary>TLS stream pairs [asyncio.open_connection(ssl=...)]; for servers, see <see cref="ServerOptions.Tls"/>.</summary>
public static partial class Streams
{
    /// <summary>
    /// Connects to <paramref name="host"/>:<paramref name="port"/> over TLS and returns the connection's
    /// reader and writer [asyncio.open_connection(host, port, ssl=..., limit=)]; see
    /// <see cref="Network.CreateConnectionAsync(Func{Protocol}, string, int, TlsClientOptions, CancellationToken)"/> for the
    /// handshake and its errors. The writer cannot half-close (<see cref="AsyncStreamWriter.CanWriteEof"/>
    /// is false); closing it sends close_notify first.
    /// </summary>
    /// <param name="host">An IP literal or a host name (also the default server name).</param>
    /// <param name="port">The TCP port.</param>
    /// <param name="tls">The TLS settings.</param>
    /// <param name="limit">The reader's line and chunk limit (<see cref="AsyncStreamReader.Limit"/>).</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the attempt is abandoned and nothing stays open or registered.</param>
    /// <returns>A task (already running) with the pair; cancelling it abandons the connection and leaves nothing open.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tls"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not positive, or <paramref name="port"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> OpenConnectionAsync(
        string host,
        int port,
        TlsClientOptions tls,
        int limit = AsyncStreamReader.DefaultLimit,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tls);
        return Open(host, port, limit, tls, cancellationToken);
    }
}
