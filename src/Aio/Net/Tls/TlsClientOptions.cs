using System.Net.Security;

namespace Aio.Net;

/// <summary>
/// TLS for the client side of a connection [the ssl=, server_hostname=, ssl_handshake_timeout= and
/// ssl_shutdown_timeout= arguments of loop.create_connection, asyncio.open_connection and
/// loop.start_tls]. Holds .NET's <see cref="SslClientAuthenticationOptions"/> (protocols, client
/// certificates, ALPN, the <see cref="RemoteCertificateValidationCallback"/>) plus the two timeouts.
/// Immutable once built; one instance may serve any number of connections (the authentication
/// options are read, never changed).
/// </summary>
public sealed class TlsClientOptions
{
    private readonly TimeSpan _handshakeTimeout = TlsDefaults.HandshakeTimeout;
    private readonly TimeSpan _shutdownTimeout = TlsDefaults.ShutdownTimeout;

    /// <summary>
    /// What <see cref="SslStream.AuthenticateAsClientAsync(SslClientAuthenticationOptions, CancellationToken)"/>
    /// gets. The server's certificate is checked against the system's trust store unless
    /// <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/> decides
    /// instead. A null <see cref="SslClientAuthenticationOptions.TargetHost"/> is filled in per
    /// connection (see <see cref="ServerHostname"/>) on a copy; this object is never changed.
    /// </summary>
    public SslClientAuthenticationOptions Authentication { get; init; } = new();

    /// <summary>
    /// The name the server's certificate must carry, also sent as SNI [server_hostname]. Null (the
    /// default) means <see cref="SslClientAuthenticationOptions.TargetHost"/> of
    /// <see cref="Authentication"/> if set, else the host connected to (for
    /// <see cref="Network.StartTlsAsync(ITransport, Protocol, TlsClientOptions, CancellationToken)"/>: the peer's address).
    /// </summary>
    public string? ServerHostname { get; init; }

    /// <summary>
    /// How long the handshake may take before the connection is aborted and the connect fails with
    /// <see cref="TimeoutException"/> [ssl_handshake_timeout]. Default 60 s.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive (and not <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan HandshakeTimeout
    {
        get => _handshakeTimeout;
        init => _handshakeTimeout = TlsDefaults.CheckTimeout(value, nameof(HandshakeTimeout));
    }

    /// <summary>
    /// How long a close waits for the peer's close_notify before the connection is aborted
    /// [ssl_shutdown_timeout]; the protocol's ConnectionLost then gets a <see cref="TimeoutException"/>.
    /// Default 30 s.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive (and not <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan ShutdownTimeout
    {
        get => _shutdownTimeout;
        init => _shutdownTimeout = TlsDefaults.CheckTimeout(value, nameof(ShutdownTimeout));
    }

    /// <summary>
    /// The authentication options for one connection: <see cref="Authentication"/> itself when its
    /// target host is the right one, else a copy with <paramref name="fallbackHost"/> (or
    /// <see cref="ServerHostname"/>) as the target host.
    /// </summary>
    internal SslClientAuthenticationOptions ForHost(string fallbackHost)
    {
        string host = ServerHostname ?? Authentication.TargetHost ?? fallbackHost;
        return host == Authentication.TargetHost ? Authentication : TlsDefaults.CopyWithTargetHost(Authentication, host);
    }
}
