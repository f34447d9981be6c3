using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// The server's last handshake flight and its first application write, forced into one loop
/// callback: a TLS 1.3 client sends its Finished and its first line back to back, so the readiness
/// callback that completes the server's handshake (its session tickets are written then) also
/// delivers the line, and the application echoes it from inside that callback. The echo must arrive.
/// (The "TLS under load" reports of issue 14 came from openssl s_client closing on end of input
/// before a slow server answered: CPython's asyncio server shows the same "Connection lost" then.)
/// </summary>
public abstract class TlsFirstFlightTests : NetTestBase
{
    // Skipped: this is the unexplained "TLS under load" failure of issue 14, reproduced. Run right
    // after the TlsEpollTests class in one process (`--filter "FullyQualifiedName~TlsFirstFlight|FullyQualifiedName~TlsEpollTests"`),
    // it fails in about 7 runs of 10 on either backend: the server's DrainAsync of the echo throws
    // SocketException 104 (connection reset) while the client is still blocked in Read, waiting for
    // the echo (TLS resumption off changes nothing). Alone it passes. The bug is open in issue 14.
    [Fact(Skip = "Reproduces issue 14's TLS first-write reset (see the comment above); un-skip with the fix.")]
    public void Echo_ClientLineRidesWithItsFinished_EchoWrittenInTheHandshakeCallbackArrives()
    {
        Run(async loop =>
        {
            var served = new Future<bool>(loop);
            await using Server server = await Streams.StartServerAsync(
                async (reader, writer) =>
                {
                    byte[] line = await reader.ReadLineAsync();
                    writer.Write(line); // the first application write, right after the handshake completed
                    await writer.DrainAsync();
                    writer.Close();
                    await writer.WaitClosedAsync();
                    served.TrySetResult(true);
                },
                "127.0.0.1",
                0,
                options: new ServerOptions { Tls = TlsTestCertificates.ServerOptions() });
            int port = PortOf(server);

            // A thread of its own, not the thread pool: the full suite keeps the pool busy, and a
            // client waiting for a pool thread would fail this test for a reason it does not test. The
            // completion's continuations run inline on the client thread (a post to the loop): no pool hop.
            var replied = new TaskCompletionSource<string>();
            var client = new Thread(() =>
            {
                try
                {
                    replied.SetResult(Exchange(port));
                }
                catch (Exception error)
                {
                    replied.SetException(error);
                }
            })
            { IsBackground = true, Name = "TLS first-flight client" };
            client.Start();
            Future<string> reply = loop.WrapTask(replied.Task);

            Assert.Equal("hello\n", await reply);
            await served;
            client.Join();
        });
    }

    /// <summary>The blocking TLS 1.3 client: handshake, one line right behind its Finished, the echo back.</summary>
    private static string Exchange(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 30_000 };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        ssl.AuthenticateAsClient(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = SslProtocols.Tls13,
            RemoteCertificateValidationCallback = TlsTestCertificates.AcceptOurs,
        });
        ssl.Write("hello\n"u8); // leaves right behind the client's Finished
        var received = new List<byte>();
        var buffer = new byte[64];
        while (!received.Contains((byte)'\n'))
        {
            int n = ssl.Read(buffer);
            if (n == 0)
            {
                break;
            }

            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        return Encoding.ASCII.GetString([.. received]);
    }
}

[Collection("net")]
public sealed class TlsFirstFlightEpollTests : TlsFirstFlightTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class TlsFirstFlightPortableTests : TlsFirstFlightTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
