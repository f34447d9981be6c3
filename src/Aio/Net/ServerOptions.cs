namespace Aio.Net;

/// <summary>
/// Settings for <see cref="Network.CreateServerAsync(Func{Protocol}, string?, int, ServerOptions?, CancellationToken)"/>
/// [the keyword arguments of loop.create_server]. Immutable once built.
/// </summary>
public sealed class ServerOptions
{
    /// <summary>
    /// The listen queue length, and the most connections accepted per readiness callback
    /// [backlog]. Default 100; must be at least 1.
    /// </summary>
    public int Backlog { get; init; } = 100;

    /// <summary>
    /// Whether to bind with SO_REUSEADDR, so a restarted server can reuse a port whose old
    /// connections linger in TIME_WAIT [reuse_address]. Null (the default) means true on Unix and
    /// false on Windows, as asyncio. On Unix only SO_REUSEADDR is set (not also SO_REUSEPORT, which
    /// .NET's own ReuseAddress option adds): two servers cannot share a port by accident. Note that
    /// .NET's bind on Unix always sets SO_REUSEADDR itself, so false has no effect there.
    /// </summary>
    public bool? ReuseAddress { get; init; }

    /// <summary>
    /// Whether to bind with SO_REUSEPORT, letting several sockets (of this or other processes) listen
    /// on the same port, the kernel balancing connections between them [reuse_port]. Default false.
    /// Linux, macOS and the BSDs only.
    /// </summary>
    public bool ReusePort { get; init; }

    /// <summary>
    /// Whether the new server listens and accepts at once [start_serving]. Default true; when false,
    /// the sockets are bound but not listening until <see cref="Server.StartServing"/> or
    /// <see cref="Server.ServeForeverAsync"/>.
    /// </summary>
    public bool StartServing { get; init; } = true;

    /// <summary>
    /// TLS for every accepted connection [ssl=, ssl_handshake_timeout=, ssl_shutdown_timeout=]; null
    /// (the default) for plain TCP. Each connection's protocol hears ConnectionMade after its
    /// handshake; a failed or timed-out handshake is reported to the loop's exception handler and
    /// drops that connection only.
    /// </summary>
    public TlsServerOptions? Tls { get; init; }
}
