using System.IO.Pipes;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Aio.Net;
using Aio.Processes;

namespace Aio.Tests.Net;

/// <summary>
/// A caller's <see cref="CancellationToken"/> on every factory that opens something (connections,
/// servers, datagram endpoints, TLS upgrades, subprocesses): cancelling it mid-way ends the task
/// cancelled, exactly as <see cref="Future.Cancel"/> on the task would, and leaves nothing behind —
/// no descriptor (the "net" collection's exact count), no loop registration (<see cref="EventLoop.IoRegistrationCount"/>,
/// checked by <see cref="NetTestBase.Run"/>), no child process. A token cancelled before the call
/// starts nothing at all.
/// </summary>
public abstract class FactoryTokenTests : NetTestBase
{
    /// <summary>Public awaitable methods of Aio.Net and Aio.Processes that need no token, and why.</summary>
    private static readonly Dictionary<string, string> NoTokenNeeded = new()
    {
        ["AsyncStreamWriter.DrainAsync"] = "returns a fresh future: cancelling it (or the awaiting task) gives up, and nothing is lost",
        ["AsyncStreamWriter.WaitClosedAsync"] = "returns a shielded future: cancelling it gives up waiting",
        ["AsyncStreamWriter.DisposeAsync"] = "IAsyncDisposable takes no token",
        ["Server.WaitClosedAsync"] = "returns a shielded future: cancelling it gives up waiting",
        ["Server.DisposeAsync"] = "IAsyncDisposable takes no token",
        ["AsyncProcess.DisposeAsync"] = "IAsyncDisposable takes no token",
    };

    [Fact]
    public void EveryAwaitableOfNetAndProcesses_TakesACancellationTokenOrSaysWhyNot()
    {
        Assembly aio = typeof(EventLoop).Assembly;
        var missing = new List<string>();
        foreach (Type type in aio.GetExportedTypes().Where(t => t.Namespace is "Aio.Net" or "Aio.Processes"))
        {
            foreach (MethodInfo method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                bool awaitable = method.ReturnType.GetMethod("GetAwaiter", Type.EmptyTypes) is not null;
                string key = $"{type.Name}.{method.Name}";
                string signature = $"{key}({string.Join(",", method.GetParameters().Select(p => p.ParameterType.Name))})";
                if (awaitable && method.Name.EndsWith("Async", StringComparison.Ordinal)
                    && !method.GetParameters().Any(p => p.ParameterType == typeof(CancellationToken))
                    && !NoTokenNeeded.ContainsKey(key) && !NoTokenNeeded.ContainsKey(signature))
                {
                    missing.Add(signature);
                }
            }
        }

        Assert.True(missing.Count == 0, "awaitable methods without a CancellationToken:\n" + string.Join("\n", missing));
    }

    [Fact]
    public void CreateConnection_TokenCancelledWhileTheHandshakeIsPending_NothingLeft()
    {
        Run(async loop =>
        {
            // A listener that never accepts, with its queue full: new handshakes stay pending.
            using Socket listener = Listener(backlog: 0);
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            var opened = new List<ITransport>();
            for (int i = 0; i < 64; i++)
            {
                using var source = new CancellationTokenSource();
                LoopTask<(ITransport Transport, Protocol Protocol)> attempt =
                    Network.CreateConnectionAsync(() => new Recorder(loop), "127.0.0.1", port, source.Token);
                for (int j = 0; j < 10 && !attempt.IsDone; j++)
                {
                    await LoopTask.Yield();
                }

                if (attempt.IsDone)
                {
                    opened.Add(attempt.Result.Transport); // the queue had room: fill it further
                    continue;
                }

                source.Cancel();
                await Assert.ThrowsAsync<CancelledError>(async () => await attempt);
                Assert.True(attempt.IsCancelled);
                opened.ForEach(transport => transport.Abort());
                return;
            }

            Assert.Fail("no connection attempt stayed pending");
        });
    }

    [Fact]
    public void CreateConnection_TokenCancelledByTheProtocolFactory_TransportClosed()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol());
            using var source = new CancellationTokenSource();
            Recorder? made = null;
            LoopTask<(ITransport Transport, Protocol Protocol)> connecting = Network.CreateConnectionAsync(
                () =>
                {
                    source.Cancel(); // mid-way: connected, the transport not made yet
                    return made = new Recorder(loop);
                },
                "127.0.0.1",
                PortOf(server),
                source.Token);
            await Assert.ThrowsAsync<CancelledError>(async () => await connecting);
            Assert.NotNull(made);
            await made.WaitUntilAsync(r => r.Events is [] || r.IsLost);
            server.Close();
            await server.WaitClosedAsync();
        });
    }

    [Fact]
    public void CreateConnection_TokenCancelledFromAnotherThread_EndsCancelled()
    {
        Run(async loop =>
        {
            using Socket listener = Listener(backlog: 0);
            using var source = new CancellationTokenSource();
            LoopTask<(ITransport Transport, Protocol Protocol)> connecting = Network.CreateConnectionAsync(
                () => new Recorder(loop), "127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port, source.Token);
            await loop.WrapTask(Task.Run(source.Cancel));
            try
            {
                (ITransport transport, _) = await connecting;
                transport.Abort(); // it connected before the cancellation arrived
            }
            catch (CancelledError)
            {
                Assert.True(connecting.IsCancelled);
            }
        });
    }

    [Fact]
    public void TlsConnection_TokenCancelledMidHandshake_NothingLeft()
    {
        Run(async loop =>
        {
            using Socket listener = Listener(backlog: 4);
            using var source = new CancellationTokenSource();
            LoopTask<(ITransport Transport, Protocol Protocol)> connecting = Network.CreateConnectionAsync(
                () => new Recorder(loop), "127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port, TlsTestCertificates.TrustingClient(), source.Token);
            using Socket peer = await AwaitClientHello(loop, listener);
            Assert.False(connecting.IsDone);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await connecting);
        });
    }

    [Fact]
    public void StartTls_TokenCancelledMidHandshake_ConnectionAborted()
    {
        Run(async loop =>
        {
            using Socket listener = Listener(backlog: 4);
            var recorder = new Recorder(loop);
            (ITransport plain, _) = await Network.CreateConnectionAsync(() => recorder, "127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port);
            using var source = new CancellationTokenSource();
            LoopTask<ITransport> upgrading = Network.StartTlsAsync(plain, recorder, TlsTestCertificates.TrustingClient(), source.Token);
            using Socket peer = await AwaitClientHello(loop, listener);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await upgrading);
            await recorder.WaitLostAsync();
        });
    }

    [Fact]
    public void WriterStartTls_TokenCancelledMidHandshake_ConnectionAborted()
    {
        Run(async loop =>
        {
            using Socket listener = Listener(backlog: 4);
            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port);
            using var source = new CancellationTokenSource();
            LoopTask upgrading = writer.StartTlsAsync(TlsTestCertificates.TrustingClient(), source.Token);
            using Socket peer = await AwaitClientHello(loop, listener);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await upgrading);

            // The upgrade aborted the connection: it ended with the handshake's error.
            await Assert.ThrowsAsync<IOException>(async () => await writer.WaitClosedAsync());
            Assert.True(writer.IsClosing);
            Assert.NotNull(reader);
        });
    }

    [Fact]
    public void OpenConnection_TokenCancelledMidHandshakeAndBeforeTheCall_NothingLeft()
    {
        Run(async loop =>
        {
            using Socket listener = Listener(backlog: 4);
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            using var source = new CancellationTokenSource();
            LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> tls =
                Streams.OpenConnectionAsync("127.0.0.1", port, TlsTestCertificates.TrustingClient(), cancellationToken: source.Token);
            using Socket peer = await AwaitClientHello(loop, listener);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await tls);

            LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> plain =
                Streams.OpenConnectionAsync("127.0.0.1", port, cancellationToken: source.Token);
            Assert.Equal(0, loop.IoRegistrationCount); // nothing was even started
            await Assert.ThrowsAsync<CancelledError>(async () => await plain);
        });
    }

    [Fact]
    public void OpenConnection_TokenCancelledRightAfterTheCall_NothingLeft()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol());
            using var source = new CancellationTokenSource();
            LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> opening =
                Streams.OpenConnectionAsync("127.0.0.1", PortOf(server), cancellationToken: source.Token);
            Assert.False(opening.IsDone);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await opening);
            server.Close();
            server.CloseClients();
            await server.WaitClosedAsync();
        });
    }

    [Fact]
    public void OptionsAdoptedAndPipeFactories_TokenCancelledAfterOrBeforeTheCall_NothingLeftAndCallersObjectsUntouched()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol());
            int port = PortOf(server);
            using var source = new CancellationTokenSource();

            // The Happy Eyeballs forms, cancelled while their connect is pending.
            LoopTask<(ITransport Transport, Protocol Protocol)> byName =
                Network.CreateConnectionAsync(() => new EchoProtocol(), "127.0.0.1", port, new ConnectionOptions(), source.Token);
            LoopTask<(ITransport Transport, Protocol Protocol)> byList =
                Network.CreateConnectionAsync(() => new EchoProtocol(), [IPAddress.Loopback], port, null, source.Token);
            Assert.False(byName.IsDone);
            Assert.False(byList.IsDone);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await byName);
            await Assert.ThrowsAsync<CancelledError>(async () => await byList);

            // Adopted sockets and pipes with a token cancelled before the call: nothing starts, and
            // what the caller handed over stays the caller's, untouched and usable.
            using var connected = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            connected.Connect(IPAddress.Loopback, port);
            using var listening = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listening.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listening.Listen();
            using var pipeOut = new AnonymousPipeServerStream(PipeDirection.Out);
            using var pipeIn = new AnonymousPipeClientStream(PipeDirection.In, pipeOut.ClientSafePipeHandle);
            Future[] refused =
            [
                Network.CreateConnectionAsync(() => new EchoProtocol(), connected, source.Token),
                Network.ConnectAcceptedSocketAsync(() => new EchoProtocol(), connected, source.Token),
                Network.CreateServerAsync(() => new EchoProtocol(), listening, null, source.Token),
                Network.ConnectWritePipeAsync(() => new EchoProtocol(), pipeOut, source.Token),
                Network.ConnectReadPipeAsync(() => new EchoProtocol(), pipeIn, source.Token),
            ];
            foreach (Future future in refused)
            {
                await Assert.ThrowsAsync<CancelledError>(async () => await future);
            }

            Assert.True(connected.Blocking && listening.Blocking, "the caller's sockets were not touched");
            Assert.True(pipeOut.CanWrite && pipeIn.CanRead, "the caller's pipes were not disposed");
            Assert.Equal(1, connected.Send("x"u8));
            server.Close();
            server.CloseClients();
            await server.WaitClosedAsync();
        });
    }

    [Fact]
    public void CreateServer_TokenCancelledWhileResolvingOrBeforeTheCall_NothingBound()
    {
        Run(async loop =>
        {
            using var source = new CancellationTokenSource();
            LoopTask<Server> resolving = Network.CreateServerAsync(() => new EchoProtocol(), "localhost", 0, cancellationToken: source.Token);
            Assert.False(resolving.IsDone); // awaiting the name lookup
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await resolving);

            LoopTask<Server> never = Network.CreateServerAsync(() => new EchoProtocol(), "127.0.0.1", 0, cancellationToken: source.Token);
            LoopTask<Server> neverStreams = Streams.StartServerAsync((_, _) => Task.CompletedTask, "127.0.0.1", 0, cancellationToken: source.Token);
            await Assert.ThrowsAsync<CancelledError>(async () => await never);
            await Assert.ThrowsAsync<CancelledError>(async () => await neverStreams);
        });
    }

    [Fact]
    public void UnixFactories_TokenCancelledMidWayOrBeforeTheCall_NothingLeft()
    {
        if (!Socket.OSSupportsUnixDomainSockets)
        {
            return;
        }

        string directory = Directory.CreateTempSubdirectory("aio-token-").FullName;
        try
        {
            Run(async loop =>
            {
                string path = Path.Combine(directory, "s.sock");
                using var source = new CancellationTokenSource();
                await Assert.ThrowsAsync<CancelledError>(async () => await Network.CreateUnixServerAsync(() => new EchoProtocol(), path, cancellationToken: new CancellationToken(canceled: true)));
                await Assert.ThrowsAsync<CancelledError>(async () => await Streams.StartUnixServerAsync((_, _) => Task.CompletedTask, path, cancellationToken: new CancellationToken(canceled: true)));
                Assert.False(File.Exists(path)); // nothing was bound

                Server server = await Network.CreateUnixServerAsync(() => new EchoProtocol(), path);
                LoopTask<(ITransport Transport, Protocol Protocol)> connecting = Network.CreateUnixConnectionAsync(
                    () =>
                    {
                        source.Cancel(); // mid-way: connected, the transport not made yet
                        return new Recorder(loop);
                    },
                    path,
                    source.Token);
                await Assert.ThrowsAsync<CancelledError>(async () => await connecting);

                using var second = new CancellationTokenSource();
                LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> opening = Streams.OpenUnixConnectionAsync(path, cancellationToken: second.Token);
                Assert.False(opening.IsDone);
                second.Cancel();
                await Assert.ThrowsAsync<CancelledError>(async () => await opening);

                server.Close();
                server.CloseClients();
                await server.WaitClosedAsync();
            });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void DatagramEndpoint_TokenCancelledWhileResolvingOrByTheFactory_NothingLeft()
    {
        Run(async loop =>
        {
            using var first = new CancellationTokenSource();
            LoopTask<(IDatagramTransport Transport, DatagramProtocol Protocol)> resolving = Network.CreateDatagramEndpointAsync(
                () => new DatagramRecorder(loop), local: new DnsEndPoint("localhost", 0), cancellationToken: first.Token);
            Assert.False(resolving.IsDone);
            first.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await resolving);

            using var second = new CancellationTokenSource();
            LoopTask<(IDatagramTransport Transport, DatagramProtocol Protocol)> creating = Network.CreateDatagramEndpointAsync(
                () =>
                {
                    second.Cancel(); // mid-way: the socket is bound, the transport not made yet
                    return new DatagramRecorder(loop);
                },
                local: new IPEndPoint(IPAddress.Loopback, 0),
                cancellationToken: second.Token);
            await Assert.ThrowsAsync<CancelledError>(async () => await creating);
        });
    }

    [Fact]
    public void ServeForever_TokenCancelled_ServerClosedAndTaskCancelled()
    {
        Run(async loop =>
        {
            Server server = await ServeAsync(() => new EchoProtocol(), new ServerOptions { StartServing = false });
            using var source = new CancellationTokenSource();
            LoopTask forever = server.ServeForeverAsync(source.Token);
            Assert.True(server.IsServing);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await forever);
            Assert.False(server.IsServing);
        });
    }

    [Theory]
    [InlineData("CreateExecAsync")]
    [InlineData("CreateShellAsync")]
    [InlineData("ExecAsync")]
    [InlineData("ShellAsync")]
    public void Subprocess_TokenCancelledAfterTheSpawn_ChildKilledAndReaped(string factory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // the child count reads /proc
        }

        Run(async loop =>
        {
            int[] before = ChildPids();
            using var source = new CancellationTokenSource();
            Future starting = factory switch
            {
                "CreateExecAsync" => Subprocess.CreateExecAsync("sleep", ["1000"], new SubprocessOptions { Stdout = SubprocessStdio.Pipe }, source.Token),
                "CreateShellAsync" => Subprocess.CreateShellAsync("exec sleep 1000", new SubprocessOptions { Stdout = SubprocessStdio.Pipe }, source.Token),
                "ExecAsync" => Subprocess.ExecAsync(() => new QuietSubprocessProtocol(), "sleep", ["1000"], cancellationToken: source.Token),
                _ => Subprocess.ShellAsync(() => new QuietSubprocessProtocol(), "exec sleep 1000", cancellationToken: source.Token),
            };
            Assert.False(starting.IsDone);
            Assert.True(ChildPids().Length > before.Length, "the child was not spawned inside the call");
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await starting);
            Assert.Equal(before, ChildPids()); // killed and reaped before the task ended

            Future never = Subprocess.CreateExecAsync("sleep", ["1000"], null, source.Token);
            await Assert.ThrowsAsync<CancelledError>(async () => await never);
            Assert.Equal(before, ChildPids()); // a cancelled token spawns nothing
        });
    }

    [Fact]
    public void ProcessWaitAndCommunicate_TokenCancelled_GiveUpWithoutKillingTheChild()
    {
        Run(async loop =>
        {
            await using AsyncProcess process = await Subprocess.CreateExecAsync("sleep", ["1000"], new SubprocessOptions { Stdout = SubprocessStdio.Pipe });
            using (var source = new CancellationTokenSource())
            {
                Future<int> waiting = process.WaitAsync(source.Token);
                source.Cancel();
                await Assert.ThrowsAsync<CancelledError>(async () => await waiting);
            }

            using (var source = new CancellationTokenSource())
            {
                Task<(byte[]? Stdout, byte[]? Stderr)> communicating = process.CommunicateAsync(cancellationToken: source.Token);
                await LoopTask.Yield();
                Assert.False(communicating.IsCompleted);
                source.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => communicating);
            }

            Assert.Null(process.ReturnCode); // still running: a cancelled wait never kills
            process.Kill();
            Assert.Equal(-9, await process.WaitAsync());
        });
    }

    /// <summary>Accepts the client's TCP connection on <paramref name="listener"/> and waits for its first TLS bytes (the ClientHello).</summary>
    private static async Task<Socket> AwaitClientHello(EventLoop loop, Socket listener)
    {
        Socket peer = await loop.WrapTask(listener.AcceptAsync());
        var buffer = new byte[1];
        int received = await loop.WrapTask(peer.ReceiveAsync(buffer));
        Assert.Equal(1, received);
        Assert.Equal(0x16, buffer[0]); // a TLS handshake record
        return peer;
    }

    private static Socket Listener(int backlog)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(backlog);
        return listener;
    }

    private sealed class QuietSubprocessProtocol : SubprocessProtocol
    {
    }

    /// <summary>This process's children, zombies included (a reaped child is gone).</summary>
    private static int[] ChildPids()
    {
        var children = new List<int>();
        foreach (string directory in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out int pid))
            {
                continue;
            }

            try
            {
                string stat = File.ReadAllText(Path.Combine(directory, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == Environment.ProcessId)
                {
                    children.Add(pid);
                }
            }
            catch (IOException)
            {
                // It ended while we looked.
            }
        }

        children.Sort();
        return [.. children];
    }
}

[Collection("net")]
public sealed class FactoryTokenEpollTests : FactoryTokenTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class FactoryTokenPortableTests : FactoryTokenTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
