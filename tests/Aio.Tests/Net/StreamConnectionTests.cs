using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// Stream pairs over real connections [asyncio.open_connection, asyncio.start_server]: echo,
/// half-close, the client-connected callback's failures, connection errors, extra info, and the
/// reader pausing the transport.
/// </summary>
public abstract class StreamConnectionTests : NetTestBase
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static string S(byte[] bytes) => Encoding.ASCII.GetString(bytes);

    [Fact]
    public void Echo_SeedExample_MessageComesBackAndBothSidesClose()
    {
        Run(async loop =>
        {
            var log = new List<string>();
            var handled = new Future<bool>(loop);
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    byte[] data = await reader.ReadExactlyAsync(12);
                    var peer = (IPEndPoint)writer.GetExtraInfo("peername")!;
                    log.Add($"received {S(data)} from {peer.Address}");
                    writer.Write(data);
                    await writer.DrainAsync();
                    writer.Close();
                    await writer.WaitClosedAsync();
                    handled.SetResult(true);
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
            writer.Write(B("Hello World!"));
            Assert.Equal("Hello World!", S(await reader.ReadExactlyAsync(12)));
            Assert.Empty(await reader.ReadAsync(100));      // the server closed
            Assert.True(reader.AtEof);
            writer.Close();
            Assert.True(writer.IsClosing);
            await writer.WaitClosedAsync();
            await handled;
            Assert.Equal(["received Hello World! from 127.0.0.1"], log);
        });
    }

    [Fact]
    public void Echo_ManyLinesBothWays_EveryLineComesBackInOrder()
    {
        Run(async loop =>
        {
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    await foreach (byte[] line in reader.ReadLinesAsync())
                    {
                        writer.Write(line);
                        await writer.DrainAsync();
                    }

                    writer.Close();
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server), limit: 128);
            LoopTask<List<string>> lines = loop.CreateTask(async () =>
            {
                var got = new List<string>();
                await foreach (byte[] line in reader.ReadLinesAsync())
                {
                    got.Add(S(line));
                }

                return got;
            });
            string[] sent = [.. Enumerable.Range(0, 2000).Select(i => $"line {i} {new string('x', i % 100)}\n")];
            foreach (string line in sent)
            {
                writer.Write(B(line));
                await writer.DrainAsync();
            }

            Assert.True(writer.CanWriteEof);
            writer.WriteEof();
            Assert.Equal(sent, await lines);
            writer.Close();
            await writer.WaitClosedAsync();
        });
    }

    [Fact]
    public void Echo_ReadIntoMemory_EveryByteComesBackAndEofReadsZero()
    {
        Run(async loop =>
        {
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    var buffer = new byte[64 * 1024];
                    int count;
                    while ((count = await reader.ReadAsync(buffer)) > 0)
                    {
                        writer.Write(buffer.AsSpan(0, count));
                        await writer.DrainAsync();
                    }

                    writer.Close();
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
            byte[] sent = [.. Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7))];
            LoopTask<byte[]> echoed = loop.CreateTask(async () =>
            {
                var got = new MemoryStream();
                var buffer = new byte[1000];
                int count;
                while ((count = await reader.ReadAsync(buffer)) > 0)
                {
                    got.Write(buffer, 0, count);
                }

                return got.ToArray();
            });
            for (int offset = 0; offset < sent.Length; offset += 10_000)
            {
                writer.Write(sent.AsSpan(offset, 10_000));
                await writer.DrainAsync();
            }

            writer.WriteEof();
            Assert.Equal(sent, await echoed);
            Assert.True(reader.AtEof);
            writer.Close();
            await writer.WaitClosedAsync();
        });
    }

    [Fact]
    public void WriteEof_ClientHalfCloses_ServerReadsToEofAndStillAnswers()
    {
        Run(async loop =>
        {
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    byte[] request = await reader.ReadAsync();      // to EOF
                    writer.Write(B($"got {request.Length} bytes: "));
                    writer.Write(request);
                    await writer.DrainAsync();
                    writer.Close();
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
            writer.WriteLines(B("hel"), B("lo"));
            writer.WriteEof();
            Assert.Throws<InvalidOperationException>(() => writer.Write(B("late")));
            Assert.Equal("got 5 bytes: hello", S(await reader.ReadAsync()));
            Assert.True(reader.AtEof);
            Assert.False(writer.IsClosing);                         // EOF both ways, yet nothing closes by itself (as asyncio)
            writer.Close();
            await writer.WaitClosedAsync();
        });
    }

    [Fact]
    public void WriteEof_ServerHalfCloses_ClientReadsEofAndStillAnswers()
    {
        Run(async loop =>
        {
            var answer = new Future<string>(loop);
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    writer.Write(B("question"));
                    writer.WriteEof();
                    answer.SetResult(S(await reader.ReadAsync()));
                    writer.Close();
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
            Assert.Equal("question", S(await reader.ReadAsync()));
            Assert.True(reader.AtEof);
            Assert.False(writer.IsClosing);                         // EOF from the peer keeps our write side open
            writer.Write(B("answer"));
            writer.WriteEof();
            Assert.Equal("answer", await answer);
            writer.Close();
            await writer.WaitClosedAsync();
        });
    }

    [Fact]
    public void ClientConnected_Throws_ReportedToTheHandlerAndConnectionClosed()
    {
        Run(async loop =>
        {
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    await reader.ReadExactlyAsync(1);
                    throw new InvalidDataException("bad request");
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
            writer.Write(B("x"));
            Assert.Empty(await reader.ReadAsync());                 // closed by the server
            writer.Close();
            await writer.WaitClosedAsync();
        });

        ExceptionContext report = Assert.Single(TakeErrors());
        Assert.StartsWith("Unhandled exception in client_connected_cb", report.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidDataException>(report.Exception);
        Assert.IsAssignableFrom<ILoopTask>(report.Future);
    }

    [Fact]
    public void ClientConnected_Cancelled_ConnectionClosedAndNothingReported()
    {
        Run(async loop =>
        {
            var started = new Future<ILoopTask>(loop);
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    started.SetResult(LoopTask.Current!);
                    await reader.ReadAsync();
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
            ILoopTask handler = await started;
            handler.Cancel();
            Assert.Empty(await reader.ReadAsync());
            Assert.True(handler.IsCancelled);
            writer.Close();
            await writer.WaitClosedAsync();
        });
    }

    [Fact]
    public void OpenConnectionAsync_NobodyListening_FailsWithConnectionRefused()
    {
        Run(async loop =>
        {
            SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await Streams.OpenConnectionAsync("127.0.0.1", ClosedPort()));
            Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        });
    }

    [Fact]
    public void OpenConnectionAsync_BadArguments_ThrowAtOnce()
    {
        Run(async loop =>
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Streams.OpenConnectionAsync("127.0.0.1", 80, limit: 0));
            Assert.Throws<ArgumentOutOfRangeException>(() => Streams.OpenConnectionAsync("127.0.0.1", 70000));
            Assert.Throws<ArgumentOutOfRangeException>(() => Streams.StartServerAsync((_, _) => Task.CompletedTask, "127.0.0.1", 0, limit: -1));
            Assert.Throws<ArgumentNullException>(() => Streams.StartServerAsync(null!, "127.0.0.1", 0));
            await LoopTask.Yield();
        });
        Assert.Throws<InvalidOperationException>(() => Streams.OpenConnectionAsync("127.0.0.1", 80));
    }

    [Fact]
    public void OpenConnectionAsync_CancelledAtOnce_EndsCancelledAndLeavesNothingOpen()
    {
        Run(async loop =>
        {
            await using Server server = await Streams.StartServerAsync((_, writer) =>
            {
                writer.Close();
                return Task.CompletedTask;
            }, "127.0.0.1", 0);
            LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> opening = Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
            opening.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await opening);
        });
    }

    [Fact]
    public void GetExtraInfo_PeerAndSocketNames_AndDefaultForUnknown()
    {
        Run(async loop =>
        {
            var serverSide = new Future<(EndPoint Peer, EndPoint Local)>(loop);
            await using Server server = await Streams.StartServerAsync(
                (reader, writer) =>
                {
                    serverSide.SetResult(((EndPoint)writer.GetExtraInfo("peername")!, (EndPoint)writer.GetExtraInfo("sockname")!));
                    writer.Close();
                    return Task.CompletedTask;
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
            (EndPoint peer, EndPoint local) = await serverSide;
            Assert.Equal(writer.GetExtraInfo("sockname"), peer);
            Assert.Equal(writer.GetExtraInfo("peername"), local);
            Assert.IsType<Socket>(writer.GetExtraInfo("socket"));
            Assert.Equal("none", writer.GetExtraInfo("no such thing", "none"));
            Assert.Same(reader.Transport, writer.Transport);
            Assert.Empty(await reader.ReadAsync());
            writer.Close();
            await writer.WaitClosedAsync();
        });
    }

    [Fact]
    public void Reader_PeerSendsFarMoreThanTheLimit_TransportPausedBufferBoundedAndAllDataArrives()
    {
        const int Limit = 1024;
        const int Total = 2 * 1024 * 1024;
        Run(async loop =>
        {
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    var block = new byte[64 * 1024];
                    for (int sent = 0; sent < Total; sent += block.Length)
                    {
                        block.AsSpan().Fill((byte)(sent / block.Length));
                        writer.Write(block);
                        await writer.DrainAsync();
                    }

                    writer.Close();
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server), Limit);

            // Not reading: the reader pauses its transport once it holds more than twice its limit.
            while (!reader.IsPaused)
            {
                Assert.True(reader.BufferedCount <= 2 * Limit, $"{reader.BufferedCount} bytes buffered before pausing");
                await LoopTask.Yield();
            }

            Assert.False(((ITransport)writer.Transport).IsReading);
            int paused = reader.BufferedCount;
            for (int i = 0; i < 5; i++)
            {
                await LoopTask.Yield();
            }

            Assert.Equal(paused, reader.BufferedCount);             // nothing more is read while paused

            long received = 0;
            int maxBuffered = 0;
            while (true)
            {
                maxBuffered = Math.Max(maxBuffered, reader.BufferedCount);
                byte[] chunk = await reader.ReadAsync(Limit);
                if (chunk.Length == 0)
                {
                    break;
                }

                for (int j = 0; j < chunk.Length; j++)
                {
                    if (chunk[j] != (byte)((received + j) / (64 * 1024)))
                    {
                        Assert.Fail($"byte {received + j} is {chunk[j]}");
                    }
                }

                received += chunk.Length;
            }

            Assert.Equal(Total, received);
            Assert.True(maxBuffered <= 2 * Limit + 256 * 1024, $"the reader buffered up to {maxBuffered} bytes");
            writer.Close();
            await writer.WaitClosedAsync();
        });
    }
}

[Collection("net")]
public sealed class StreamConnectionEpollTests : StreamConnectionTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class StreamConnectionPortableTests : StreamConnectionTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
