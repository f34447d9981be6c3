// Plain .NET peers of the loop workloads (docs/design.md "Performance design"): the same workloads,
// written the way a .NET developer would without Aio — on the thread pool.
//   dotnet bench/DotNetPeers/bin/Release/net10.0/DotNetPeers.dll WORKLOAD [--n N]
// prints one JSON line like the Aio bench CLI: {"impl": "dotnet-threadpool", "workload": ..., "ops": N,
// "seconds": S, "ops_per_s": R} (memory: "bytes_per_task", measured as in bench/Aio.Bench/Memory.cs).
// Each timed run does one untimed warm-up pass of the same size, as the Aio CLI does.
// `DotNetPeers echo-server --port P` is the echo workload's Socket async server (EchoServer.cs).
//
// The closest honest analogue of each asyncio primitive:
// - call_soon -> ThreadPool.UnsafeQueueUserWorkItem(IThreadPoolWorkItem, preferLocal: false): the
//   chain re-queues one cached work item to the pool's global FIFO queue (no allocation), as
//   call_soon appends to the loop's FIFO ready queue.
// - call_later -> System.Threading.Timer, one-shot (dueTime, infinite period), one per deadline.
// - call_soon_threadsafe -> one producer thread posting work items to the pool's global queue
//   (UnsafeQueueUserWorkItem); the pool threads run them and count with Interlocked. Unlike a loop
//   the items run in parallel on every pool thread: the pool's best case.
// - a task awaiting sleep(0) -> an `async Task` awaiting Task.Yield() (resumes on the pool).
// - asyncio.Queue -> Channel<int>, unbounded (as the asyncio and Aio queues are), with
//   SingleReader/SingleWriter set (each channel has one reader and one writer here, so that is
//   the fastest correct configuration); continuations run asynchronously on the pool (default).
// - a task suspended on a future -> an async method awaiting one TaskCompletionSource's task.
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;

var workloads = new Dictionary<string, (Func<long, double> Run, long Ops)>
{
    ["callbacks"] = (Peers.Callbacks, 1_000_000),
    ["timers"] = (Peers.Timers, 200_000),
    ["threadsafe"] = (Peers.ThreadSafe, 1_000_000),
    ["tasks"] = (Peers.Tasks, 1_000_000),
    ["pingpong"] = (Peers.PingPong, 200_000),
    ["memory"] = (Peers.Memory, 100_000),
};

if (args is ["echo-server", "--port", var echoPort] && int.TryParse(echoPort, CultureInfo.InvariantCulture, out int port) && port is >= 0 and <= 65535)
{
    return EchoServer.Run(port); // EchoServer.cs
}

if (args.Length == 0 || !workloads.TryGetValue(args[0], out var entry))
{
    Console.Error.WriteLine("usage: DotNetPeers WORKLOAD [--n N]; workloads: " + string.Join(", ", workloads.Keys));
    Console.Error.WriteLine("       DotNetPeers echo-server --port P (0 picks a free port)");
    return 2;
}

long ops = entry.Ops;
for (int i = 1; i < args.Length; i++)
{
    if (args[i] == "--n" && i + 1 < args.Length)
    {
        ops = long.Parse(args[++i], CultureInfo.InvariantCulture);
    }
    else
    {
        Console.Error.WriteLine($"unknown argument: {args[i]}");
        return 2;
    }
}

if (args[0] == "memory")
{
    Peers.Memory(Math.Max(100, ops / 100));
    double perTask = Peers.Memory(ops);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{{\"impl\": \"dotnet-threadpool\", \"workload\": \"memory\", \"ops\": {ops}, \"bytes_per_task\": {perTask:F1}}}"));
    return 0;
}

entry.Run(ops);
double seconds = entry.Run(ops);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{{\"impl\": \"dotnet-threadpool\", \"workload\": \"{args[0]}\", \"ops\": {ops}, \"seconds\": {seconds:F6}, \"ops_per_s\": {ops / seconds:F1}}}"));
return 0;

/// <summary>The workloads; each returns the seconds one pass took (memory: bytes per suspended task).</summary>
internal static class Peers
{
    public static double Callbacks(long ops)
    {
        var chain = new Chain(ops);
        long start = Stopwatch.GetTimestamp();
        ThreadPool.UnsafeQueueUserWorkItem(chain, preferLocal: false);
        chain.Done.Wait();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public static double Timers(long ops)
    {
        var random = new Random(42);
        long remaining = ops;
        using var done = new ManualResetEventSlim();
        TimerCallback fire = _ =>
        {
            if (Interlocked.Decrement(ref remaining) == 0)
            {
                done.Set();
            }
        };
        var timers = new Timer[ops]; // rooted: an unreachable Timer may be collected before it fires
        long start = Stopwatch.GetTimestamp();
        for (long i = 0; i < ops; i++)
        {
            timers[i] = new Timer(fire, null, TimeSpan.FromMilliseconds(random.NextDouble() * 50), Timeout.InfiniteTimeSpan);
        }

        done.Wait();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        foreach (Timer timer in timers)
        {
            timer.Dispose();
        }

        return seconds;
    }

    public static double ThreadSafe(long ops)
    {
        var counter = new Counter(ops);
        var producer = new Thread(() =>
        {
            for (long i = 0; i < ops; i++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(counter, preferLocal: false);
            }
        });
        long start = Stopwatch.GetTimestamp();
        producer.Start();
        counter.Done.Wait();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        producer.Join();
        return seconds;
    }

    public static double Tasks(long ops)
    {
        long count = Math.Max(1, ops / 10);
        long start = Stopwatch.GetTimestamp();
        var all = new Task[count];
        for (long i = 0; i < count; i++)
        {
            all[i] = YieldTenTimes();
        }

        Task.WaitAll(all);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;

        static async Task YieldTenTimes()
        {
            for (int step = 0; step < 10; step++)
            {
                await Task.Yield();
            }
        }
    }

    public static double PingPong(long ops)
    {
        var options = new UnboundedChannelOptions { SingleReader = true, SingleWriter = true };
        Channel<int> ping = Channel.CreateUnbounded<int>(options);
        Channel<int> pong = Channel.CreateUnbounded<int>(options);
        long start = Stopwatch.GetTimestamp();
        Task ponger = Task.Run(async () =>
        {
            for (long i = 0; i < ops; i++)
            {
                await pong.Writer.WriteAsync(await ping.Reader.ReadAsync());
            }
        });
        Task pinger = Task.Run(async () =>
        {
            for (int i = 0; i < ops; i++)
            {
                await ping.Writer.WriteAsync(i);
                if (await pong.Reader.ReadAsync() != i)
                {
                    throw new InvalidOperationException("pingpong: an item came back out of order");
                }
            }
        });
        Task.WaitAll(ponger, pinger);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public static double Memory(long count)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var all = new Task[count];
        FullCollect();
        long rss0 = ResidentBytes();
        for (long i = 0; i < count; i++)
        {
            all[i] = Waiter(gate.Task); // runs synchronously to its await, then is suspended
        }

        FullCollect();
        long rss1 = ResidentBytes();
        gate.SetResult();
        Task.WaitAll(all);
        return (rss1 - rss0) / (double)count;

        static async Task Waiter(Task gate) => await gate;
    }

    private static void FullCollect()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    private static long ResidentBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return Environment.WorkingSet;
    }

    /// <summary>The callbacks chain: one cached work item that re-queues itself until the count runs out.</summary>
    private sealed class Chain(long remaining) : IThreadPoolWorkItem
    {
        private long _remaining = remaining;

        public ManualResetEventSlim Done { get; } = new();

        public void Execute()
        {
            if (--_remaining == 0)
            {
                Done.Set();
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }
    }

    /// <summary>The thread-safe posts' work item: counts down with Interlocked; the last one sets Done.</summary>
    private sealed class Counter(long remaining) : IThreadPoolWorkItem
    {
        private long _remaining = remaining;

        public ManualResetEventSlim Done { get; } = new();

        public void Execute()
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                Done.Set();
            }
        }
    }
}
