using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// The socket transport with protocols [asyncio Transport/Protocol]: callback order, echo,
/// half-close, close versus abort, writes after close and after write-EOF, resets, flow control in
/// both directions, buffered protocols, extra info and protocol errors.
/// </summary>
public abstract class TransportTests : NetTestBase
{
    private static readonly byte[] Hello = Encoding.ASCII.GetBytes("hello");

    [Fact]
    public void Echo_ServerAndClient_BytesComeBack()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol());
            Recorder client = await ConnectAsync(loop, PortOf(server));
            byte[] message = new byte[100_000];
            Random.Shared.NextBytes(message);

            client.Transport!.Write(message);
            await client.WaitForBytesAsync(message.Length);

            Assert.Equal(message, client.Received);
            client.Transport.Close();
            await client.WaitLostAsync();
            Assert.Null(client.LostWith);
        });
    }

    [Fact]
    public void Callbacks_PeerWritesAndEnds_MadeDataEofLostOnceInOrder()
    {
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(() =>
            {
                var recorder = new Recorder(loop);
                accepted.Add(recorder);
                return recorder;
            });
            Recorder client = await ConnectAsync(loop, PortOf(server));
            client.Transport!.Write(Hello);
            client.Transport.WriteEof();

            await client.WaitLostAsync();
            Recorder peer = Assert.Single(accepted);
            await peer.WaitLostAsync();
            Assert.Equal(["made", "eof", "lost"], peer.Events);
            Assert.Equal(Hello, peer.Received);
            Assert.Equal(["made", "eof", "lost"], client.Events); // the server closed after EOF, so the client read EOF
            Assert.Equal(1, peer.LostCount);
            Assert.Equal(1, client.LostCount);
            Assert.Null(peer.LostWith);
            Assert.Null(client.LostWith);
        });
    }

    [Fact]
    public void HalfClose_ClientEndsFirst_ServerKeepsWritingAfterEof()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new Recorder(loop)
            {
                KeepOpenOnEof = true,
                OnEof = self =>
                {
                    // The request is complete; the reply still goes out on the open write side.
                    self.Transport!.Write(self.Received.ToArray());
                    self.Transport.Write(Encoding.ASCII.GetBytes(" world"));
                    self.Transport.Close();
                },
            });
            Recorder client = await ConnectAsync(loop, PortOf(server));
            client.Transport!.Write(Hello);
            client.Transport.WriteEof();
            Assert.False(client.Transport.IsClosing);

            await client.WaitLostAsync();
            Assert.Equal("hello world", Encoding.ASCII.GetString([.. client.Received]));
            Assert.Equal(["made", "eof", "lost"], client.Events);
        });
    }

    [Fact]
    public void HalfClose_ServerEndsFirst_ClientKeepsWritingAfterEof()
    {
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(() =>
            {
                var recorder = new Recorder(loop) { OnMade = self => self.Transport!.WriteEof() };
                accepted.Add(recorder);
                return recorder;
            });
            Recorder client = await ConnectAsync(loop, PortOf(server), recorder => recorder.KeepOpenOnEof = true);

            await client.WaitUntilAsync(r => r.Events.Contains("eof"));
            Assert.False(client.Transport!.IsClosing);
            client.Transport.Write(Hello);
            Recorder peer = Assert.Single(accepted);
            await peer.WaitForBytesAsync(Hello.Length);
            Assert.Equal(Hello, peer.Received);
            Assert.Throws<InvalidOperationException>(() => peer.Transport!.Write(Hello));

            client.Transport.Close();
            await peer.WaitLostAsync();
            await client.WaitLostAsync();
            Assert.Equal(["made", "eof", "lost"], peer.Events);
            Assert.Equal(["made", "eof", "lost"], client.Events);
        });
    }

    [Fact]
    public void Close_LargeBufferedWrite_FlushesEverythingThenLost()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            Recorder client = await ConnectAsync(loop, ((IPEndPoint)listener.LocalEndPoint!).Port);
            using Socket peer = listener.Accept();
            byte[] data = new byte[16 << 20];

            client.Transport!.Write(data);
            Assert.True(client.Transport.WriteBufferSize > 0, "the peer does not read yet: most of it must be buffered");
            client.Transport.Close();
            Assert.True(client.Transport.IsClosing);
            Assert.False(client.IsLost);

            long received = await DrainOnWorker(loop, peer);
            await client.WaitLostAsync();
            Assert.Equal(data.Length, received);
            Assert.Null(client.LostWith);
            Assert.Equal(0, client.Transport.WriteBufferSize);
        });
    }

    [Fact]
    public void Abort_LargeBufferedWrite_DropsBufferedDataThenLost()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            Recorder client = await ConnectAsync(loop, ((IPEndPoint)listener.LocalEndPoint!).Port);
            using Socket peer = listener.Accept();
            byte[] data = new byte[16 << 20];

            client.Transport!.Write(data);
            int buffered = client.Transport.WriteBufferSize;
            Assert.True(buffered > 0);
            client.Transport.Abort();
            Assert.Equal(0, client.Transport.WriteBufferSize);
            Assert.True(client.Transport.IsClosing);
            Assert.False(client.IsLost); // ConnectionLost always comes from a later callback

            await client.WaitLostAsync();
            long received = await DrainOnWorker(loop, peer);
            Assert.True(received <= data.Length - buffered, $"{received} bytes arrived; at most {data.Length - buffered} had left the transport");
            Assert.Null(client.LostWith);
            Assert.Equal(["made", "pause", "lost"], client.Events); // 16 MiB is above the high mark; abort does not resume
        });
    }

    [Fact]
    public void Write_AfterClose_IsIgnored()
    {
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(() =>
            {
                var recorder = new Recorder(loop);
                accepted.Add(recorder);
                return recorder;
            });
            Recorder client = await ConnectAsync(loop, PortOf(server));

            client.Transport!.Close();
            for (int i = 0; i < 10; i++)
            {
                client.Transport.Write(Hello); // ignored; a warning is logged once, on the fifth
            }

            Assert.Equal(0, client.Transport.WriteBufferSize);
            await client.WaitLostAsync();
            client.Transport.Write(Hello);
            client.Transport.Close();
            client.Transport.Abort();
            Recorder peer = Assert.Single(accepted);
            await peer.WaitLostAsync();
            Assert.Empty(peer.Received);
            Assert.Equal(1, client.LostCount);
        });
    }

    [Fact]
    public void Write_AfterWriteEof_Throws()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol());
            Recorder client = await ConnectAsync(loop, PortOf(server));

            client.Transport!.WriteEof();
            client.Transport.WriteEof(); // idempotent
            Assert.True(client.Transport.CanWriteEof);
            Assert.Throws<InvalidOperationException>(() => client.Transport.Write(Hello));
            await client.WaitLostAsync(); // the echo server closes on EOF
        });
    }

    [Fact]
    public void PeerReset_DuringWrite_LostWithSocketErrorAndNothingReported()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            Recorder client = await ConnectAsync(loop, ((IPEndPoint)listener.LocalEndPoint!).Port);
            Socket peer = listener.Accept();
            client.Transport!.PauseReading(); // the error must come from the write path
            client.Transport.Write(new byte[16 << 20]);
            Assert.True(client.Transport.WriteBufferSize > 0);

            peer.LingerState = new LingerOption(true, 0);
            peer.Close(); // RST

            await client.WaitLostAsync();
            SocketException error = Assert.IsType<SocketException>(client.LostWith);
            Assert.Contains(error.SocketErrorCode, new[] { SocketError.ConnectionReset, SocketError.Shutdown, SocketError.ConnectionAborted });
            Assert.Equal(0, client.Transport.WriteBufferSize);
            Assert.Equal(1, client.LostCount);
        });
    }

    [Fact]
    public void PeerReset_WhileReading_LostWithConnectionReset()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            Recorder client = await ConnectAsync(loop, ((IPEndPoint)listener.LocalEndPoint!).Port);
            Socket peer = listener.Accept();
            peer.LingerState = new LingerOption(true, 0);
            peer.Close();

            await client.WaitLostAsync();
            SocketException error = Assert.IsType<SocketException>(client.LostWith);
            Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
            Assert.DoesNotContain("eof", client.Events);
        });
    }

    [Fact]
    public void Backpressure_SlowReaderFastWriter_PausesResumesAndStaysBounded()
    {
        const int Chunk = 32 * 1024;
        const int High = 128 * 1024;
        const long Total = 24L << 20;
        Run(async loop =>
        {
            using Socket listener = RawListener();
            long written = 0;
            int maxBuffered = 0;
            void Pump(Recorder self)
            {
                var chunk = new byte[Chunk];
                while (written < Total && !self.Events.EndsWithPause())
                {
                    self.Transport!.Write(chunk);
                    written += Chunk;
                    maxBuffered = Math.Max(maxBuffered, self.Transport.WriteBufferSize);
                }

                if (written >= Total)
                {
                    self.Transport!.Close();
                }
            }

            Recorder client = await ConnectAsync(loop, ((IPEndPoint)listener.LocalEndPoint!).Port, recorder =>
            {
                recorder.OnMade = self =>
                {
                    self.Transport!.SetWriteBufferLimits(high: High);
                    Assert.Equal((High / 4, High), self.Transport.GetWriteBufferLimits());
                    Pump(self);
                };
                recorder.OnResume = Pump;
            });
            using Socket peer = listener.Accept();
            Assert.Equal("pause", client.Events[^1]); // nobody reads yet: the writer stopped at the mark

            long received = await DrainOnWorker(loop, peer, chunk: 4096); // a slow reader: small reads
            await client.WaitLostAsync();

            Assert.Equal(Total, received);
            Assert.True(maxBuffered <= High + Chunk, $"the buffer grew to {maxBuffered} bytes; the protocol stops writing above {High}");
            int pauses = client.Events.Count(e => e == "pause");
            int resumes = client.Events.Count(e => e == "resume");
            // The first pause is certain (nobody reads yet); how many follow depends on how fast the
            // reader drains against the kernel's buffers, which is timing, not a contract.
            Assert.True(pauses >= 1, $"expected the writer to pause at the mark, got {pauses} pauses");
            Assert.InRange(resumes, pauses - 1, pauses);
            Assert.Null(client.LostWith);
        });
    }

    [Fact]
    public void SetWriteBufferLimits_Validation_FollowsAsyncio()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol());
            Recorder client = await ConnectAsync(loop, PortOf(server));
            ITransport transport = client.Transport!;

            Assert.Equal((16 * 1024, 64 * 1024), transport.GetWriteBufferLimits());
            transport.SetWriteBufferLimits(low: 1000);
            Assert.Equal((1000, 4000), transport.GetWriteBufferLimits());
            transport.SetWriteBufferLimits(high: 100);
            Assert.Equal((25, 100), transport.GetWriteBufferLimits());
            transport.SetWriteBufferLimits(high: 0, low: 0);
            Assert.Equal((0, 0), transport.GetWriteBufferLimits());
            Assert.Throws<ArgumentOutOfRangeException>(() => transport.SetWriteBufferLimits(high: 10, low: 11));
            Assert.Throws<ArgumentOutOfRangeException>(() => transport.SetWriteBufferLimits(high: 10, low: -1));
            Assert.Equal((0, 0), transport.GetWriteBufferLimits());
            transport.Close();
            await client.WaitLostAsync();
        });
    }

    [Fact]
    public void PauseReading_DataWaiting_NotDeliveredUntilResumed()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            Recorder client = await ConnectAsync(loop, ((IPEndPoint)listener.LocalEndPoint!).Port, recorder =>
                recorder.OnMade = self => self.Transport!.PauseReading());
            using Socket peer = listener.Accept();
            Assert.False(client.Transport!.IsReading);

            peer.Send(Hello);
            var socket = (Socket)client.Transport.GetExtraInfo("socket")!;
            Assert.True(socket.Poll((int)(Patience.Ticks / 10), SelectMode.SelectRead), "the bytes never arrived");
            for (int i = 0; i < 5; i++)
            {
                await LoopTask.Yield();
            }

            Assert.Equal(0, client.DataCalls);
            client.Transport.PauseReading(); // idempotent
            client.Transport.ResumeReading();
            Assert.True(client.Transport.IsReading);
            await client.WaitForBytesAsync(Hello.Length);
            Assert.Equal(Hello, client.Received);

            client.Transport.Close();
            Assert.False(client.Transport.IsReading);
            client.Transport.ResumeReading(); // no effect once closing
            Assert.False(client.Transport.IsReading);
            await client.WaitLostAsync();
        });
    }

    [Fact]
    public void BufferedProtocol_SmallBuffer_ReceivesIntoItsOwnMemory()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol());
            var client = new Collector(loop, bufferSize: 7);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server));
            byte[] message = Encoding.ASCII.GetBytes("a buffered protocol receives straight into its buffer");

            transport.Write(message);
            await client.Done.WaitUntilAsync(_ => client.Received.Count >= message.Length);

            Assert.Equal(message, client.Received);
            Assert.Equal(SocketTransport.MaxReadSize, client.LastHint);
            Assert.True(client.Updates >= message.Length / 7);
            transport.Close();
            await client.Done.WaitLostAsync();
        });
    }

    [Fact]
    public void GetExtraInfo_Names_SocketAndEndPoints()
    {
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(() =>
            {
                var recorder = new Recorder(loop);
                accepted.Add(recorder);
                return recorder;
            });
            Recorder client = await ConnectAsync(loop, PortOf(server));
            await accepted.Single().WaitUntilAsync(r => r.Events.Contains("made"));
            ITransport mine = client.Transport!;
            ITransport theirs = accepted[0].Transport!;

            Assert.Equal(server.Sockets[0].LocalEndPoint, mine.GetExtraInfo("peername"));
            Assert.Equal(mine.GetExtraInfo("sockname"), theirs.GetExtraInfo("peername"));
            Assert.Equal(theirs.GetExtraInfo("sockname"), mine.GetExtraInfo("peername"));
            Assert.IsType<Socket>(mine.GetExtraInfo("socket"));
            Assert.True(((Socket)mine.GetExtraInfo("socket")!).NoDelay);
            Assert.Null(mine.GetExtraInfo("cipher"));
            mine.Close();
            await accepted[0].WaitLostAsync();
        });
    }

    [Fact]
    public void ProtocolThrows_InDataReceived_ReportedAndConnectionLostWithIt()
    {
        Run(async loop =>
        {
            var boom = new FormatException("bad frame");
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(() =>
            {
                var recorder = new Recorder(loop) { OnData = (_, _) => throw boom };
                accepted.Add(recorder);
                return recorder;
            });
            Recorder client = await ConnectAsync(loop, PortOf(server));
            client.Transport!.Write(Hello);

            await accepted.Single().WaitLostAsync();
            await client.WaitLostAsync();
            Assert.Same(boom, accepted[0].LostWith);
            ExceptionContext report = Assert.Single(TakeErrors());
            Assert.Same(boom, report.Exception);
            Assert.Contains("DataReceived", report.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void ProtocolThrows_InConnectionMade_ConnectFailsWithIt()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol());
            var recorder = new Recorder(loop) { OnMade = _ => throw new InvalidDataException("no") };
            await Assert.ThrowsAsync<InvalidDataException>(async () =>
                await Network.CreateConnectionAsync(() => recorder, "127.0.0.1", PortOf(server)));
            await recorder.WaitLostAsync();
            Assert.IsType<InvalidDataException>(recorder.LostWith);
        });
    }

    /// <summary>A buffered protocol with a deliberately small buffer.</summary>
    private sealed class Collector(EventLoop loop, int bufferSize) : BufferedProtocol
    {
        private readonly byte[] _buffer = new byte[bufferSize];

        public Recorder Done { get; } = new(loop);

        public List<byte> Received { get; } = [];

        public int LastHint { get; private set; }

        public int Updates { get; private set; }

        public override Memory<byte> GetBuffer(int sizeHint)
        {
            LastHint = sizeHint;
            return _buffer;
        }

        public override void BufferUpdated(int bytes)
        {
            Updates++;
            Received.AddRange(_buffer.AsSpan(0, bytes));
            Done.DataReceived([]);
        }

        public override void ConnectionMade(ITransport transport) => Done.ConnectionMade(transport);

        public override void ConnectionLost(Exception? exception) => Done.ConnectionLost(exception);
    }
}

internal static class EventListExtensions
{
    /// <summary>Whether writing is paused now: the last pause/resume event is a pause.</summary>
    public static bool EndsWithPause(this List<string> events)
    {
        for (int i = events.Count - 1; i >= 0; i--)
        {
            if (events[i] is "pause")
            {
                return true;
            }

            if (events[i] is "resume")
            {
                return false;
            }
        }

        return false;
    }
}

[Collection("net")]
public sealed class TransportEpollTests : TransportTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class TransportPortableTests : TransportTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
