using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// Servers [loop.create_server, asyncio.Server] and connections [loop.create_connection]: serving
/// states, close versus wait-closed, serve-forever, clients, addresses and socket options, failing
/// and cancelled connects.
/// </summary>
public abstract class ServerTests : NetTestBase
{
    private static readonly byte[] Ping = Encoding.ASCII.GetBytes("ping");

    [Fact]
    public void Close_WithClients_KeepsThemAndWaitClosedWaitsForThem()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol());
            int port = PortOf(server);
            Recorder client = await ConnectAsync(loop, port);
            Assert.True(server.IsServing);

            server.Close();
            server.Close(); // idempotent
            Assert.False(server.IsServing);
            Assert.Empty(server.Sockets);
            Future closed = server.WaitClosedAsync();
            await LoopTask.Yield();
            Assert.False(closed.IsDone);
            await Assert.ThrowsAsync<SocketException>(async () => await Network.CreateConnectionAsync(() => new Recorder(loop), "127.0.0.1", port));

            client.Transport!.Write(Ping); // the accepted connection still echoes
            await client.WaitForBytesAsync(Ping.Length);
            Assert.Equal(1, server.ClientCount);
            client.Transport.Close();
            await closed;
            Assert.Equal(0, server.ClientCount);
            Assert.True(server.WaitClosedAsync().IsDone); // and stays so
            Assert.Throws<InvalidOperationException>(server.StartServing);
        });
    }

    [Fact]
    public void WaitClosed_ClientsGoneFirst_CompletesOnClose()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol());
            Future closed = server.WaitClosedAsync();
            Recorder client = await ConnectAsync(loop, PortOf(server));
            client.Transport!.Close();
            await client.WaitLostAsync();
            await LoopTask.Yield();
            Assert.False(closed.IsDone); // no clients, but still serving

            server.Close();
            await closed;
        });
    }

    [Fact]
    public void CloseClients_AndAbortClients_EndEveryConnection()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol());
            Recorder[] clients = [await ConnectAsync(loop, PortOf(server)), await ConnectAsync(loop, PortOf(server))];
            foreach (Recorder client in clients)
            {
                client.Transport!.Write(Ping);
                await client.WaitForBytesAsync(Ping.Length);
            }

            server.CloseClients();
            foreach (Recorder client in clients)
            {
                await client.WaitLostAsync();
                Assert.Equal(["made", "eof", "lost"], client.Events);
            }

            Recorder late = await ConnectAsync(loop, PortOf(server));
            late.Transport!.Write(Ping);
            await late.WaitForBytesAsync(Ping.Length);
            server.AbortClients();
            await late.WaitLostAsync();
            await server.DisposeAsync();
            Assert.True(server.WaitClosedAsync().IsDone);
        });
    }

    [Fact]
    public void ServeForever_Cancelled_ClosesServerAndEndsCancelled()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol(), new ServerOptions { StartServing = false });
            Assert.False(server.IsServing);
            int port = PortOf(server);

            LoopTask forever = server.ServeForeverAsync();
            Assert.True(server.IsServing);
            Assert.Throws<InvalidOperationException>(() => server.ServeForeverAsync());
            Recorder client = await ConnectAsync(loop, port);
            client.Transport!.Write(Ping);
            await client.WaitForBytesAsync(Ping.Length);

            forever.Cancel();
            await LoopTask.Yield();
            await LoopTask.Yield();
            Assert.False(server.IsServing);
            Assert.Empty(server.Sockets);
            Assert.False(forever.IsDone); // it waits for the client, as wait_closed does
            client.Transport.Close();
            await Assert.ThrowsAsync<CancelledError>(async () => await forever);
            Assert.True(forever.IsCancelled);
        });
    }

    [Fact]
    public void ServeForever_ServerClosed_EndsCancelled()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol());
            LoopTask forever = server.ServeForeverAsync();
            await LoopTask.Yield();
            server.Close();
            await Assert.ThrowsAsync<CancelledError>(async () => await forever);
            Assert.Throws<InvalidOperationException>(() => server.ServeForeverAsync());
        });
    }

    [Fact]
    public void StartServingFalse_NotListeningUntilStarted()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol(), new ServerOptions { StartServing = false });
            int port = PortOf(server);
            Assert.NotEqual(0, port);
            await Assert.ThrowsAsync<SocketException>(async () => await Network.CreateConnectionAsync(() => new Recorder(loop), "127.0.0.1", port));

            server.StartServing();
            server.StartServing(); // idempotent
            Recorder client = await ConnectAsync(loop, port);
            client.Transport!.Close();
            await server.DisposeAsync();
        });
    }

    [Fact]
    public void AcceptBurst_ManyClientsAtOnce_AllServed()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol(), new ServerOptions { Backlog = 4 });
            var connects = Enumerable.Range(0, 20).Select(_ => loop.CreateTask(() => ConnectAsync(loop, PortOf(server)))).ToList();
            Recorder[] clients = await LoopTask.Gather(connects);
            foreach (Recorder client in clients)
            {
                client.Transport!.Write(Ping);
            }

            foreach (Recorder client in clients)
            {
                await client.WaitForBytesAsync(Ping.Length);
                client.Transport!.Close();
            }

            Assert.Equal(20, clients.Length);
        });
    }

    [Fact]
    public void ProtocolFactoryThrows_ReportedAndServerGoesOn()
    {
        Run(async loop =>
        {
            int calls = 0;
            await using Server server = await ServeAsync(() => ++calls == 1 ? throw new InvalidOperationException("factory") : new EchoProtocol());
            Recorder first = await ConnectAsync(loop, PortOf(server));
            await first.WaitLostAsync(); // the server closed the socket it could not serve
            Recorder second = await ConnectAsync(loop, PortOf(server));
            second.Transport!.Write(Ping);
            await second.WaitForBytesAsync(Ping.Length);
            second.Transport.Close();

            ExceptionContext report = Assert.Single(TakeErrors());
            Assert.Contains("incoming connection", report.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void SeveralHosts_OneSocketPerDistinctAddress()
    {
        Run(async loop =>
        {
            bool ipv6 = Socket.OSSupportsIPv6 && Ipv6LoopbackWorks();
            string[] hosts = ipv6 ? ["127.0.0.1", "::1", "127.0.0.1"] : ["127.0.0.1", "127.0.0.1"];
            await using Server server = await Network.CreateServerAsync(() => new EchoProtocol(), hosts, 0);

            Assert.Equal(ipv6 ? 2 : 1, server.Sockets.Count);
            foreach (Socket socket in server.Sockets)
            {
                var endPoint = (IPEndPoint)socket.LocalEndPoint!;
                Recorder client = await ConnectTo(loop, endPoint);
                client.Transport!.Write(Ping);
                await client.WaitForBytesAsync(Ping.Length);
                client.Transport.Close();
                await client.WaitLostAsync();
            }
        });
    }

    [Fact]
    public void AllInterfaces_NullHost_ListensOnAnyAddress()
    {
        Run(async loop =>
        {
            await using Server server = await Network.CreateServerAsync(() => new EchoProtocol(), null, 0);
            Assert.Contains(server.Sockets, socket => ((IPEndPoint)socket.LocalEndPoint!).Address.Equals(IPAddress.Any));
            Recorder client = await ConnectAsync(loop, ((IPEndPoint)server.Sockets.First(s => s.AddressFamily == AddressFamily.InterNetwork).LocalEndPoint!).Port);
            client.Transport!.Close();
            await client.WaitLostAsync();
        });
    }

    [Fact]
    public void ConnectByName_Localhost_Connects()
    {
        Run(async loop =>
        {
            await using Server server = await Network.CreateServerAsync(() => new EchoProtocol(), "localhost", 0);
            Assert.NotEmpty(server.Sockets);
            var recorder = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => recorder, "localhost", PortOf(server));
            transport.Write(Ping);
            await recorder.WaitForBytesAsync(Ping.Length);
            transport.Close();
        });
    }

    [Aio.Tests.Loop.LinuxFact]
    public void ReuseOptions_SetOnlyWhatWasAsked()
    {
        Run(async loop =>
        {
            await using Server plain = await ServeAsync(() => new EchoProtocol());
            Assert.Equal(1, RawOption(plain.Sockets[0], 2)); // SO_REUSEADDR, asyncio's default on Unix
            Assert.Equal(0, RawOption(plain.Sockets[0], 15)); // no SO_REUSEPORT (.NET's ReuseAddress would add it)
            await Assert.ThrowsAsync<SocketException>(async () =>
                await Network.CreateServerAsync(() => new EchoProtocol(), "127.0.0.1", PortOf(plain)));

            var shared = new ServerOptions { ReusePort = true };
            await using Server first = await ServeAsync(() => new EchoProtocol(), shared);
            await using Server second = await Network.CreateServerAsync(() => new EchoProtocol(), "127.0.0.1", PortOf(first), shared);
            Assert.Equal(1, RawOption(second.Sockets[0], 15));
            Assert.Equal(PortOf(first), PortOf(second));
        });
    }

    [Fact]
    public void Arguments_Invalid_Throw()
    {
        Run(loop =>
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Network.CreateServerAsync(() => new EchoProtocol(), "127.0.0.1", 70000));
            Assert.Throws<ArgumentOutOfRangeException>(() => Network.CreateServerAsync(() => new EchoProtocol(), "127.0.0.1", 0, new ServerOptions { Backlog = 0 }));
            Assert.Throws<ArgumentException>(() => Network.CreateServerAsync(() => new EchoProtocol(), Array.Empty<string>(), 0));
            Assert.Throws<ArgumentException>(() => Network.CreateConnectionAsync(() => new EchoProtocol(), "", 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => Network.CreateConnectionAsync(() => new EchoProtocol(), "127.0.0.1", -1));
            return Task.CompletedTask;
        });
        Assert.Throws<InvalidOperationException>(() => Network.CreateConnectionAsync(() => new EchoProtocol(), "127.0.0.1", 1));
    }

    [Fact]
    public void Connect_NobodyListening_FailsWithConnectionRefused()
    {
        Run(async loop =>
        {
            var error = await Assert.ThrowsAsync<SocketException>(async () =>
                await Network.CreateConnectionAsync(() => new Recorder(loop), "127.0.0.1", ClosedPort()));
            Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
            Assert.Equal(0, loop.IoRegistrationCount);
        });
    }

    [Fact]
    public void Connect_CancelledRightAway_LeavesNothingRegisteredOrOpen()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener(backlog: 16);
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            for (int i = 0; i < 10; i++)
            {
                var recorder = new Recorder(loop);
                LoopTask<(ITransport, Protocol)> connect = Network.CreateConnectionAsync(() => recorder, "127.0.0.1", port);
                Assert.False(connect.IsDone);
                connect.Cancel();
                await Assert.ThrowsAsync<CancelledError>(async () => await connect);
                Assert.True(connect.IsCancelled);
                for (int j = 0; j < 3; j++)
                {
                    await LoopTask.Yield();
                }

                Assert.Equal(0, loop.IoRegistrationCount);
                Assert.True(recorder.Events is [] or ["made", "lost"], string.Join(",", recorder.Events));
            }
        });
    }

    [Fact]
    public void Connect_CancelledWhileTheHandshakeIsPending_LeavesNothingRegisteredOrOpen()
    {
        Run(async loop =>
        {
            // A listener that never accepts, with its queue full: the kernel leaves new handshakes
            // pending, so the connect waits on writer readiness until it is cancelled.
            using Socket listener = RawListener(backlog: 0);
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            LoopTask<(ITransport, Protocol)>? pending = null;
            for (int i = 0; i < 64 && pending is null; i++)
            {
                LoopTask<(ITransport, Protocol)> attempt = Network.CreateConnectionAsync(() => new Recorder(loop), "127.0.0.1", port);
                for (int j = 0; j < 10 && !attempt.IsDone; j++)
                {
                    await LoopTask.Yield();
                }

                if (attempt.IsDone)
                {
                    (ITransport transport, _) = attempt.Result; // the queue had room: try again
                    transport.Abort();
                    continue;
                }

                pending = attempt;
            }

            Assert.NotNull(pending);
            if (Backend == LoopBackend.Epoll)
            {
                Assert.True(loop.IoRegistrationCount >= 1); // portable: the connect is in the socket engine, not registered with the loop
            }
            pending.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await pending);
            for (int i = 0; i < 3; i++)
            {
                await LoopTask.Yield();
            }

            Assert.Equal(0, loop.IoRegistrationCount);
        });
    }

    private static Socket RawListener(int backlog)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(backlog);
        return listener;
    }

    private static async Task<Recorder> ConnectTo(EventLoop loop, IPEndPoint endPoint)
    {
        var recorder = new Recorder(loop);
        await Network.CreateConnectionAsync(() => recorder, endPoint.Address.ToString(), endPoint.Port);
        return recorder;
    }

    private static bool Ipv6LoopbackWorks()
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int RawOption(Socket socket, int name)
    {
        byte[] value = new byte[4];
        socket.GetRawSocketOption(1, name, value);
        return BitConverter.ToInt32(value);
    }
}

[Collection("net")]
public sealed class ServerEpollTests : ServerTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class ServerPortableTests : ServerTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
