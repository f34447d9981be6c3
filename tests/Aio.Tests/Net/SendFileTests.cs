using System.Net.Sockets;
using System.Security.Cryptography;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>loop.sock_sendfile: sendfile(2) on Linux, the read-and-send fallback, and SendfileNotAvailableError.</summary>
public abstract class SendFileTests : NetTestBase
{
    [Fact]
    public void SockSendFile_64MiBFile_EveryByteArrives()
    {
        const int size = 64 * 1024 * 1024;
        string path = Path.GetTempFileName();
        try
        {
            byte[] block = new byte[1024 * 1024];
            using (FileStream writer = File.OpenWrite(path))
            {
                for (int i = 0; i < size / block.Length; i++)
                {
                    Random.Shared.NextBytes(block);
                    writer.Write(block);
                }
            }

            byte[] expected;
            using (FileStream reader = File.OpenRead(path))
            {
                expected = SHA256.HashData(reader);
            }

            Run(async loop =>
            {
                (Socket client, Socket server) = await PairAsync(loop);
                using (client)
                using (server)
                using (FileStream file = File.OpenRead(path))
                {
                    Task<(long Count, byte[] Hash)> receiving = HashOnWorker(server);
                    long sent = await loop.SockSendFileAsync(client, file);
                    client.Shutdown(SocketShutdown.Send);
                    (long count, byte[] hash) = await loop.WrapTask(receiving);
                    Assert.Equal(size, sent);
                    Assert.Equal(size, count);
                    Assert.Equal(expected, hash);
                    Assert.Equal(size, file.Position);
                }
            });
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SockSendFile_FallbackFromNonFileStream_SendsTheRange()
    {
        Run(async loop =>
        {
            byte[] content = new byte[1_000_000];
            Random.Shared.NextBytes(content);
            (Socket client, Socket server) = await PairAsync(loop);
            using (client)
            using (server)
            {
                var file = new MemoryStream(content);
                Task<(long Count, byte[] Hash)> receiving = HashOnWorker(server);
                long sent = await loop.SockSendFileAsync(client, file, offset: 1000, count: 500_000);
                client.Shutdown(SocketShutdown.Send);
                (long count, byte[] hash) = await loop.WrapTask(receiving);
                Assert.Equal(500_000, sent);
                Assert.Equal(500_000, count);
                Assert.Equal(SHA256.HashData(content.AsSpan(1000, 500_000)), hash);
                Assert.Equal(501_000, file.Position);
            }
        });
    }

    [Fact]
    public void SockSendFile_NoFallbackAndNotAFile_ThrowsSendfileNotAvailable()
    {
        Run(async loop =>
        {
            (Socket client, Socket server) = await PairAsync(loop);
            using (client)
            using (server)
            {
                var file = new MemoryStream(new byte[100]);
                await Assert.ThrowsAsync<SendfileNotAvailableError>(async () => await loop.SockSendFileAsync(client, file, fallback: false));
                Assert.Equal(0, file.Position);
            }
        });
    }

    [Fact]
    public void SockSendFile_BadArguments_Throw()
    {
        Run(async loop =>
        {
            (Socket client, Socket server) = await PairAsync(loop);
            using (client)
            using (server)
            {
                var file = new MemoryStream(new byte[100]);
                Assert.Throws<ArgumentOutOfRangeException>(() => loop.SockSendFileAsync(client, file, offset: -1));
                Assert.Throws<ArgumentOutOfRangeException>(() => loop.SockSendFileAsync(client, file, count: 0));
                client.Blocking = true;
                Assert.Throws<ArgumentException>(() => loop.SockSendFileAsync(client, file));
                client.Blocking = false;
            }
        });
    }

    private static async Task<(Socket Client, Socket Server)> PairAsync(EventLoop loop)
    {
        using Socket listener = RawListener();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
        await loop.SockConnectAsync(client, listener.LocalEndPoint!);
        Socket server = listener.Accept();
        return (client, server);
    }

    /// <summary>Reads <paramref name="socket"/> to its end on a worker: the byte count and their SHA-256.</summary>
    internal static Task<(long Count, byte[] Hash)> HashOnWorker(Socket socket) => Task.Run(() =>
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[256 * 1024];
        long total = 0;
        int n;
        while ((n = socket.Receive(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        return (total, hash.GetHashAndReset());
    });
}

[Collection("net")]
public sealed class SendFileEpollTests : SendFileTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class SendFilePortableTests : SendFileTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
