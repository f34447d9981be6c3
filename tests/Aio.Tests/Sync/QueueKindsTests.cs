using Aio.Sync;

namespace Aio.Tests.Sync;

/// <summary>AsyncPriorityQueue and AsyncLifoQueue: their order, with waiting and cancellation.</summary>
public abstract class QueueKindsTests : LoopTestBase
{
    private static List<T> Drain<T>(AsyncQueue<T> queue)
    {
        var items = new List<T>();
        while (queue.TryGet(out T? item))
        {
            items.Add(item);
        }

        return items;
    }

    [Fact]
    public void PriorityQueue_Items_ComeOutSmallestFirst()
    {
        var queue = new AsyncPriorityQueue<int>();
        foreach (int item in new[] { 5, 1, 4, 1, 9, 2, 6, 5, 3 })
        {
            queue.TryPut(item);
        }

        Assert.Equal([1, 1, 2, 3, 4, 5, 5, 6, 9], Drain(queue));
        Assert.Same(Comparer<int>.Default, queue.Comparer);
    }

    [Fact]
    public void PriorityQueue_EqualPriorities_ComeOutInPutOrder()
    {
        var byPriority = Comparer<(int Priority, string Name)>.Create((a, b) => a.Priority.CompareTo(b.Priority));
        var queue = new AsyncPriorityQueue<(int Priority, string Name)>(comparer: byPriority);
        string[] names = [.. Enumerable.Range(0, 50).Select(i => $"n{i}")];
        for (int i = 0; i < names.Length; i++)
        {
            queue.TryPut((i % 3, names[i]));
        }

        List<(int Priority, string Name)> drained = Drain(queue);
        Assert.Equal(names.Select((name, i) => (Priority: i % 3, Name: name)).OrderBy(x => x.Priority), drained);
    }

    [Fact]
    public void PriorityQueue_CustomComparer_LargestFirst()
    {
        var queue = new AsyncPriorityQueue<int>(comparer: Comparer<int>.Create((a, b) => b.CompareTo(a)));
        var random = new Random(7);
        int[] items = [.. Enumerable.Range(0, 200).Select(_ => random.Next(1000))];
        foreach (int item in items)
        {
            queue.TryPut(item);
        }

        Assert.Equal(items.OrderDescending(), Drain(queue));
    }

    [Fact]
    public void PriorityQueue_BoundedPutters_EachGetTakesTheSmallest()
    {
        EventLoop loop = NewLoop();
        List<int> got = loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncPriorityQueue<int>(maxSize: 2);
            await queue.PutAsync(5);
            await queue.PutAsync(3);
            LoopTask putters = loop.CreateTask(async () =>
            {
                await queue.PutAsync(1);
                await queue.PutAsync(4);
            });
            await LoopTask.Yield();
            var seen = new List<int>();
            for (int i = 0; i < 4; i++)
            {
                seen.Add(await queue.GetAsync());
                await LoopTask.Yield();
            }

            await putters;
            return seen;
        });

        // 3 leaves first and frees a slot for 1; then 1, then 4 enters and beats 5.
        Assert.Equal([3, 1, 4, 5], got);
    }

    [Fact]
    public void PriorityQueue_HandedThenCancelled_ItemKeepsItsPlaceAmongEquals()
    {
        EventLoop loop = NewLoop();
        List<(int, string)> drained = loop.RunUntilComplete(async () =>
        {
            var byPriority = Comparer<(int Priority, string Name)>.Create((a, b) => a.Priority.CompareTo(b.Priority));
            var queue = new AsyncPriorityQueue<(int Priority, string Name)>(comparer: byPriority);
            LoopTask<(int, string)> getter = loop.CreateTask(async () => await queue.GetAsync());
            await LoopTask.Yield();
            queue.TryPut((1, "first"));
            getter.Cancel();
            queue.TryPut((1, "second"));
            queue.TryPut((0, "urgent"));
            await Assert.ThrowsAsync<CancelledError>(async () => await getter);
            return Drain(queue);
        });
        Assert.Equal([(0, "urgent"), (1, "first"), (1, "second")], drained);
    }

    [Fact]
    public void LifoQueue_Items_ComeOutNewestFirst()
    {
        var queue = new AsyncLifoQueue<int>();
        for (int i = 0; i < 20; i++)
        {
            queue.TryPut(i);
        }

        Assert.Equal(Enumerable.Range(0, 20).Reverse(), Drain(queue));
    }

    [Fact]
    public void LifoQueue_WaitingGetters_EachTakesTheItemPutForIt()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncLifoQueue<int>();
            LoopTask<int> first = loop.CreateTask(async () => await queue.GetAsync());
            LoopTask<int> second = loop.CreateTask(async () => await queue.GetAsync());
            await LoopTask.Yield();
            queue.TryPut(1);
            queue.TryPut(2);
            queue.TryPut(3);
            Assert.Equal(1, await first);
            Assert.Equal(2, await second);
            Assert.Equal(3, await queue.GetAsync());
        });
    }

    [Fact]
    public void LifoQueue_BoundedAndFull_PutterWaitsAndItsItemComesOutNext()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncLifoQueue<int>(maxSize: 2);
            queue.TryPut(1);
            queue.TryPut(2);
            LoopTask putter = loop.CreateTask(async () => await queue.PutAsync(3));
            await LoopTask.Yield();
            Assert.Equal(2, await queue.GetAsync());
            await putter;
            Assert.Equal(3, await queue.GetAsync());
            Assert.Equal(1, await queue.GetAsync());
        });
    }

    [Fact]
    public void LifoQueue_HandedThenCancelled_ItemGoesBackUnderNewerItems()
    {
        EventLoop loop = NewLoop();
        List<int> drained = loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncLifoQueue<int>();
            LoopTask<int> getter = loop.CreateTask(async () => await queue.GetAsync());
            await LoopTask.Yield();
            queue.TryPut(1);
            getter.Cancel();
            queue.TryPut(2);
            queue.TryPut(3);
            await Assert.ThrowsAsync<CancelledError>(async () => await getter);
            return Drain(queue);
        });
        Assert.Equal([3, 2, 1], drained);
    }
}

public sealed class QueueKindsEpollTests : QueueKindsTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class QueueKindsPortableTests : QueueKindsTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
