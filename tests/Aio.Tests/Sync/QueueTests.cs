using Aio.Sync;

namespace Aio.Tests.Sync;

/// <summary>AsyncQueue basics: put and get, bounds, try-forms, counts, loop binding, AsFuture.</summary>
public abstract class QueueTests : LoopTestBase
{
    [Fact]
    public void GetAsync_ItemAvailable_CompletesSynchronously()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<string>();
            Assert.True(queue.TryPut("a"));
            QueueGetAwaitable<string> get = queue.GetAsync();
            Assert.True(get.IsCompleted);
            Assert.Equal("a", await get);
            Assert.True(queue.IsEmpty);
        });
    }

    [Fact]
    public void GetAsync_Empty_WaitsUntilPut()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> getter = loop.CreateTask(async () => await queue.GetAsync());
            await LoopTask.Sleep(TimeSpan.FromSeconds(5));
            Assert.False(getter.IsDone);
            await queue.PutAsync(42);
            Assert.Equal(42, await getter);
            Assert.Equal(0, queue.Count);
        });
        Assert.Equal(5, clock.Elapsed.TotalSeconds, precision: 3);
    }

    [Fact]
    public void PutAndGet_ManyItems_ComeOutInPutOrder()
    {
        EventLoop loop = NewLoop();
        List<int> got = loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            for (int i = 0; i < 100; i++)
            {
                await queue.PutAsync(i);
            }

            Assert.Equal(100, queue.Count);
            var seen = new List<int>();
            while (!queue.IsEmpty)
            {
                seen.Add(await queue.GetAsync());
            }

            return seen;
        });
        Assert.Equal(Enumerable.Range(0, 100), got);
    }

    [Fact]
    public void GetAsync_ManyGetters_ServedInArrivalOrder()
    {
        EventLoop loop = NewLoop();
        var served = new List<(int Getter, int Item)>();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            var getters = new List<LoopTask>();
            for (int g = 0; g < 10; g++)
            {
                int getter = g;
                getters.Add(loop.CreateTask(async () => served.Add((getter, await queue.GetAsync()))));
            }

            await LoopTask.Yield();
            for (int i = 0; i < 10; i++)
            {
                Assert.True(queue.TryPut(100 + i));
            }

            Assert.Equal(0, queue.Count);
            await LoopTask.Gather([.. getters]);
        });
        Assert.Equal(Enumerable.Range(0, 10).Select(g => (g, 100 + g)), served.OrderBy(s => s.Getter));
        Assert.Equal(Enumerable.Range(0, 10), served.Select(s => s.Getter));
    }

    [Fact]
    public void PutAsync_BoundedAndFull_WaitsUntilAGetFreesASlot()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>(maxSize: 2);
            await queue.PutAsync(1);
            await queue.PutAsync(2);
            Assert.True(queue.IsFull);
            Future third = queue.PutAsync(3);
            Assert.False(third.IsDone);
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            Assert.False(third.IsDone);

            Assert.Equal(1, await queue.GetAsync());
            Assert.True(third.IsDone);
            Assert.Equal(2, queue.Count);
            await third;
            Assert.Equal(2, await queue.GetAsync());
            Assert.Equal(3, await queue.GetAsync());
        });
    }

    [Fact]
    public void PutAsync_ManyPuttersOnFullQueue_EnterInArrivalOrder()
    {
        EventLoop loop = NewLoop();
        List<int> got = loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>(maxSize: 1);
            var putters = new List<LoopTask>();
            for (int p = 0; p < 8; p++)
            {
                int item = p;
                putters.Add(loop.CreateTask(async () => await queue.PutAsync(item)));
            }

            await LoopTask.Yield();
            Assert.Equal(1, queue.Count);
            var seen = new List<int>();
            for (int i = 0; i < 8; i++)
            {
                seen.Add(await queue.GetAsync());
            }

            await LoopTask.Gather([.. putters]);
            return seen;
        });
        Assert.Equal(Enumerable.Range(0, 8), got);
    }

    [Fact]
    public void TryPutTryGet_FullOrEmpty_ReturnFalse()
    {
        var queue = new AsyncQueue<int>(maxSize: 1);
        Assert.False(queue.TryGet(out _));
        Assert.True(queue.TryPut(1));
        Assert.True(queue.IsFull);
        Assert.False(queue.TryPut(2));
        Assert.True(queue.TryGet(out int item));
        Assert.Equal(1, item);
        Assert.False(queue.TryGet(out _));
    }

    [Fact]
    public void TryPut_BeforeAnyLoop_ItemsGetOnTheLoopLater()
    {
        var queue = new AsyncQueue<int>();
        queue.TryPut(1);
        queue.TryPut(2);
        EventLoop loop = NewLoop();
        int sum = loop.RunUntilComplete(async () => await queue.GetAsync() + await queue.GetAsync());
        Assert.Equal(3, sum);
    }

    [Fact]
    public void Properties_Unbounded_NeverFull()
    {
        var queue = new AsyncQueue<int>();
        Assert.Equal(0, queue.MaxSize);
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(queue.TryPut(i));
        }

        Assert.False(queue.IsFull);
        Assert.False(queue.IsEmpty);
        Assert.Equal(1000, queue.Count);
        Assert.False(queue.IsShutDown);
        Assert.Equal("<AsyncQueue maxsize=0 count=1000 unfinished=1000>", queue.ToString());
    }

    [Fact]
    public void Constructor_NegativeMaxSize_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncQueue<int>(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncLifoQueue<int>(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncPriorityQueue<int>(-1));
    }

    [Fact]
    public void GetAsync_NoRunningLoop_ThrowsInvalidOperation()
    {
        var queue = new AsyncQueue<int>();
        Assert.Throws<InvalidOperationException>(() => queue.GetAsync());
        Assert.Throws<InvalidOperationException>(() => queue.PutAsync(1));
    }

    [Fact]
    public void GetAsync_OnASecondLoop_ThrowsBoundToADifferentLoop()
    {
        var queue = new AsyncQueue<int>();
        EventLoop first = NewLoop();
        first.RunUntilComplete(async () => await queue.PutAsync(1));
        EventLoop second = NewLoop();
        var error = Assert.Throws<InvalidOperationException>(() =>
            second.RunUntilComplete(async () => await queue.GetAsync()));
        Assert.Contains("different event loop", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, first.RunUntilComplete(async () => await queue.GetAsync()));
    }

    [Fact]
    public void TryPut_FromAnotherThreadWhileItsLoopRuns_ThrowsInvalidOperation()
    {
        EventLoop loop = NewLoop();
        var queue = new AsyncQueue<int>();
        loop.RunUntilComplete(async () =>
        {
            Assert.True(queue.TryPut(1));
            Exception? error = await Task.Run(() => Record.Exception(() => queue.TryPut(2)));
            Assert.IsType<InvalidOperationException>(error);
            Assert.Equal(1, queue.Count);
        });
    }

    [Fact]
    public void AsFuture_WaitForTimesOut_WithdrawsTheGet()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            await Assert.ThrowsAsync<TimeoutException>(async () =>
                await LoopTask.WaitFor(queue.GetAsync().AsFuture(), TimeSpan.FromSeconds(3)));
            Assert.True(queue.TryPut(7));
            Assert.Equal(1, queue.Count);

            Future<int> ready = queue.GetAsync();
            Assert.Equal(7, await LoopTask.WaitFor(ready, TimeSpan.FromSeconds(3)));
        });
        Assert.Equal(3, clock.Elapsed.TotalSeconds, precision: 3);
    }

    [Fact]
    public void AsFuture_GatherOfGets_EachGetsOneItem()
    {
        EventLoop loop = NewLoop();
        int[] items = loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            queue.TryPut(1);
            Future<int[]> all = LoopTask.Gather(queue.GetAsync().AsFuture(), queue.GetAsync().AsFuture(), queue.GetAsync().AsFuture());
            queue.TryPut(2);
            queue.TryPut(3);
            return await all;
        });
        Assert.Equal([1, 2, 3], items);
    }
}

public sealed class QueueEpollTests : QueueTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class QueuePortableTests : QueueTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
