using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// A socket a transport owns is the transport's [asyncio's _ensure_fd_no_transport]: the loop's
/// reader/writer calls and the Sock*Async operations on it raise "File descriptor N is used by
/// transport", and the transport keeps working afterwards. The loop keeps the record, so every
/// backend enforces it.
/// </summary>
public abstract class TransportOwnershipTests : NetTestBase
{
    private static readonly byte[] Hello = Encoding.ASCII.GetBytes("hello");

    [Fact]
    public void ReaderAndWriterCalls_OnStreamTransportSocket_ThrowUsedByTransportAndTransportKeepsWorking()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol());
            Recorder client = await ConnectAsync(loop, PortOf(server));
            var socket = (Socket)client.Transport!.GetExtraInfo("socket")!;
            string expected = $"File descriptor {(int)socket.Handle} is used by transport";

            AssertUsedByTransport(expected, () => loop.AddReader(socket, () => { }));
            AssertUsedByTransport(expected, () => loop.AddWriter(socket, () => { }));
            AssertUsedByTransport(expected, () => loop.RemoveReader(socket));
            AssertUsedByTransport(expected, () => loop.RemoveWriter(socket));
            AssertUsedByTransport(expected, () => loop.AddReader(socket.SafeHandle, () => { }));
            AssertUsedByTransport(expected, () => loop.RemoveReader(socket.SafeHandle));

            client.Transport.Write(Hello);
            await client.WaitForBytesAsync(Hello.Length);
            Assert.Equal(Hello, client.Received);
            client.Transport.Write(Hello);
            await client.WaitForBytesAsync(2 * Hello.Length);

            client.Transport.Close();
            await client.WaitLostAsync();
            Assert.Null(client.LostWith);
        });
    }

    [Fact]
    public void SockOperations_OnTransportWithReadingPaused_ThrowUsedByTransportAndDataStillArrives()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol());
            Recorder client = await ConnectAsync(loop, PortOf(server));
            var socket = (Socket)client.Transport!.GetExtraInfo("socket")!;
            string expected = $"File descriptor {(int)socket.Handle} is used by transport";
            client.Transport.PauseReading();

            AssertUsedByTransport(expected, () => loop.SockRecvAsync(socket, 100));
            AssertUsedByTransport(expected, () => loop.SockRecvIntoAsync(socket, new byte[100]));
            AssertUsedByTransport(expected, () => loop.SockSendAllAsync(socket, Hello));
            Assert.False(loop.IsWatching(socket, read: true), "a refused receive must install nothing");
            Assert.False(loop.IsWatching(socket, read: false), "a refused send must install nothing");

            client.Transport.Write(Hello);
            client.Transport.ResumeReading();
            await client.WaitForBytesAsync(Hello.Length);
            Assert.Equal(Hello, client.Received);

            client.Transport.Close();
            await client.WaitLostAsync();
        });
    }

    [Fact]
    public void ReaderCalls_OnDatagramTransportSocket_ThrowUsedByTransportAndDatagramsStillFlow()
    {
        Run(async loop =>
        {
            (IDatagramTransport server, _) = await Network.CreateDatagramEndpointAsync(() => new DatagramEcho(), local: new IPEndPoint(IPAddress.Loopback, 0));
            var serverAddress = (IPEndPoint)server.GetExtraInfo("sockname")!;
            var client = new DatagramRecorder(loop);
            (IDatagramTransport transport, _) = await Network.CreateDatagramEndpointAsync(() => client, remote: serverAddress);
            var socket = (Socket)transport.GetExtraInfo("socket")!;
            string expected = $"File descriptor {(int)socket.Handle} is used by transport";

            AssertUsedByTransport(expected, () => loop.AddReader(socket, () => { }));
            AssertUsedByTransport(expected, () => loop.RemoveReader(socket));
            AssertUsedByTransport(expected, () => loop.SockRecvFromAsync(socket, 100));

            transport.SendTo(Hello);
            await client.WaitUntilAsync(r => r.Received.Count == 1);
            Assert.Equal(Hello, client.Received[0].Data);

            transport.Close();
            server.Close();
            await client.WaitUntilAsync(r => r.IsLost);
        });
    }

    [Fact]
    public void ClosedTransports_ReleaseTheirSockets_LoopOwnsNothingAfterwards()
    {
        EventLoop? used = null;
        Run(async loop =>
        {
            used = loop;
            await using Server server = await ServeAsync(() => new EchoProtocol());
            Recorder client = await ConnectAsync(loop, PortOf(server));
            client.Transport!.Write(Hello);
            await client.WaitForBytesAsync(Hello.Length);
            Assert.Equal(2, loop.OwnedSocketCount); // the client's transport and the server's

            client.Transport.Close();
            await client.WaitLostAsync();
            while (loop.OwnedSocketCount > 0)
            {
                await LoopTask.Yield(); // the server's side sees EOF and closes a few iterations later
            }
        });

        Assert.Equal(0, used!.OwnedSocketCount);
    }

    private static void AssertUsedByTransport(string expected, Func<object?> call)
    {
        var error = Assert.Throws<InvalidOperationException>(call);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static void AssertUsedByTransport(string expected, Action call)
    {
        var error = Assert.Throws<InvalidOperationException>(call);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}

[Collection("net")]
public sealed class TransportOwnershipEpollTests : TransportOwnershipTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class TransportOwnershipPortableTests : TransportOwnershipTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
