// Scenarios "many-connections-*" and "limited-server-*" for the networking tests: a loop under a low
// RLIMIT_NOFILE. Each prints what it measured to standard error; tests/Aio.Tests/Net/DescriptorLimitTests.cs
// judges it.
//
// many-connections: the soft limit is set to 1,024 and 300 clients connect to the process's own echo
// server (600 sockets in one loop), all at once, and each checks its echo. A backend that needs a
// descriptor-bounded structure per wait (Socket.Select builds a poll() array of about twice the
// socket count) stops there; epoll and the completion engine must not.
//
// limited-server: the soft limit is set to what is open now plus Headroom, so the server can hold
// fewer connections than the test (its parent process) opens. The server must report EMFILE, keep
// serving the connections it has, accept the queued ones as clients leave, never abort, and exit 0
// once LimitedServerClients connections have come and gone.
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Aio;
using Aio.Net;

internal static partial class DescriptorLimits
{
    /// <summary>How many clients the parent of limited-server opens (more than the server can hold).</summary>
    public const int LimitedServerClients = 60;

    private const int ManyConnections = 300;
    private const int Headroom = 24;
    private const int RlimitNofile = 7;

    public static int Run(string scenario)
    {
        LoopBackend backend = scenario.EndsWith("portable", StringComparison.Ordinal) ? LoopBackend.Portable : LoopBackend.Epoll;
        using var loop = new EventLoop(new EventLoopOptions { Backend = backend });
        var reports = new List<string>();
        loop.SetExceptionHandler((_, context) =>
        {
            string line = $"report: {context.Message.Split('\n')[0]} | {context.Exception?.GetType().Name}";
            reports.Add(line);
            Console.Error.WriteLine(line);
        });
        return scenario.StartsWith("many-connections", StringComparison.Ordinal)
            ? loop.RunUntilComplete(() => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(60), () => ManyConnectionsAsync(reports)))
            : loop.RunUntilComplete(() => LimitedServerAsync(loop, reports));
    }

    private static async Task<int> ManyConnectionsAsync(List<string> reports)
    {
        Check(GetRLimit(RlimitNofile, out RLimit original) == 0, "getrlimit");
        Check(SetRLimit(RlimitNofile, new RLimit { Current = Math.Min(1024, original.Maximum), Maximum = original.Maximum }) == 0, "setrlimit");
        Server server = await Network.CreateServerAsync(() => new Echo(), "127.0.0.1", 0, new ServerOptions { Backlog = 512 });
        int port = ((IPEndPoint)server.Sockets[0].LocalEndPoint!).Port;
        var clients = new List<(AsyncStreamReader Reader, AsyncStreamWriter Writer)>();
        for (int i = 0; i < ManyConnections; i++)
        {
            clients.Add(await Streams.OpenConnectionAsync("127.0.0.1", port));
        }

        Say($"connected clients={clients.Count} descriptors={Directory.GetFiles("/proc/self/fd").Length}");
        int[] echoed = await Task.WhenAll(clients.Select((client, i) => RoundTripAsync(client.Reader, client.Writer, i)));
        Say($"echoed={echoed.Sum()} of {ManyConnections} reports={reports.Count}");
        foreach ((_, AsyncStreamWriter writer) in clients)
        {
            writer.Close();
            await writer.WaitClosedAsync();
        }

        await server.DisposeAsync();
        return echoed.Sum() == ManyConnections && reports.Count == 0 ? 0 : 1;
    }

    private static async Task<int> RoundTripAsync(AsyncStreamReader reader, AsyncStreamWriter writer, int i)
    {
        byte[] line = Encoding.ASCII.GetBytes($"client {i}\n");
        writer.Write(line);
        await writer.DrainAsync();
        byte[] answer = await reader.ReadLineAsync();
        return answer.AsSpan().SequenceEqual(line) ? 1 : 0;
    }

    private static async Task<int> LimitedServerAsync(EventLoop loop, List<string> reports)
    {
        var counter = new Counter(loop);
        Server server = await Network.CreateServerAsync(() => new CountingEcho(counter), "127.0.0.1", 0, new ServerOptions { Backlog = 128 });
        int port = ((IPEndPoint)server.Sockets[0].LocalEndPoint!).Port;

        // Warm up what a starved process must not need to open: a report, a timer, the console.
        loop.CallExceptionHandler(new ExceptionContext("warm-up", new InvalidOperationException()));
        await LoopTask.Sleep(TimeSpan.FromMilliseconds(1));
        reports.Clear();

        ThreadPoolWarmUp.Run();
        int open = Directory.GetFiles("/proc/self/fd").Length;
        Check(GetRLimit(RlimitNofile, out RLimit original) == 0, "getrlimit");
        Check(SetRLimit(RlimitNofile, new RLimit { Current = (ulong)(open + Headroom), Maximum = original.Maximum }) == 0, "setrlimit");
        Say($"ready port={port} limit={open + Headroom}");

        await counter.WaitAsync(lost: LimitedServerClients);
        int resourceReports = reports.Count(line => line.Contains("out of system resource", StringComparison.Ordinal));
        Say($"done served={counter.Lost} most_at_once={counter.MostAtOnce} resource_reports={resourceReports} other_reports={reports.Count - resourceReports}");
        Check(SetRLimit(RlimitNofile, original) == 0, "setrlimit (restore)");
        await server.DisposeAsync();
        return 0;
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

    private sealed class Echo : Protocol
    {
        private ITransport? _transport;

        public override void ConnectionMade(ITransport transport) => _transport = transport;

        public override void DataReceived(ReadOnlySpan<byte> data) => _transport!.Write(data);
    }

    /// <summary>Counts the server's connections (and the most open at once) and wakes a waiter on every change.</summary>
    private sealed class Counter(EventLoop loop)
    {
        private Future<bool>? _changed;

        public int Made { get; private set; }

        public int Lost { get; private set; }

        public int MostAtOnce { get; private set; }

        public void OnMade()
        {
            Made++;
            MostAtOnce = Math.Max(MostAtOnce, Made - Lost);
            Changed();
        }

        public void OnLost()
        {
            Lost++;
            Changed();
        }

        public async Task WaitAsync(int lost)
        {
            while (Lost < lost)
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
}
