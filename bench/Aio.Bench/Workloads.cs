using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Aio.Sync;

namespace Aio.Bench;

/// <summary>The loop workloads; each returns the seconds one pass of <c>ops</c> operations took.</summary>
internal static class Workloads
{
    private static readonly Dictionary<string, (Func<EventLoopOptions, long, double> Run, long Ops)> All = new()
    {
        ["callbacks"] = (Callbacks, 1_000_000),
        ["timers"] = (Timers, 200_000),
        ["threadsafe"] = (ThreadSafe, 1_000_000),
        ["tasks"] = (Tasks, 1_000_000),
        ["tasks-delegate"] = (TasksDelegate, 1_000_000),
        ["pingpong"] = (PingPong, 200_000),
    };

    public static IEnumerable<string> Names => All.Keys;

    public static bool TryGet(string name, [NotNullWhen(true)] out Func<EventLoopOptions, long, double>? run, out long ops)
    {
        bool found = All.TryGetValue(name, out var entry);
        run = entry.Run;
        ops = entry.Ops;
        return found;
    }

    /// <summary>N callbacks, each scheduling the next with call-soon (the state overload: no handle).</summary>
    private static double Callbacks(EventLoopOptions options, long ops)
    {
        using var loop = new EventLoop(options);
        var state = new CallbackChain(loop, ops);
        loop.CallSoon(CallbackChain.Step, state);
        long start = Stopwatch.GetTimestamp();
        loop.RunForever();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private sealed class CallbackChain(EventLoop loop, long remaining)
    {
        public static readonly Action<object?> Step = Run;

        private static void Run(object? state)
        {
            var chain = (CallbackChain)state!;
            if (--chain.Remaining == 0)
            {
                chain.Loop.Stop();
            }
            else
            {
                chain.Loop.CallSoon(Step, chain);
            }
        }

        public EventLoop Loop { get; } = loop;

        public long Remaining { get; set; } = remaining;
    }

    /// <summary>N call-later timers with deadlines spread uniformly over 0–50 ms; time until all fired.</summary>
    private static double Timers(EventLoopOptions options, long ops)
    {
        using var loop = new EventLoop(options);
        var random = new Random(42);
        long remaining = ops;
        Action<object?> fire = _ =>
        {
            if (--remaining == 0)
            {
                loop.Stop();
            }
        };
        long start = Stopwatch.GetTimestamp();
        for (long i = 0; i < ops; i++)
        {
            loop.CallLater(TimeSpan.FromMilliseconds(random.NextDouble() * 50), fire, null);
        }

        loop.RunForever();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>
    /// N task steps: N/10 tasks, each awaiting Sleep(0) ten times; time until all finished. The tasks
    /// are async LoopTask methods, Aio's native coroutines (calling one is create_task(coro())).
    /// </summary>
    private static double Tasks(EventLoopOptions options, long ops)
    {
        using var loop = new EventLoop(options);
        long tasks = Math.Max(1, ops / 10);
        return loop.RunUntilComplete(async () =>
        {
            long start = Stopwatch.GetTimestamp();
            var all = new LoopTask[tasks];
            for (long i = 0; i < tasks; i++)
            {
                all[i] = TenYields();
            }

            await LoopTask.Gather(all);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        });
    }

    private static async LoopTask TenYields()
    {
        for (int step = 0; step < 10; step++)
        {
            await LoopTask.Yield();
        }
    }

    /// <summary>As <see cref="Tasks"/>, with delegate-bodied tasks (loop.CreateTask(async () => ...)).</summary>
    private static double TasksDelegate(EventLoopOptions options, long ops)
    {
        using var loop = new EventLoop(options);
        long tasks = Math.Max(1, ops / 10);
        return loop.RunUntilComplete(async () =>
        {
            long start = Stopwatch.GetTimestamp();
            var all = new LoopTask[tasks];
            for (long i = 0; i < tasks; i++)
            {
                all[i] = loop.CreateTask(static async () =>
                {
                    for (int step = 0; step < 10; step++)
                    {
                        await LoopTask.Yield();
                    }
                });
            }

            await LoopTask.Gather(all);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        });
    }

    /// <summary>N thread-safe posts from one other thread; time until all ran on the loop.</summary>
    private static double ThreadSafe(EventLoopOptions options, long ops)
    {
        using var loop = new EventLoop(options);
        long remaining = ops;
        Action<object?> count = _ =>
        {
            if (--remaining == 0)
            {
                loop.Stop();
            }
        };
        var producer = new Thread(() =>
        {
            for (long i = 0; i < ops; i++)
            {
                loop.CallSoonThreadSafe(count, null);
            }
        });
        long start = Stopwatch.GetTimestamp();
        producer.Start();
        loop.RunForever();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        producer.Join();
        return seconds;
    }

    /// <summary>
    /// N round trips between two tasks through two unbounded queues: the pinger puts item i into one
    /// queue and awaits it back from the other; the ponger gets each item and puts it back.
    /// </summary>
    private static double PingPong(EventLoopOptions options, long ops)
    {
        using var loop = new EventLoop(options);
        return loop.RunUntilComplete(async () =>
        {
            var ping = new AsyncQueue<int>();
            var pong = new AsyncQueue<int>();
            long start = Stopwatch.GetTimestamp();
            LoopTask ponger = loop.CreateTask(async () =>
            {
                for (long i = 0; i < ops; i++)
                {
                    await pong.PutAsync(await ping.GetAsync());
                }
            });
            LoopTask pinger = loop.CreateTask(async () =>
            {
                for (int i = 0; i < ops; i++)
                {
                    await ping.PutAsync(i);
                    if (await pong.GetAsync() != i)
                    {
                        throw new InvalidOperationException("pingpong: an item came back out of order");
                    }
                }
            });
            await LoopTask.Gather(ponger, pinger);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        });
    }
}
