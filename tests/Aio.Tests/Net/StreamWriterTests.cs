using System.Net.Sockets;
using System.Text;
using Aio.Net;
using static Aio.Tests.Sync.SyncTestSteps;

namespace Aio.Tests.Net;

/// <summary>
/// AsyncStreamWriter [asyncio.StreamWriter] over real connections: drain and backpressure against a
/// slow reader, drain after the connection is lost, close and wait-closed, dispose.
/// </summary>
public abstract class StreamWriterTests : NetTestBase
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>A server whose handler hands its reader and writer to the test.</summary>
    private static async Task<(Server Server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> Peer)> ServePeerAsync(EventLoop loop, int limit = AsyncStreamReader.DefaultLimit)
    {
        var peer = new Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)>(loop);
        Server server = await Streams.StartServerAsync(
            (reader, writer) =>
            {
                peer.SetResult((reader, writer));
                return Task.CompletedTask;
            },
            "127.0.0.1",
            0,
            limit);
        return (server, peer);
    }

    [Fact]
    public void DrainAsync_NothingBuffered_CompletesAtOnceWithASharedFuture()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                writer.Write(B("small"));
                Future first = writer.DrainAsync();
                Assert.True(first.IsCompletedSuccessfully);
                Assert.Same(first, writer.DrainAsync());
                await first;
                (AsyncStreamReader _, AsyncStreamWriter serverWriter) = await peer;
                serverWriter.Close();
                writer.Close();
                await writer.WaitClosedAsync();
            }
        });
    }

    [Fact]
    public void DrainAsync_SlowReader_WaitsAboveTheHighMarkAndMemoryStaysBounded()
    {
        const int Chunk = 64 * 1024;
        const long Total = 48L * 1024 * 1024;
        const int Limit = 16 * 1024;
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop, Limit);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                (AsyncStreamReader serverReader, AsyncStreamWriter serverWriter) = await peer;
                var blocked = new Future<bool>(loop);
                int maxAfterDrain = 0;
                int waits = 0;
                LoopTask writing = loop.CreateTask(async () =>
                {
                    var block = new byte[Chunk];
                    for (long sent = 0; sent < Total; sent += Chunk)
                    {
                        writer.Write(block);
                        Future drain = writer.DrainAsync();
                        if (!drain.IsDone)
                        {
                            waits++;
                            blocked.TrySetResult(true);
                        }

                        await drain;
                        maxAfterDrain = Math.Max(maxAfterDrain, writer.Transport.WriteBufferSize);
                    }

                    writer.WriteEof();
                });

                // The server does not read until the writer had to wait: kernel buffers and the
                // server's reader (paused at twice its limit) are full by then.
                await blocked;
                Assert.False(writing.IsDone);
                Assert.True(serverReader.BufferedCount <= 2 * Limit + 256 * 1024, $"the server's reader holds {serverReader.BufferedCount} bytes");
                Assert.True(writer.Transport.WriteBufferSize <= writer.Transport.GetWriteBufferLimits().High + Chunk);

                long received = 0;
                int maxBuffered = 0;
                while (true)
                {
                    maxBuffered = Math.Max(maxBuffered, serverReader.BufferedCount);
                    byte[] data = await serverReader.ReadAsync(Limit);
                    if (data.Length == 0)
                    {
                        break;
                    }

                    received += data.Length;
                }

                await writing;
                Assert.Equal(Total, received);
                Assert.True(waits > 0);
                Assert.True(maxAfterDrain <= writer.Transport.GetWriteBufferLimits().High, $"{maxAfterDrain} bytes still buffered after a drain");
                Assert.True(maxBuffered <= 2 * Limit + 256 * 1024, $"the server's reader held up to {maxBuffered} bytes");
                serverWriter.Close();
                writer.Close();
                await writer.WaitClosedAsync();
            }
        });
    }

    [Fact]
    public void DrainAsync_AfterTheConnectionClosed_ThrowsConnectionLost()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                writer.Close();
                await writer.WaitClosedAsync();
                SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await writer.DrainAsync());
                Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
                Assert.Equal("Connection lost", error.Message);
                (AsyncStreamReader serverReader, AsyncStreamWriter serverWriter) = await peer;
                Assert.Empty(await serverReader.ReadAsync());
                serverWriter.Close();
            }
        });
    }

    [Fact]
    public void DrainAsync_RightAfterClose_YieldsSoTheLossIsReported()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                writer.Write(B("bye"));
                writer.Close();
                Future drain = writer.DrainAsync();
                Assert.False(drain.IsDone);                 // asyncio's sleep(0) before the check
                await Assert.ThrowsAsync<SocketException>(async () => await drain);
                (AsyncStreamReader serverReader, AsyncStreamWriter serverWriter) = await peer;
                Assert.Equal(B("bye"), await serverReader.ReadAsync());
                serverWriter.Close();
            }
        });
    }

    [Fact]
    public void DrainAsync_PeerReset_ThrowsTheReadersError()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                (AsyncStreamReader _, AsyncStreamWriter serverWriter) = await peer;
                ((Socket)serverWriter.GetExtraInfo("socket")!).LingerState = new LingerOption(true, 0);
                serverWriter.Transport.Abort();            // linger 0: the close sends RST
                SocketException reset = await Assert.ThrowsAsync<SocketException>(async () => await reader.ReadAsync());
                Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
                Assert.Same(reset, reader.Exception);
                Assert.Same(reset, await Assert.ThrowsAsync<SocketException>(async () => await writer.DrainAsync()));
                Assert.Same(reset, await Assert.ThrowsAsync<SocketException>(async () => await writer.WaitClosedAsync()));
                await writer.DisposeAsync();                // does not throw the connection's error
            }
        });
    }

    [Fact]
    public void DrainAsync_PausedWhenThePeerResets_WaitingDrainFailsWithTheReset()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop, limit: 1024);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                (AsyncStreamReader _, AsyncStreamWriter serverWriter) = await peer;
                var block = new byte[256 * 1024];
                Future drain;
                do
                {
                    writer.Write(block);
                    drain = writer.DrainAsync();
                    await LoopTask.Yield();
                }
                while (drain.IsDone);

                ((Socket)serverWriter.GetExtraInfo("socket")!).LingerState = new LingerOption(true, 0);
                serverWriter.Transport.Abort();
                SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await drain);
                Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
                await Assert.ThrowsAsync<SocketException>(async () => await writer.WaitClosedAsync());
            }
        });
    }

    [Fact]
    public void DrainAsync_CancelledWhileWaiting_EndsCancelledAndLaterDrainsWork()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop, limit: 1024);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                (AsyncStreamReader serverReader, AsyncStreamWriter serverWriter) = await peer;
                var block = new byte[256 * 1024];
                long sent = 0;
                LoopTask<bool> draining;
                do
                {
                    writer.Write(block);
                    sent += block.Length;
                    draining = loop.CreateTask(async () =>
                    {
                        await writer.DrainAsync();
                        return true;
                    });
                    await Settle(2);
                }
                while (draining.IsDone);

                draining.Cancel();
                await Assert.ThrowsAsync<CancelledError>(async () => await draining);
                LoopTask<byte[]> all = loop.CreateTask(async () => await serverReader.ReadExactlyAsync(checked((int)sent)));
                await writer.DrainAsync();
                Assert.Equal(sent, (await all).Length);
                serverWriter.Close();
                writer.Close();
                await writer.WaitClosedAsync();
            }
        });
    }

    [Fact]
    public void WaitClosedAsync_SeveralWaiters_CancellingOneLeavesTheOthers()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                LoopTask first = loop.CreateTask(async () => await writer.WaitClosedAsync());
                LoopTask second = loop.CreateTask(async () => await writer.WaitClosedAsync());
                await Settle();
                first.Cancel();
                await Assert.ThrowsAsync<CancelledError>(async () => await first);
                Assert.False(second.IsDone);
                Assert.False(writer.IsClosing);
                writer.Close();
                writer.Close();                             // idempotent
                Assert.True(writer.IsClosing);
                await second;
                Assert.True(writer.WaitClosedAsync().IsDone);
                Assert.True(reader.AtEof);                  // the reader was told the connection ended
                (AsyncStreamReader _, AsyncStreamWriter serverWriter) = await peer;
                serverWriter.Close();
            }
        });
    }

    [Fact]
    public void DisposeAsync_ClosesAndWaits()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                await using (writer)
                {
                    writer.Write(B("last words"));
                }

                Assert.True(writer.IsClosing);
                Assert.True(writer.WaitClosedAsync().IsDone);
                (AsyncStreamReader serverReader, AsyncStreamWriter serverWriter) = await peer;
                Assert.Equal(B("last words"), await serverReader.ReadAsync());
                await serverWriter.DisposeAsync();
                Assert.Contains("AsyncStreamWriter transport=", writer.ToString(), StringComparison.Ordinal);
            }
        });
    }
}

[Collection("net")]
public sealed class StreamWriterEpollTests : StreamWriterTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class StreamWriterPortableTests : StreamWriterTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
