using Aio.Sync;

namespace Aio.Tests.Sync;

/// <summary>TaskDone/Join, shutdown as in Python 3.13, and the IAsyncEnumerable reader that ends with it.</summary>
public abstract class QueueLifecycleTests : LoopTestBase
{
    [Fact]
    public void TaskDone_CalledMoreTimesThanPuts_ThrowsInvalidOperation()
    {
        var queue = new AsyncQueue<int>();
        queue.TryPut(1);
        queue.TryGet(out _);
        queue.TaskDone();
        Assert.Throws<InvalidOperationException>(queue.TaskDone);
    }

    [Fact]
    public void JoinAsync_UnfinishedItems_CompletesWhenEveryItemIsDone()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        double joinedAt = 0;
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            for (int i = 1; i <= 3; i++)
            {
                queue.TryPut(i);
            }

            LoopTask worker = loop.CreateTask(async () =>
            {
                while (true)
                {
                    int seconds = await queue.GetAsync();
                    await LoopTask.Sleep(TimeSpan.FromSeconds(seconds));
                    queue.TaskDone();
                }
            });
            await queue.JoinAsync();
            joinedAt = clock.Elapsed.TotalSeconds;
            Assert.True(queue.JoinAsync().IsDone);
            worker.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await worker);
        });
        Assert.Equal(6, joinedAt, precision: 3);
    }

    [Fact]
    public void JoinAsync_NothingUnfinished_CompletesAtOnce()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            Assert.True(queue.JoinAsync().IsDone);
            queue.TryPut(1);
            Assert.False(queue.JoinAsync().IsDone);
            await queue.GetAsync();
            queue.TaskDone();
            await queue.JoinAsync();
        });
    }

    [Fact]
    public void JoinAsync_OneJoinerCancelled_OthersStillWaitAndComplete()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            queue.TryPut(1);
            LoopTask first = loop.CreateTask(async () => await queue.JoinAsync());
            LoopTask second = loop.CreateTask(async () => await queue.JoinAsync());
            await LoopTask.Yield();
            first.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await first);
            Assert.False(second.IsDone);
            queue.TryGet(out _);
            queue.TaskDone();
            await second;
        });
    }

    [Fact]
    public void Shutdown_Graceful_PutsThrowAndGetsDrainThenThrow()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            queue.TryPut(1);
            queue.TryPut(2);
            queue.Shutdown();
            Assert.True(queue.IsShutDown);
            await Assert.ThrowsAsync<QueueShutDownError>(async () => await queue.PutAsync(3));
            Assert.Throws<QueueShutDownError>(() => queue.TryPut(3));
            Assert.Equal(1, await queue.GetAsync());
            Assert.True(queue.TryGet(out int second));
            Assert.Equal(2, second);
            await Assert.ThrowsAsync<QueueShutDownError>(async () => await queue.GetAsync());
            Assert.Throws<QueueShutDownError>(() => queue.TryGet(out _));
        });
    }

    [Fact]
    public void Shutdown_Graceful_WakesWaitingGettersAndPuttersWithShutDownError()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var empty = new AsyncQueue<int>();
            var full = new AsyncQueue<int>(maxSize: 1);
            full.TryPut(0);
            LoopTask<int>[] getters = [.. Enumerable.Range(0, 3).Select(_ => loop.CreateTask(async () => await empty.GetAsync()))];
            LoopTask[] putters = [.. Enumerable.Range(1, 3).Select(i => loop.CreateTask(async () => await full.PutAsync(i)))];
            await LoopTask.Yield();
            empty.Shutdown();
            full.Shutdown();
            foreach (LoopTask<int> getter in getters)
            {
                await Assert.ThrowsAsync<QueueShutDownError>(async () => await getter);
            }

            foreach (LoopTask putter in putters)
            {
                await Assert.ThrowsAsync<QueueShutDownError>(async () => await putter);
            }

            Assert.Equal(1, full.Count);
            Assert.Equal(0, await full.GetAsync());
        });
    }

    [Fact]
    public void Shutdown_Immediate_DropsItemsWakesEveryoneAndReleasesJoin()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>(maxSize: 2);
            queue.TryPut(1);
            queue.TryPut(2);
            LoopTask putter = loop.CreateTask(async () => await queue.PutAsync(3));
            LoopTask joiner = loop.CreateTask(async () => await queue.JoinAsync());
            await LoopTask.Yield();
            queue.Shutdown(immediate: true);
            Assert.True(queue.IsEmpty);
            await Assert.ThrowsAsync<QueueShutDownError>(async () => await putter);
            await joiner;
            await Assert.ThrowsAsync<QueueShutDownError>(async () => await queue.GetAsync());
            Assert.Throws<InvalidOperationException>(queue.TaskDone);
        });
    }

    [Fact]
    public void Shutdown_ImmediateWithTakenItemsNotDone_JoinWaitsForTheirTaskDone()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            queue.TryPut(1);
            queue.TryPut(2);
            Assert.Equal(1, await queue.GetAsync());
            LoopTask joiner = loop.CreateTask(async () => await queue.JoinAsync());
            await LoopTask.Yield();
            queue.Shutdown(immediate: true);
            await LoopTask.Yield();
            Assert.False(joiner.IsDone);
            queue.TaskDone();
            await joiner;
        });
    }

    [Fact]
    public void Shutdown_GracefulThenImmediate_DropsWhatIsLeft()
    {
        var queue = new AsyncQueue<string>();
        queue.TryPut("a");
        queue.TryPut("b");
        queue.Shutdown();
        Assert.Equal(2, queue.Count);
        queue.Shutdown(immediate: true);
        Assert.True(queue.IsEmpty);
    }

    [Fact]
    public void Shutdown_ImmediateWhileHandedGetterIsCancelled_ItemIsDroppedAndCountedDone()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> getter = loop.CreateTask(async () => await queue.GetAsync());
            await LoopTask.Yield();
            queue.TryPut(1);
            getter.Cancel();
            queue.Shutdown(immediate: true);
            await Assert.ThrowsAsync<CancelledError>(async () => await getter);
            Assert.True(queue.IsEmpty);
            await queue.JoinAsync();
        });
    }

    [Fact]
    public void ReadAllAsync_QueueShutDown_EndsAfterTheLastItem()
    {
        EventLoop loop = NewVirtualLoop(out _);
        List<int> read = loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>(maxSize: 2);
            LoopTask<List<int>> reader = loop.CreateTask(async () =>
            {
                var seen = new List<int>();
                await foreach (int item in queue.ReadAllAsync())
                {
                    seen.Add(item);
                    queue.TaskDone();
                }

                return seen;
            });
            for (int i = 0; i < 5; i++)
            {
                await queue.PutAsync(i);
                await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            }

            await queue.PutAsync(5);
            await queue.PutAsync(6);
            queue.Shutdown();
            List<int> seen = await reader;
            await queue.JoinAsync();
            return seen;
        });
        Assert.Equal(Enumerable.Range(0, 7), read);
    }

    [Fact]
    public void ReadAllAsync_ShutDownWhileWaiting_EndsCleanly()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> reader = loop.CreateTask(async () =>
            {
                int count = 0;
                await foreach (int item in queue.ReadAllAsync())
                {
                    count++;
                }

                return count;
            });
            await LoopTask.Yield();
            queue.Shutdown();
            Assert.Equal(0, await reader);
        });
    }

    [Fact]
    public void ReadAllAsync_ConsumerCancelled_ThrowsCancelledErrorAndLosesNothing()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            var seen = new List<int>();
            LoopTask reader = loop.CreateTask(async () =>
            {
                await foreach (int item in queue.ReadAllAsync())
                {
                    seen.Add(item);
                }
            });
            queue.TryPut(1);
            await LoopTask.Yield();
            await LoopTask.Yield();
            queue.TryPut(2);        // handed to the reader's waiting get...
            reader.Cancel();        // ...which is cancelled before it resumes
            await Assert.ThrowsAsync<CancelledError>(async () => await reader);
            Assert.Equal([1], seen);
            Assert.Equal(2, await queue.GetAsync());
        });
    }

    [Fact]
    public void ReadAllAsync_TokenCancelled_ThrowsOperationCanceled()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            using var source = new CancellationTokenSource();
            LoopTask reader = loop.CreateTask(async () =>
            {
                await foreach (int item in queue.ReadAllAsync().WithCancellation(source.Token))
                {
                    Assert.Fail("no item was put");
                }
            });
            await LoopTask.Yield();
            source.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await reader);
        });
    }
}

public sealed class QueueLifecycleEpollTests : QueueLifecycleTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class QueueLifecyclePortableTests : QueueLifecycleTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
