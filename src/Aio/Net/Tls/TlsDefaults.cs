using System.Net.Security;

namespace Aio.Net;

/// <summary>asyncio's TLS defaults and the checks the option types share.</summary>
internal static class TlsDefaults
{
    /// <summary>asyncio's SSL_HANDSHAKE_TIMEOUT.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(60);

    /// <summary>asyncio's SSL_SHUTDOWN_TIMEOUT.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Ciphertext buffered from the socket above which the socket stops reading [FLOW_CONTROL_HIGH_WATER_SSL_READ, 256 KiB].</summary>
    public const int IncomingHighWater = 256 * 1024;

    /// <summary>Where the socket reads again: a quarter of the high mark, as asyncio.</summary>
    public const int IncomingLowWater = IncomingHighWater / 4;

    public static TimeSpan CheckTimeout(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive (or Timeout.InfiniteTimeSpan for no limit).");
        }

        return value;
    }

    /// <summary>
    /// A copy of <paramref name="source"/> with another target host. Every settable property is
    /// copied (a test compares this list with the framework's, so a new property is not missed).
    /// </summary>
    public static SslClientAuthenticationOptions CopyWithTargetHost(SslClientAuthenticationOptions source, string targetHost)
    {
        var copy = new SslClientAuthenticationOptions
        {
            AllowRenegotiation = source.AllowRenegotiation,
            AllowTlsResume = source.AllowTlsResume,
            LocalCertificateSelectionCallback = source.LocalCertificateSelectionCallback,
            RemoteCertificateValidationCallback = source.RemoteCertificateValidationCallback,
            ApplicationProtocols = source.ApplicationProtocols,
            TargetHost = targetHost,
            ClientCertificates = source.ClientCertificates,
            ClientCertificateContext = source.ClientCertificateContext,
            CertificateRevocationCheckMode = source.CertificateRevocationCheckMode,
            EncryptionPolicy = source.EncryptionPolicy,
            EnabledSslProtocols = source.EnabledSslProtocols,
            CertificateChainPolicy = source.CertificateChainPolicy,
        };
        if (OperatingSystem.IsLinux() || OperatingSystem.IsWindows())
        {
            copy.AllowRsaPssPadding = source.AllowRsaPssPadding;
            copy.AllowRsaPkcs1Padding = source.AllowRsaPkcs1Padding;
        }

        if (source.CipherSuitesPolicy is { } ciphers)
        {
#pragma warning disable CA1416 // set only where the caller could set it, i.e. where it is supported
            copy.CipherSuitesPolicy = ciphers;
#pragma warning restore CA1416
        }

        return copy;
    }

    /// <summary>The names of the properties <see cref="CopyWithTargetHost"/> copies (for the test that keeps it complete).</summary>
    internal static readonly string[] CopiedClientProperties =
    [
        "AllowRenegotiation", "AllowTlsResume", "LocalCertificateSelectionCallback", "RemoteCertificateValidationCallback",
        "ApplicationProtocols", "TargetHost", "ClientCertificates", "ClientCertificateContext", "CertificateRevocationCheckMode",
        "EncryptionPolicy", "EnabledSslProtocols", "CipherSuitesPolicy", "CertificateChainPolicy", "AllowRsaPssPadding",
        "AllowRsaPkcs1Padding",
    ];
}
