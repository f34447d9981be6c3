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
/// Counts the process's open descriptors (<c>/proc/self/fd</c>) for the leak checks of
/// <see cref="NetTestBase"/>. Linux only; elsewhere the count is always 0.
/// </summary>
public static class Descriptors
{
    private static int s_warmedUp;

    /// <summary>The open descriptors of this process, after earlier garbage was finalized.</summary>
    public static int Count()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        if (Interlocked.Exchange(ref s_warmedUp, 1) == 0)
        {
            WarmUp();
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Directory.GetFiles("/proc/self/fd").Count(path => !IsCodeFile(path));
    }

    /// <summary>
    /// Whether the descriptor maps an assembly or a native library: the runtime opens those when
    /// it first loads them (an assertion's first failure, say; symbols for a stack trace) and keeps them; they are not leaks.
    /// </summary>
    private static bool IsCodeFile(string path)
    {
        try
        {
            string? target = new FileInfo(path).LinkTarget;
            return target is not null && (target.EndsWith(".dll", StringComparison.Ordinal) || target.EndsWith(".pdb", StringComparison.Ordinal) || target.EndsWith(".so", StringComparison.Ordinal) || target.Contains(".so.", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false; // closed while we looked
        }
    }

    /// <summary>What each open descriptor refers to, for a leak report.</summary>
    public static string Describe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "";
        }

        return string.Join(", ", Directory.GetFiles("/proc/self/fd").Select(path =>
        {
            try
            {
                return Path.GetFileName(path) + "->" + new FileInfo(path).LinkTarget;
            }
            catch (IOException)
            {
                return Path.GetFileName(path) + "->?";
            }
        }));
    }

    /// <summary>
    /// Opens, once, whatever .NET keeps open for the process's lifetime after first use (the
    /// socket engine's epoll and pipe, name resolution), so it is not counted as a leak.
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
        // The loop's default logger writes to standard error; .NET sets the console (and its
        // signal-handling pipe) up on the first write and keeps it.
        Console.Error.Flush();
        using Stream standardError = Console.OpenStandardError();
        standardError.Write([]);
    }
}

/// <summary>
/// Base of the networking contract tests: loopback sockets only, no sleeping (tests wait on
/// protocol events), one bounded run per test, and checks that each test leaves nothing registered
/// with its loop and, once its loops are closed, exactly as many descriptors open as before it
/// started (the "net" collection runs alone, so the count is exact) — hence every test class too.
/// </summary>
public abstract class NetTestBase : LoopTestBase, IDisposable
{
    private readonly int _descriptorsBefore = Descriptors.Count();
    private readonly string _descriptorsBeforeText = Descriptors.Describe();

    /// <summary>Closes the loops (failing on unexpected reports), then fails if a descriptor leaked.</summary>
    public new void Dispose()
    {
        base.Dispose();
        int after = Descriptors.Count();

        // allow-real-time: other threads (the runtime, the test host) open descriptors for a moment,
        // which can inflate one count; a leaked descriptor stays, so look again a few times. (A count
        // below the first means such a transient descriptor was counted before the test.)
        for (int i = 0; i < 50 && after > _descriptorsBefore; i++)
        {
            Thread.Sleep(10); // allow-real-time: see above
            after = Descriptors.Count();
        }

        Assert.True(after <= _descriptorsBefore, $"descriptor leak: {_descriptorsBefore} open before the test, {after} after it\nbefore: {_descriptorsBeforeText}\nafter: {Descriptors.Describe()}");
    }

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
