// The reads here take whatever has arrived, on purpose.
#pragma warning disable CA2022

using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Aio.Net;
using static Aio.Tests.Sync.SyncTestSteps;

namespace Aio.Tests.Net;

/// <summary>
/// Streams.AsStream and Streams.AsDuplexPipe: .NET stream consumers (System.IO.StreamReader and
/// StreamWriter, SslStream, System.IO.Pipelines) over an Aio connection, on the loop thread.
/// </summary>
public abstract class StreamAdapterTests : NetTestBase
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>A server whose handler hands its reader and writer to the test.</summary>
    private static async Task<(Server Server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> Peer)> ServePeerAsync(EventLoop loop)
    {
        var peer = new Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)>(loop);
        Server server = await Streams.StartServerAsync(
            (reader, writer) =>
            {
                peer.SetResult((reader, writer));
                return Task.CompletedTask;
            },
            "127.0.0.1",
            0);
        return (server, peer);
    }

    [Fact]
    public void AsStream_TextReaderAndWriter_LinesGoBothWays()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                (AsyncStreamReader serverReader, AsyncStreamWriter serverWriter) = await peer;
                LoopTask echo = loop.CreateTask(async () =>
                {
                    await using Stream stream = Streams.AsStream(serverReader, serverWriter);
                    using var text = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
                    await using var output = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
                    while (await text.ReadLineAsync() is { } line)
                    {
                        await output.WriteLineAsync(line.ToUpperInvariant());
                        await output.FlushAsync();
                    }
                });

                await using Stream client = Streams.AsStream(reader, writer);
                using var lines = new StreamReader(client, Encoding.UTF8, leaveOpen: true);
                for (int i = 0; i < 50; i++)
                {
                    await client.WriteAsync(Encoding.UTF8.GetBytes($"héllo {i}\n"));
                    Assert.Equal($"HÉLLO {i}", await lines.ReadLineAsync());
                }

                writer.WriteEof();
                await echo;
                Assert.Null(await lines.ReadLineAsync());
                client.Dispose();
                await writer.WaitClosedAsync();
            }
        });
    }

    [Fact]
    public void AsStream_SslStreamBothSides_HandshakeAndDataOverTheLoop()
    {
        using X509Certificate2 certificate = SelfSignedCertificate();
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                (AsyncStreamReader serverReader, AsyncStreamWriter serverWriter) = await peer;
                LoopTask serving = loop.CreateTask(async () =>
                {
                    await using var tls = new SslStream(Streams.AsStream(serverReader, serverWriter));
                    await tls.AuthenticateAsServerAsync(certificate);
                    var buffer = new byte[1 << 16];
                    int n;
                    while ((n = await tls.ReadAsync(buffer)) > 0)
                    {
                        await tls.WriteAsync(buffer.AsMemory(0, n));
                    }

                    await tls.ShutdownAsync();
                });

                await using var client = new SslStream(Streams.AsStream(reader, writer), leaveInnerStreamOpen: false, (_, presented, _, _) => presented?.GetCertHashString() == certificate.Thumbprint);
                await client.AuthenticateAsClientAsync("localhost");
                byte[] message = new byte[300_000];
                new Random(5).NextBytes(message);
                LoopTask sending = loop.CreateTask(async () =>
                {
                    await client.WriteAsync(message);
                    await client.ShutdownAsync();
                });
                var received = new MemoryStream();
                await client.CopyToAsync(received);
                await sending;
                await serving;
                Assert.Equal(message, received.ToArray());
            }
        });
    }

    [Fact]
    public void AsDuplexPipe_ReadAndWriteThroughPipes()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                (AsyncStreamReader serverReader, AsyncStreamWriter serverWriter) = await peer;
                LoopTask<long> counting = loop.CreateTask(async () =>
                {
                    IDuplexPipe pipe = Streams.AsDuplexPipe(serverReader, serverWriter);
                    long total = 0;
                    while (true)
                    {
                        ReadResult result = await pipe.Input.ReadAsync();
                        total += result.Buffer.Length;
                        pipe.Input.AdvanceTo(result.Buffer.End);
                        if (result.IsCompleted)
                        {
                            break;
                        }
                    }

                    await pipe.Output.WriteAsync(B($"{total} bytes"));
                    await pipe.Input.CompleteAsync();
                    await pipe.Output.CompleteAsync();
                    Assert.False(serverWriter.IsClosing);          // completing the pipes leaves the connection open
                    serverWriter.Close();
                    return total;
                });

                IDuplexPipe client = Streams.AsDuplexPipe(reader, writer);
                for (int i = 0; i < 100; i++)
                {
                    Memory<byte> memory = client.Output.GetMemory(1000);
                    memory.Span[..1000].Fill((byte)i);
                    client.Output.Advance(1000);
                    await client.Output.FlushAsync();
                }

                writer.WriteEof();
                Assert.Equal(100_000, await counting);
                ReadResult answer;
                do
                {
                    answer = await client.Input.ReadAsync();
                    client.Input.AdvanceTo(answer.Buffer.Start, answer.Buffer.End);
                }
                while (!answer.IsCompleted);

                Assert.Equal("100000 bytes", Encoding.ASCII.GetString(answer.Buffer.ToArray()));
                writer.Close();
                await writer.WaitClosedAsync();
            }
        });
    }

    [Fact]
    public void AsStream_SynchronousCallsAndSeeking_NotSupported()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                Stream stream = Streams.AsStream(reader, writer);
                Assert.True(stream.CanRead);
                Assert.True(stream.CanWrite);
                Assert.False(stream.CanSeek);
                NotSupportedException error = Assert.Throws<NotSupportedException>(() => stream.Read(new byte[1], 0, 1));
                Assert.Contains("block the event loop", error.Message, StringComparison.Ordinal);
                Assert.Throws<NotSupportedException>(() => stream.Write(new byte[1], 0, 1));
                Assert.Throws<NotSupportedException>(() => stream.ReadByte());
                Assert.Throws<NotSupportedException>(() => stream.Length);
                Assert.Throws<NotSupportedException>(() => stream.Position = 0);
                Assert.Throws<NotSupportedException>(() => stream.Seek(0, SeekOrigin.Begin));
                stream.Flush();                                     // nothing to do

                Stream readOnly = Streams.AsStream(reader, null);
                Assert.False(readOnly.CanWrite);
                await Assert.ThrowsAsync<NotSupportedException>(async () => await readOnly.WriteAsync(new byte[1]));
                await readOnly.FlushAsync();
                Stream writeOnly = Streams.AsStream(null, writer);
                await Assert.ThrowsAsync<NotSupportedException>(async () => await writeOnly.ReadAsync(new byte[1]));
                Assert.Throws<ArgumentException>(() => Streams.AsStream(null, null));

                Stream kept = Streams.AsStream(reader, writer, leaveOpen: true);
                await kept.DisposeAsync();
                Assert.False(writer.IsClosing);
                Assert.False(kept.CanRead);
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await kept.ReadAsync(new byte[1]));

                stream.Dispose();
                Assert.True(writer.IsClosing);
                await writer.WaitClosedAsync();
                (AsyncStreamReader _, AsyncStreamWriter serverWriter) = await peer;
                serverWriter.Close();
            }
        });
    }

    [Fact]
    public void AsStream_ReadCancelledByToken_ThrowsWithTheTokenAndTheStreamStaysUsable()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                (AsyncStreamReader _, AsyncStreamWriter serverWriter) = await peer;
                await using Stream stream = Streams.AsStream(reader, writer);
                using var source = new CancellationTokenSource();
                var buffer = new byte[10];
                ValueTask<int> pending = stream.ReadAsync(buffer, source.Token);
                Assert.False(pending.IsCompleted);
                await source.CancelAsync();
                OperationCanceledException error = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
                Assert.Equal(source.Token, error.CancellationToken);
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stream.ReadAsync(buffer, source.Token));

                serverWriter.Write(B("data"));
                Assert.Equal(4, await stream.ReadAsync(buffer));
                Assert.Equal(B("data"), buffer[..4]);

                // The task's own cancellation reaches a pending read too.
                LoopTask<int> reading = loop.CreateTask(async () => await stream.ReadAsync(buffer));
                await Settle();
                reading.Cancel();
                await Assert.ThrowsAsync<CancelledError>(async () => await reading);
                serverWriter.Close();
                Assert.Equal(0, await stream.ReadAsync(buffer));
            }
        });
    }

    [Fact]
    public void AsStream_PeerReset_ReadThrowsIOException()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                (AsyncStreamReader _, AsyncStreamWriter serverWriter) = await peer;
                await using Stream stream = Streams.AsStream(reader, writer);
                ValueTask<int> pending = stream.ReadAsync(new byte[10]);
                ((Socket)serverWriter.GetExtraInfo("socket")!).LingerState = new LingerOption(true, 0);
                serverWriter.Transport.Abort();
                IOException error = await Assert.ThrowsAsync<IOException>(async () => await pending);
                Assert.IsType<SocketException>(error.InnerException);
                await Assert.ThrowsAsync<IOException>(async () => await stream.ReadAsync(new byte[10]));
                await Assert.ThrowsAsync<IOException>(async () => await stream.FlushAsync());
            }
        });
    }

    [Fact]
    public void AsStream_UsedFromAnotherThread_Throws()
    {
        Run(async loop =>
        {
            (Server server, Future<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> peer) = await ServePeerAsync(loop);
            await using (server)
            {
                (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
                Stream stream = Streams.AsStream(reader, writer);
                Exception? error = await loop.WrapTask(Task.Run(async () =>
                {
                    try
                    {
                        await stream.WriteAsync(new byte[1]);
                        return null;
                    }
                    catch (InvalidOperationException exception)
                    {
                        return (Exception)exception;
                    }
                }));
                Assert.IsType<InvalidOperationException>(error);
                stream.Dispose();
                await writer.WaitClosedAsync();
                (AsyncStreamReader _, AsyncStreamWriter serverWriter) = await peer;
                serverWriter.Close();
            }
        });
    }

    private static X509Certificate2 SelfSignedCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using X509Certificate2 ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), null);
    }
}

[Collection("net")]
public sealed class StreamAdapterEpollTests : StreamAdapterTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class StreamAdapterPortableTests : StreamAdapterTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
