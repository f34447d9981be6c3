using Aio.Sync;
using static Aio.Tests.Sync.SyncTestSteps;

namespace Aio.Tests.Sync;

/// <summary>AsyncBarrier [asyncio.Barrier]: parties, indexes, cycles, abort, reset, cancellation.</summary>
public abstract class AsyncBarrierTests : LoopTestBase
{
    private static LoopTask<int> Party(EventLoop loop, AsyncBarrier barrier, List<string>? log = null, string? name = null) =>
        loop.CreateTask(async () =>
        {
            int index = await barrier.WaitAsync();
            log?.Add($"{name} passed");
            return index;
        });

    [Fact]
    public void WaitAsync_AllPartiesArrive_PassTogetherWithArrivalIndexes()
    {
        EventLoop loop = NewLoop();
        var barrier = new AsyncBarrier(3);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> a = Party(loop, barrier, log, "a");
            LoopTask<int> b = Party(loop, barrier, log, "b");
            await Settle();
            Assert.Equal(2, barrier.WaitingCount);
            Assert.Empty(log);

            Future<int> last = barrier.WaitAsync();
            Assert.True(last.IsCompletedSuccessfully);
            Assert.Equal(2, await last);
            Assert.Equal(0, barrier.WaitingCount);
            int[] indexes = await LoopTask.Gather(a, b);
            Assert.Equal([0, 1], indexes);
        });

        Assert.Equal(["a passed", "b passed"], log);
    }

    [Fact]
    public void WaitAsync_SecondCycle_WorksLikeTheFirst()
    {
        EventLoop loop = NewLoop();
        var barrier = new AsyncBarrier(2);
        loop.RunUntilComplete(async () =>
        {
            for (int cycle = 0; cycle < 3; cycle++)
            {
                LoopTask<int> other = Party(loop, barrier);
                await Settle();
                Assert.Equal(1, await barrier.WaitAsync());
                Assert.Equal(0, await other);
            }
        });

        Assert.Equal(2, barrier.Parties);
    }

    [Fact]
    public void Constructor_NoParties_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncBarrier(0));

    [Fact]
    public void Abort_FailsWaitersAndLaterWaitsUntilReset()
    {
        EventLoop loop = NewLoop();
        var barrier = new AsyncBarrier(3);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> a = Party(loop, barrier);
            LoopTask<int> b = Party(loop, barrier);
            await Settle();

            barrier.Abort();
            Assert.True(barrier.IsBroken);
            await Assert.ThrowsAsync<BrokenBarrierError>(async () => await a);
            await Assert.ThrowsAsync<BrokenBarrierError>(async () => await b);
            Assert.Throws<BrokenBarrierError>(() => barrier.WaitAsync());
            barrier.Abort();                       // idempotent

            barrier.Reset();
            Assert.False(barrier.IsBroken);
            LoopTask<int> c = Party(loop, barrier);
            LoopTask<int> d = Party(loop, barrier);
            await Settle();
            Assert.Equal(2, await barrier.WaitAsync());
            int[] indexes = await LoopTask.Gather(c, d);
            Assert.Equal([0, 1], indexes);
        });
    }

    [Fact]
    public void Reset_WithWaiters_FailsThemWithoutBreaking()
    {
        EventLoop loop = NewLoop();
        var barrier = new AsyncBarrier(2);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> a = Party(loop, barrier);
            await Settle();
            barrier.Reset();
            var error = await Assert.ThrowsAsync<BrokenBarrierError>(async () => await a);
            Assert.IsAssignableFrom<InvalidOperationException>(error);
            Assert.False(barrier.IsBroken);
            Assert.Equal(0, barrier.WaitingCount);
        });
    }

    [Fact]
    public void Cancel_WaitingParty_LeavesWithoutBreakingAndIndexesStayUnique()
    {
        EventLoop loop = NewLoop();
        var barrier = new AsyncBarrier(3);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> a = Party(loop, barrier);
            LoopTask<int> b = Party(loop, barrier);
            await Settle();
            a.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await a);
            Assert.Equal(1, barrier.WaitingCount);
            Assert.False(barrier.IsBroken);

            LoopTask<int> c = Party(loop, barrier);
            await Settle();
            Assert.Equal(2, await barrier.WaitAsync());
            int[] indexes = await LoopTask.Gather(b, c);
            Assert.Equal([0, 1], indexes);
        });
    }

    [Fact]
    public void Cancel_PartyInSameIterationAsThePass_ThrowsWhileTheOthersPass()
    {
        EventLoop loop = NewLoop();
        var barrier = new AsyncBarrier(2);
        loop.RunUntilComplete(async () =>
        {
            int got = -1;
            Future<int>? wait = null;
            LoopTask a = loop.CreateTask(async () =>
            {
                wait = barrier.WaitAsync();
                got = await wait;
            });
            await Settle();
            Assert.Equal(1, await barrier.WaitAsync());   // passes a (the pass is not undone)...
            Assert.True(a.Cancel("late"));                // ...then cancels it before it resumes
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await a);
            Assert.Equal("late", error.Message);
            Assert.Equal(-1, got);                        // a's await threw, as asyncio's does
            Assert.Equal(0, wait!.Result);                // its index stays its own, unused
            Assert.Equal(0, barrier.WaitingCount);
            Assert.False(barrier.IsBroken);
        });
    }

    [Fact]
    public void WaitAsync_TimeoutExpires_ThrowsTimeoutAndLeaves()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var barrier = new AsyncBarrier(2);
        loop.RunUntilComplete(async () =>
        {
            await Assert.ThrowsAsync<TimeoutException>(async () => await barrier.WaitAsync(TimeSpan.FromSeconds(4)));
            Assert.Equal(4, clock.Elapsed.TotalSeconds, precision: 6);
            Assert.Equal(0, barrier.WaitingCount);
            Assert.False(barrier.IsBroken);

            LoopTask<int> other = Party(loop, barrier);
            await Settle();
            Assert.Equal(1, await barrier.WaitAsync(TimeSpan.FromSeconds(1)));
            Assert.Equal(0, await other);
        });
    }

    [Fact]
    public void WaitAsync_TokenCancelled_Leaves()
    {
        EventLoop loop = NewLoop();
        var barrier = new AsyncBarrier(2);
        using var source = new CancellationTokenSource();
        loop.RunUntilComplete(async () =>
        {
            Future<int> wait = barrier.WaitAsync(source.Token);
            Assert.Equal(1, barrier.WaitingCount);
            await source.CancelAsync();
            await Assert.ThrowsAsync<CancelledError>(async () => await wait);
            Assert.Equal(0, barrier.WaitingCount);
            Assert.True(barrier.WaitAsync(new CancellationToken(canceled: true)).IsCancelled);
            Assert.Equal(0, barrier.WaitingCount);
        });
    }
}

public sealed class AsyncBarrierEpollTests : AsyncBarrierTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class AsyncBarrierPortableTests : AsyncBarrierTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
