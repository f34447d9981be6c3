using Aio.Sync;
using static Aio.Tests.Sync.SyncTestSteps;

namespace Aio.Tests.Sync;

/// <summary>AsyncCondition [asyncio.Condition]: notify, notify-all, wait-for, and the lock rules of a wait.</summary>
public abstract class AsyncConditionTests : LoopTestBase
{
    private static LoopTask Waiter(EventLoop loop, AsyncCondition condition, List<string> log, string name) =>
        loop.CreateTask(async () =>
        {
            await using (await condition.AcquireAsync())
            {
                try
                {
                    await condition.WaitAsync();
                    log.Add($"{name} woke, locked={condition.IsLocked}");
                }
                catch (CancelledError)
                {
                    log.Add($"{name} cancelled, locked={condition.IsLocked}");
                    throw;
                }
            }
        }, name);

    [Fact]
    public void Notify_One_WakesOldestWaiterHoldingTheLock()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask a = Waiter(loop, condition, log, "a");
            LoopTask b = Waiter(loop, condition, log, "b");
            await Settle();
            Assert.Equal(2, condition.WaiterCount);
            Assert.False(condition.IsLocked);     // both released it to wait

            await using (await condition.AcquireAsync())
            {
                condition.Notify();
                await Settle();
                Assert.Empty(log);                 // a needs the lock back first
            }

            await a;
            Assert.Equal(["a woke, locked=True"], log);
            Assert.False(b.IsDone);

            await using (await condition.AcquireAsync())
            {
                condition.Notify(5);
            }

            await b;
        });

        Assert.Equal(["a woke, locked=True", "b woke, locked=True"], log);
        Assert.False(condition.IsLocked);
    }

    [Fact]
    public void NotifyAll_WakesEveryWaiterInOrderOneAtATime()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask[] tasks = [.. Enumerable.Range(0, 4).Select(n => Waiter(loop, condition, log, $"w{n}"))];
            await Settle();
            await using (await condition.AcquireAsync())
            {
                condition.NotifyAll();
                Assert.Equal(0, condition.WaiterCount);
            }

            await LoopTask.Gather(tasks);
        });

        Assert.Equal(Enumerable.Range(0, 4).Select(n => $"w{n} woke, locked=True"), log);
    }

    [Fact]
    public void WaitAndNotify_WithoutTheLock_Throw()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        loop.RunUntilComplete(async () =>
        {
            await LoopTask.Yield();
            Assert.Throws<InvalidOperationException>(() => condition.WaitAsync());
            Assert.Throws<InvalidOperationException>(() => condition.Notify());
            Assert.Throws<InvalidOperationException>(condition.NotifyAll);
            await Assert.ThrowsAsync<InvalidOperationException>(() => condition.WaitForAsync(() => false));
            Assert.True(await condition.WaitForAsync(() => true));   // a true predicate never waits
        });
    }

    [Fact]
    public void WaitAsync_LockHeldByAnotherTask_Throws()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        loop.RunUntilComplete(async () =>
        {
            await loop.CreateTask(() =>
            {
                Assert.True(condition.TryAcquire());
                return Task.CompletedTask;
            });
            var error = Assert.Throws<InvalidOperationException>(() => condition.WaitAsync());
            Assert.Contains("held by another task", error.Message, StringComparison.Ordinal);
            condition.Release();
        });
    }

    [Fact]
    public void WaitForAsync_Predicate_WaitsUntilTrueAndReturnsHoldingTheLock()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        int value = 0;
        int checks = 0;
        loop.RunUntilComplete(async () =>
        {
            LoopTask consumer = loop.CreateTask(async () =>
            {
                await using (await condition.AcquireAsync())
                {
                    Assert.True(await condition.WaitForAsync(() =>
                    {
                        checks++;
                        return value >= 3;
                    }));
                    Assert.True(condition.IsLocked);
                    Assert.Equal(3, value);
                }
            });

            for (int i = 0; i < 3; i++)
            {
                await Settle();
                await using (await condition.AcquireAsync())
                {
                    value++;
                    condition.NotifyAll();
                }
            }

            await consumer;
        });

        Assert.Equal(4, checks);
        Assert.False(condition.IsLocked);
    }

    [Fact]
    public void WaitForAsync_TaskCancelled_ThrowsHoldingTheLock()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        bool lockedWhenCaught = false;
        loop.RunUntilComplete(async () =>
        {
            LoopTask w = loop.CreateTask(async () =>
            {
                await using (await condition.AcquireAsync())
                {
                    try
                    {
                        await condition.WaitForAsync(() => false);
                    }
                    catch (CancelledError)
                    {
                        lockedWhenCaught = condition.IsLocked;
                        throw;
                    }
                }
            });
            await Settle();
            w.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await w);
        });

        Assert.True(lockedWhenCaught);
        Assert.False(condition.IsLocked);
        Assert.Equal(0, condition.WaiterCount);
    }

    [Fact]
    public void WaitForAsync_TimeoutWithPredicateNeverTrue_ReturnsFalseHoldingTheLock()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var condition = new AsyncCondition();
        loop.RunUntilComplete(async () =>
        {
            LoopTask noise = loop.CreateTask(async () =>
            {
                for (int i = 0; i < 5; i++)
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                    await using (await condition.AcquireAsync())
                    {
                        condition.NotifyAll();
                    }
                }
            });

            await using (await condition.AcquireAsync())
            {
                Assert.False(await condition.WaitForAsync(() => false, TimeSpan.FromSeconds(3.5)));
                Assert.True(condition.IsLocked);
                Assert.Equal(3.5, clock.Elapsed.TotalSeconds, precision: 6);
            }

            await noise;
        });
    }

    [Fact]
    public void Cancel_WaitingTask_ReacquiresLockBeforeThrowing()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask w = Waiter(loop, condition, log, "w");
            await Settle();
            await using (await condition.AcquireAsync())
            {
                Assert.True(w.Cancel());
                await Settle();
                Assert.Empty(log);                 // w cannot throw while this task holds the lock
                log.Add("holder releases");
            }

            await Assert.ThrowsAsync<CancelledError>(async () => await w);
        });

        Assert.Equal(["holder releases", "w cancelled, locked=True"], log);
        Assert.False(condition.IsLocked);
        Assert.Equal(0, condition.WaiterCount);
    }

    [Fact]
    public void Cancel_WhileLockFree_EndsWaitAtOnceWithLockTaken()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask w = Waiter(loop, condition, log, "w");
            await Settle();
            w.Cancel();
            Assert.True(condition.IsLocked);       // taken back on w's behalf, right away
            await Assert.ThrowsAsync<CancelledError>(async () => await w);
        });

        Assert.Equal(["w cancelled, locked=True"], log);
        Assert.False(condition.IsLocked);
    }

    [Fact]
    public void Cancel_NotifiedWaiterBeforeItResumes_PassesNotificationOn()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask a = Waiter(loop, condition, log, "a");
            LoopTask b = Waiter(loop, condition, log, "b");
            await Settle();
            await using (await condition.AcquireAsync())
            {
                condition.Notify();                // a is notified...
                a.Cancel();                        // ...and cancelled before it has the lock back
                Assert.Equal(0, condition.WaiterCount);   // b got the notification instead
            }

            await Assert.ThrowsAsync<CancelledError>(async () => await a);
            await b;
        });

        Assert.Equal(["a cancelled, locked=True", "b woke, locked=True"], log);
    }

    [Fact]
    public void WaitAsync_TokenCancelled_ReacquiresLockBeforeThrowing()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        using var source = new CancellationTokenSource();
        bool lockedWhenCaught = false;
        loop.RunUntilComplete(async () =>
        {
            LoopTask w = loop.CreateTask(async () =>
            {
                await using (await condition.AcquireAsync())
                {
                    await Assert.ThrowsAsync<CancelledError>(async () => await condition.WaitAsync(source.Token));
                    lockedWhenCaught = condition.IsLocked;
                }
            });
            await Settle();
            await loop.WrapTask(Task.Run(source.Cancel));
            await w;
        });

        Assert.True(lockedWhenCaught);
        Assert.False(condition.IsLocked);
        Assert.Equal(0, condition.WaiterCount);
    }

    [Fact]
    public void WaitAsync_TokenAlreadyCancelled_KeepsTheLock()
    {
        EventLoop loop = NewLoop();
        var condition = new AsyncCondition();
        loop.RunUntilComplete(async () =>
        {
            await using (await condition.AcquireAsync())
            {
                Future<bool> wait = condition.WaitAsync(new CancellationToken(canceled: true));
                Assert.True(wait.IsCancelled);
                Assert.True(condition.IsLocked);
                await Assert.ThrowsAsync<CancelledError>(async () => await wait);
            }

            Assert.False(condition.IsLocked);
        });
    }

    [Fact]
    public void WaitAsync_TimeoutExpires_YieldsFalseOnceLockIsBack()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var condition = new AsyncCondition();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<bool> w = loop.CreateTask(async () =>
            {
                await using (await condition.AcquireAsync())
                {
                    bool notified = await condition.WaitAsync(TimeSpan.FromSeconds(2));
                    Assert.True(condition.IsLocked);
                    return notified;
                }
            });
            await Settle();

            await using (await condition.AcquireAsync())
            {
                await LoopTask.Sleep(TimeSpan.FromSeconds(5));   // holds the lock past w's timeout
            }

            Assert.False(await w);
            Assert.Equal(5, clock.Elapsed.TotalSeconds, precision: 6);
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void WaitAsync_TimeoutAtMomentOfNotify_OrderDecidesAndNothingIsLeft(bool notifyRunsFirst)
    {
        EventLoop loop = NewVirtualLoop(out _);
        var condition = new AsyncCondition();
        bool notified = loop.RunUntilComplete(async () =>
        {
            void NotifyNow()
            {
                // When the timeout ran first, the waiter has already taken the lock back.
                if (condition.TryAcquire())
                {
                    condition.Notify();
                    condition.Release();
                }
            }

            LoopTask<bool> w;
            if (notifyRunsFirst)
            {
                loop.CallLater(TimeSpan.FromSeconds(1), NotifyNow);
            }

            w = loop.CreateTask(async () =>
            {
                await using (await condition.AcquireAsync())
                {
                    return await condition.WaitAsync(TimeSpan.FromSeconds(1));
                }
            });
            await LoopTask.Yield();
            if (!notifyRunsFirst)
            {
                loop.CallLater(TimeSpan.FromSeconds(1), NotifyNow);
            }

            return await w;
        });

        Assert.Equal(notifyRunsFirst, notified);
        Assert.False(condition.IsLocked);
        Assert.Equal(0, condition.WaiterCount);
    }

    [Fact]
    public void Releaser_AfterWait_StillReleasesTheRetakenLock()
    {
        EventLoop loop = NewLoop();
        var shared = new AsyncLock();
        var first = new AsyncCondition(shared);
        var second = new AsyncCondition(shared);
        loop.RunUntilComplete(async () =>
        {
            LoopTask w = loop.CreateTask(async () =>
            {
                using (await first.AcquireAsync())
                {
                    await first.WaitAsync();
                    Assert.True(shared.IsLocked);
                }
            });
            await Settle();
            Assert.False(shared.IsLocked);
            using (await second.AcquireAsync())
            {
                second.NotifyAll();                // another condition on the same lock: w stays waiting
                first.Notify();
            }

            await w;
            Assert.False(shared.IsLocked);
        });
    }
}

public sealed class AsyncConditionEpollTests : AsyncConditionTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class AsyncConditionPortableTests : AsyncConditionTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
