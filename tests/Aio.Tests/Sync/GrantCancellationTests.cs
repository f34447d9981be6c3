using Aio.Sync;
using static Aio.Tests.Sync.SyncTestSteps;

namespace Aio.Tests.Sync;

/// <summary>
/// A wait that was granted and whose task was cancelled before it resumed [asyncio: acquire's
/// "cancelled after being woken" branch]: the lock or permit passes on exactly as a release would,
/// the await throws <see cref="CancelledError"/> with the cancel's message, and nothing leaks.
/// </summary>
public abstract class GrantCancellationTests : LoopTestBase
{
    private static AsyncSemaphore NewSemaphore(bool bounded, int count) =>
        bounded ? new BoundedAsyncSemaphore(count) : new AsyncSemaphore(count);

    [Fact]
    public void Lock_GrantedThenCancelledWithNobodyWaiting_BecomesFree()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask b = loop.CreateTask(async () => { await gate.AcquireAsync(); });
            await Settle();

            gate.Release();
            Assert.True(gate.IsLocked);            // handed to b...
            Assert.True(b.Cancel("late"));         // ...which is cancelled before it resumes
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await b);
            Assert.Equal("late", error.Message);
            Assert.False(gate.IsLocked);
            Assert.Equal(0, gate.WaiterCount);
            Assert.True(gate.TryAcquire());        // free, with no trace of b as its owner
            gate.Release();
        });
    }

    [Fact]
    public void Lock_AwaitUsingCancelledOnGrant_NeverReleasesTheNextHold()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        var cHolds = new AsyncEvent();
        var cMayLeave = new AsyncEvent();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            Future<Releaser>? bWait = null;
            LoopTask b = loop.CreateTask(async () =>
            {
                bWait = gate.AcquireAsync();
                CancelOnCompletion(bWait, "late");
                await using (await bWait)
                {
                    log.Add("b inside");
                }
            });
            LoopTask c = loop.CreateTask(async () =>
            {
                await using (await gate.AcquireAsync())
                {
                    cHolds.Set();
                    await cMayLeave.WaitAsync();
                    log.Add("c leaves");
                }
            });
            await Settle();

            gate.Release();
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
            await cHolds.WaitAsync();
            Assert.True(gate.IsLocked);                    // c's hold
            Assert.True(bWait!.IsCompletedSuccessfully);   // b's wait itself succeeded...
            bWait.Result.Dispose();                        // ...but its releaser releases nothing now
            Assert.True(gate.IsLocked);
            cMayLeave.Set();
            await c;
        });

        Assert.Equal(["c leaves"], log);
        Assert.False(gate.IsLocked);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void Lock_ManyWaitersEveryOtherCancelledOnGrant_LockPassesDownTheLine()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        var log = new List<string>();
        var tasks = new List<LoopTask>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            for (int i = 0; i < 10; i++)
            {
                int n = i;
                tasks.Add(loop.CreateTask(async () =>
                {
                    Future<Releaser> wait = gate.AcquireAsync();
                    if (n % 2 == 1)
                    {
                        CancelOnCompletion(wait, $"late {n}");
                    }

                    try
                    {
                        await using (await wait)
                        {
                            log.Add($"in {n}");
                            await LoopTask.Yield();
                            log.Add($"out {n}");
                        }
                    }
                    catch (CancelledError error)
                    {
                        log.Add(error.Message);
                        throw;
                    }
                }));
            }

            await Settle();
            Assert.Equal(10, gate.WaiterCount);
            gate.Release();
            await LoopTask.Gather(tasks, returnExceptions: true);
        });

        Assert.Equal(
            Enumerable.Range(0, 10).SelectMany(n => n % 2 == 0 ? new[] { $"in {n}", $"out {n}" } : [$"late {n}"]),
            log);
        Assert.Equal(Enumerable.Range(0, 10).Select(n => n % 2 == 1), tasks.Select(task => task.IsCancelled));
        Assert.False(gate.IsLocked);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void Lock_TryAcquireAsyncGrantedThenCancelled_GivesTheLockBackAndThrows()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var gate = new AsyncLock();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask b = loop.CreateTask(async () =>
            {
                Future<bool> wait = gate.TryAcquireAsync(TimeSpan.FromHours(1));
                CancelOnCompletion(wait, "late");
                if (await wait)
                {
                    log.Add("b acquired");
                    gate.Release();
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

            gate.Release();
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await b);
            Assert.Equal("late", error.Message);
            await c;
        });

        Assert.Equal(["c acquired"], log);
        Assert.False(gate.IsLocked);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void Lock_TimedGrantReleasedByOtherCodeThenCancelled_GivingBackLeavesTheNewHold()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        var cHolds = new AsyncEvent();
        var cMayLeave = new AsyncEvent();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask b = loop.CreateTask(async () =>
            {
                if (await gate.TryAcquireAsync(Timeout.InfiniteTimeSpan))
                {
                    gate.Release();
                }
            });
            LoopTask c = loop.CreateTask(async () =>
            {
                using (await gate.AcquireAsync())
                {
                    cHolds.Set();
                    await cMayLeave.WaitAsync();
                }
            });
            await Settle();

            gate.Release();                        // to b...
            gate.Release();                        // ...released by other code before b resumed: to c
            b.Cancel("late");
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
            await cHolds.WaitAsync();
            Assert.True(gate.IsLocked);            // b gave back nothing: the hold was no longer b's
            cMayLeave.Set();
            await c;
        });

        Assert.False(gate.IsLocked);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void Lock_GrantedThenCancelThenUncancelBeforeResuming_KeepsTheLock()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask b = loop.CreateTask(async () =>
            {
                await using (await gate.AcquireAsync())
                {
                    log.Add($"b acquired, cancelling={LoopTask.Current!.Cancelling()}");
                    await LoopTask.Yield();
                    log.Add("b went on");
                }
            });
            await Settle();

            gate.Release();
            Assert.True(b.Cancel("withdrawn"));
            Assert.Equal(0, b.Uncancel());         // withdrawn before b resumed: nothing to deliver
            await b;
            Assert.False(b.IsCancelled);
        });

        Assert.Equal(["b acquired, cancelling=0", "b went on"], log);
        Assert.False(gate.IsLocked);
    }

    [Fact]
    public void Lock_TimedOutThenCancelledBeforeResuming_ThrowsWithNothingToGiveBack()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var gate = new AsyncLock();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask b = loop.CreateTask(async () => log.Add($"b got {await gate.TryAcquireAsync(TimeSpan.FromSeconds(1))}"));
            await Settle();

            // Same deadline, armed later: runs right after the expiry, in the same iteration.
            loop.CallLater(TimeSpan.FromSeconds(1), () => b.Cancel("late"));
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await b);
            Assert.Equal("late", error.Message);
            Assert.True(gate.IsLocked);            // still this task's
            Assert.Equal(0, gate.WaiterCount);
            gate.Release();
        });

        Assert.Empty(log);
        Assert.False(gate.IsLocked);
    }

    [Fact]
    public void Lock_FreeLockTakenWithCancelPending_KeepsItUntilTheNextAwait()
    {
        EventLoop loop = NewLoop();
        var gate = new AsyncLock();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask b = loop.CreateTask(async () =>
            {
                LoopTask.Current!.Cancel("early");    // nothing to deliver it to yet
                await using (await gate.AcquireAsync())   // a free lock: no suspension, as in asyncio
                {
                    log.Add($"b holds, locked={gate.IsLocked}");
                    await LoopTask.Yield();           // the cancellation lands here; using releases
                    log.Add("b went on");
                }
            });
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
        });

        Assert.Equal(["b holds, locked=True"], log);
        Assert.False(gate.IsLocked);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Semaphore_GrantedThenCancelled_PermitPassesToNextWaiter(bool bounded)
    {
        EventLoop loop = NewLoop();
        AsyncSemaphore gate = NewSemaphore(bounded, 1);
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
                    log.Add($"c acquired, free={gate.CurrentCount}");
                }
            });
            await Settle();

            gate.Release();
            Assert.True(b.Cancel("late"));
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await b);
            Assert.Equal("late", error.Message);
            await c;
        });

        Assert.Equal(["c acquired, free=0"], log);
        Assert.Equal(1, gate.CurrentCount);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Semaphore_GrantedThenCancelledWithNobodyWaiting_PermitReturnsToTheCount(bool bounded)
    {
        EventLoop loop = NewLoop();
        AsyncSemaphore gate = NewSemaphore(bounded, 1);
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask b = loop.CreateTask(async () => { await gate.AcquireAsync(); });
            await Settle();

            gate.Release();
            Assert.Equal(0, gate.CurrentCount);    // handed to b
            b.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
            Assert.Equal(1, gate.CurrentCount);
            Assert.Equal(0, gate.WaiterCount);
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Semaphore_AwaitUsingCancelledOnGrant_ReleasesOnce(bool bounded)
    {
        EventLoop loop = NewLoop();
        AsyncSemaphore gate = NewSemaphore(bounded, 2);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            Assert.True(gate.TryAcquire());
            Future<Releaser>? wait = null;
            LoopTask b = loop.CreateTask(async () =>
            {
                wait = gate.AcquireAsync();
                CancelOnCompletion(wait, "late");
                await using (await wait)
                {
                    log.Add("b inside");
                }
            });
            await Settle();

            gate.Release();
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
            Assert.Equal(1, gate.CurrentCount);    // given back once
            wait!.Result.Dispose();                // the releaser nobody received releases nothing
            Assert.Equal(1, gate.CurrentCount);
            gate.Release();
            Assert.Equal(2, gate.CurrentCount);
        });

        Assert.Empty(log);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Semaphore_TryAcquireAsyncGrantedThenCancelled_GivesThePermitBack(bool bounded)
    {
        EventLoop loop = NewVirtualLoop(out _);
        AsyncSemaphore gate = NewSemaphore(bounded, 1);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask b = loop.CreateTask(async () =>
            {
                Future<bool> wait = gate.TryAcquireAsync(TimeSpan.FromHours(1));
                CancelOnCompletion(wait, "late");
                if (await wait)
                {
                    log.Add("b acquired");
                    gate.Release();
                }
            });
            LoopTask c = loop.CreateTask(async () =>
            {
                if (await gate.TryAcquireAsync(Timeout.InfiniteTimeSpan))
                {
                    log.Add("c acquired");
                    gate.Release();
                }
            });
            await Settle();

            gate.Release();
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await b);
            Assert.Equal("late", error.Message);
            await c;
        });

        Assert.Equal(["c acquired"], log);
        Assert.Equal(1, gate.CurrentCount);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Semaphore_ManyWaitersSomeCancelledOnGrant_PermitsConservedAndLimitHolds(bool bounded)
    {
        EventLoop loop = NewLoop();
        AsyncSemaphore gate = NewSemaphore(bounded, 2);
        var entered = new List<int>();
        var tasks = new List<LoopTask>();
        int inside = 0;
        int most = 0;
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            Assert.True(gate.TryAcquire());
            for (int i = 0; i < 12; i++)
            {
                int n = i;
                tasks.Add(loop.CreateTask(async () =>
                {
                    Future<Releaser> wait = gate.AcquireAsync();
                    if (n % 3 == 1)
                    {
                        CancelOnCompletion(wait, "late");
                    }

                    using (await wait)
                    {
                        entered.Add(n);
                        most = Math.Max(most, ++inside);
                        await Settle(n % 2 + 1);
                        inside--;
                    }
                }));
            }

            await Settle();
            gate.Release();
            gate.Release();
            await LoopTask.Gather(tasks, returnExceptions: true);
        });

        Assert.Equal(Enumerable.Range(0, 12).Where(n => n % 3 != 1), entered);
        Assert.Equal(Enumerable.Range(0, 12).Select(n => n % 3 == 1), tasks.Select(task => task.IsCancelled));
        Assert.Equal(2, most);
        Assert.Equal(2, gate.CurrentCount);
        Assert.Equal(0, gate.WaiterCount);
    }

    [Fact]
    public void Semaphore_GrantedThenCancelThenUncancelBeforeResuming_KeepsThePermit()
    {
        EventLoop loop = NewLoop();
        var gate = new BoundedAsyncSemaphore(1);
        loop.RunUntilComplete(async () =>
        {
            Assert.True(gate.TryAcquire());
            LoopTask<int> b = loop.CreateTask(async () =>
            {
                using (await gate.AcquireAsync())
                {
                    return gate.CurrentCount;
                }
            });
            await Settle();

            gate.Release();
            b.Cancel();
            b.Uncancel();
            Assert.Equal(0, await b);              // b held the permit
        });

        Assert.Equal(1, gate.CurrentCount);
    }

    [Fact]
    public void Event_SetThenCancelledBeforeResuming_ThrowsAndTheOthersStillWake()
    {
        EventLoop loop = NewLoop();
        var signal = new AsyncEvent();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask a = loop.CreateTask(async () =>
            {
                await signal.WaitAsync();
                log.Add("a woke");
            });
            LoopTask b = loop.CreateTask(async () =>
            {
                await signal.WaitAsync();
                log.Add("b woke");
            });
            await Settle();

            signal.Set();
            Assert.True(a.Cancel("late"));         // asyncio: the resumed wait() raises CancelledError
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await a);
            Assert.Equal("late", error.Message);
            await b;
            Assert.True(signal.IsSet);
            Assert.Equal(0, signal.WaiterCount);
        });

        Assert.Equal(["b woke"], log);
    }

    [Fact]
    public void Event_TimedWaitSetThenCancelledBeforeResuming_Throws()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var signal = new AsyncEvent();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask a = loop.CreateTask(async () =>
            {
                Future<bool> wait = signal.WaitAsync(TimeSpan.FromHours(1));
                CancelOnCompletion(wait, "late");
                log.Add($"a got {await wait}");
            });
            await Settle();

            signal.Set();
            await Assert.ThrowsAsync<CancelledError>(async () => await a);
            Assert.Equal(0, signal.WaiterCount);
        });

        Assert.Empty(log);
    }

    [Fact]
    public void Condition_LockRetakenThenCancelledBeforeResuming_ThrowsHoldingItAndPassesTheNotificationOn()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask a = loop.CreateTask(async () =>
            {
                await using (await condition.AcquireAsync())
                {
                    try
                    {
                        Future<bool> wait = condition.WaitAsync();
                        CancelOnCompletion(wait, "late");
                        await wait;
                        log.Add("a woke");
                    }
                    catch (CancelledError error)
                    {
                        log.Add($"a {error.Message}, locked={condition.IsLocked}");
                        throw;
                    }
                }
            });
            LoopTask b = loop.CreateTask(async () =>
            {
                await using (await condition.AcquireAsync())
                {
                    await condition.WaitAsync();
                    log.Add($"b woke, locked={condition.IsLocked}");
                }
            });
            await Settle();

            await using (await condition.AcquireAsync())
            {
                condition.Notify();                // a only; it has the lock back once this block releases it
            }

            await Assert.ThrowsAsync<CancelledError>(async () => await a);
            await b;
            Assert.Equal(0, condition.WaiterCount);
        });

        Assert.Equal(["a late, locked=True", "b woke, locked=True"], log);
        Assert.False(condition.IsLocked);
    }
}

public sealed class GrantCancellationEpollTests : GrantCancellationTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class GrantCancellationPortableTests : GrantCancellationTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
