namespace Aio.Tests.Tasks;

/// <summary>Gather, Wait, WaitFor, Shield, AsCompleted, ToThread and bridging to .NET tasks.</summary>
public abstract class CombinatorTests : LoopTestBase
{
    private static LoopTask<T> After<T>(EventLoop loop, double seconds, T value) =>
        loop.CreateTask(async () =>
        {
            await LoopTask.Sleep(TimeSpan.FromSeconds(seconds));
            return value;
        });

    private static LoopTask<T> FailAfter<T>(EventLoop loop, double seconds, Exception error) =>
        loop.CreateTask<T>(async () =>
        {
            await LoopTask.Sleep(TimeSpan.FromSeconds(seconds));
            throw error;
        });

    [Fact]
    public void Gather_AllSucceed_ResultsInArgumentOrder()
    {
        EventLoop loop = NewVirtualLoop(out _);
        int[] results = loop.RunUntilComplete(async () =>
            await LoopTask.Gather(After(loop, 3, 1), After(loop, 1, 2), After(loop, 2, 3)));

        Assert.Equal([1, 2, 3], results);
    }

    [Fact]
    public void Gather_ChildFails_FailsFastAndOthersRunOn()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask<int>? slow = null;
        loop.RunUntilComplete(async () =>
        {
            slow = After(loop, 10, 1);
            var error = await Assert.ThrowsAsync<FormatException>(async () =>
                await LoopTask.Gather(slow, FailAfter<int>(loop, 1, new FormatException("bad"))));
            Assert.Equal("bad", error.Message);
            Assert.False(slow.IsDone);
            Assert.Equal(1, await slow);
        });
    }

    [Fact]
    public void Gather_ReturnExceptions_CollectsOutcomes()
    {
        EventLoop loop = NewVirtualLoop(out _);
        Exception?[] outcomes = loop.RunUntilComplete(async () =>
        {
            LoopTask<int> cancelled = After(loop, 5, 0);
            Future<Exception?[]> all = LoopTask.Gather([After(loop, 1, 1), FailAfter<int>(loop, 2, new FormatException()), cancelled], returnExceptions: true);
            await LoopTask.Sleep(TimeSpan.FromSeconds(3));
            cancelled.Cancel();
            return await all;
        });

        Assert.Null(outcomes[0]);
        Assert.IsType<FormatException>(outcomes[1]);
        Assert.IsType<CancelledError>(outcomes[2]);
    }

    [Fact]
    public void Gather_Cancelled_CancelsChildren()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask<int>[] children = [];
        loop.RunUntilComplete(async () =>
        {
            children = [After(loop, 5, 1), After(loop, 6, 2)];
            Future<int[]> gather = LoopTask.Gather(children);
            await LoopTask.Yield();
            Assert.True(gather.Cancel());
            await Assert.ThrowsAsync<CancelledError>(async () => await gather);
            Assert.True(gather.IsCancelled);
        });

        Assert.All(children, child => Assert.True(child.IsCancelled));
    }

    [Fact]
    public void Gather_AwaitingTaskCancelled_CancelsChildren()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask<int>[] children = [];
        loop.RunUntilComplete(async () =>
        {
            LoopTask outer = loop.CreateTask(async () =>
            {
                children = [After(loop, 5, 1), After(loop, 6, 2)];
                await LoopTask.Gather(children);
            });
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            outer.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await outer);
        });

        Assert.All(children, child => Assert.True(child.IsCancelled));
    }

    [Fact]
    public void Wait_FirstCompleted_ReturnsDoneAndPendingWithoutCancelling()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> fast = After(loop, 1, 1);
            LoopTask<int> slow = After(loop, 5, 2);
            WaitResult result = await LoopTask.Wait([fast, slow], returnWhen: ReturnWhen.FirstCompleted);
            Assert.Equal([fast], result.Done);
            Assert.Equal([slow], result.Pending);
            Assert.False(slow.IsCancelled);
            Assert.Equal(2, await slow);
        });
    }

    [Fact]
    public void Wait_FirstException_StopsAtFailure()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> ok = After(loop, 1, 1);
            LoopTask<int> bad = FailAfter<int>(loop, 2, new FormatException());
            LoopTask<int> slow = After(loop, 9, 3);
            WaitResult result = await LoopTask.Wait([ok, bad, slow], returnWhen: ReturnWhen.FirstException);
            Assert.Equal(2, result.Done.Count);
            Assert.Equal([slow], result.Pending);
            Assert.IsType<FormatException>(bad.GetException());
            await slow;
        });
        Assert.Equal(9, clock.Elapsed.TotalSeconds, precision: 3);
    }

    [Fact]
    public void Wait_Timeout_ReturnsWithPending()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> slow = After(loop, 10, 1);
            WaitResult result = await LoopTask.Wait([slow], timeout: TimeSpan.FromSeconds(2));
            Assert.Empty(result.Done);
            Assert.Equal([slow], result.Pending);
            slow.Cancel();
        });
    }

    [Fact]
    public void WaitFor_Timeout_CancelsInnerWaitsForItThenThrowsTimeout()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> inner = loop.CreateTask(async () =>
            {
                try
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(10));
                    return 1;
                }
                catch (CancelledError)
                {
                    // Cleanup that takes time: WaitFor must wait for it.
                    await Shielded(loop, TimeSpan.FromSeconds(1));
                    log.Add("inner cleaned up");
                    throw;
                }
            });
            await Assert.ThrowsAsync<TimeoutException>(async () => await LoopTask.WaitFor(inner, TimeSpan.FromSeconds(2)));
            log.Add("timeout seen");
            Assert.True(inner.IsCancelled);
        });

        Assert.Equal(["inner cleaned up", "timeout seen"], log);
        Assert.Equal(3, clock.Elapsed.TotalSeconds, precision: 3);
    }

    private static async Task Shielded(EventLoop loop, TimeSpan delay)
    {
        LoopTask sleeper = loop.CreateTask(async () => await LoopTask.Sleep(delay));
        await LoopTask.Shield(sleeper);
    }

    [Fact]
    public void WaitFor_InnerFinishesInTime_ReturnsResult()
    {
        EventLoop loop = NewVirtualLoop(out _);
        int result = loop.RunUntilComplete(async () => await LoopTask.WaitFor(After(loop, 1, 5), TimeSpan.FromSeconds(2)));
        Assert.Equal(5, result);
    }

    [Fact]
    public void WaitFor_OuterCancelled_PropagatesCancelledErrorNotTimeout()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask<int>? inner = null;
        loop.RunUntilComplete(async () =>
        {
            LoopTask outer = loop.CreateTask(async () =>
            {
                inner = After(loop, 10, 1);
                await LoopTask.WaitFor(inner, TimeSpan.FromSeconds(5));
            });
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            outer.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await outer);
            Assert.True(outer.IsCancelled);
        });

        Assert.True(inner!.IsCancelled);
    }

    [Fact]
    public void Shield_OuterCancelled_InnerKeepsRunning()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> inner = After(loop, 5, 9);
            var outer = loop.CreateTask(async () => await LoopTask.Shield(inner));
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            outer.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await outer);
            Assert.False(inner.IsDone);
            Assert.Equal(9, await inner);
        });
    }

    [Fact]
    public void AsCompleted_YieldsInCompletionOrder()
    {
        EventLoop loop = NewVirtualLoop(out _);
        List<int> order = loop.RunUntilComplete(async () =>
        {
            var seen = new List<int>();
            await foreach (LoopTask<int> done in LoopTask.AsCompleted([After(loop, 3, 3), After(loop, 1, 1), After(loop, 2, 2)]))
            {
                seen.Add(await done);
            }

            return seen;
        });

        Assert.Equal([1, 2, 3], order);
    }

    [Fact]
    public void AsCompleted_Timeout_ThrowsTimeoutException()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> slow = After(loop, 10, 2);
            var seen = new List<int>();
            await Assert.ThrowsAsync<TimeoutException>(async () =>
            {
                await foreach (LoopTask<int> done in LoopTask.AsCompleted([After(loop, 1, 1), slow], TimeSpan.FromSeconds(5)))
                {
                    seen.Add(await done);
                }
            });
            Assert.Equal([1], seen);
            slow.Cancel();
        });
    }

    [Fact]
    public void AsCompleted_ConsumerCancelled_ThrowsCancelledError()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> slow = After(loop, 10, 2);
            LoopTask consumer = loop.CreateTask(async () =>
            {
                await foreach (LoopTask<int> done in LoopTask.AsCompleted([slow]))
                {
                    await done;
                }
            });
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            consumer.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await consumer);
            Assert.False(slow.IsCancelled);
            slow.Cancel();
        });
    }

    [Fact]
    public void ToThread_RunsOffLoopAndResumesOnLoop()
    {
        EventLoop loop = NewLoop();
        int loopThread = 0;
        (int worker, int after) = loop.RunUntilComplete(async () =>
        {
            loopThread = Environment.CurrentManagedThreadId;
            int worker = await LoopTask.ToThread(() => Environment.CurrentManagedThreadId);
            return (worker, Environment.CurrentManagedThreadId);
        });

        Assert.NotEqual(loopThread, worker);
        Assert.Equal(loopThread, after);
    }

    [Fact]
    public void WrapTask_AndAsTask_BridgeBothWays()
    {
        EventLoop loop = NewLoop();
        var source = new TaskCompletionSource<string>();
        Task<string> back = loop.RunUntilComplete(async () =>
        {
            Future<string> future = loop.WrapTask(source.Task);
            _ = Task.Run(() => source.SetResult("hello"));
            string value = await future;
            Future<string> again = loop.CreateFuture<string>();
            Task<string> asTask = again.AsTask();
            again.SetResult(value + "!");
            await LoopTask.Yield();
            await LoopTask.Yield();
            return asTask;
        });

        Assert.True(back.Wait(Patience));
        Assert.Equal("hello!", back.Result);
    }

    [Fact]
    public void RunThreadSafe_FromManyThreads_AllResultsArrive()
    {
        EventLoop loop = NewLoop();
        using var started = new ManualResetEventSlim();
        Thread runner = RunOnThread(loop, started);
        Assert.True(started.Wait(Patience));

        var results = new Task<int>[8 * 50];
        Parallel.For(0, 8, thread =>
        {
            for (int i = 0; i < 50; i++)
            {
                int n = (thread * 50) + i;
                results[n] = loop.RunThreadSafe(async () =>
                {
                    await LoopTask.Yield();
                    Assert.True(loop.IsRunning);
                    return n * 2;
                });
            }
        });

        Assert.True(Task.WaitAll(results, Patience));
        Assert.Equal(Enumerable.Range(0, 400).Select(n => n * 2), results.Select(t => t.Result));
        loop.CallSoonThreadSafe(loop.Stop);
        Assert.True(runner.Join(Patience));
    }
}

public sealed class CombinatorEpollTests : CombinatorTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class CombinatorPortableTests : CombinatorTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
