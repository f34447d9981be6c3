using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// Socket-level awaits [loop.sock_recv, sock_recv_into, sock_sendall, sock_accept, sock_connect,
/// sock_recvfrom, sock_recvfrom_into, sock_sendto]: results, errors, the non-blocking rule, and that
/// cancelling a pending one (task or token) leaves nothing registered with the loop.
/// </summary>
public abstract class SocketAwaitTests : NetTestBase
{
    private static readonly byte[] Hello = Encoding.ASCII.GetBytes("hello");

    [Fact]
    public void AcceptConnectSendAllRecv_Tcp_BytesArriveBothWays()
    {
        Run(async loop =>
        {
            using Socket listener = NonBlockingListener();
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            Future<(Socket Connection, EndPoint? RemoteEndPoint)> accepting = loop.SockAcceptAsync(listener);
            await loop.SockConnectAsync(client, listener.LocalEndPoint!);
            (Socket connection, EndPoint? remote) = await accepting;
            using (connection)
            {
                Assert.False(connection.Blocking);
                Assert.Equal(client.LocalEndPoint, remote);

                byte[] big = new byte[1_000_000];
                Random.Shared.NextBytes(big);
                Future sending = loop.SockSendAllAsync(client, big);
                var received = new List<byte>();
                while (received.Count < big.Length)
                {
                    byte[] chunk = await loop.SockRecvAsync(connection, 65536);
                    Assert.NotEmpty(chunk);
                    received.AddRange(chunk);
                }

                await sending;
                Assert.Equal(big, received);

                await loop.SockSendAllAsync(connection, Hello);
                byte[] buffer = new byte[16];
                int count = await loop.SockRecvIntoAsync(client, buffer);
                Assert.Equal(Hello, buffer[..count]);

                client.Shutdown(SocketShutdown.Send);
                Assert.Empty(await loop.SockRecvAsync(connection, 10)); // EOF
                Assert.Equal(0, await loop.SockRecvIntoAsync(connection, buffer));
            }
        });
    }

    [Fact]
    public void SendToRecvFrom_Udp_DatagramsAndSendersArrive()
    {
        Run(async loop =>
        {
            using Socket a = NonBlockingUdp();
            using Socket b = NonBlockingUdp();
            int sent = await loop.SockSendToAsync(a, Hello, b.LocalEndPoint!);
            Assert.Equal(Hello.Length, sent);
            (byte[] data, EndPoint from) = await loop.SockRecvFromAsync(b, 100);
            Assert.Equal(Hello, data);
            Assert.Equal(a.LocalEndPoint, from);

            Future<(int Count, EndPoint RemoteEndPoint)> receiving = loop.SockRecvFromIntoAsync(a, new byte[100]);
            Assert.False(receiving.IsDone); // nothing there yet: it waits on the reader
            await loop.SockSendToAsync(b, Encoding.ASCII.GetBytes("back"), from);
            (int count, EndPoint sender) = await receiving;
            Assert.Equal(4, count);
            Assert.Equal(b.LocalEndPoint, sender);
        });
    }

    [Fact]
    public void SockConnect_NobodyListening_FailsWithConnectionRefused()
    {
        Run(async loop =>
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await loop.SockConnectAsync(client, new IPEndPoint(IPAddress.Loopback, ClosedPort())));
            Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
            Assert.Equal(0, loop.IoRegistrationCount);
        });
    }

    [Fact]
    public void SockConnect_DnsEndPoint_ResolvesThenConnects()
    {
        Run(async loop =>
        {
            using Socket listener = NonBlockingListener();
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            await loop.SockConnectAsync(client, new DnsEndPoint("localhost", port));
            (Socket connection, _) = await loop.SockAcceptAsync(listener);
            connection.Dispose();
            Assert.Equal(port, ((IPEndPoint)client.RemoteEndPoint!).Port);
        });
    }

    [Fact]
    public void EveryAwait_BlockingSocket_ArgumentExceptionSaysSetBlockingFalse()
    {
        Run(loop =>
        {
            using var blocking = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var somewhere = new IPEndPoint(IPAddress.Loopback, 9);
            Action[] calls =
            [
                () => loop.SockRecvAsync(blocking, 1),
                () => loop.SockRecvIntoAsync(blocking, new byte[1]),
                () => loop.SockSendAllAsync(blocking, Hello),
                () => loop.SockAcceptAsync(blocking),
                () => loop.SockConnectAsync(blocking, somewhere),
                () => loop.SockRecvFromAsync(blocking, 1),
                () => loop.SockRecvFromIntoAsync(blocking, new byte[1]),
                () => loop.SockSendToAsync(blocking, Hello, somewhere),
            ];
            foreach (Action call in calls)
            {
                ArgumentException error = Assert.Throws<ArgumentException>(call);
                Assert.Contains("non-blocking", error.Message, StringComparison.Ordinal);
            }

            Assert.Equal(0, loop.IoRegistrationCount);
            return Task.CompletedTask;
        });
    }

    [Fact]
    public void BadArguments_Rejected()
    {
        Run(loop =>
        {
            using Socket udp = NonBlockingUdp();
            Assert.Throws<ArgumentOutOfRangeException>(() => loop.SockRecvAsync(udp, 0));
            Assert.Throws<ArgumentException>(() => loop.SockRecvIntoAsync(udp, Memory<byte>.Empty));
            Assert.Throws<ArgumentException>(() => loop.SockSendToAsync(udp, Hello, new DnsEndPoint("localhost", 9)));
            return Task.CompletedTask;
        });
    }

    [Fact]
    public void SecondPendingReceive_SameSocket_Throws()
    {
        Run(async loop =>
        {
            using Socket udp = NonBlockingUdp();
            Future<byte[]> first = loop.SockRecvAsync(udp, 10);
            Assert.Throws<InvalidOperationException>(() => loop.SockRecvFromAsync(udp, 10));
            first.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await first);
            Assert.Equal(0, loop.IoRegistrationCount);
        });
    }

    [Fact]
    public void TaskCancel_PendingRecv_CancelledAndNothingRegistered()
    {
        Run(async loop =>
        {
            using Socket udp = NonBlockingUdp();
            LoopTask<byte[]> receiving = loop.CreateTask(async () => await loop.SockRecvAsync(udp, 10));
            await LoopTask.Yield();
            Assert.Equal(1, loop.IoRegistrationCount);

            receiving.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await receiving);
            Assert.Equal(0, loop.IoRegistrationCount);

            // The socket is usable again: a new receive gets the next datagram.
            using Socket sender = NonBlockingUdp();
            await loop.SockSendToAsync(sender, Hello, udp.LocalEndPoint!);
            Assert.Equal(Hello, await loop.SockRecvAsync(udp, 10));
        });
    }

    [Fact]
    public void TokenCancel_EveryPendingKind_CancelledAndNothingRegistered()
    {
        Run(async loop =>
        {
            using Socket listener = NonBlockingListener();
            using Socket udp = NonBlockingUdp();
            using var tokenSource = new CancellationTokenSource();
            CancellationToken token = tokenSource.Token;
            Future[] pending =
            [
                loop.SockAcceptAsync(listener, token),
                loop.SockRecvAsync(udp, 10, token),
            ];
            Assert.Equal(2, loop.IoRegistrationCount);

            tokenSource.Cancel(); // on the loop thread: cancels at once
            foreach (Future future in pending)
            {
                CancelledError error = await Assert.ThrowsAsync<CancelledError>(async () => await future);
                Assert.Contains("CancellationToken", error.Message, StringComparison.Ordinal);
            }

            Assert.Equal(0, loop.IoRegistrationCount);
        });
    }

    [Fact]
    public void TokenCancel_FromAnotherThread_CancelsPendingRecvFromInto()
    {
        Run(async loop =>
        {
            using Socket udp = NonBlockingUdp();
            using var tokenSource = new CancellationTokenSource();
            Future<(int Count, EndPoint RemoteEndPoint)> receiving = loop.SockRecvFromIntoAsync(udp, new byte[10], tokenSource.Token);
            await loop.WrapTask(Task.Run(tokenSource.Cancel));
            await Assert.ThrowsAsync<CancelledError>(async () => await receiving);
            Assert.Equal(0, loop.IoRegistrationCount);
        });
    }

    [Fact]
    public void AlreadyCancelledToken_ReturnsCancelledFutureWithoutTrying()
    {
        Run(async loop =>
        {
            using Socket udp = NonBlockingUdp();
            using Socket sender = NonBlockingUdp();
            sender.SendTo(Hello, udp.LocalEndPoint!);
            Future<byte[]> receiving = loop.SockRecvAsync(udp, 10, new CancellationToken(canceled: true));
            Assert.True(receiving.IsCancelled);
            Assert.Equal(0, loop.IoRegistrationCount);
            Assert.Equal(Hello, await loop.SockRecvAsync(udp, 10)); // the datagram is still there
        });
    }

    [Fact]
    public void TaskCancel_PendingSendAllAndConnect_NothingRegistered()
    {
        Run(async loop =>
        {
            using Socket listener = NonBlockingListener();
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            await loop.SockConnectAsync(client, listener.LocalEndPoint!);
            (Socket connection, _) = await loop.SockAcceptAsync(listener);
            using (connection)
            {
                // Nobody reads: a large send fills both kernel buffers and waits for writability.
                LoopTask sending = loop.CreateTask(async () => await loop.SockSendAllAsync(client, new byte[32 * 1024 * 1024]));
                await LoopTask.Yield();
                Assert.False(sending.IsDone);
                Assert.Equal(1, loop.IoRegistrationCount);
                sending.Cancel();
                await Assert.ThrowsAsync<CancelledError>(async () => await sending);
                Assert.Equal(0, loop.IoRegistrationCount);
            }
        });
    }

    [Fact]
    public void SocketAwaits_OffTheLoopThread_Throw()
    {
        Run(async loop =>
        {
            using Socket udp = NonBlockingUdp();
            InvalidOperationException error = await loop.WrapTask(Task.Run(() => Assert.Throws<InvalidOperationException>(() => loop.SockRecvAsync(udp, 10))));
            Assert.Contains("loop's thread", error.Message, StringComparison.Ordinal);
        });
    }

    private static Socket NonBlockingListener()
    {
        Socket listener = RawListener();
        listener.Blocking = false;
        return listener;
    }

    private static Socket NonBlockingUdp()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Blocking = false;
        return socket;
    }
}

[Collection("net")]
public sealed class SocketAwaitEpollTests : SocketAwaitTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class SocketAwaitPortableTests : SocketAwaitTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
