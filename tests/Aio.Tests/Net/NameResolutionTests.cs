using System.Net;
using System.Net.Sockets;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// Name resolution on the loop [loop.getaddrinfo, loop.getnameinfo]: literals answered at once,
/// "localhost", the socket-type expansion, flags, family errors, and cancellation.
/// </summary>
public abstract class NameResolutionTests : NetTestBase
{
    [Fact]
    public void Literal_TypeStream_OneAnswerWithoutALookup()
    {
        Run(async loop =>
        {
            LoopTask<IReadOnlyList<AddressInfo>> resolving = loop.GetAddrInfoAsync("127.0.0.1", 8080, type: SocketType.Stream);
            Assert.True(resolving.IsDone); // no lookup: answered inside the call
            AddressInfo answer = Assert.Single(await resolving);
            Assert.Equal(new AddressInfo(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp, "", new IPEndPoint(IPAddress.Loopback, 8080)), answer);
        });
    }

    [Fact]
    public void Literal_AnyType_StreamDatagramRawAsGlibc()
    {
        Run(async loop =>
        {
            IReadOnlyList<AddressInfo> answers = await loop.GetAddrInfoAsync("::1", 53, flags: AddressInfoOptions.CanonicalName);
            Assert.Equal(
                [(SocketType.Stream, ProtocolType.Tcp), (SocketType.Dgram, ProtocolType.Udp), (SocketType.Raw, ProtocolType.Unspecified)],
                answers.Select(a => (a.SocketType, a.ProtocolType)));
            Assert.All(answers, a => Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 53), a.EndPoint));
            Assert.Equal(["::1", "", ""], answers.Select(a => a.CanonicalName)); // canonical name on the first answer only

            IReadOnlyList<AddressInfo> udp = await loop.GetAddrInfoAsync("127.0.0.1", 53, protocol: ProtocolType.Udp);
            Assert.Equal(SocketType.Dgram, Assert.Single(udp).SocketType);
        });
    }

    [Fact]
    public void Localhost_Stream_LoopbackAddressesWithThePort()
    {
        Run(async loop =>
        {
            IReadOnlyList<AddressInfo> answers = await loop.GetAddrInfoAsync("localhost", 443, type: SocketType.Stream, flags: AddressInfoOptions.CanonicalName);
            Assert.NotEmpty(answers);
            Assert.All(answers, a =>
            {
                Assert.True(IPAddress.IsLoopback(a.EndPoint.Address), $"{a.EndPoint} is not loopback");
                Assert.Equal(443, a.EndPoint.Port);
                Assert.Equal(SocketType.Stream, a.SocketType);
                Assert.Equal(a.EndPoint.AddressFamily, a.Family);
            });
            Assert.Equal("localhost", answers[0].CanonicalName);

            IReadOnlyList<AddressInfo> v4 = await loop.GetAddrInfoAsync("localhost", 443, AddressFamily.InterNetwork, SocketType.Stream);
            Assert.Contains(v4, a => a.EndPoint.Equals(new IPEndPoint(IPAddress.Loopback, 443)));
            Assert.All(v4, a => Assert.Equal(AddressFamily.InterNetwork, a.Family));
        });
    }

    [Fact]
    public void NoHost_LoopbackOrWildcardWithPassive()
    {
        Run(async loop =>
        {
            IReadOnlyList<AddressInfo> connect = await loop.GetAddrInfoAsync(null, 80, type: SocketType.Stream);
            Assert.Equal([IPAddress.IPv6Loopback, IPAddress.Loopback], connect.Select(a => a.EndPoint.Address));
            IReadOnlyList<AddressInfo> bind = await loop.GetAddrInfoAsync("", 80, AddressFamily.InterNetwork, SocketType.Stream, flags: AddressInfoOptions.Passive);
            Assert.Equal(IPAddress.Any, Assert.Single(bind).EndPoint.Address);
        });
    }

    [Fact]
    public void Errors_FamilyMismatchNumericHostBadArguments()
    {
        Run(async loop =>
        {
            SocketException family = await Assert.ThrowsAsync<SocketException>(async () => await loop.GetAddrInfoAsync("127.0.0.1", 80, AddressFamily.InterNetworkV6));
            Assert.Equal(SocketError.AddressFamilyNotSupported, family.SocketErrorCode);
            SocketException numeric = await Assert.ThrowsAsync<SocketException>(async () => await loop.GetAddrInfoAsync("localhost", 80, flags: AddressInfoOptions.NumericHost));
            Assert.Equal(SocketError.HostNotFound, numeric.SocketErrorCode);
            Assert.Throws<ArgumentOutOfRangeException>(() => loop.GetAddrInfoAsync("localhost", 70000));
            Assert.Throws<ArgumentException>(() => loop.GetAddrInfoAsync("localhost", 80, AddressFamily.Unix));
            Assert.Throws<ArgumentException>(() => loop.GetAddrInfoAsync("localhost", 80, type: SocketType.Stream, protocol: ProtocolType.Udp));
        });
    }

    [Fact]
    public void Cancel_PendingLookup_CancelledError()
    {
        Run(async loop =>
        {
            LoopTask<IReadOnlyList<AddressInfo>> byTask = loop.GetAddrInfoAsync("localhost", 80);
            byTask.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await byTask);

            using var source = new CancellationTokenSource();
            LoopTask<IReadOnlyList<AddressInfo>> byToken = loop.GetAddrInfoAsync("localhost", 80, cancellationToken: source.Token);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await byToken);

            LoopTask<IReadOnlyList<AddressInfo>> preCancelled = loop.GetAddrInfoAsync("127.0.0.1", 80, cancellationToken: new CancellationToken(canceled: true));
            await Assert.ThrowsAsync<CancelledError>(async () => await preCancelled); // cancelled before it started: no answer, even for a literal
        });
    }

    [Fact]
    public void GetNameInfo_LoopbackHttp_NamesOrNumbers()
    {
        Run(async loop =>
        {
            (string host, string service) = await loop.GetNameInfoAsync(new IPEndPoint(IPAddress.Loopback, 80));
            Assert.Equal("localhost", host);
            Assert.Equal(File.Exists("/etc/services") ? "http" : "80", service);

            (string numericHost, string numericService) = await loop.GetNameInfoAsync(
                new IPEndPoint(IPAddress.Loopback, 80), NameInfoOptions.NumericHost | NameInfoOptions.NumericService);
            Assert.Equal(("127.0.0.1", "80"), (numericHost, numericService));
        });
    }
}

[Collection("net")]
public sealed class NameResolutionEpollTests : NameResolutionTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class NameResolutionPortableTests : NameResolutionTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
