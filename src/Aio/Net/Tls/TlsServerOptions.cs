using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Aio.Net;

/// <summary>
/// TLS for the server side of connections [the ssl=, ssl_handshake_timeout= and
/// ssl_shutdown_timeout= arguments of loop.create_server and asyncio.start_server, and server_side=True
/// of loop.start_tls]. Holds .NET's <see cref="SslServerAuthenticationOptions"/> (the certificate,
/// protocols, client-certificate rules, ALPN) plus the two timeouts. Immutable once built; one
/// instance serves every connection.
/// </summary>
public sealed class TlsServerOptions
{
    private readonly TimeSpan _handshakeTimeout = TlsDefaults.HandshakeTimeout;
    private readonly TimeSpan _shutdownTimeout = TlsDefaults.ShutdownTimeout;

    /// <summary>Options with <paramref name="certificate"/> (which must have its private key) and .NET's defaults for the rest.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="certificate"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="certificate"/> has no private key.</exception>
    public TlsServerOptions(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException("A server certificate needs its private key: load it from a PFX/PKCS#12 file or with X509Certificate2.CreateFromPemFile(cert, key).", nameof(certificate));
        }

        Authentication = new SslServerAuthenticationOptions { ServerCertificate = certificate };
    }

    /// <summary>Options from fully built <paramref name="authentication"/> options (a certificate, a context or a selection callback).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="authentication"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="authentication"/> names no certificate.</exception>
    public TlsServerOptions(SslServerAuthenticationOptions authentication)
    {
        ArgumentNullException.ThrowIfNull(authentication);
        if (authentication.ServerCertificate is null && authentication.ServerCertificateContext is null && authentication.ServerCertificateSelectionCallback is null)
        {
            throw new ArgumentException("Set ServerCertificate, ServerCertificateContext or ServerCertificateSelectionCallback: a TLS server needs a certificate.", nameof(authentication));
        }

        Authentication = authentication;
    }

    /// <summary>What <see cref="SslStream.AuthenticateAsServerAsync(SslServerAuthenticationOptions, CancellationToken)"/> gets for each connection.</summary>
    public SslServerAuthenticationOptions Authentication { get; }

    /// <summary>
    /// How long a connection's handshake may take [ssl_handshake_timeout]; a client that is slower
    /// (or silent) is dropped and reported to the loop's exception handler. Default 60 s.
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
}
