// The memory workload (docs/design.md "Performance design"): bytes of process memory per suspended task.
// Measured the same way in every implementation (Python and Node.js peers, plain .NET): a fresh
// process; a small warm-up pass (1% of N, at least 100 tasks) so the code is compiled; a full
// collection, then resident memory (VmRSS from /proc/self/status) as the baseline; N tasks created,
// each awaiting one shared future, and the loop run until every task has suspended on it; a full
// collection again, then VmRSS again. bytes_per_task = growth / N. The list of tasks is kept alive
// (as the peers keep theirs), so its 8 bytes per task are counted everywhere. Then the future is
// completed and every task finishes. RSS includes whatever the runtime keeps committed, which is
// the honest figure for "what does a suspended task cost this process"; the managed-heap growth is
// printed beside it for diagnosis. The tasks are async LoopTask methods, Aio's native coroutines
// (the idiomatic form: calling one is create_task(coro())); "memory-delegate" measures tasks made
// with loop.CreateTask(async () => ...) instead.
using System.Globalization;

namespace Aio.Bench;

/// <summary>The memory workload: one measured pass, no timed warm-up of full size.</summary>
internal static class Memory
{
    public const long DefaultTasks = 100_000;

    /// <summary>Runs the workload; returns (resident bytes, managed-heap bytes) per suspended task.</summary>
    public static (double Rss, double Managed) Run(EventLoopOptions options, long tasks, bool delegates)
    {
        Measure(options, Math.Max(100, tasks / 100), delegates);
        return Measure(options, tasks, delegates);
    }

    private static async LoopTask Wait(Future<bool> gate) => await gate;

    private static (double Rss, double Managed) Measure(EventLoopOptions options, long count, bool delegates)
    {
        using var loop = new EventLoop(options);
        return loop.RunUntilComplete(async () =>
        {
            Future<bool> gate = loop.CreateFuture<bool>();
            Func<Task> waiter = async () => await gate;
            var all = new LoopTask[count];
            FullCollect();
            long rss0 = ResidentBytes();
            long heap0 = GC.GetTotalMemory(forceFullCollection: false);
            for (long i = 0; i < count; i++)
            {
                all[i] = delegates ? loop.CreateTask(waiter) : Wait(gate);
            }

            // The tasks' first steps run in the next iteration, before this yield resumes: all suspended.
            await LoopTask.Yield();
            FullCollect();
            long rss1 = ResidentBytes();
            long heap1 = GC.GetTotalMemory(forceFullCollection: false);
            gate.SetResult(true);
            await LoopTask.Gather(all);
            return ((rss1 - rss0) / (double)count, (heap1 - heap0) / (double)count);
        });
    }

    private static void FullCollect()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    /// <summary>VmRSS from /proc/self/status (what the peers read), else the working set.</summary>
    internal static long ResidentBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    string kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return Environment.WorkingSet;
    }
}
