using System.Net;
using System.Net.Sockets;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// The networking tests run alone (no other test opens or closes descriptors meanwhile), so a
/// class's descriptor count can be compared exactly before and after.
/// </summary>
[CollectionDefinition("net", DisableParallelization = true)]
public sealed class NetCollectionDefinition
{
}

/// <summary>
/// Fails a test class that leaves descriptors open: counts <c>/proc/self/fd</c> when the class starts
/// and again after its last test (and its loops) were disposed. Linux only; elsewhere it checks nothing.
/// </summary>
public sealed class DescriptorLeakCheck : IDisposable
{
    private readonly int _before;

    public DescriptorLeakCheck()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        WarmUp();
        _before = Count();
    }

    /// <summary>The open descriptors of this process.</summary>
    public static int Count() => Directory.GetFiles("/proc/self/fd").Length;

    public void Dispose()
    {
        if (OperatingSystem.IsLinux())
        {
            int after = Count();
            Assert.True(after == _before, $"descriptor leak: {_before} open when the class started, {after} after it ended");
        }
    }

    /// <summary>
    /// Opens, once, whatever .NET keeps open for the process's lifetime after first use (the
    /// socket engine's epoll and pipe, name resolution), and lets finalizers of earlier tests'
    /// garbage close their descriptors, so neither is counted as ours.
    /// </summary>
    private static void WarmUp()
    {
        using (var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            client.ConnectAsync(listener.LocalEndPoint!).GetAwaiter().GetResult();
            using Socket accepted = listener.Accept();
        }

        _ = Dns.GetHostAddresses("localhost");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}

/// <summary>
/// Base of the networking contract tests: loopback sockets only, no sleeping (tests wait on
/// protocol events), one bounded run per test, and checks that each test leaves nothing registered
/// with its loop and no descriptor open (<see cref="DescriptorLeakCheck"/>).
/// </summary>
public abstract class NetTestBase : LoopTestBase, IClassFixture<DescriptorLeakCheck>
{
    /// <summary>Runs <paramref name="body"/> as the loop's main task, bounded by <see cref="LoopTestBase.Patience"/>.</summary>
    protected void Run(Func<EventLoop, Task> body)
    {
        EventLoop loop = NewLoop();

        // allow-real-time: a safety bound so a broken transport fails the test instead of hanging it.
        loop.RunUntilComplete(() => LoopTask.TimeoutAsync(Patience, async () =>
        {
            await body(loop);

            // Let scheduled ConnectionLost callbacks run (they dispose the sockets).
            for (int i = 0; i < 3; i++)
            {
                await LoopTask.Yield();
            }
        }));
        Assert.Equal(0, loop.IoRegistrationCount);
    }

    /// <summary>The port a server listens on (its first socket).</summary>
    protected static int PortOf(Server server) => ((IPEndPoint)server.Sockets[0].LocalEndPoint!).Port;

    /// <summary>A server on 127.0.0.1, port 0.</summary>
    protected static async Task<Server> ServeAsync(Func<Protocol> factory, ServerOptions? options = null) =>
        await Network.CreateServerAsync(factory, "127.0.0.1", 0, options);

    /// <summary>Connects a recorder to 127.0.0.1:<paramref name="port"/>.</summary>
    protected static async Task<Recorder> ConnectAsync(EventLoop loop, int port, Action<Recorder>? setup = null)
    {
        var recorder = new Recorder(loop);
        setup?.Invoke(recorder);
        (ITransport transport, Protocol protocol) = await Network.CreateConnectionAsync(() => recorder, "127.0.0.1", port);
        Assert.Same(recorder, protocol);
        Assert.Same(transport, recorder.Transport);
        return recorder;
    }

    /// <summary>A plain listening socket on 127.0.0.1 for tests whose peer is not a protocol.</summary>
    protected static Socket RawListener()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        return listener;
    }

    /// <summary>Reads <paramref name="socket"/> to EOF (or a reset) on a worker thread; the byte count, as a loop future.</summary>
    protected static Future<long> DrainOnWorker(EventLoop loop, Socket socket, int chunk = 64 * 1024) =>
        loop.WrapTask(Task.Run(() =>
        {
            var buffer = new byte[chunk];
            long total = 0;
            try
            {
                int n;
                while ((n = socket.Receive(buffer)) > 0)
                {
                    total += n;
                }
            }
            catch (SocketException)
            {
                // A reset ends the stream too; the count so far is the answer.
            }

            return total;
        }));

    /// <summary>A free loopback port with nobody listening (bound, then released).</summary>
    protected static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}

/// <summary>Echoes every byte back.</summary>
public sealed class EchoProtocol : Protocol
{
    private ITransport? _transport;

    public override void ConnectionMade(ITransport transport) => _transport = transport;

    public override void DataReceived(ReadOnlySpan<byte> data) => _transport!.Write(data);
}

/// <summary>
/// Records a connection's events and bytes, and lets a test wait for a condition on them without
/// sleeping: every event completes the pending "changed" future.
/// </summary>
public class Recorder : Protocol
{
    private readonly EventLoop _loop;
    private Future<bool>? _changed;

    public Recorder(EventLoop loop) => _loop = loop;

    public ITransport? Transport { get; private set; }

    /// <summary>"made", "eof", "lost", "pause", "resume" in order (data is in <see cref="Received"/>).</summary>
    public List<string> Events { get; } = [];

    public List<byte> Received { get; } = [];

    public int DataCalls { get; private set; }

    public int LostCount { get; private set; }

    public Exception? LostWith { get; private set; }

    /// <summary>What <see cref="EofReceived"/> returns.</summary>
    public bool KeepOpenOnEof { get; set; }

    public Action<Recorder>? OnMade { get; set; }

    public Action<Recorder, byte[]>? OnData { get; set; }

    public Action<Recorder>? OnEof { get; set; }

    public Action<Recorder>? OnPause { get; set; }

    public Action<Recorder>? OnResume { get; set; }

    public bool IsLost => LostCount > 0;

    public override void ConnectionMade(ITransport transport)
    {
        Transport = transport;
        Record("made");
        OnMade?.Invoke(this);
    }

    public override void DataReceived(ReadOnlySpan<byte> data)
    {
        DataCalls++;
        Received.AddRange(data);
        OnData?.Invoke(this, data.ToArray());
        Changed();
    }

    public override bool EofReceived()
    {
        Record("eof");
        OnEof?.Invoke(this);
        return KeepOpenOnEof;
    }

    public override void ConnectionLost(Exception? exception)
    {
        LostCount++;
        LostWith = exception;
        Record("lost");
    }

    public override void PauseWriting()
    {
        Record("pause");
        OnPause?.Invoke(this);
    }

    public override void ResumeWriting()
    {
        Record("resume");
        OnResume?.Invoke(this);
    }

    /// <summary>Waits (on protocol events, not time) until <paramref name="condition"/> holds.</summary>
    public async Task WaitUntilAsync(Func<Recorder, bool> condition)
    {
        while (!condition(this))
        {
            _changed = new Future<bool>(_loop);
            await _changed;
        }
    }

    public Task WaitForBytesAsync(int count) => WaitUntilAsync(r => r.Received.Count >= count);

    public Task WaitLostAsync() => WaitUntilAsync(r => r.IsLost);

    protected void Record(string name)
    {
        Events.Add(name);
        Changed();
    }

    protected void Changed()
    {
        Future<bool>? changed = _changed;
        _changed = null;
        changed?.TrySetResult(true);
    }
}
