using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// TLS over real loopback connections [ssl= of create_connection/create_server/open_connection/
/// start_server, loop.start_tls]: echo, large transfers with backpressure, certificate checks,
/// handshake and shutdown timeouts, upgrades, misbehaving peers, cancellation.
/// </summary>
public abstract class TlsTests : NetTestBase
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static string S(IEnumerable<byte> bytes) => Encoding.ASCII.GetString([.. bytes]);

    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public void Echo_Streams_MessageComesBackWithTlsDetails()
    {
        Run(async loop =>
        {
            var handled = new Future<bool>(loop);
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    byte[] data = await reader.ReadExactlyAsync(12);
                    writer.Write(data);
                    await writer.DrainAsync();
                    Assert.Empty(await reader.ReadAsync(100)); // the client's close_notify
                    writer.Close();
                    await writer.WaitClosedAsync();
                    handled.SetResult(true);
                },
                "127.0.0.1",
                0,
                options: new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            writer.Write(B("Hello World!"));
            Assert.Equal("Hello World!", S(await reader.ReadExactlyAsync(12)));

            var ssl = Assert.IsType<SslStream>(writer.GetExtraInfo("sslstream"));
            Assert.Same(ssl, writer.GetExtraInfo("ssl_object"));
            Assert.True(ssl.IsAuthenticated && ssl.IsEncrypted);
            var peer = Assert.IsAssignableFrom<X509Certificate>(writer.GetExtraInfo("peercert"));
            Assert.Equal(TlsTestCertificates.Server.GetCertHashString(), peer.GetCertHashString());
            Assert.IsType<TlsCipherSuite>(writer.GetExtraInfo("cipher"));
            Assert.IsType<SslProtocols>(writer.GetExtraInfo("ssl_protocol"));
            Assert.IsType<SslClientAuthenticationOptions>(writer.GetExtraInfo("sslcontext"));
            Assert.Equal(server.Sockets[0].LocalEndPoint, writer.GetExtraInfo("peername"));
            Assert.IsType<Socket>(writer.GetExtraInfo("socket"));
            Assert.False(writer.CanWriteEof);
            Assert.Throws<NotSupportedException>(writer.WriteEof);

            writer.Close();
            await writer.WaitClosedAsync();
            await handled;
        });
    }

    [Fact]
    public void Callbacks_ServerClosesFirst_EofThenLostOnceOnBothSides()
    {
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(
                () =>
                {
                    var recorder = new Recorder(loop) { OnMade = self => { self.Transport!.Write(B("bye")); self.Transport.Close(); } };
                    accepted.Add(recorder);
                    return recorder;
                },
                new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });

            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            Assert.Same(transport, client.Transport);
            await client.WaitLostAsync();
            await accepted.Single().WaitLostAsync();

            Assert.Equal("bye", S(client.Received));
            Assert.Equal(["made", "eof", "lost"], client.Events);
            Assert.Null(client.LostWith);
            Assert.Equal(["made", "lost"], accepted[0].Events);
            Assert.Null(accepted[0].LostWith);
            Assert.True(transport.IsClosing);
            transport.Write(B("ignored"));
        });
    }

    [Fact]
    public void LargeTransfer_BothWaysAtOnce_EveryByteArrivesInOrder()
    {
        const int Size = 6 << 20;
        Run(async loop =>
        {
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    // Echo in chunks, draining after each: the client's writes and reads overlap.
                    while (true)
                    {
                        byte[] chunk = await reader.ReadAsync(64 * 1024);
                        if (chunk.Length == 0)
                        {
                            break;
                        }

                        writer.Write(chunk);
                        await writer.DrainAsync();
                    }

                    writer.Close();
                },
                "127.0.0.1",
                0,
                options: new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            byte[] sent = Pattern(Size, 1);
            LoopTask<byte[]> receiving = loop.CreateTask(() => reader.ReadExactlyAsync(Size).AsFuture().AsTask());
            int maxBuffered = 0;
            for (int offset = 0; offset < Size; offset += 100_000)
            {
                writer.Write(sent.AsSpan(offset, Math.Min(100_000, Size - offset)));
                maxBuffered = Math.Max(maxBuffered, writer.Transport.WriteBufferSize);
                await writer.DrainAsync();
            }

            byte[] received = await receiving;
            Assert.True(received.AsSpan().SequenceEqual(sent), "the echoed bytes differ");
            Assert.True(maxBuffered < 64 * 1024 + 200_000, $"the write buffer grew to {maxBuffered} bytes");
            writer.Close();
            await writer.WaitClosedAsync();
        });
    }

    [Fact]
    public void Backpressure_ServerPausesReading_ClientPausedThenEverythingArrives()
    {
        const int Chunk = 64 * 1024;
        const long Limit = 256L << 20;
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(
                () =>
                {
                    var recorder = new Recorder(loop) { OnMade = self => self.Transport!.PauseReading() };
                    accepted.Add(recorder);
                    return recorder;
                },
                new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });

            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            Recorder peer = accepted.Single();
            await peer.WaitUntilAsync(r => r.Events.Contains("made"));
            Assert.False(peer.Transport!.IsReading);

            // The marks are the layer's (forwarded to the socket transport underneath).
            Assert.Throws<ArgumentOutOfRangeException>(() => transport.SetWriteBufferLimits(high: 10, low: 11));
            transport.SetWriteBufferLimits(high: 128 * 1024);
            Assert.Equal((32 * 1024, 128 * 1024), transport.GetWriteBufferLimits());

            // The server's protocol reads nothing: the kernel buffers fill, then the client's buffer.
            byte[] chunk = Pattern(Chunk, 2);
            long written = 0;
            while (!client.Events.EndsWithPause() && written < Limit)
            {
                transport.Write(chunk);
                written += Chunk;
                if (written % (1 << 20) == 0)
                {
                    await LoopTask.Yield(); // let the sockets move bytes, so the pause is the server's doing
                }
            }

            Assert.Equal("pause", client.Events[^1]);
            Assert.Equal(0, peer.DataCalls);
            Assert.True(transport.WriteBufferSize > 128 * 1024);

            peer.Transport.ResumeReading();
            await peer.WaitForBytesAsync((int)written);
            await client.WaitUntilAsync(r => r.Events[^1] == "resume");
            Assert.Equal(written, peer.Received.Count);
            Assert.True(peer.Received.Take(Chunk).SequenceEqual(chunk));
            Assert.True(transport.WriteBufferSize <= 32 * 1024);

            transport.Close();
            await client.WaitLostAsync();
            await peer.WaitLostAsync();
            Assert.Null(client.LostWith);
        });
    }

    [Fact]
    public void PauseReading_DecryptedDataWaits_DeliveredOnResume()
    {
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(
                () =>
                {
                    var recorder = new TlsEchoRecorder(loop);
                    accepted.Add(recorder);
                    return recorder;
                },
                new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());

            transport.PauseReading();
            Assert.False(transport.IsReading);
            transport.Write(B("ping"));
            await accepted.Single().WaitForBytesAsync(4); // echoed meanwhile
            for (int i = 0; i < 5; i++)
            {
                await LoopTask.Yield();
            }

            Assert.Equal(0, client.DataCalls);
            transport.ResumeReading();
            await client.WaitForBytesAsync(4);
            Assert.Equal("ping", S(client.Received));
            transport.Close();
            await client.WaitLostAsync();
        });
    }

    [Fact]
    public void UntrustedCertificate_RejectedUnlessTheCallbackAccepts()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new EchoProtocol(), new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            int port = PortOf(server);

            // The system does not trust a self-signed certificate.
            await Assert.ThrowsAsync<AuthenticationException>(async () =>
                await Network.CreateConnectionAsync(() => new Recorder(loop), "127.0.0.1", port, new TlsClientOptions()));

            // A custom trust root: trusted, and the name must match (127.0.0.1 is in the certificate) ...
            var trusting = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            trusting.CustomTrustStore.Add(TlsTestCertificates.Server);
            var trusted = new Recorder(loop);
            await Network.CreateConnectionAsync(() => trusted, "127.0.0.1", port, new TlsClientOptions { Authentication = new() { CertificateChainPolicy = trusting } });
            trusted.Transport!.Close();

            // ... so a server name the certificate does not carry is rejected.
            await Assert.ThrowsAsync<AuthenticationException>(async () => await Network.CreateConnectionAsync(
                () => new Recorder(loop), "127.0.0.1", port, new TlsClientOptions { ServerHostname = "example.org", Authentication = new() { CertificateChainPolicy = trusting } }));

            // The callback decides, and sees the name mismatch.
            var seen = new List<SslPolicyErrors>();
            var accepted = new Recorder(loop);
            await Network.CreateConnectionAsync(() => accepted, "127.0.0.1", port, new TlsClientOptions
            {
                ServerHostname = "example.org",
                Authentication = new()
                {
                    RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
                    {
                        seen.Add(errors);
                        return TlsTestCertificates.AcceptOurs(sender, certificate, chain, SslPolicyErrors.None);
                    },
                },
            });
            Assert.True(seen.Single().HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch));
            accepted.Transport!.Write(B("x"));
            await accepted.WaitForBytesAsync(1);
            accepted.Transport.Close();
            await accepted.WaitLostAsync();
            await trusted.WaitLostAsync();

            server.Close();
            await server.WaitClosedAsync();

            // The server saw the rejecting clients break off their handshakes: each is reported, or was
            // just a client that left, depending on whether their alert arrived before their close.
            Assert.All(TakeErrors(), error => Assert.StartsWith("SSL handshake failed", error.Message, StringComparison.Ordinal));
        });
    }

    [Fact]
    public void HandshakeTimeout_ServerNeverAnswers_ConnectFailsWithTimeoutAndClosesEverything()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener(); // accepts in the kernel, never speaks
            var watch = Stopwatch.StartNew();
            var protocol = new Recorder(loop);
            TimeoutException error = await Assert.ThrowsAsync<TimeoutException>(async () => await Network.CreateConnectionAsync(
                () => protocol, "127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port, TlsTestCertificates.TrustingClient(handshakeTimeout: TimeSpan.FromMilliseconds(200))));
            Assert.Contains("SSL handshake is taking longer than 0.2 seconds", error.Message, StringComparison.Ordinal);
            Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(150), $"failed after {watch.Elapsed}");
            Assert.Empty(protocol.Events); // the protocol never saw a connection

            // The client closed its socket: the server side reads the ClientHello, then EOF.
            using Socket peer = listener.Accept();
            Assert.True(await DrainOnWorker(loop, peer) > 0, "the ClientHello never arrived");
        });
    }

    [Fact]
    public void HandshakeTimeout_SilentClient_DroppedReportedAndServerServesOn()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new TlsEchoRecorder(loop), new ServerOptions { Tls = TlsTestCertificates.ServerOptions(handshakeTimeout: TimeSpan.FromMilliseconds(200)) });
            using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await silent.ConnectAsync(IPAddress.Loopback, PortOf(server));

            long got = await DrainOnWorker(loop, silent); // returns when the server drops us
            Assert.Equal(0, got);
            ExceptionContext report = Assert.Single(TakeErrors());
            Assert.StartsWith("SSL handshake timed out", report.Message, StringComparison.Ordinal);
            Assert.IsType<TimeoutException>(report.Exception);

            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            transport.Write(B("still here"));
            await client.WaitForBytesAsync(10);
            transport.Close();
            await client.WaitLostAsync();
        });
    }

    [Fact]
    public void Close_PeerNeverAnswersCloseNotify_LostWithTimeoutWithinShutdownTimeout()
    {
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(
                () =>
                {
                    // Never reads: the client's close_notify is never read, so never answered.
                    var recorder = new Recorder(loop) { OnMade = self => self.Transport!.PauseReading() };
                    accepted.Add(recorder);
                    return recorder;
                },
                new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(
                () => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient(shutdownTimeout: TimeSpan.FromMilliseconds(200)));
            Recorder peer = accepted.Single();
            await peer.WaitUntilAsync(r => r.Events.Contains("made"));

            var watch = Stopwatch.StartNew();
            transport.Close();
            Assert.True(transport.IsClosing);
            await client.WaitLostAsync();
            Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(150), $"lost after {watch.Elapsed}");
            TimeoutException timeout = Assert.IsType<TimeoutException>(client.LostWith);
            Assert.Equal("SSL shutdown timed out", timeout.Message);
            Assert.Equal(1, client.LostCount);

            peer.Transport!.Abort();
            await peer.WaitLostAsync();
        });
    }

    [Fact]
    public void StartTls_UpgradesAnOpenPlainConnection_ThenEchoesEncrypted()
    {
        Run(async loop =>
        {
            var serverSide = new List<StartTlsServer>();
            await using Server server = await ServeAsync(() =>
            {
                var protocol = new StartTlsServer(loop);
                serverSide.Add(protocol);
                return protocol;
            });

            var client = new Recorder(loop);
            (ITransport plain, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server));
            plain.Write(B("STARTTLS\n"));
            await client.WaitUntilAsync(r => S(r.Received) == "OK\n");

            ITransport secure = await Network.StartTlsAsync(plain, client, TlsTestCertificates.TrustingClient());
            Assert.NotSame(plain, secure);
            Assert.IsType<SslStream>(secure.GetExtraInfo("sslstream"));
            Assert.Null(plain.GetExtraInfo("sslstream"));
            await Assert.ThrowsAsync<ArgumentException>(async () => await Network.StartTlsAsync(secure, client, TlsTestCertificates.TrustingClient()));

            secure.Write(B("secret"));
            await client.WaitUntilAsync(r => S(r.Received) == "OK\nsecret");
            StartTlsServer peer = serverSide.Single();
            Assert.Equal("secret", S(peer.Plaintext));
            Assert.IsType<SslStream>(peer.Secure!.GetExtraInfo("sslstream"));

            secure.Close();
            await client.WaitLostAsync();
            await peer.WaitLostAsync();
            Assert.Equal(["made", "eof", "lost"], peer.Events);
            Assert.Equal(["made", "lost"], client.Events); // ConnectionMade once, from the plain transport
            Assert.Null(client.LostWith);
        });
    }

    [Fact]
    public void GarbageInsteadOfClientHello_ReportedConnectionDroppedServerServesOn()
    {
        Run(async loop =>
        {
            var made = 0;
            await using Server server = await ServeAsync(
                () => new TlsEchoRecorder(loop) { OnMade = _ => made++ },
                new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            using var rogue = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await rogue.ConnectAsync(IPAddress.Loopback, PortOf(server));
            rogue.Send(B("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));

            await DrainOnWorker(loop, rogue); // the server hangs up (possibly after a TLS alert)
            ExceptionContext report = Assert.Single(TakeErrors());
            Assert.StartsWith("SSL handshake failed", report.Message, StringComparison.Ordinal);
            Assert.True(server.IsServing);
            Assert.Equal(0, made);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            writer.Write(B("fine"));
            Assert.Equal("fine", S(await reader.ReadExactlyAsync(4)));
            await writer.DisposeAsync();
            Assert.Equal(1, made);
        });
    }

    [Fact]
    public void Cancel_PendingTlsConnect_NothingStaysRegisteredOrOpen()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            LoopTask<(AsyncStreamReader, AsyncStreamWriter)> connecting =
                Streams.OpenConnectionAsync("127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port, TlsTestCertificates.TrustingClient());

            // Wait until the handshake is under way: the ClientHello reaches the listener's side.
            using Socket peer = await loop.WrapTask(listener.AcceptAsync());
            var hello = new byte[5];
            int got = await loop.WrapTask(peer.ReceiveAsync(hello.AsMemory()).AsTask());
            Assert.Equal(22, hello[0]); // a TLS handshake record
            Assert.True(got > 0);
            Assert.False(connecting.IsDone);

            connecting.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await connecting);
            await DrainOnWorker(loop, peer); // returns at EOF (or a reset): the client's socket is closed
        });
    }

    [Fact]
    public void WriterStartTls_BothSidesUpgradeAStreamPair_LinesThenEncrypted()
    {
        Run(async loop =>
        {
            var served = new Future<bool>(loop);
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    Assert.Equal("STARTTLS\n", S(await reader.ReadLineAsync()));
                    writer.Write(B("OK\n"));
                    await writer.StartTlsAsync(TlsTestCertificates.ServerOptions());
                    Assert.IsType<SslStream>(writer.GetExtraInfo("sslstream"));
                    byte[] line = await reader.ReadLineAsync();
                    writer.Write(line);
                    await writer.DrainAsync();
                    Assert.Empty(await reader.ReadAsync()); // close_notify, then EOF: over TLS that closes
                    served.SetResult(true);
                },
                "127.0.0.1",
                0);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", PortOf(server));
            var plain = (ITransport)writer.Transport;
            writer.Write(B("STARTTLS\n"));
            Assert.Equal("OK\n", S(await reader.ReadLineAsync()));
            await writer.StartTlsAsync(TlsTestCertificates.TrustingClient());
            Assert.NotSame(plain, writer.Transport);
            Assert.Same(writer.Transport, reader.Transport);
            Assert.False(writer.CanWriteEof);

            writer.Write(B("encrypted line\n"));
            Assert.Equal("encrypted line\n", S(await reader.ReadLineAsync()));
            await Assert.ThrowsAsync<ArgumentException>(async () => await writer.StartTlsAsync(TlsTestCertificates.TrustingClient()));
            writer.Close();
            await writer.WaitClosedAsync();
            await served;
        });
    }

    [Fact]
    public void Callbacks_RunOnTheLoopThreadWithItsContext()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new TlsEchoRecorder(loop), new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            var wrongPlaces = new List<string>();
            var client = new Recorder(loop);
            void Check(string where)
            {
                if (!ReferenceEquals(SynchronizationContext.Current, loop.SynchronizationContext) || !loop.IsOnLoopThread)
                {
                    wrongPlaces.Add(where);
                }
            }

            client.OnMade = _ => Check("made");
            client.OnData = (_, _) => Check("data");
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            for (int i = 0; i < 20; i++)
            {
                transport.Write(B("0123456789"));
                await client.WaitForBytesAsync(10 * (i + 1));
            }

            transport.Close();
            await client.WaitLostAsync();
            Assert.Empty(wrongPlaces);
            Assert.Equal(200, client.Received.Count);
        });
    }

    [Fact]
    public void BufferedProtocol_OverTls_ReceivesThroughItsSmallBuffer()
    {
        Run(async loop =>
        {
            await using Server server = await ServeAsync(() => new TlsEchoRecorder(loop), new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            var client = new SmallBufferProtocol(loop, bufferSize: 7);
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());
            byte[] message = Pattern(50_000, 3);

            transport.Write(message);
            await client.Done.WaitUntilAsync(_ => client.Received.Count >= message.Length);
            Assert.Equal(message, client.Received);
            Assert.True(client.Updates >= message.Length / 7);
            transport.Close();
            await client.Done.WaitLostAsync();
        });
    }

    [Fact]
    public void Abort_InsideDataReceived_NoMoreDataAndLostOnce()
    {
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(
                () =>
                {
                    var recorder = new Recorder(loop) { OnMade = self => { for (int i = 0; i < 50; i++) { self.Transport!.Write(Pattern(10_000, i)); } } };
                    accepted.Add(recorder);
                    return recorder;
                },
                new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            var client = new Recorder(loop) { OnData = (self, _) => self.Transport!.Abort() };
            (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient());

            await client.WaitLostAsync();
            Assert.Equal(1, client.DataCalls);
            Assert.Equal(["made", "lost"], client.Events);
            Assert.Null(client.LostWith);
            Assert.True(transport.IsClosing);
            await accepted.Single().WaitLostAsync();
        });
    }

    [Fact]
    public void ConnectionMadeThrows_ConnectFailsWithItAndClosesTheConnection()
    {
        Run(async loop =>
        {
            var accepted = new List<Recorder>();
            await using Server server = await ServeAsync(
                () =>
                {
                    var recorder = new Recorder(loop);
                    accepted.Add(recorder);
                    return recorder;
                },
                new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            var client = new Recorder(loop) { OnMade = _ => throw new InvalidOperationException("boom") };
            InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
                await Network.CreateConnectionAsync(() => client, "127.0.0.1", PortOf(server), TlsTestCertificates.TrustingClient()));
            Assert.Equal("boom", error.Message);
            await client.WaitLostAsync();
            Assert.Same(error, client.LostWith);
            await accepted.Single().WaitLostAsync();
        });
    }

    [Fact]
    public void Interop_PlainSslStreamServer_EchoCloseNotifyBothWaysThenReset()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            var peerLog = new List<string>();

            // A blocking .NET SslStream server on a worker thread: echo 5 bytes, read our close_notify, answer it.
            Future<bool> peerDone = loop.WrapTask(Task.Run(() =>
            {
                using Socket socket = listener.Accept();
                using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
                ssl.AuthenticateAsServer(TlsTestCertificates.Server);
                var five = new byte[5];
                ssl.ReadExactly(five);
                ssl.Write(five);
                peerLog.Add($"read after close: {ssl.Read(new byte[10])}");
                ssl.ShutdownAsync().GetAwaiter().GetResult();
                socket.Shutdown(SocketShutdown.Send);
                return true;
            }));

            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(
                () => client, "127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port, TlsTestCertificates.TrustingClient());
            transport.Write(B("hello"));
            await client.WaitForBytesAsync(5);
            Assert.Equal("hello", S(client.Received));
            transport.Close();
            await client.WaitLostAsync();
            await peerDone;
            Assert.Equal(["read after close: 0"], peerLog);
            Assert.Null(client.LostWith);
            Assert.Equal(["made", "lost"], client.Events);
        });
    }

    [Fact]
    public void PeerReset_OpenConnection_LostWithSocketErrorAndNothingReported()
    {
        Run(async loop =>
        {
            using Socket listener = RawListener();
            Future<bool> peerDone = loop.WrapTask(Task.Run(() =>
            {
                Socket socket = listener.Accept();
                using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
                ssl.AuthenticateAsServer(TlsTestCertificates.Server);
                var one = new byte[1];
                ssl.ReadExactly(one);
                socket.LingerState = new LingerOption(true, 0); // close with RST
                socket.Close();
                return true;
            }));

            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateConnectionAsync(
                () => client, "127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port, TlsTestCertificates.TrustingClient());
            transport.Write(B("x"));
            await peerDone;
            await client.WaitLostAsync();
            Assert.Equal(1, client.LostCount);
            Assert.True(client.LostWith is SocketException or IOException, $"lost with {client.LostWith}");
        });
    }

    [Fact]
    public void Options_BadValues_ClearErrors()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TlsClientOptions { HandshakeTimeout = TimeSpan.Zero });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TlsClientOptions { ShutdownTimeout = TimeSpan.FromSeconds(-1) });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TlsServerOptions(TlsTestCertificates.Server) { HandshakeTimeout = TimeSpan.Zero });
        Assert.Equal(Timeout.InfiniteTimeSpan, new TlsClientOptions { HandshakeTimeout = Timeout.InfiniteTimeSpan }.HandshakeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), new TlsClientOptions().HandshakeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), new TlsServerOptions(TlsTestCertificates.Server).ShutdownTimeout);

        using X509Certificate2 publicOnly = X509CertificateLoader.LoadCertificate(TlsTestCertificates.Server.RawData);
        ArgumentException noKey = Assert.Throws<ArgumentException>(() => new TlsServerOptions(publicOnly));
        Assert.Contains("private key", noKey.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new TlsServerOptions(new SslServerAuthenticationOptions()));
    }

    [Fact]
    public void ClientOptions_TargetHost_CopiedWithEverySettingAndOriginalUntouched()
    {
        string[] settable = [.. typeof(SslClientAuthenticationOptions).GetProperties().Where(p => p.CanWrite).Select(p => p.Name).Order()];
        Assert.Equal(settable, TlsDefaults.CopiedClientProperties.Order());

        var authentication = new SslClientAuthenticationOptions { EnabledSslProtocols = SslProtocols.Tls13, ApplicationProtocols = [SslApplicationProtocol.Http11] };
        var options = new TlsClientOptions { Authentication = authentication };
        SslClientAuthenticationOptions forHost = options.ForHost("example.org");
        Assert.Equal("example.org", forHost.TargetHost);
        Assert.Equal(SslProtocols.Tls13, forHost.EnabledSslProtocols);
        Assert.Same(authentication.ApplicationProtocols, forHost.ApplicationProtocols);
        Assert.Null(authentication.TargetHost);
        Assert.Equal("named", new TlsClientOptions { ServerHostname = "named" }.ForHost("example.org").TargetHost);
        var preset = new SslClientAuthenticationOptions { TargetHost = "preset" };
        Assert.Same(preset, new TlsClientOptions { Authentication = preset }.ForHost("example.org"));
    }

    /// <summary>A buffered protocol with a tiny buffer.</summary>
    private sealed class SmallBufferProtocol(EventLoop loop, int bufferSize) : BufferedProtocol
    {
        private readonly byte[] _buffer = new byte[bufferSize];

        public Recorder Done { get; } = new(loop);

        public List<byte> Received { get; } = [];

        public int Updates { get; private set; }

        public override Memory<byte> GetBuffer(int sizeHint) => _buffer;

        public override void BufferUpdated(int bytes)
        {
            Updates++;
            Received.AddRange(_buffer.AsSpan(0, bytes));
            Done.DataReceived([]);
        }

        public override void ConnectionMade(ITransport transport) => Done.ConnectionMade(transport);

        public override void ConnectionLost(Exception? exception) => Done.ConnectionLost(exception);
    }

    /// <summary>A plain-text server that upgrades to TLS on "STARTTLS\n", then echoes.</summary>
    private sealed class StartTlsServer(EventLoop loop) : Recorder(loop)
    {
        public ITransport? Secure { get; private set; }

        public List<byte> Plaintext { get; } = [];

        public override void DataReceived(ReadOnlySpan<byte> data)
        {
            if (Secure is null && !Upgrading)
            {
                Assert.Equal("STARTTLS\n", Encoding.ASCII.GetString(data));
                Transport!.Write("OK\n"u8);
                Upgrading = true;
                LoopTask<ITransport> upgrade = Network.StartTlsAsync(Transport, this, TlsTestCertificates.ServerOptions());
                upgrade.AddDoneCallback(_ =>
                {
                    Secure = upgrade.Result;
                    Secure.Write(Plaintext.ToArray()); // what arrived before this callback ran (as asyncio, data may come first)
                });
                return;
            }

            Plaintext.AddRange(data);
            Secure?.Write(data);
            Changed();
        }

        private bool Upgrading { get; set; }
    }
}

[Collection("net")]
public sealed class TlsEpollTests : TlsTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class TlsPortableTests : TlsTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
