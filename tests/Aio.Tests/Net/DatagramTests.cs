using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// Datagram endpoints [loop.create_datagram_endpoint, DatagramTransport, DatagramProtocol]: UDP echo,
/// many datagrams, connected versus unconnected endpoints, ICMP errors to ErrorReceived, sends
/// queued while the kernel pushes back (with pause/resume), and exactly one ConnectionLost.
/// </summary>
public abstract class DatagramTests : NetTestBase
{
    private static readonly byte[] Hello = Encoding.ASCII.GetBytes("hello");

    [Fact]
    public void Echo_ConnectedClient_DatagramComesBackFromTheServer()
    {
        Run(async loop =>
        {
            (IDatagramTransport server, _) = await Network.CreateDatagramEndpointAsync(() => new DatagramEcho(), local: new IPEndPoint(IPAddress.Loopback, 0));
            var serverAddress = (IPEndPoint)server.GetExtraInfo("sockname")!;
            var client = new DatagramRecorder(loop);
            (IDatagramTransport transport, DatagramProtocol protocol) = await Network.CreateDatagramEndpointAsync(() => client, remote: serverAddress);
            Assert.Same(client, protocol);
            Assert.Same(transport, client.Transport);
            Assert.Equal(serverAddress, transport.GetExtraInfo("peername"));
            Assert.IsType<Socket>(transport.GetExtraInfo("socket"));

            transport.SendTo(Hello);
            await client.WaitUntilAsync(r => r.Received.Count == 1);
            Assert.Equal(Hello, client.Received[0].Data);
            Assert.Equal(serverAddress, client.Received[0].From);

            transport.Close();
            server.Close();
            await client.WaitUntilAsync(r => r.IsLost);
            Assert.Equal(["made", "lost"], client.Events);
            Assert.Null(client.LostWith);
        });
    }

    [Fact]
    public void Unconnected_SendToEachPeer_RepliesArriveWithTheirSenders()
    {
        Run(async loop =>
        {
            var a = new DatagramRecorder(loop);
            var b = new DatagramRecorder(loop);
            (IDatagramTransport ta, _) = await Network.CreateDatagramEndpointAsync(() => a, local: new IPEndPoint(IPAddress.Loopback, 0));
            (IDatagramTransport tb, _) = await Network.CreateDatagramEndpointAsync(() => b, local: new IPEndPoint(IPAddress.Loopback, 0));
            Assert.Null(ta.GetExtraInfo("peername"));
            ArgumentException noDestination = Assert.Throws<ArgumentException>(() => ta.SendTo(Hello));
            Assert.Contains("remote", noDestination.Message, StringComparison.Ordinal);

            ta.SendTo(Hello, (EndPoint)tb.GetExtraInfo("sockname")!);
            await b.WaitUntilAsync(r => r.Received.Count == 1);
            Assert.Equal(ta.GetExtraInfo("sockname"), b.Received[0].From);
            tb.SendTo(Encoding.ASCII.GetBytes("back"), b.Received[0].From);
            await a.WaitUntilAsync(r => r.Received.Count == 1);
            Assert.Equal("back", Encoding.ASCII.GetString(a.Received[0].Data));

            ta.SendTo([], (EndPoint)tb.GetExtraInfo("sockname")!); // an empty datagram is a datagram
            await b.WaitUntilAsync(r => r.Received.Count == 2);
            Assert.Empty(b.Received[1].Data);
            ta.Close();
            tb.Close();
        });
    }

    [Fact]
    public void Connected_SendToAnotherAddress_ArgumentExceptionNamesTheRemote()
    {
        Run(async loop =>
        {
            var recorder = new DatagramRecorder(loop);
            (IDatagramTransport server, _) = await Network.CreateDatagramEndpointAsync(() => recorder, local: new IPEndPoint(IPAddress.Loopback, 0));
            var serverAddress = (IPEndPoint)server.GetExtraInfo("sockname")!;
            (IDatagramTransport client, _) = await Network.CreateDatagramEndpointAsync(() => new DatagramRecorder(loop), remote: serverAddress);

            ArgumentException error = Assert.Throws<ArgumentException>(() => client.SendTo(Hello, new IPEndPoint(IPAddress.Loopback, serverAddress.Port + 1)));
            Assert.Contains(serverAddress.ToString(), error.Message, StringComparison.Ordinal);
            client.SendTo(Hello, new IPEndPoint(IPAddress.Loopback, serverAddress.Port)); // equal, not the same object: allowed
            client.SendTo(Hello, null);
            await recorder.WaitUntilAsync(r => r.Received.Count == 2);
            client.Close();
            server.Close();
        });
    }

    [Fact]
    public void ManyDatagrams_Windowed_AllComeBackAndTheSenderEndPointIsReused()
    {
        Run(async loop =>
        {
            var echo = new DatagramEcho();
            (IDatagramTransport server, _) = await Network.CreateDatagramEndpointAsync(() => echo, local: new IPEndPoint(IPAddress.Loopback, 0));
            var client = new DatagramRecorder(loop);
            (IDatagramTransport transport, _) = await Network.CreateDatagramEndpointAsync(() => client, remote: (EndPoint)server.GetExtraInfo("sockname")!);

            const int total = 3000;
            const int window = 16; // loopback UDP drops nothing as long as the receive buffers keep up
            int next = 0;
            while (client.Received.Count < total)
            {
                while (next < total && next - client.Received.Count < window)
                {
                    transport.SendTo(BitConverter.GetBytes(next++));
                }

                int seen = client.Received.Count;
                await client.WaitUntilAsync(r => r.Received.Count > seen);
            }

            Assert.Equal(Enumerable.Range(0, total), client.Received.Select(d => BitConverter.ToInt32(d.Data)).Order());
            Assert.Equal(total, echo.Senders.Count);
            Assert.All(echo.Senders, sender => Assert.Same(echo.Senders[0], sender)); // one EndPoint per peer, not per datagram
            transport.Close();
            server.Close();
        });
    }

    [Fact]
    public void ErrorReceived_ConnectedToClosedPort_ConnectionRefusedAndTransportStaysOpen()
    {
        Run(async loop =>
        {
            var client = new DatagramRecorder(loop);
            (IDatagramTransport transport, _) = await Network.CreateDatagramEndpointAsync(() => client, remote: new IPEndPoint(IPAddress.Loopback, ClosedUdpPort()));

            transport.SendTo(Hello);   // answered by ICMP "port unreachable"
            await client.WaitUntilAsync(r => r.Errors.Count > 0);
            Assert.Equal(SocketError.ConnectionRefused, client.Errors[0].SocketErrorCode);
            Assert.False(transport.IsClosing);
            Assert.False(client.IsLost);

            transport.SendTo(Hello);   // still usable
            transport.Close();
            await client.WaitUntilAsync(r => r.IsLost);
            Assert.Null(client.LostWith);
            Assert.Equal(1, client.LostCount);
        });
    }

    [Fact]
    public void Close_CalledTwiceThenAbort_ConnectionLostOnceAndLaterSendsIgnored()
    {
        Run(async loop =>
        {
            var client = new DatagramRecorder(loop);
            (IDatagramTransport transport, _) = await Network.CreateDatagramEndpointAsync(() => client, local: new IPEndPoint(IPAddress.Loopback, 0));
            var self = (EndPoint)transport.GetExtraInfo("sockname")!;
            transport.Close();
            transport.Close();
            transport.Abort();
            Assert.True(transport.IsClosing);
            Assert.False(client.IsLost); // never inline
            for (int i = 0; i < 10; i++)
            {
                transport.SendTo(Hello, self); // ignored (one warning is logged)
            }

            await client.WaitUntilAsync(r => r.IsLost);
            await LoopTask.Yield();
            Assert.Equal(1, client.LostCount);
            Assert.Empty(client.Received);
            Assert.Equal(0, transport.WriteBufferSize);
        });
    }

    [Fact]
    public void BufferedSends_PeerNotReading_QueuedInOrderPauseThenResumeOnFlush()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // an abstract Unix datagram socket is the way to make sends block deterministically
        }

        Run(async loop =>
        {
            // A Unix datagram peer that does not read makes the sender's sends block (its datagrams
            // stay charged to the sender's buffer): the transport must queue and flush them.
            var peerAddress = new UnixDomainSocketEndPoint("\0aio-test-" + Guid.NewGuid().ToString("N"));
            using var peer = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            peer.Bind(peerAddress);
            peer.Blocking = false;
            var client = new DatagramRecorder(loop);
            (IDatagramTransport transport, _) = await Network.CreateDatagramEndpointAsync(() => client, remote: peerAddress);
            transport.SetWriteBufferLimits(high: 64 * 1024, low: 0);
            Assert.Equal((0, 64 * 1024), transport.GetWriteBufferLimits());

            const int count = 64;
            const int size = 16 * 1024;
            for (int i = 0; i < count; i++)
            {
                byte[] datagram = new byte[size];
                datagram.AsSpan().Fill((byte)i);
                transport.SendTo(datagram);
            }

            Assert.True(transport.WriteBufferSize > 64 * 1024, $"expected queued datagrams, {transport.WriteBufferSize} bytes queued");
            Assert.Equal(["made", "pause"], client.Events);

            for (int i = 0; i < count; i++)
            {
                byte[] datagram = await loop.SockRecvAsync(peer, 64 * 1024);
                Assert.Equal(size, datagram.Length);
                Assert.All(datagram, b => Assert.Equal((byte)i, b));
            }

            await client.WaitUntilAsync(r => r.Events.Contains("resume"));
            Assert.Equal(0, transport.WriteBufferSize);
            Assert.Empty(client.Errors);
            transport.Close();
            await client.WaitUntilAsync(r => r.IsLost);
        });
    }

    [Fact]
    public void Abort_WithQueuedDatagrams_DropsThemAndLosesOnce()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        Run(async loop =>
        {
            var peerAddress = new UnixDomainSocketEndPoint("\0aio-test-" + Guid.NewGuid().ToString("N"));
            using var peer = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            peer.Bind(peerAddress);
            var client = new DatagramRecorder(loop);
            (IDatagramTransport transport, _) = await Network.CreateDatagramEndpointAsync(() => client, remote: peerAddress);
            while (transport.WriteBufferSize == 0)
            {
                transport.SendTo(new byte[16 * 1024]);
            }

            transport.Close(); // waits for the queue...
            Assert.False(client.IsLost);
            await LoopTask.Yield();
            Assert.False(client.IsLost);
            transport.Abort(); // ...unless aborted
            Assert.Equal(0, transport.WriteBufferSize);
            await client.WaitUntilAsync(r => r.IsLost);
            Assert.Equal(1, client.LostCount);
            Assert.Null(client.LostWith);
        });
    }

    [Fact]
    public void DnsEndPointAndFamily_ResolvedAndUnboundEndpointsWork()
    {
        Run(async loop =>
        {
            var server = new DatagramRecorder(loop);
            (IDatagramTransport st, _) = await Network.CreateDatagramEndpointAsync(
                () => server, local: new DnsEndPoint("localhost", 0), options: new DatagramEndpointOptions { Family = AddressFamily.InterNetwork });
            var serverAddress = (IPEndPoint)st.GetExtraInfo("sockname")!;
            Assert.Equal(IPAddress.Loopback, serverAddress.Address);

            // No endpoint at all: an unbound socket of the family asked for; the first send binds it.
            (IDatagramTransport unbound, _) = await Network.CreateDatagramEndpointAsync(
                () => new DatagramRecorder(loop), options: new DatagramEndpointOptions { Family = AddressFamily.InterNetwork });
            unbound.SendTo(Hello, serverAddress);
            await server.WaitUntilAsync(r => r.Received.Count == 1);

            (IDatagramTransport named, _) = await Network.CreateDatagramEndpointAsync(() => new DatagramRecorder(loop), remote: new DnsEndPoint("localhost", serverAddress.Port));
            named.SendTo(Hello);
            await server.WaitUntilAsync(r => r.Received.Count == 2);
            unbound.Close();
            named.Close();
            st.Close();
        });
    }

    [Fact]
    public void BadArguments_RejectedWithAdvice()
    {
        Run(async loop =>
        {
            Assert.Throws<ArgumentNullException>(() => Network.CreateDatagramEndpointAsync(null!));
            ArgumentException none = Assert.Throws<ArgumentException>(() => Network.CreateDatagramEndpointAsync(() => new DatagramRecorder(loop)));
            Assert.Contains("Family", none.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => Network.CreateDatagramEndpointAsync(
                () => new DatagramRecorder(loop), local: new IPEndPoint(IPAddress.IPv6Loopback, 0), options: new DatagramEndpointOptions { Family = AddressFamily.InterNetwork }));
            Assert.Throws<ArgumentException>(() => Network.CreateDatagramEndpointAsync(
                () => new DatagramRecorder(loop), local: new IPEndPoint(IPAddress.Loopback, 0), remote: new UnixDomainSocketEndPoint("/tmp/x")));

            (IDatagramTransport transport, _) = await Network.CreateDatagramEndpointAsync(() => new DatagramRecorder(loop), local: new IPEndPoint(IPAddress.Loopback, 0));
            Assert.Throws<ArgumentException>(() => transport.SendTo(Hello, new DnsEndPoint("localhost", 9)));
            Assert.Throws<ArgumentOutOfRangeException>(() => transport.SetWriteBufferLimits(high: 1, low: 2));
            transport.Close();
        });
    }

    [Fact]
    public void Cancel_WhileCreating_NothingOpenOrRegistered()
    {
        Run(async loop =>
        {
            var recorder = new DatagramRecorder(loop);
            LoopTask<(IDatagramTransport Transport, DatagramProtocol Protocol)> creating =
                Network.CreateDatagramEndpointAsync(() => recorder, local: new IPEndPoint(IPAddress.Loopback, 0));
            creating.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await creating);
            await LoopTask.Yield();
            await LoopTask.Yield();
            Assert.Equal(0, loop.IoRegistrationCount);
        });
    }

    [Fact]
    public void DatagramReceivedThrows_ReportedAndTheEndpointGoesOn()
    {
        Run(async loop =>
        {
            var server = new DatagramRecorder(loop) { ThrowOnFirstDatagram = true };
            (IDatagramTransport st, _) = await Network.CreateDatagramEndpointAsync(() => server, local: new IPEndPoint(IPAddress.Loopback, 0));
            (IDatagramTransport client, _) = await Network.CreateDatagramEndpointAsync(() => new DatagramRecorder(loop), remote: (EndPoint)st.GetExtraInfo("sockname")!);
            client.SendTo(Hello);
            client.SendTo(Hello);
            await server.WaitUntilAsync(r => r.Received.Count == 2);
            ExceptionContext report = Assert.Single(TakeErrors());
            Assert.Contains("DatagramReceived", report.Message, StringComparison.Ordinal);
            Assert.False(st.IsClosing);
            client.Close();
            st.Close();
        });
    }

    private static int ClosedUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}

/// <summary>Sends every datagram back to its sender, and remembers the sender endpoints.</summary>
public sealed class DatagramEcho : DatagramProtocol
{
    private IDatagramTransport? _transport;

    public List<EndPoint> Senders { get; } = [];

    public override void ConnectionMade(IDatagramTransport transport) => _transport = transport;

    public override void DatagramReceived(ReadOnlySpan<byte> data, EndPoint remote)
    {
        Senders.Add(remote);
        _transport!.SendTo(data, remote);
    }
}

/// <summary>Records a datagram endpoint's events; a test waits on them without sleeping.</summary>
public sealed class DatagramRecorder(EventLoop loop) : DatagramProtocol
{
    private Future<bool>? _changed;

    public IDatagramTransport? Transport { get; private set; }

    /// <summary>"made", "pause", "resume", "lost" in order.</summary>
    public List<string> Events { get; } = [];

    public List<(byte[] Data, EndPoint From)> Received { get; } = [];

    public List<SocketException> Errors { get; } = [];

    public int LostCount { get; private set; }

    public Exception? LostWith { get; private set; }

    public bool ThrowOnFirstDatagram { get; set; }

    public bool IsLost => LostCount > 0;

    public override void ConnectionMade(IDatagramTransport transport)
    {
        Transport = transport;
        Record("made");
    }

    public override void DatagramReceived(ReadOnlySpan<byte> data, EndPoint remote)
    {
        Received.Add((data.ToArray(), remote));
        Changed();
        if (ThrowOnFirstDatagram && Received.Count == 1)
        {
            throw new InvalidOperationException("protocol bug");
        }
    }

    public override void ErrorReceived(SocketException exception)
    {
        Errors.Add(exception);
        Changed();
    }

    public override void ConnectionLost(Exception? exception)
    {
        LostCount++;
        LostWith = exception;
        Record("lost");
    }

    public override void PauseWriting() => Record("pause");

    public override void ResumeWriting() => Record("resume");

    public async Task WaitUntilAsync(Func<DatagramRecorder, bool> condition)
    {
        while (!condition(this))
        {
            _changed = new Future<bool>(loop);
            await _changed;
        }
    }

    private void Record(string name)
    {
        Events.Add(name);
        Changed();
    }

    private void Changed()
    {
        Future<bool>? changed = _changed;
        _changed = null;
        changed?.TrySetResult(true);
    }
}

[Collection("net")]
public sealed class DatagramEpollTests : DatagramTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class DatagramPortableTests : DatagramTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
