using System.Net.Sockets;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// Unix domain stream sockets [create_unix_connection, create_unix_server, open_unix_connection,
/// start_unix_server]: echo over transports and streams, the socket file removed on close (and kept
/// when asked), a stale socket file replaced, a regular file refused and left alone, abstract names.
/// </summary>
public abstract class UnixSocketTests : NetTestBase, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("aio-unix-").FullName;

    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    [Fact]
    public void Echo_TransportsOverASocketFile_BytesComeBack()
    {
        Run(async loop =>
        {
            string path = SocketPath();
            await using Server server = await Network.CreateUnixServerAsync(() => new EchoProtocol(), path);
            Assert.True(server.IsServing);
            Assert.True(File.Exists(path));

            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateUnixConnectionAsync(() => client, path);
            Assert.Equal(path, transport.GetExtraInfo("peername")!.ToString());
            byte[] message = new byte[200_000];
            Random.Shared.NextBytes(message);
            transport.Write(message);
            await client.WaitForBytesAsync(message.Length);
            Assert.Equal(message, client.Received);
            transport.Close();
            await client.WaitLostAsync();
            Assert.Null(client.LostWith);
        });
    }

    [Fact]
    public void Echo_Streams_LineComesBackAndServerCloseRemovesTheFile()
    {
        Run(async loop =>
        {
            string path = SocketPath();
            Server server = await Streams.StartUnixServerAsync(
                async (reader, writer) =>
                {
                    byte[] line = await reader.ReadLineAsync();
                    writer.Write(line);
                    await writer.DrainAsync();
                    writer.Close();
                },
                path);

            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenUnixConnectionAsync(path);
            writer.Write(B("hello unix\n"));
            Assert.Equal("hello unix\n", Encoding.ASCII.GetString(await reader.ReadLineAsync()));
            Assert.Empty(await reader.ReadAsync(10));
            await writer.DisposeAsync();

            server.Close();
            Assert.False(File.Exists(path));
            await server.WaitClosedAsync();
        });
    }

    [Fact]
    public void CleanupSocketFalse_ServerClose_LeavesTheFile()
    {
        Run(async loop =>
        {
            string path = SocketPath();
            Server server = await Network.CreateUnixServerAsync(() => new EchoProtocol(), path, new UnixServerOptions { CleanupSocket = false });
            server.Close();
            Assert.True(File.Exists(path));
        });
    }

    [Fact]
    public void ServerClose_FileReplacedByAnotherSocket_LeavesTheNewOne()
    {
        Run(async loop =>
        {
            string path = SocketPath();
            Server server = await Network.CreateUnixServerAsync(() => new EchoProtocol(), path);
            File.Delete(path);
            using (var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                UnixSocketPath.Bind(other, new UnixDomainSocketEndPoint(path)); // another server's socket now
                server.Close();
                Assert.True(File.Exists(path));
            }
        });
    }

    [Fact]
    public void StaleSocketFile_NewServer_ReplacesItAndServes()
    {
        Run(async loop =>
        {
            string path = SocketPath();
            using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                UnixSocketPath.Bind(dead, new UnixDomainSocketEndPoint(path)); // as a process that died would leave it
            }

            Assert.True(File.Exists(path)); // a dead server's socket file

            await using Server server = await Network.CreateUnixServerAsync(() => new EchoProtocol(), path);
            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateUnixConnectionAsync(() => client, path);
            transport.Write(B("ping"));
            await client.WaitForBytesAsync(4);
            transport.Close();
            await client.WaitLostAsync();
        });
    }

    [Fact]
    public void RegularFileAtThePath_CreateServer_FailsAndKeepsTheFile()
    {
        Run(async loop =>
        {
            string path = SocketPath();
            File.WriteAllText(path, "precious");
            SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await Network.CreateUnixServerAsync(() => new EchoProtocol(), path));
            Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
            Assert.Contains(path, error.Message, StringComparison.Ordinal);
            Assert.Equal("precious", File.ReadAllText(path));
        });
    }

    [Fact]
    public void AbstractName_AtSign_ServesWithoutAFile()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        Run(async loop =>
        {
            string name = "@aio-test-" + Guid.NewGuid().ToString("N");
            await using Server server = await Network.CreateUnixServerAsync(() => new EchoProtocol(), name);
            Assert.False(File.Exists(name));
            var client = new Recorder(loop);
            (ITransport transport, _) = await Network.CreateUnixConnectionAsync(() => client, "\0" + name[1..]); // NUL spelling: same socket
            transport.Write(B("abstract"));
            await client.WaitForBytesAsync(8);
            Assert.Equal(B("abstract"), client.Received);
            transport.Close();
            await client.WaitLostAsync();
        });
    }

    [Fact]
    public void Connect_NobodyThere_SocketExceptionAndNothingLeft()
    {
        Run(async loop =>
        {
            string path = SocketPath();
            await Assert.ThrowsAsync<SocketException>(async () => await Network.CreateUnixConnectionAsync(() => new Recorder(loop), path));
            await Assert.ThrowsAsync<SocketException>(async () => await Streams.OpenUnixConnectionAsync("@aio-nobody-" + Guid.NewGuid().ToString("N")));
            Assert.Equal(0, loop.IoRegistrationCount);
        });
    }

    [Fact]
    public void BadPaths_ArgumentExceptionSaysWhy()
    {
        Run(loop =>
        {
            Assert.Throws<ArgumentException>(() => Network.CreateUnixServerAsync(() => new EchoProtocol(), ""));
            ArgumentException tooLong = Assert.Throws<ArgumentException>(() => Network.CreateUnixConnectionAsync(() => new Recorder(loop), "/tmp/" + new string('x', 200)));
            Assert.Contains("too long", tooLong.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentOutOfRangeException>(() => Network.CreateUnixServerAsync(() => new EchoProtocol(), SocketPath(), new UnixServerOptions { Backlog = 0 }));
            return Task.CompletedTask;
        });
    }

    /// <summary>Closes the loops and checks for leaks, then removes the test's directory.</summary>
    public new void Dispose()
    {
        base.Dispose();
        Directory.Delete(_directory, recursive: true);
        GC.SuppressFinalize(this);
    }

    private string SocketPath() => Path.Combine(_directory, Guid.NewGuid().ToString("N")[..8] + ".sock");
}

[Collection("net")]
public sealed class UnixSocketEpollTests : UnixSocketTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class UnixSocketPortableTests : UnixSocketTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
