using BenchmarkDotNet.Attributes;
using Aio.Sync;

namespace Aio.Micro;

/// <summary>
/// The loop's hot paths, each driven on the benchmark thread: schedule Ops operations, then run the
/// loop until they are done. Steady-state goal (docs/design.md "Performance design"): 0 bytes allocated
/// per operation for call soon, thread-safe post and sleep(0).
/// </summary>
[MemoryDiagnoser]
public class LoopBenchmarks
{
    /// <summary>Operations per benchmark invocation.</summary>
    public const int Ops = 10_000;

    private static readonly Action<object?> Nothing = static _ => { };
    private static readonly Action<object?> StopLoop = static state => ((EventLoop)state!).Stop();
    private static readonly Action<object?> ChainStep = static state => ((LoopBenchmarks)state!).Chain();
    private static readonly Action<object?> CountDown = static state => ((LoopBenchmarks)state!).Count();
    private static readonly Action<object?> SetFuture = static state => ((Future<int>)state!).SetResult(1);

    private EventLoop _loop = null!;
    private AsyncQueue<int> _queue = null!;
    private int _remaining;

    /// <summary>The loop's backend.</summary>
    [Params(LoopBackend.Epoll, LoopBackend.Portable)]
    public LoopBackend Backend { get; set; }

    /// <summary>Creates the loop (and the queue, bound to it on first use).</summary>
    [GlobalSetup]
    public void Setup()
    {
        _loop = new EventLoop(new EventLoopOptions { Backend = Backend });
        _queue = new AsyncQueue<int>();
    }

    /// <summary>Closes the loop.</summary>
    [GlobalCleanup]
    public void Cleanup() => _loop.Dispose();

    /// <summary>Ops call-soons (state overload) queued at once, then run in one iteration.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void CallSoon()
    {
        for (int i = 0; i < Ops; i++)
        {
            _loop.CallSoon(Nothing, null);
        }

        _loop.CallSoon(StopLoop, _loop);
        _loop.RunForever();
    }

    /// <summary>A chain of Ops callbacks, each scheduling the next: one loop iteration per callback (the callbacks workload).</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void CallSoonChain()
    {
        _remaining = Ops;
        _loop.CallSoon(ChainStep, this);
        _loop.RunForever();
    }

    /// <summary>Ops thread-safe posts (state overload, no handle) through the inbox, then drained by the loop.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void ThreadSafePost()
    {
        for (int i = 0; i < Ops; i++)
        {
            _loop.CallSoonThreadSafe(Nothing, null);
        }

        _loop.CallSoonThreadSafe(StopLoop, _loop);
        _loop.RunForever();
    }

    /// <summary>Ops timers scheduled far in the future and cancelled (lazy deletion; compaction in steady state).</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void TimerScheduleCancel()
    {
        for (int i = 0; i < Ops; i++)
        {
            _loop.CallLater(TimeSpan.FromHours(1), Nothing, null).Cancel();
        }

        _loop.CallSoon(StopLoop, _loop);
        _loop.RunForever();
    }

    /// <summary>Ops timers with a zero delay scheduled, then fired; the last one stops the loop.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void TimerFire()
    {
        _remaining = Ops;
        for (int i = 0; i < Ops; i++)
        {
            _loop.CallLater(TimeSpan.Zero, CountDown, this);
        }

        _loop.RunForever();
    }

    /// <summary>In one task, Ops times: create a future, complete it from a call-soon, await it.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void FutureAwait() => _loop.RunUntilComplete(async () =>
    {
        for (int i = 0; i < Ops; i++)
        {
            Future<int> future = _loop.CreateFuture<int>();
            _loop.CallSoon(SetFuture, future);
            await future;
        }
    });

    /// <summary>One task resumed Ops times: each step awaits LoopTask.Yield() (one iteration per step).</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void TaskStep() => _loop.RunUntilComplete(static async () =>
    {
        for (int i = 0; i < Ops; i++)
        {
            await LoopTask.Yield();
        }
    });

    /// <summary>One task awaiting LoopTask.Sleep(TimeSpan.Zero) Ops times [asyncio.sleep(0)].</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void SleepZero() => _loop.RunUntilComplete(static async () =>
    {
        for (int i = 0; i < Ops; i++)
        {
            await LoopTask.Sleep(TimeSpan.Zero);
        }
    });

    /// <summary>Ops tasks created (trivial body) and awaited one after the other: a task's whole life.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void TaskCreateAwait() => _loop.RunUntilComplete(async () =>
    {
        for (int i = 0; i < Ops; i++)
        {
            await _loop.CreateTask(static () => Task.CompletedTask);
        }
    });

    /// <summary>In one task, Ops times: put an item into an unbounded queue and get it back (neither waits).</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void QueuePutGet() => _loop.RunUntilComplete(async () =>
    {
        for (int i = 0; i < Ops; i++)
        {
            await _queue.PutAsync(i);
            await _queue.GetAsync();
        }
    });

    /// <summary>Ops round trips between two tasks through two queues: every get waits (the pingpong workload).</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void QueuePingPong() => _loop.RunUntilComplete(async () =>
    {
        var ping = new AsyncQueue<int>();
        var pong = new AsyncQueue<int>();
        LoopTask ponger = _loop.CreateTask(async () =>
        {
            for (int i = 0; i < Ops; i++)
            {
                await pong.PutAsync(await ping.GetAsync());
            }
        });
        for (int i = 0; i < Ops; i++)
        {
            await ping.PutAsync(i);
            await pong.GetAsync();
        }

        await ponger;
    });

    private void Chain()
    {
        if (--_remaining == 0)
        {
            _loop.Stop();
        }
        else
        {
            _loop.CallSoon(ChainStep, this);
        }
    }

    private void Count()
    {
        if (--_remaining == 0)
        {
            _loop.Stop();
        }
    }
}
