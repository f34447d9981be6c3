using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>A self-signed certificate for localhost and 127.0.0.1, made once per test run, and TLS options that use it.</summary>
public static class TlsTestCertificates
{
    private static readonly Lazy<X509Certificate2> s_server = new(Create);

    /// <summary>The server certificate, with its private key usable by SslStream.</summary>
    public static X509Certificate2 Server => s_server.Value;

    /// <summary>Server options with <see cref="Server"/>.</summary>
    public static TlsServerOptions ServerOptions(TimeSpan? handshakeTimeout = null, TimeSpan? shutdownTimeout = null) =>
        new(Server)
        {
            HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(60),
            ShutdownTimeout = shutdownTimeout ?? TimeSpan.FromSeconds(30),
        };

    /// <summary>Client options that trust exactly <see cref="Server"/> (by thumbprint) and nothing else.</summary>
    public static TlsClientOptions TrustingClient(TimeSpan? handshakeTimeout = null, TimeSpan? shutdownTimeout = null) =>
        new()
        {
            Authentication = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = AcceptOurs },
            HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(60),
            ShutdownTimeout = shutdownTimeout ?? TimeSpan.FromSeconds(30),
        };

    /// <summary>Accepts the test certificate whatever the chain says (it is self-signed), nothing else.</summary>
    public static bool AcceptOurs(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && certificate.GetCertHashString() == Server.GetCertHashString();

    private static X509Certificate2 Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false)); // server authentication
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

        // On Linux SslStream needs the key in a form it can export to OpenSSL: round-trip through PKCS#12.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), password: null);
    }
}

/// <summary>Echoes every byte back, over whatever transport it is given.</summary>
public sealed class TlsEchoRecorder(EventLoop loop) : Recorder(loop)
{
    public override void DataReceived(ReadOnlySpan<byte> data)
    {
        Transport!.Write(data);
        base.DataReceived(data);
    }
}
