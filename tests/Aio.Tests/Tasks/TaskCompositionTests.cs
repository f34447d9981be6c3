namespace Aio.Tests.Tasks;

/// <summary>
/// Task rules under ordinary .NET composition: several Aio awaits pending at once inside one task
/// (Task.WhenAll / WhenAny of plain async Task helpers), one CancelledError per request, the cancel
/// that arrives between completion and resumption, cross-loop awaits, and the task-only rules.
/// </summary>
public abstract class TaskCompositionTests : LoopTestBase
{
    private static readonly TimeSpan OneSecond = TimeSpan.FromSeconds(1);

    /// <summary>A plain async Task helper that sleeps in a loop, logging each round and its cancellation.</summary>
    private static async Task Ticker(string name, List<string> log)
    {
        try
        {
            while (true)
            {
                await LoopTask.Sleep(OneSecond);
                log.Add($"{name} tick");
            }
        }
        catch (CancelledError)
        {
            log.Add($"{name} cancelled");
            throw;
        }
    }

    private static async Task SleepFor(TimeSpan delay) => await LoopTask.Sleep(delay);

    [Fact]
    public void WhenAll_TwoHelpersUnderCancel_BothSeeCancelledError()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = loop.CreateTask(() => Task.WhenAll(Ticker("a", log), Ticker("b", log)));
            await LoopTask.Sleep(TimeSpan.FromSeconds(2.5));
            Assert.True(task.Cancel());
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await task);
            Assert.True(task.IsCancelled);
            Assert.Equal(2.5, loop.Time(), 6);
            await LoopTask.Sleep(TimeSpan.FromSeconds(5));   // nothing runs after the cancel
        });

        Assert.Equal(["a tick", "b tick", "a tick", "b tick", "a cancelled", "b cancelled"], log);
    }

    [Fact]
    public void WhenAll_TwoHelpersUnderTimeoutAsync_BothCancelledAndScopeThrowsTimeout()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        LoopTask task = loop.CreateTask(async () =>
        {
            await Assert.ThrowsAsync<TimeoutException>(
                () => LoopTask.TimeoutAsync(TimeSpan.FromMilliseconds(2500), () => Task.WhenAll(Ticker("a", log), Ticker("b", log))));
            log.Add($"timed out at {loop.Time():0.###}");
            Assert.Equal(0, LoopTask.Current!.Cancelling());
        });
        loop.RunUntilComplete(async () =>
        {
            await task;
            await LoopTask.Sleep(TimeSpan.FromSeconds(5));   // nothing runs after the timeout
        });

        Assert.Equal(["a tick", "b tick", "a tick", "b tick", "a cancelled", "b cancelled", "timed out at 2.5"], log);
        Assert.True(task.IsCompletedSuccessfully);
    }

    [Fact]
    public void WhenAny_CancelAfterOneHelperEnded_ReachesTheHelperStillRunning()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        Task? leftOver = null;
        LoopTask task = loop.CreateTask(async () =>
        {
            leftOver = Ticker("b", log);
            await Task.WhenAny(SleepFor(OneSecond * 1.5), leftOver);
            log.Add("first done");
            await LoopTask.Sleep(TimeSpan.FromHours(1));
        });
        loop.RunUntilComplete(async () =>
        {
            await LoopTask.Sleep(TimeSpan.FromSeconds(2.5));
            task.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            await LoopTask.Sleep(TimeSpan.FromSeconds(5));
        });

        Assert.Equal(["b tick", "first done", "b tick", "b cancelled"], log);
        Assert.True(leftOver!.IsCanceled);
    }

    [Fact]
    public void Cancel_TwiceBeforeResume_OneCancelledErrorAndTheCleanupAwaitRuns()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = loop.CreateTask(async () =>
            {
                try
                {
                    await LoopTask.Sleep(TimeSpan.FromHours(1));
                }
                catch (CancelledError error)
                {
                    log.Add(error.Message);
                    await LoopTask.Sleep(OneSecond);   // cleanup: not cancelled again
                    log.Add("cleanup done");
                    throw;
                }
            });
            await LoopTask.Yield();
            task.Cancel("first");
            task.Cancel("second");
            Assert.Equal(2, task.Cancelling());
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });

        Assert.Equal(["second", "cleanup done"], log);
    }

    [Fact]
    public void SelfCancel_ThenWhenAllOfTwoHelpers_ReachesBothHelpersFirstAwaits()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = loop.CreateTask(() =>
            {
                LoopTask.Current!.Cancel();   // no await is pending: the request waits for the next ones
                return Task.WhenAll(Ticker("a", log), Ticker("b", log));
            });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await task);
            Assert.Equal(0.0, loop.Time(), 6);
        });

        Assert.Equal(["a cancelled", "b cancelled"], log);
    }

    [Fact]
    public void Cancel_TogetherWithExpiringTimeout_OneCancelledErrorAndTheCleanupAwaitRuns()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = loop.CreateTask(() => LoopTask.TimeoutAsync(OneSecond, async () =>
            {
                try
                {
                    await LoopTask.Sleep(TimeSpan.FromHours(1));
                }
                catch (CancelledError)
                {
                    await LoopTask.Sleep(OneSecond);   // cleanup: not cancelled a second time
                    log.Add("cleanup done");
                    throw;
                }
            }));
            await LoopTask.Yield();                      // the scope's timer is armed now
            loop.CallLater(OneSecond, () => task.Cancel("outside"));   // same deadline, right after the expiry
            await Assert.ThrowsAsync<CancelledError>(async () => await task);   // not a timeout: someone else cancelled too
            Assert.Equal(2.0, loop.Time(), 6);
        });

        Assert.Equal(["cleanup done"], log);
    }

    [Fact]
    public void Cancel_AfterAwaitedFutureCompletedBeforeResume_ThrowsAtThatAwait()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Future<int> future = loop.CreateFuture<int>();
            LoopTask task = loop.CreateTask(async () =>
            {
                int value = await future;
                log.Add($"resumed with {value}");   // never: the cancel is thrown at the await
                await LoopTask.Yield();
            });
            await LoopTask.Yield();
            future.SetResult(5);
            task.Cancel("late");
            CancelledError error = await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal("late", error.Message);
        });

        Assert.Empty(log);
    }

    [Fact]
    public void Cancel_OfTaskYielding_ThrowsAtTheYieldOnce()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = loop.CreateTask(async () =>
            {
                try
                {
                    await LoopTask.Yield();
                }
                catch (CancelledError)
                {
                    await LoopTask.Yield();
                    log.Add("cleanup done");
                }
            });
            await LoopTask.Yield();
            task.Cancel();
            task.Cancel();
            await task;
        });

        Assert.Equal(["cleanup done"], log);
    }

    [Fact]
    public void Await_FutureOfAnotherLoop_ThrowsAtTheAwaitNamingBothLoops()
    {
        EventLoop loop = NewLoop();
        EventLoop other = NewLoop();
        Future<int> foreign = other.CreateFuture<int>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = loop.CreateTask(async () => await foreign);
            InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await task);
            Assert.Contains(loop.ToString(), error.Message, StringComparison.Ordinal);
            Assert.Contains(other.ToString(), error.Message, StringComparison.Ordinal);
            Assert.Same(loop, EventLoop.GetRunningLoop());
        });

        Assert.False(foreign.IsDone);
    }

    [Fact]
    public void Await_DoneFutureOfAnotherLoop_ReturnsItsResult()
    {
        EventLoop loop = NewLoop();
        EventLoop other = NewLoop();
        Future<int> foreign = other.CreateFuture<int>();
        foreign.SetResult(3);

        // As in asyncio, awaiting a done future never suspends, so no loop is involved.
        Assert.Equal(3, loop.RunUntilComplete(async () => await loop.CreateTask(async () => await foreign)));
    }

    [Fact]
    public void SetResultAndSetException_OnLoopTask_AreRefusedAndTheBodyRunsOn()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = loop.CreateTask(async () =>
            {
                await LoopTask.Yield();
                return 7;
            });
            InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => task.SetResult(1));
            Assert.Contains(task.Name, error.Message, StringComparison.Ordinal);
            Assert.Throws<InvalidOperationException>(() => task.TrySetResult(1));
            Assert.Throws<InvalidOperationException>(() => task.SetException(new FormatException()));
            Assert.False(task.IsDone);
            Assert.Equal(7, await task);
        });
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    public void WaitFor_TimeoutNotPositiveOnUnstartedTask_TimesOutWithoutStartingIt(double seconds)
    {
        EventLoop loop = NewVirtualLoop(out _);
        bool started = false;
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> inner = loop.CreateTask(() =>
            {
                started = true;
                return Task.FromResult(1);
            });
            await Assert.ThrowsAsync<TimeoutException>(async () => await LoopTask.WaitFor(inner, TimeSpan.FromSeconds(seconds)));
            Assert.True(inner.IsCancelled);
            Assert.Equal(0.0, loop.Time(), 6);
        });

        Assert.False(started);
    }

    [Fact]
    public void WaitFor_ZeroTimeoutOnDoneFuture_ReturnsItsResult()
    {
        EventLoop loop = NewLoop();
        Assert.Equal(4, loop.RunUntilComplete(async () =>
        {
            Future<int> done = loop.CreateFuture<int>();
            done.SetResult(4);
            return await LoopTask.WaitFor(done, TimeSpan.Zero);
        }));
    }

    [Fact]
    public void Wait_FirstCompleted_SnapshotTakenWhenTheCallerResumes()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            // CPython test_wait_really_done: b finishes one step after a; both are done by the time
            // the waiting code runs, so neither may be listed as pending.
            LoopTask a = loop.CreateTask(async () => await LoopTask.Yield());
            LoopTask b = loop.CreateTask(async () =>
            {
                await LoopTask.Yield();
                await LoopTask.Yield();
            });
            WaitResult result = await LoopTask.Wait([b, a], returnWhen: ReturnWhen.FirstCompleted);
            Assert.Equal(2, result.Done.Count);
            Assert.Empty(result.Pending);
        });
    }

    [Fact]
    public void Gather_Cancelled_EndsCancelledAndItsAwaitThrowsCancelledError()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask first = loop.CreateTask(async () => await LoopTask.Sleep(TimeSpan.FromHours(1)));
            LoopTask second = loop.CreateTask(async () => await LoopTask.Sleep(TimeSpan.FromHours(1)));
            Future gather = LoopTask.Gather(first, second);
            await LoopTask.Yield();
            Assert.True(gather.Cancel("stop"));
            CancelledError error = await Assert.ThrowsAsync<CancelledError>(async () => await gather);
            Assert.Equal("stop", error.Message);

            // Aio's documented difference from asyncio (whose gathering future fails with CancelledError).
            Assert.True(gather.IsCancelled);
            Assert.True(first.IsCancelled && second.IsCancelled);
        });
    }
}

public sealed class TaskCompositionEpollTests : TaskCompositionTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class TaskCompositionPortableTests : TaskCompositionTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
