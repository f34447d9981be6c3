using Aio.Sync;
using static Aio.Tests.Sync.SyncTestSteps;

namespace Aio.Tests.Sync;

/// <summary>AsyncLock [asyncio.Lock]: hand-off, FIFO, re-entry, cancellation races, timeouts.</summary>
public abstract class AsyncLockTests : LoopTestBase
{
    /// <summary>Takes the lock in a short-lived task, so the calling task may wait for it without re-entering.</summary>
    private static async Task TakeElsewhere(EventLoop loop, AsyncLock gate) =>
        await loop.CreateTask(() =>
        {
            Assert.True(gate.TryAcquire());
            return Task.CompletedTask;
        });

    [Fact]
    public void AcquireAsync_Free_TakesLockBeforeReturning()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            Future<Releaser> acquire = gate.AcquireAsync();
            Assert.True(acquire.IsCompletedSuccessfully);
            Assert.True(gate.IsLocked);
            await using (await acquire)
            {
                Assert.True(gate.IsLocked);
            }

            Assert.False(gate.IsLocked);
        });
    }

    [Fact]
    public void AcquireAsync_ManyWaiters_GrantedInFifoOrderOneAtATime()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        var log = new List<string>();
        int inside = 0;
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            var tasks = new List<LoopTask>();
            for (int i = 0; i < 10; i++)
            {
                int n = i;
                tasks.Add(loop.CreateTask(async () =>
                {
                    await using (await gate.AcquireAsync())
                    {
                        Assert.Equal(1, ++inside);
                        log.Add($"in {n}");
                        await LoopTask.Yield();
                        log.Add($"out {n}");
                        inside--;
                    }
                }));
            }

            await Settle();
            Assert.Equal(10, gate.WaiterCount);
            gate.Release();
            await LoopTask.Gather([.. tasks]);
        });

        Assert.Equal(Enumerable.Range(0, 10).SelectMany(n => new[] { $"in {n}", $"out {n}" }), log);
        Assert.False(gate.IsLocked);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void TryAcquire_WhileAcquisitionsWait_NeverOvertakes()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            await TakeElsewhere(loop, gate);
            Assert.False(gate.TryAcquire());
            LoopTask waiter = loop.CreateTask(async () =>
            {
                using (await gate.AcquireAsync())
                {
                    await LoopTask.Yield();
                }
            });
            await Settle();

            gate.Release();
            Assert.True(gate.IsLocked);       // handed to the waiter, not freed
            Assert.False(gate.TryAcquire());
            await waiter;
            Assert.True(gate.TryAcquire());
            gate.Release();
        });
    }

    [Fact]
    public void AcquireAsync_HeldByCurrentTask_ThrowsInsteadOfDeadlocking()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            await loop.CreateTask(async () =>
            {
                await using (await gate.AcquireAsync())
                {
                    var error = Assert.Throws<InvalidOperationException>(() => gate.AcquireAsync());
                    Assert.Contains("not reentrant", error.Message, StringComparison.Ordinal);
                    Assert.Contains("already held by the current task", error.Message, StringComparison.Ordinal);
                    Assert.Throws<InvalidOperationException>(() => gate.TryAcquire());
                    Assert.Throws<InvalidOperationException>(() => gate.TryAcquireAsync(TimeSpan.FromSeconds(1)));
                    Assert.Equal(0, gate.WaiterCount);
                }
            });
        });

        Assert.False(gate.IsLocked);
    }

    [Fact]
    public void AcquireAsync_HeldByAnotherTask_Waits()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            Releaser held = await loop.CreateTask(async () => await gate.AcquireAsync());
            Future<Releaser> mine = gate.AcquireAsync();   // held by a finished task: no re-entry error
            Assert.False(mine.IsDone);
            held.Dispose();
            (await mine).Dispose();
        });
    }

    [Fact]
    public void ToString_DescribesStateAndWhatAWaitWaitsOn()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            await TakeElsewhere(loop, gate);
            Future<Releaser> wait = gate.AcquireAsync();
            Assert.Equal("<AsyncLock locked waiters=1>", gate.ToString());
            Assert.Equal("<wait on <AsyncLock locked waiters=1> pending>", wait.ToString());
            gate.Release();
            (await wait).Dispose();
            Assert.Equal("<AsyncLock unlocked>", gate.ToString());
        });
    }

    [Fact]
    public void Release_NotLocked_Throws()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            await LoopTask.Yield();
            var error = Assert.Throws<InvalidOperationException>(gate.Release);
            Assert.Contains("not acquired", error.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Releaser_DisposedTwiceOrAfterRelease_NeverReleasesAnotherHold()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            Releaser first = await gate.AcquireAsync();
            first.Dispose();
            first.Dispose();
            Assert.False(gate.IsLocked);

            Releaser second = await gate.AcquireAsync();
            gate.Release();
            await TakeElsewhere(loop, gate);   // someone else's hold now
            second.Dispose();
            Assert.True(gate.IsLocked);
            gate.Release();
            default(Releaser).Dispose();
        });
    }

    [Fact]
    public void Cancel_WaitingTask_LeavesNothingBehind()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask waiter = loop.CreateTask(async () => { await gate.AcquireAsync(); });
            await Settle();
            Assert.Equal(1, gate.WaiterCount);

            waiter.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await waiter);
            Assert.Equal(0, gate.WaiterCount);
            gate.Release();
            Assert.False(gate.IsLocked);
        });
    }

    [Fact]
    public void Cancel_GrantedWaiterInSameIterationAsRelease_LockPassesToNextWaiter()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask b = loop.CreateTask(async () =>
            {
                try
                {
                    await using (await gate.AcquireAsync())
                    {
                        log.Add("b acquired");
                    }
                }
                catch (CancelledError error)
                {
                    log.Add($"b: {error.Message}, locked={gate.IsLocked}");
                    throw;
                }
            });
            LoopTask c = loop.CreateTask(async () =>
            {
                await using (await gate.AcquireAsync())
                {
                    log.Add("c acquired");
                }
            });
            await Settle();

            gate.Release();                        // hands the lock to b...
            Assert.True(b.Cancel("late"));         // ...which is cancelled before it resumes
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
            await c;
        });

        // b gave the lock back as it resumed (to c, which then held it), and threw the cancel.
        Assert.Equal(["b: late, locked=True", "c acquired"], log);
        Assert.False(gate.IsLocked);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void Cancel_WaiterInSameIterationBeforeRelease_LockGoesStraightToNextWaiter()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask b = loop.CreateTask(async () =>
            {
                using (await gate.AcquireAsync())
                {
                    log.Add("b acquired");
                }
            });
            LoopTask c = loop.CreateTask(async () =>
            {
                using (await gate.AcquireAsync())
                {
                    log.Add("c acquired");
                }
            });
            await Settle();

            b.Cancel();
            gate.Release();
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
            await c;
        });

        Assert.Equal(["c acquired"], log);
        Assert.False(gate.IsLocked);
    }

    [Fact]
    public void AcquireAsync_TokenCancelledOnLoop_EndsWaitWithCancelledError()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        using var source = new CancellationTokenSource();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask waiter = loop.CreateTask(async () => { await gate.AcquireAsync(source.Token); });
            await Settle();

            await source.CancelAsync();
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await waiter);
            Assert.IsAssignableFrom<OperationCanceledException>(error);
            Assert.Equal(0, gate.WaiterCount);
            gate.Release();
        });
    }

    [Fact]
    public void AcquireAsync_TokenCancelledFromAnotherThread_EndsWaitOnTheLoop()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        using var source = new CancellationTokenSource();
        loop.RunUntilComplete(async () =>
        {
            await TakeElsewhere(loop, gate);
            Future<Releaser> wait = gate.AcquireAsync(source.Token);
            await loop.WrapTask(Task.Run(source.Cancel));
            await Assert.ThrowsAsync<CancelledError>(async () => await wait);
            Assert.Equal(0, gate.WaiterCount);
            gate.Release();
            Assert.False(gate.IsLocked);
        });
    }

    [Fact]
    public void AcquireAsync_TokenAlreadyCancelled_DoesNotTakeFreeLock()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            Future<Releaser> wait = gate.AcquireAsync(new CancellationToken(canceled: true));
            Assert.True(wait.IsCancelled);
            Assert.False(gate.IsLocked);
            await Assert.ThrowsAsync<CancelledError>(async () => await wait);
        });
    }

    [Fact]
    public void TryAcquireAsync_TimeoutExpires_YieldsFalseAndLeaves()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            await TakeElsewhere(loop, gate);
            Assert.False(await gate.TryAcquireAsync(TimeSpan.FromSeconds(2)));
            Assert.Equal(2, clock.Elapsed.TotalSeconds, precision: 6);
            Assert.Equal(0, gate.WaiterCount);
            Assert.False(await gate.TryAcquireAsync(TimeSpan.Zero));
            gate.Release();
            Assert.True(await gate.TryAcquireAsync(TimeSpan.Zero));
            gate.Release();
        });
    }

    [Fact]
    public void TryAcquireAsync_ReleasedBeforeTimeout_YieldsTrue()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            await TakeElsewhere(loop, gate);
            loop.CallLater(TimeSpan.FromSeconds(1), gate.Release);
            Assert.True(await gate.TryAcquireAsync(Timeout.InfiniteTimeSpan));
            Assert.Equal(1, clock.Elapsed.TotalSeconds, precision: 6);
            gate.Release();
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TryAcquireAsync_TimeoutAtMomentOfRelease_LockNeverLost(bool releaseRunsFirst)
    {
        EventLoop loop = NewVirtualLoop(out _);
        var gate = new AsyncLock();
        bool acquired = loop.RunUntilComplete(async () =>
        {
            await TakeElsewhere(loop, gate);
            Future<bool> attempt;
            if (releaseRunsFirst)
            {
                loop.CallLater(TimeSpan.FromSeconds(1), gate.Release);
                attempt = gate.TryAcquireAsync(TimeSpan.FromSeconds(1));
            }
            else
            {
                attempt = gate.TryAcquireAsync(TimeSpan.FromSeconds(1));
                loop.CallLater(TimeSpan.FromSeconds(1), gate.Release);
            }

            bool got = await attempt;
            Assert.Equal(got, gate.IsLocked);
            Assert.Equal(0, gate.WaiterCount);
            if (got)
            {
                gate.Release();
            }

            return got;
        });

        Assert.Equal(releaseRunsFirst, acquired);
        Assert.False(gate.IsLocked);
    }

    [Fact]
    public void TryAcquireAsync_NegativeTimeout_Throws()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            await LoopTask.Yield();
            Assert.Throws<ArgumentOutOfRangeException>(() => gate.TryAcquireAsync(TimeSpan.FromSeconds(-1)));
        });
    }

    [Fact]
    public void AcquireAsync_TaskCancelledBeforeItWaits_CancelledAtOnceLeavingNothing()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask waiter = loop.CreateTask(async () =>
            {
                ((ILoopTask)LoopTask.Current!).Cancel();
                await gate.AcquireAsync();
            });
            await Assert.ThrowsAsync<CancelledError>(async () => await waiter);
            Assert.Equal(0, gate.WaiterCount);
            gate.Release();
        });
    }
}

public sealed class AsyncLockEpollTests : AsyncLockTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class AsyncLockPortableTests : AsyncLockTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
