// Scenario "accept-emfile-epoll" / "accept-emfile-portable" for the networking tests: a server whose
// process runs out of descriptors. It lowers RLIMIT_NOFILE, opens client connections to its own
// server until no descriptor is left, lets the server fail to accept (EMFILE) for a while, then
// frees the descriptors and checks the server accepts again. It prints what it measured to standard
// error; tests/Aio.Tests/Net/AcceptExhaustionTests.cs judges it.
//
// Everything the exhausted phase touches is used once before the limit is lowered (assemblies,
// the console, timers, exceptions), since with no descriptor left the runtime could not even open
// an assembly file.
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Aio;
using Aio.Net;

internal static partial class AcceptExhaustion
{
    private const int RlimitNofile = 7;
    private const int Headroom = 40;
    private static readonly TimeSpan Exhausted = TimeSpan.FromSeconds(2.5);

    public static int Run(string scenario)
    {
        LoopBackend backend = scenario.EndsWith("portable", StringComparison.Ordinal) ? LoopBackend.Portable : LoopBackend.Epoll;
        using var loop = new EventLoop(new EventLoopOptions { Backend = backend });
        var reports = new List<string>();
        loop.SetExceptionHandler((_, context) =>
        {
            string line = $"report: {context.Message.Split('\n')[0]} | {(context.Exception as SocketException)?.SocketErrorCode}";
            reports.Add(line);
            Console.Error.WriteLine(line);
        });
        return loop.RunUntilComplete(() => MainAsync(loop, reports));
    }

    private static async Task<int> MainAsync(EventLoop loop, List<string> reports)
    {
        var counter = new Counter(loop);
        Server server = await Network.CreateServerAsync(() => new CountingEcho(counter), "127.0.0.1", 0);
        var endPoint = (IPEndPoint)server.Sockets[0].LocalEndPoint!;

        // Warm up every path the exhausted phase takes.
        await EchoOnceAsync(loop, endPoint.Port);
        await counter.WaitAsync(made: 1, lost: 1);
        try
        {
            using var refused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            refused.Connect(new IPEndPoint(IPAddress.Loopback, 1));
        }
        catch (SocketException)
        {
        }

        _ = Environment.CpuUsage;
        ThreadPoolWarmUp.Run();
        await LoopTask.Sleep(TimeSpan.FromMilliseconds(1));
        reports.Add("warm-up");
        reports.Clear();
        Say($"ready port={endPoint.Port}");

        // Lower the limit, then use up every descriptor with connections the server has not accepted.
        int open = Directory.GetFiles("/proc/self/fd").Length;
        Check(GetRLimit(RlimitNofile, out RLimit original) == 0, "getrlimit");
        Check(SetRLimit(RlimitNofile, new RLimit { Current = (ulong)(open + Headroom), Maximum = original.Maximum }) == 0, "setrlimit");
        var clients = new List<Socket>();
        while (true)
        {
            Socket client;
            try
            {
                client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            }
            catch (SocketException)
            {
                break; // EMFILE: no descriptor left
            }

            clients.Add(client);
            client.Connect(endPoint); // completes in the kernel's accept queue; the loop is not running
        }

        Say($"exhausted clients={clients.Count}");

        // A completion-based server (portable) keeps an accept pending in the socket engine, which may
        // have taken one of the first connections while descriptors were still free: let it settle,
        // and count only what is accepted once starved.
        for (int i = 0; i < 3; i++)
        {
            await LoopTask.Yield();
        }

        int madeWhenStarved = counter.Made;

        // Starved: every accept fails with EMFILE. Count the reports and the CPU time spent.
        TimeSpan cpuBefore = Environment.CpuUsage.TotalTime;
        double started = loop.Time();
        await LoopTask.Sleep(Exhausted);
        double elapsed = loop.Time() - started;
        TimeSpan cpu = Environment.CpuUsage.TotalTime - cpuBefore;
        int resourceReports = reports.Count(line => line.Contains("out of system resource", StringComparison.Ordinal));
        Say($"starved reports={resourceReports} other={reports.Count - resourceReports} accepted={counter.Made - madeWhenStarved} cpu_ms={cpu.TotalMilliseconds:F0} wall_ms={elapsed * 1000:F0}");

        // Free the descriptors: the server must take every queued connection within its retry delay.
        foreach (Socket client in clients)
        {
            client.Dispose();
        }

        await LoopTask.TimeoutAsync(TimeSpan.FromSeconds(10), () => counter.WaitAsync(made: 1 + clients.Count, lost: 1 + clients.Count));
        int accepted = counter.Made - 1;
        Check(SetRLimit(RlimitNofile, original) == 0, "setrlimit (restore)");
        await EchoOnceAsync(loop, endPoint.Port); // and a new connection is served as usual
        await server.DisposeAsync();
        Say($"recovered accepted={accepted} reports={reports.Count}");
        return 0;
    }

    private static async Task EchoOnceAsync(EventLoop loop, int port)
    {
        var client = new Client(loop);
        (ITransport transport, _) = await Network.CreateConnectionAsync(() => client, "127.0.0.1", port);
        transport.Write("ping"u8);
        await client.Received;
        transport.Close();
        await client.Lost;
    }

    private static void Say(string line) => Console.Error.WriteLine(line);

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"{what} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    /// <summary>Counts the server's connections and wakes a waiter on every change.</summary>
    private sealed class Counter(EventLoop loop)
    {
        private Future<bool>? _changed;

        public int Made { get; private set; }

        public int Lost { get; private set; }

        public void OnMade()
        {
            Made++;
            Changed();
        }

        public void OnLost()
        {
            Lost++;
            Changed();
        }

        public async Task WaitAsync(int made, int lost)
        {
            while (Made < made || Lost < lost)
            {
                _changed = new Future<bool>(loop);
                await _changed;
            }
        }

        private void Changed()
        {
            Future<bool>? changed = _changed;
            _changed = null;
            changed?.TrySetResult(true);
        }
    }

    private sealed class CountingEcho(Counter counter) : Protocol
    {
        private ITransport? _transport;

        public override void ConnectionMade(ITransport transport)
        {
            _transport = transport;
            counter.OnMade();
        }

        public override void DataReceived(ReadOnlySpan<byte> data) => _transport!.Write(data);

        public override void ConnectionLost(Exception? exception) => counter.OnLost();
    }

    private sealed class Client(EventLoop loop) : Protocol
    {
        private readonly StringBuilder _text = new();

        public Future<bool> Received { get; } = new(loop);

        public Future<bool> Lost { get; } = new(loop);

        public override void DataReceived(ReadOnlySpan<byte> data)
        {
            _text.Append(Encoding.ASCII.GetString(data));
            if (_text.ToString() == "ping")
            {
                Received.TrySetResult(true);
            }
        }

        public override void ConnectionLost(Exception? exception) => Lost.TrySetResult(true);
    }
}
