using Aio.Sync;

namespace Aio.Tests.Sync;

/// <summary>Queues under task cancellation, and its races with puts, gets and shutdown.</summary>
public abstract class QueueCancellationTests : LoopTestBase
{
    private static LoopTask<int> Getter(EventLoop loop, AsyncQueue<int> queue) =>
        loop.CreateTask(async () => await queue.GetAsync());

    [Fact]
    public void GetAsync_TaskCancelledWhileWaiting_ThrowsAndLeavesNoWaiter()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> getter = Getter(loop, queue);
            await LoopTask.Yield();
            getter.Cancel("stop");
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await getter);
            Assert.Equal("stop", error.Message);
            Assert.True(queue.TryPut(1));
            Assert.Equal(1, queue.Count);
        });
    }

    [Fact]
    public void GetAsync_CancelledInSameIterationAfterPut_ItemGoesToNextGetter()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> first = Getter(loop, queue);
            LoopTask<int> second = Getter(loop, queue);
            await LoopTask.Yield();
            Assert.True(queue.TryPut(7));   // handed to the first getter...
            first.Cancel();                 // ...which is cancelled before it runs
            await Assert.ThrowsAsync<CancelledError>(async () => await first);
            Assert.Equal(7, await second);
            Assert.True(queue.IsEmpty);
        });
    }

    [Fact]
    public void GetAsync_CancelledInSameIterationBeforePut_ItemGoesToNextGetter()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> first = Getter(loop, queue);
            LoopTask<int> second = Getter(loop, queue);
            await LoopTask.Yield();
            first.Cancel();
            Assert.True(queue.TryPut(7));
            await Assert.ThrowsAsync<CancelledError>(async () => await first);
            Assert.Equal(7, await second);
        });
    }

    [Fact]
    public void GetAsync_HandedThenCancelledWithNoOtherGetter_ItemBackAtTheFront()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> getter = Getter(loop, queue);
            await LoopTask.Yield();
            queue.TryPut(1);
            getter.Cancel();
            queue.TryPut(2);
            await Assert.ThrowsAsync<CancelledError>(async () => await getter);
            Assert.Equal(2, queue.Count);
            Assert.Equal(1, await queue.GetAsync());
            Assert.Equal(2, await queue.GetAsync());
        });
    }

    [Fact]
    public void GetAsync_SeveralHandedThenCancelled_ItemsKeepTheirOrder()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> a = Getter(loop, queue);
            LoopTask<int> b = Getter(loop, queue);
            await LoopTask.Yield();
            queue.TryPut(1);
            queue.TryPut(2);
            queue.TryPut(3);
            b.Cancel();
            a.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await a);
            await Assert.ThrowsAsync<CancelledError>(async () => await b);
            var order = new List<int>();
            while (queue.TryGet(out int item))
            {
                order.Add(item);
            }

            Assert.Equal([1, 2, 3], order);
        });
    }

    [Fact]
    public void GetAsync_ItemAvailableWhileCancelPending_ReturnsItemWithoutSuspending()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            queue.TryPut(5);
            LoopTask task = loop.CreateTask(async () =>
            {
                LoopTask.Current!.Cancel();
                log.Add($"got {await queue.GetAsync()}");   // no suspension: asyncio delivers no cancel here
                await LoopTask.Yield();
                log.Add("not reached");
            });
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });
        Assert.Equal(["got 5"], log);
    }

    [Fact]
    public void GetAsync_ManyGettersEveryOtherCancelled_RestServedInOrder()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int>[] getters = [.. Enumerable.Range(0, 20).Select(_ => Getter(loop, queue))];
            await LoopTask.Yield();
            for (int g = 0; g < getters.Length; g += 2)
            {
                getters[g].Cancel();
            }

            for (int i = 0; i < 10; i++)
            {
                queue.TryPut(i);
            }

            for (int g = 0; g < getters.Length; g++)
            {
                if (g % 2 == 0)
                {
                    await Assert.ThrowsAsync<CancelledError>(async () => await getters[g]);
                }
                else
                {
                    Assert.Equal(g / 2, await getters[g]);
                }
            }

            Assert.True(queue.IsEmpty);
        });
    }

    [Fact]
    public void PutAsync_TaskCancelledWhileWaiting_ItemNeverEntersAndNextPutterGetsTheSlot()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>(maxSize: 1);
            queue.TryPut(0);
            LoopTask first = loop.CreateTask(async () => await queue.PutAsync(1));
            LoopTask second = loop.CreateTask(async () => await queue.PutAsync(2));
            await LoopTask.Yield();
            first.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await first);
            Assert.Equal(0, await queue.GetAsync());
            await second;
            Assert.Equal(2, await queue.GetAsync());
            Assert.True(queue.IsEmpty);
        });
    }

    [Fact]
    public void PutAsync_CancelledInSameIterationAfterSlotFreed_PutStandsAndCancelComesAtNextAwait()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>(maxSize: 1);
            queue.TryPut(0);
            LoopTask putter = loop.CreateTask(async () =>
            {
                await queue.PutAsync(1);
                log.Add("put done");
                await LoopTask.Yield();
                log.Add("not reached");
            });
            LoopTask next = loop.CreateTask(async () => await queue.PutAsync(2));
            await LoopTask.Yield();
            Assert.True(queue.TryGet(out int first));   // the slot goes to the first putter at once
            putter.Cancel();
            Assert.Equal(0, first);
            await Assert.ThrowsAsync<CancelledError>(async () => await putter);
            Assert.Equal(1, await queue.GetAsync());     // the put stood, nothing was lost
            await next;                                  // and the next putter moved up
            Assert.Equal(2, await queue.GetAsync());
        });
        Assert.Equal(["put done"], log);
    }

    [Fact]
    public void Shutdown_InSameIterationAsGetterCancel_GetterSeesOneOutcome()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> cancelledFirst = Getter(loop, queue);
            LoopTask<int> shutFirst = Getter(loop, queue);
            await LoopTask.Yield();
            cancelledFirst.Cancel();
            queue.Shutdown();
            shutFirst.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await cancelledFirst);

            // Its wait had already failed with the shutdown when the cancel came: as in asyncio, the
            // cancel is thrown at that await (the shutdown error is its inner exception, not a lost error).
            await Assert.ThrowsAsync<CancelledError>(async () => await shutFirst);
            Assert.True(shutFirst.IsCancelled);
        });
    }
}

public sealed class QueueCancellationEpollTests : QueueCancellationTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class QueueCancellationPortableTests : QueueCancellationTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
