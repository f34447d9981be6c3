using Aio.Sync;
using static Aio.Tests.Sync.SyncTestSteps;

namespace Aio.Tests.Sync;

/// <summary>AsyncEvent [asyncio.Event]: set, clear, wait, timeouts, cancellation.</summary>
public abstract class AsyncEventTests : LoopTestBase
{
    [Fact]
    public void Set_ManyWaiters_WakesAllInOrder()
    {
        EventLoop loop = NewLoop();
        var signal = new AsyncEvent();
        var order = new List<int>();
        loop.RunUntilComplete(async () =>
        {
            var tasks = new List<LoopTask>();
            for (int i = 0; i < 5; i++)
            {
                int n = i;
                tasks.Add(loop.CreateTask(async () =>
                {
                    Assert.True(await signal.WaitAsync());
                    order.Add(n);
                }));
            }

            await Settle();
            Assert.Empty(order);
            Assert.Equal(5, signal.WaiterCount);
            signal.Set();
            Assert.Empty(order);                  // never inline
            Assert.Equal(0, signal.WaiterCount);
            await LoopTask.Gather([.. tasks]);
        });

        Assert.Equal([0, 1, 2, 3, 4], order);
    }

    [Fact]
    public void WaitAsync_WhenSet_CompletesAtOnce()
    {
        EventLoop loop = NewLoop();
        var signal = new AsyncEvent();
        loop.RunUntilComplete(async () =>
        {
            signal.Set();
            signal.Set();                          // idempotent
            Assert.True(signal.IsSet);
            Future<bool> wait = signal.WaitAsync();
            Assert.True(wait.IsCompletedSuccessfully);
            Assert.True(await wait);
            Assert.True(await signal.WaitAsync(TimeSpan.Zero));
        });
    }

    [Fact]
    public void Clear_AfterSet_LaterWaitsBlockButWokenWaitsStayWoken()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var signal = new AsyncEvent();
        loop.RunUntilComplete(async () =>
        {
            Future<bool> early = signal.WaitAsync();
            signal.Set();
            signal.Clear();                        // same iteration: early was already woken
            Assert.False(signal.IsSet);
            Assert.True(await early);

            Future<bool> late = signal.WaitAsync();
            await Settle();
            Assert.False(late.IsDone);
            signal.Set();
            Assert.True(await late);
        });
    }

    [Fact]
    public void WaitAsync_TimeoutExpires_YieldsFalseAndLeavesNothing()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var signal = new AsyncEvent();
        loop.RunUntilComplete(async () =>
        {
            Assert.False(await signal.WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(5, clock.Elapsed.TotalSeconds, precision: 6);
            Assert.Equal(0, signal.WaiterCount);
            Assert.False(await signal.WaitAsync(TimeSpan.Zero));
            Assert.Throws<ArgumentOutOfRangeException>(() => signal.WaitAsync(TimeSpan.FromSeconds(-2)));
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void WaitAsync_TimeoutAtMomentOfSet_OrderDecides(bool setRunsFirst)
    {
        EventLoop loop = NewVirtualLoop(out _);
        var signal = new AsyncEvent();
        bool woken = loop.RunUntilComplete(async () =>
        {
            Future<bool> wait;
            if (setRunsFirst)
            {
                loop.CallLater(TimeSpan.FromSeconds(1), signal.Set);
                wait = signal.WaitAsync(TimeSpan.FromSeconds(1));
            }
            else
            {
                wait = signal.WaitAsync(TimeSpan.FromSeconds(1));
                loop.CallLater(TimeSpan.FromSeconds(1), signal.Set);
            }

            return await wait;
        });

        Assert.Equal(setRunsFirst, woken);
        Assert.True(signal.IsSet);
        Assert.Equal(0, signal.WaiterCount);
    }

    [Fact]
    public void Cancel_WaitingTask_LeavesNothingAndOthersStillWake()
    {
        EventLoop loop = NewLoop();
        var signal = new AsyncEvent();
        loop.RunUntilComplete(async () =>
        {
            LoopTask cancelled = loop.CreateTask(async () => { await signal.WaitAsync(); });
            LoopTask<bool> other = loop.CreateTask(async () => await signal.WaitAsync());
            await Settle();
            cancelled.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await cancelled);
            Assert.Equal(1, signal.WaiterCount);
            signal.Set();
            Assert.True(await other);
        });
    }

    [Fact]
    public void WaitAsync_TokenCancelled_EndsWait()
    {
        EventLoop loop = NewLoop();
        var signal = new AsyncEvent();
        using var source = new CancellationTokenSource();
        loop.RunUntilComplete(async () =>
        {
            Future<bool> wait = signal.WaitAsync(source.Token);
            Future<bool> timed = signal.WaitAsync(Timeout.InfiniteTimeSpan, source.Token);
            await source.CancelAsync();
            await Assert.ThrowsAsync<CancelledError>(async () => await wait);
            await Assert.ThrowsAsync<CancelledError>(async () => await timed);
            Assert.Equal(0, signal.WaiterCount);
            Assert.True(signal.WaitAsync(new CancellationToken(canceled: true)).IsCancelled);
        });
    }
}

public sealed class AsyncEventEpollTests : AsyncEventTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class AsyncEventPortableTests : AsyncEventTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
