using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>loop.sendfile(transport, ...): sendfile(2) on a plain transport, the fallback under TLS, ordering, flow control, errors.</summary>
public abstract class TransportSendFileTests : NetTestBase
{
    private const int BigSize = 64 * 1024 * 1024;

    [Fact]
    public void TransportSendFile_64MiBOverPlainTcp_EveryByteArrivesBetweenTheWrites()
    {
        WithRandomFile(BigSize, (path, content) => Run(async loop =>
        {
            using Socket listener = RawListener();
            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port);
            using Socket server = listener.Accept();
            Task<(long Count, byte[] Hash)> receiving = SendFileTests.HashOnWorker(server);
            using FileStream file = File.OpenRead(path);

            transport.Write(B("before"));
            long sent = await loop.SendFileAsync(transport, file);
            transport.Write(B("after"));
            transport.Close();
            (long count, byte[] hash) = await loop.WrapTask(receiving);

            Assert.Equal(BigSize, sent);
            Assert.Equal(BigSize, file.Position);
            Assert.Equal(BigSize + 11, count);
            Assert.Equal(Hash(B("before"), content, B("after")), hash);
            await client.WaitLostAsync();
        }));
    }

    [Fact]
    public void TransportSendFile_64MiBOverTls_FallbackDeliversEveryByte()
    {
        WithRandomFile(BigSize, (path, content) => Run(async loop =>
        {
            HashingProtocol? peer = null;
            await using Server server = await ServeAsync(() => peer = new HashingProtocol(loop), new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            using FileStream file = File.OpenRead(path);

            transport.Write(B("before"));
            long sent = await loop.SendFileAsync(transport, file);
            Assert.Equal(0, transport.WriteBufferSize); // the fallback waits for the flush
            transport.Write(B("after"));
            transport.Close();
            await peer!.Ended;

            Assert.Equal(BigSize, sent);
            Assert.Equal(BigSize, file.Position);
            Assert.Equal(BigSize + 11, peer.Count);
            Assert.Equal(Hash(B("before"), content, B("after")), peer.Hash());
            await client.WaitLostAsync();
        }));
    }

    [Fact]
    public void TransportSendFile_TlsWithoutFallback_FailsWithSendfileNotAvailableAndStaysUsable()
    {
        WithRandomFile(1000, (path, content) => Run(async loop =>
        {
            HashingProtocol? peer = null;
            await using Server server = await ServeAsync(() => peer = new HashingProtocol(loop), new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            using FileStream file = File.OpenRead(path);

            await Assert.ThrowsAsync<SendfileNotAvailableError>(async () => await loop.SendFileAsync(transport, file, fallback: false));
            Assert.Equal(0, file.Position);
            transport.Write(B("still open"));
            transport.Close();
            await peer!.Ended;
            Assert.Equal(10, peer.Count);
            Assert.Equal(1000, content.Length);
            await client.WaitLostAsync();
        }));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TransportSendFile_OffsetAndCount_SendTheRangeAndLeaveThePositionAfterIt(bool memoryStream)
    {
        WithRandomFile(1_000_000, (path, content) => Run(async loop =>
        {
            (ITransport transport, Recorder client, Socket server) = await PlainPairAsync(loop);
            using (server)
            using (Stream file = memoryStream ? new MemoryStream(content) : File.OpenRead(path))
            {
                Task<(long Count, byte[] Hash)> receiving = SendFileTests.HashOnWorker(server);
                long first = await loop.SendFileAsync(transport, file, offset: 1000, count: 500_000);
                Assert.Equal(501_000, file.Position);
                long rest = await loop.SendFileAsync(transport, file, offset: 900_000, count: 5_000_000); // past the end: to the end
                Assert.Equal(1_000_000, file.Position);
                transport.Close();
                (long count, byte[] hash) = await loop.WrapTask(receiving);

                Assert.Equal(500_000, first);
                Assert.Equal(100_000, rest);
                Assert.Equal(600_000, count);
                Assert.Equal(Hash(content.AsSpan(1000, 500_000).ToArray(), content.AsSpan(900_000).ToArray()), hash);
                await client.WaitLostAsync();
            }
        }));
    }

    [Fact]
    public void TransportSendFile_WriteWhileSending_ThrowsAndTheWritesAroundItKeepTheirOrder()
    {
        // More than loopback buffers hold, and the peer reads only after the checks: the sendfile is still running.
        WithRandomFile(BigSize / 2, (path, content) => Run(async loop =>
        {
            (ITransport transport, Recorder client, Socket server) = await PlainPairAsync(loop);
            using (server)
            using (FileStream file = File.OpenRead(path))
            {
                transport.Write(B("before"));
                LoopTask<long> sending = loop.SendFileAsync(transport, file);
                Assert.False(sending.IsDone);
                var refused = Assert.Throws<InvalidOperationException>(() => transport.Write(B("in between")));
                Assert.Contains("sendfile is in progress", refused.Message, StringComparison.Ordinal);
                Assert.Throws<InvalidOperationException>(transport.WriteEof);
                Assert.Throws<InvalidOperationException>(() => loop.SendFileAsync(transport, file));
                Assert.False(transport.IsReading);
                Task<(long Count, byte[] Hash)> receiving = SendFileTests.HashOnWorker(server);
                Assert.Equal(BigSize / 2, await sending);
                Assert.True(transport.IsReading);
                transport.Write(B("after"));
                transport.WriteEof();
                (long count, byte[] hash) = await loop.WrapTask(receiving);

                Assert.Equal((BigSize / 2) + 11, count);
                Assert.Equal(Hash(B("before"), content, B("after")), hash);
                transport.Close();
                await client.WaitLostAsync();
            }
        }));
    }

    [Fact]
    public void TransportSendFile_FallbackWithAPeerNotReading_KeepsTheBufferNearTheHighMark()
    {
        const int high = 64 * 1024;
        byte[] content = new byte[BigSize / 2];
        Random.Shared.NextBytes(content);
        Run(async loop =>
        {
            (ITransport transport, Recorder client, Socket server) = await PlainPairAsync(loop);
            using (server)
            {
                transport.SetWriteBufferLimits(high);
                var file = new MemoryStream(content); // not a FileStream: the fallback
                LoopTask<long> sending = loop.SendFileAsync(transport, file);
                await client.WaitUntilAsync(r => r.Events.Contains("pause"));
                for (int i = 0; i < 5; i++)
                {
                    await loop.WrapTask(loop.RunInExecutor(() => 0)); // rounds in which an unbounded fallback would read and write on
                }

                Assert.False(sending.IsDone);
                Assert.InRange(transport.WriteBufferSize, 1, high + (256 * 1024));
                Task<(long Count, byte[] Hash)> receiving = SendFileTests.HashOnWorker(server);
                Assert.Equal(content.Length, await sending);
                transport.Close();
                (long count, byte[] hash) = await loop.WrapTask(receiving);
                Assert.Equal(content.Length, count);
                Assert.Equal(SHA256.HashData(content), hash);
                await client.WaitLostAsync();
            }
        });
    }

    [Fact]
    public void TransportSendFile_Cancelled_StopsAndLeavesTheTransportUsable()
    {
        string path = Path.GetTempFileName();
        try
        {
            using (FileStream sparse = File.OpenWrite(path))
            {
                sparse.SetLength(BigSize); // more than loopback buffers hold while the peer does not read
            }

            Run(async loop =>
            {
                (ITransport transport, Recorder client, Socket server) = await PlainPairAsync(loop);
                using (server)
                using (FileStream file = File.OpenRead(path))
                using (var cancel = new CancellationTokenSource())
                {
                    LoopTask<long> sending = loop.SendFileAsync(transport, file, cancellationToken: cancel.Token);
                    await LoopTask.Yield();
                    cancel.Cancel();
                    await Assert.ThrowsAsync<CancelledError>(async () => await sending);

                    Assert.InRange(file.Position, 1, BigSize - 1);
                    transport.Write(B("usable")); // no longer refused
                    transport.Abort();
                    await client.WaitLostAsync();
                }
            });
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TransportSendFile_ClosingTransport_ThrowsTransportIsClosing()
    {
        Run(async loop =>
        {
            (ITransport transport, Recorder client, Socket server) = await PlainPairAsync(loop);
            using (server)
            {
                transport.Close();
                var error = Assert.Throws<InvalidOperationException>(() => loop.SendFileAsync(transport, new MemoryStream(new byte[10])));
                Assert.StartsWith("Transport is closing", error.Message, StringComparison.Ordinal);
                await client.WaitLostAsync();
            }
        });
    }

    [Fact]
    public void TransportSendFile_BadArguments_Throw()
    {
        Run(async loop =>
        {
            (ITransport transport, Recorder client, Socket server) = await PlainPairAsync(loop);
            using (server)
            {
                var file = new MemoryStream(new byte[100]);
                Assert.Throws<ArgumentNullException>(() => loop.SendFileAsync(null!, file));
                Assert.Throws<ArgumentNullException>(() => loop.SendFileAsync(transport, null!));
                Assert.Throws<ArgumentOutOfRangeException>(() => loop.SendFileAsync(transport, file, offset: -1));
                Assert.Throws<ArgumentOutOfRangeException>(() => loop.SendFileAsync(transport, file, count: 0));
                using (var writeOnly = new FileStream(Path.GetTempFileName(), FileMode.Open, FileAccess.Write, FileShare.None, 4096, FileOptions.DeleteOnClose))
                {
                    Assert.Throws<ArgumentException>(() => loop.SendFileAsync(transport, writeOnly));
                }

                transport.Write(B("x")); // nothing was left in progress
                transport.Close();
                await client.WaitLostAsync();
            }
        });
    }

    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static byte[] Hash(params byte[][] parts)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (byte[] part in parts)
        {
            hash.AppendData(part);
        }

        return hash.GetHashAndReset();
    }

    private static void WithRandomFile(int size, Action<string, byte[]> body)
    {
        string path = Path.GetTempFileName();
        try
        {
            byte[] content = new byte[size];
            Random.Shared.NextBytes(content);
            File.WriteAllBytes(path, content);
            body(path, content);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task<(ITransport Transport, Recorder Client, Socket Server)> PlainPairAsync(EventLoop loop)
    {
        using Socket listener = RawListener();
        var client = new Recorder(loop);
        (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port);
        return (transport, client, listener.Accept());
    }

    /// <summary>Hashes what arrives; <see cref="Ended"/> completes at ConnectionLost.</summary>
    private sealed class HashingProtocol(EventLoop loop) : Protocol
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public long Count { get; private set; }

        public Future<bool> Ended { get; } = loop.CreateFuture<bool>();

        public byte[] Hash() => _hash.GetHashAndReset();

        public override void DataReceived(ReadOnlySpan<byte> data)
        {
            _hash.AppendData(data);
            Count += data.Length;
        }

        public override void ConnectionLost(Exception? exception) => Ended.TrySetResult(true);
    }
}

[Collection("net")]
public sealed class TransportSendFileEpollTests : TransportSendFileTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class TransportSendFilePortableTests : TransportSendFileTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
