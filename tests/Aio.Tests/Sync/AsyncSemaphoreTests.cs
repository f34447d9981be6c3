using Aio.Sync;
using static Aio.Tests.Sync.SyncTestSteps;

namespace Aio.Tests.Sync;

/// <summary>AsyncSemaphore and BoundedAsyncSemaphore [asyncio.Semaphore, BoundedSemaphore].</summary>
public abstract class AsyncSemaphoreTests : LoopTestBase
{
    [Fact]
    public void AcquireAndRelease_Counts_AndLocksAtZero()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncSemaphore(2);
        loop.RunUntilComplete(async () =>
        {
            Releaser first = await gate.AcquireAsync();
            Assert.Equal(1, gate.CurrentCount);
            Assert.True(gate.TryAcquire());
            Assert.Equal(0, gate.CurrentCount);
            Assert.True(gate.IsLocked);
            Assert.False(gate.TryAcquire());
            first.Dispose();
            first.Dispose();                      // once per acquisition
            Assert.Equal(1, gate.CurrentCount);
            gate.Release();
            Assert.Equal(2, gate.CurrentCount);
            gate.Release();                       // unbounded: may go above the initial count
            Assert.Equal(3, gate.CurrentCount);
        });
    }

    [Fact]
    public void Constructor_NegativeCount_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncSemaphore(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedAsyncSemaphore(-1));
    }

    [Fact]
    public void AcquireAsync_ManyWaiters_GrantedFifoWithinTheLimit()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncSemaphore(2);
        var order = new List<int>();
        int inside = 0;
        int most = 0;
        loop.RunUntilComplete(async () =>
        {
            var tasks = new List<LoopTask>();
            for (int i = 0; i < 12; i++)
            {
                int n = i;
                tasks.Add(loop.CreateTask(async () =>
                {
                    using (await gate.AcquireAsync())
                    {
                        order.Add(n);
                        most = Math.Max(most, ++inside);
                        await Settle(n % 3 + 1);
                        inside--;
                    }
                }));
            }

            await LoopTask.Gather([.. tasks]);
        });

        Assert.Equal(Enumerable.Range(0, 12), order);
        Assert.Equal(2, most);
        Assert.Equal(2, gate.CurrentCount);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void TryAcquire_WhileAcquisitionsWait_NeverOvertakes()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncSemaphore(0);
        loop.RunUntilComplete(async () =>
        {
            LoopTask waiter = loop.CreateTask(async () => { await gate.AcquireAsync(); });
            await Settle();
            gate.Release();
            Assert.Equal(0, gate.CurrentCount);   // handed to the waiter
            Assert.False(gate.TryAcquire());
            await waiter;
        });
    }

    [Fact]
    public void Cancel_GrantedWaiterInSameIterationAsRelease_PermitPassesOn()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncSemaphore(0);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
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

            gate.Release();                       // hands the permit to b...
            b.Cancel();                           // ...which is cancelled before it resumes, and passes it on
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
            await c;
        });

        Assert.Equal(["c acquired"], log);
        Assert.Equal(1, gate.CurrentCount);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void Cancel_WaiterBeforeRelease_LeavesNothingAndPermitGoesToNext()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncSemaphore(0);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask b = loop.CreateTask(async () =>
            {
                await gate.AcquireAsync();
                log.Add("b acquired");
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
            Assert.Equal(1, gate.WaiterCount);
            gate.Release();
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
            await c;
        });

        Assert.Equal(["c acquired"], log);
        Assert.Equal(1, gate.CurrentCount);
    }

    [Fact]
    public void AcquireAsync_TokenCancelled_EndsWaitAndLeavesNothing()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncSemaphore(0);
        using var source = new CancellationTokenSource();
        loop.RunUntilComplete(async () =>
        {
            Future<Releaser> wait = gate.AcquireAsync(source.Token);
            Future<bool> timed = gate.TryAcquireAsync(TimeSpan.FromHours(1), source.Token);
            Assert.Equal(2, gate.WaiterCount);
            await loop.WrapTask(Task.Run(source.Cancel));
            await Assert.ThrowsAsync<CancelledError>(async () => await wait);
            await Assert.ThrowsAsync<CancelledError>(async () => await timed);
            Assert.Equal(0, gate.WaiterCount);
            gate.Release();
            Assert.Equal(1, gate.CurrentCount);
        });
    }

    [Fact]
    public void TryAcquireAsync_TimeoutExpires_YieldsFalse()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var gate = new AsyncSemaphore(0);
        loop.RunUntilComplete(async () =>
        {
            Assert.False(await gate.TryAcquireAsync(TimeSpan.FromSeconds(3)));
            Assert.Equal(3, clock.Elapsed.TotalSeconds, precision: 6);
            Assert.Equal(0, gate.WaiterCount);
            Assert.False(await gate.TryAcquireAsync(TimeSpan.Zero));
            gate.Release();
            Assert.True(await gate.TryAcquireAsync(TimeSpan.Zero));
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TryAcquireAsync_TimeoutAtMomentOfRelease_PermitNeverLost(bool releaseRunsFirst)
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var gate = new AsyncSemaphore(0);
        bool acquired = loop.RunUntilComplete(async () =>
        {
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
            Assert.Equal(1, clock.Elapsed.TotalSeconds, precision: 6);
            Assert.Equal(0, gate.WaiterCount);
            Assert.Equal(got ? 0 : 1, gate.CurrentCount);
            if (got)
            {
                gate.Release();
            }

            return got;
        });

        Assert.Equal(releaseRunsFirst, acquired);
        Assert.Equal(1, gate.CurrentCount);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TimeoutScope_ExpiresAtMomentOfRelease_PermitNeverLost(bool releaseRunsFirst)
    {
        EventLoop loop = NewVirtualLoop(out _);
        var gate = new AsyncSemaphore(0);
        bool used = false;
        bool completed = loop.RunUntilComplete(async () =>
        {
            if (releaseRunsFirst)
            {
                loop.CallLater(TimeSpan.FromSeconds(1), gate.Release);
            }

            LoopTask<bool> worker = loop.CreateTask(() => LoopTask.MoveOnAfterAsync(TimeSpan.FromSeconds(1), async () =>
            {
                using (await gate.AcquireAsync())
                {
                    used = true;
                }
            }));
            await LoopTask.Yield();                // the worker entered its scope: its deadline is armed
            if (!releaseRunsFirst)
            {
                loop.CallLater(TimeSpan.FromSeconds(1), gate.Release);
            }

            return await worker;
        });

        // Whichever ran first, the permit is never lost: a release first hands it to the worker,
        // whose scope expires before the worker resumes, so the worker gives it back as it resumes
        // (asyncio's rule for a cancel after the grant) and the scope ends as timed out.
        Assert.False(used);
        Assert.False(completed);
        Assert.Equal(1, gate.CurrentCount);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void WaitFor_TimeoutAtMomentOfGrant_PermitNeverLost()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var gate = new AsyncSemaphore(0);
        loop.RunUntilComplete(async () =>
        {
            loop.CallLater(TimeSpan.FromSeconds(1), gate.Release);
            Releaser permit = await LoopTask.WaitFor(gate.AcquireAsync(), TimeSpan.FromSeconds(1));
            Assert.Equal(0, gate.CurrentCount);
            permit.Dispose();
        });

        Assert.Equal(1, gate.CurrentCount);
    }

    [Fact]
    public void RandomCancellationsAndTimeouts_ManyWaiters_PermitsConservedAndLimitHolds()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var gate = new AsyncSemaphore(3);
        var random = new Random(1234);
        int inside = 0;
        int most = 0;
        loop.RunUntilComplete(async () =>
        {
            var tasks = new List<LoopTask>();
            for (int i = 0; i < 200; i++)
            {
                int hold = random.Next(1, 5);
                bool timed = random.Next(3) == 0;
                tasks.Add(loop.CreateTask(async () =>
                {
                    if (timed ? await gate.TryAcquireAsync(TimeSpan.FromSeconds(hold)) : await Taken(gate))
                    {
                        most = Math.Max(most, ++inside);
                        try
                        {
                            await LoopTask.Sleep(TimeSpan.FromSeconds(hold));
                        }
                        finally
                        {
                            inside--;
                            gate.Release();
                        }
                    }
                }));
            }

            for (int step = 0; step < 60; step++)
            {
                await LoopTask.Sleep(TimeSpan.FromSeconds(random.Next(0, 2)));
                tasks[random.Next(tasks.Count)].Cancel();
            }

            await LoopTask.Gather(tasks, returnExceptions: true);
        });

        Assert.Equal(3, most);
        Assert.Equal(0, inside);
        Assert.Equal(3, gate.CurrentCount);
        Assert.Equal(0, gate.WaiterCount);

        static async Task<bool> Taken(AsyncSemaphore gate)
        {
            await gate.AcquireAsync();
            return true;
        }
    }

    [Fact]
    public void Bounded_ReleaseAboveInitialCount_Throws()
    {
        EventLoop loop = NewLoop();
        var gate = new BoundedAsyncSemaphore(2);
        loop.RunUntilComplete(async () =>
        {
            Assert.Equal(2, gate.MaxCount);
            var error = Assert.Throws<InvalidOperationException>(gate.Release);
            Assert.Contains("released too many times", error.Message, StringComparison.Ordinal);

            Releaser permit = await gate.AcquireAsync();
            Assert.True(gate.TryAcquire());
            gate.Release();
            permit.Dispose();
            Assert.Equal(2, gate.CurrentCount);
            Assert.Throws<InvalidOperationException>(gate.Release);
            permit.Dispose();                     // idempotent: no over-release
            Assert.Equal(2, gate.CurrentCount);
        });
    }

    [Fact]
    public void Bounded_ReleaseWithWaiters_HandsOverWithoutCountingAgainstTheBound()
    {
        EventLoop loop = NewLoop();
        var gate = new BoundedAsyncSemaphore(1);
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask waiter = loop.CreateTask(async () =>
            {
                using (await gate.AcquireAsync())
                {
                    await LoopTask.Yield();
                }
            });
            await Settle();
            gate.Release();
            await waiter;
            Assert.Equal(1, gate.CurrentCount);
            Assert.Throws<InvalidOperationException>(gate.Release);
        });
    }
}

public sealed class AsyncSemaphoreEpollTests : AsyncSemaphoreTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class AsyncSemaphorePortableTests : AsyncSemaphoreTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
