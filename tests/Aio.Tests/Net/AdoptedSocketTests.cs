using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// Sockets created outside the loop [connect_accepted_socket, create_connection(sock=),
/// create_server(sock=)], local_addr= and Happy Eyeballs for create_connection.
/// </summary>
public abstract class AdoptedSocketTests : NetTestBase
{
    private static readonly byte[] Hello = Encoding.ASCII.GetBytes("hello");

    [Fact]
    public void ConnectAcceptedSocket_AcceptedOutsideTheLoop_Echoes()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            await loop.SockConnectAsync(client, listener.LocalEndPoint!);
            Socket accepted = listener.Accept(); // queued already: returns at once

            (ITransport transport, Protocol protocol) = await Network.ConnectAcceptedSocketAsync(() => new EchoProtocol(), accepted);
            Assert.IsType<EchoProtocol>(protocol);
            Assert.False(accepted.Blocking);
            await loop.SockSendAllAsync(client, Hello);
            var echoed = new List<byte>();
            while (echoed.Count < Hello.Length)
            {
                echoed.AddRange(await loop.SockRecvAsync(client, 64));
            }

            Assert.Equal(Hello, echoed);
            transport.Close();
            Assert.Empty(await loop.SockRecvAsync(client, 64)); // the transport closed the adopted socket: EOF
        });
    }

    [Fact]
    public void CreateConnection_WithConnectedSocket_TransportUsesIt()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using Socket accepted = listener.Accept();
            accepted.Blocking = false;

            var recorder = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => recorder, client);
            Assert.Equal(["made"], recorder.Events);
            Assert.Same(client, transport.GetExtraInfo("socket"));
            transport.Write(Hello);
            Assert.Equal(Hello, await loop.SockRecvAsync(accepted, 64));
            await loop.SockSendAllAsync(accepted, Hello);
            await recorder.WaitForBytesAsync(Hello.Length);
            transport.Close();
            await recorder.WaitLostAsync();
        });
    }

    [Fact]
    public void CreateConnection_WithSocketCancelled_SocketDetachedUsableAndUnregistered()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using Socket accepted = listener.Accept();
            accepted.Blocking = false;

            var recorder = new Recorder(loop);
            LoopTask<(ITransport Transport, Protocol Protocol)> connecting = Network.CreateConnectionAsync(() => recorder, client);
            Assert.False(connecting.IsDone);
            connecting.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await connecting);

            Assert.False(loop.IsWatching(client, read: true));
            Assert.False(loop.IsWatching(client, read: false));
            for (int i = 0; i < 3; i++)
            {
                await LoopTask.Yield(); // nothing scheduled may still close it or call the protocol
            }

            // The transport's first callback (ConnectionMade) was queued before the cancel reached
            // the task, as in asyncio; the protocol then hears the end, but the socket stays open.
            Assert.Equal(["made", "lost"], recorder.Events);
            Assert.IsType<CancelledError>(recorder.LostWith);
            Assert.False(client.SafeHandle.IsClosed);
            await loop.SockSendAllAsync(client, Hello); // still the caller's, still connected to the same peer
            Assert.Equal(Hello, await loop.SockRecvAsync(accepted, 64));
        });
    }

    [Fact]
    public void CreateConnection_DatagramSocket_ThrowsArgumentException()
    {
        Run(loop =>
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            ArgumentException error = Assert.Throws<ArgumentException>(() => Network.CreateConnectionAsync(() => new Recorder(loop), udp));
            Assert.Contains("stream socket", error.Message, StringComparison.Ordinal);
            return Task.CompletedTask;
        });
    }

    [Fact]
    public void CreateServer_WithListeningSocket_ServesOnIt()
    {
        Run(async loop =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            socket.Listen(8);
            int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            await using Server server = await Network.CreateServerAsync(() => new EchoProtocol(), socket);
            Assert.Same(socket, Assert.Single(server.Sockets));
            Assert.True(server.IsServing);

            Recorder client = await ConnectAsync(loop, port);
            client.Transport!.Write(Hello);
            await client.WaitForBytesAsync(Hello.Length);
            Assert.Equal(Hello, client.Received);
            client.Transport.Close();
            await client.WaitLostAsync();
        });
    }

    [Fact]
    public void CreateServer_WithSocketAndReuseOptions_ThrowsArgumentException()
    {
        Run(loop =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            Assert.Throws<ArgumentException>(() => Network.CreateServerAsync(() => new EchoProtocol(), socket, new ServerOptions { ReusePort = true }));
            return Task.CompletedTask;
        });
    }

    [Fact]
    public void CreateConnection_LocalAddress_ConnectsFromIt()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol());
            var local = new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0);
            var recorder = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => recorder, "127.0.0.1", PortOf(server), new ConnectionOptions { LocalAddress = local });
            Assert.Equal(local.Address, ((IPEndPoint)transport.GetExtraInfo("sockname")!).Address);
            transport.Close();
            await recorder.WaitLostAsync();
        });
    }

    [Fact]
    public void CreateConnection_LocalAddressOfOtherFamily_ThrowsSocketException()
    {
        Run(async loop =>
        {
            var local = new IPEndPoint(IPAddress.IPv6Loopback, 0);
            SocketException error = await Assert.ThrowsAsync<SocketException>(async () =>
                await Network.CreateConnectionAsync(() => new Recorder(loop), "127.0.0.1", ClosedPort(), new ConnectionOptions { LocalAddress = local }));
            Assert.Contains("no matching local address", error.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void CreateConnection_AddressesOneByOneFirstRefuses_ConnectsToSecond()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol());
            var recorder = new Recorder(loop);
            IPAddress[] addresses = [IPAddress.Parse("127.0.0.2"), IPAddress.Loopback]; // nothing listens on 127.0.0.2
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => recorder, addresses, PortOf(server));
            Assert.Equal(IPAddress.Loopback, ((IPEndPoint)transport.GetExtraInfo("peername")!).Address);
            transport.Close();
            await recorder.WaitLostAsync();
        });
    }

    [Fact]
    public void HappyEyeballs_FirstAddressNeverAnswers_ConnectsToSecondWithinDelay()
    {
        // 127.0.0.2:port is a listener whose accept queue is full and never accepted, so the kernel
        // drops further SYNs (tcp_abort_on_overflow=0): a connect to it hangs. Loopback only.
        EventLoop loop = NewLoop();
        using var blackHole = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var fillers = new List<Socket>();
        try
        {
            Server server = loop.RunUntilComplete(() => ServeAsync(() => new EchoProtocol()));
            int port = PortOf(server);
            blackHole.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), port));
            blackHole.Listen(0);
            FillAcceptQueue(blackHole.LocalEndPoint!, fillers);

            var recorder = new Recorder(loop);
            IPAddress[] addresses = [IPAddress.Parse("127.0.0.2"), IPAddress.Loopback];
            double started = loop.Time();
            double connectedAt = 0;
            loop.RunUntilComplete(() => LoopTask.TimeoutAsync(Patience, async () =>
            {
                (ITransport transport, _) = await Network.CreateConnectionAsync(
                    () => recorder, addresses, port, new ConnectionOptions { HappyEyeballsDelay = TimeSpan.FromMilliseconds(100) });
                connectedAt = loop.Time();
                Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), transport.GetExtraInfo("peername"));
                transport.Close();
                await recorder.WaitLostAsync();
                server.Close();
                await server.WaitClosedAsync();
            }));

            // allow-real-time: connected through the second address, long before an OS connect timeout (over a minute).
            Assert.InRange(connectedAt - started, 0.1, Patience.TotalSeconds);
            Assert.Equal(0, loop.IoRegistrationCount); // the losing attempt was cancelled and unregistered
        }
        finally
        {
            foreach (Socket filler in fillers)
            {
                filler.Dispose();
            }
        }
    }

    /// <summary>Connects to <paramref name="target"/> until a connect does not complete: its SYN is being dropped.</summary>
    private static void FillAcceptQueue(EndPoint target, List<Socket> fillers)
    {
        for (int i = 0; i < 16; i++)
        {
            var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            fillers.Add(filler);
            try
            {
                filler.Connect(target);
            }
            catch (SocketException pending) when (pending.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
            }

            // allow-real-time: a completed loopback handshake takes microseconds; 500 ms without one means the SYN was dropped.
            if (!filler.Poll(TimeSpan.FromMilliseconds(500), SelectMode.SelectWrite))
            {
                return;
            }
        }

        Assert.Fail("The full accept queue never dropped a SYN (does this kernel abort on overflow?).");
    }
}

[Collection("net")]
public sealed class AdoptedSocketEpollTests : AdoptedSocketTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class AdoptedSocketPortableTests : AdoptedSocketTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}

/// <summary>asyncio's _interleave_addrinfos order (a pure function: no loop, no backend).</summary>
public sealed class InterleaveTests
{
    private static readonly IPEndPoint V4a = new(IPAddress.Parse("192.0.2.1"), 1);
    private static readonly IPEndPoint V4b = new(IPAddress.Parse("192.0.2.2"), 1);
    private static readonly IPEndPoint V6a = new(IPAddress.Parse("2001:db8::1"), 1);
    private static readonly IPEndPoint V6b = new(IPAddress.Parse("2001:db8::2"), 1);
    private static readonly IPEndPoint V6c = new(IPAddress.Parse("2001:db8::3"), 1);

    [Fact]
    public void Interleave_One_AlternatesFamiliesFirstFamilyFirst()
    {
        Assert.Equal([V6a, V4a, V6b, V4b, V6c], Network.Interleave([V6a, V6b, V6c, V4a, V4b], 1));
    }

    [Fact]
    public void Interleave_Two_TakesOneMoreOfTheFirstFamilyFirst()
    {
        Assert.Equal([V6a, V6b, V4a, V6c, V4b], Network.Interleave([V6a, V6b, V6c, V4a, V4b], 2));
    }
}
