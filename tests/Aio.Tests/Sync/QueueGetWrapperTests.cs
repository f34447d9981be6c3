using Aio.Sync;

namespace Aio.Tests.Sync;

/// <summary>
/// A queue get cancelled in the iteration its item arrives, under every wrapper (the future itself,
/// WaitFor, Shield, Gather, a timeout scope): the item is received once, or stays queued.
/// </summary>
public abstract class QueueGetWrapperTests : LoopTestBase
{
    /// <summary>Runs <paramref name="consumer"/> as a task once the loop runs, and returns it.</summary>
    private static LoopTask<int> Consumer(EventLoop loop, Func<Task<int>> consumer) => loop.CreateTask(consumer);

    [Fact]
    public void GetAsFuture_TaskCancelledInIterationItemArrives_ItemStaysQueued()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> task = Consumer(loop, async () => await queue.GetAsync().AsFuture());
            await LoopTask.Yield();
            Assert.True(queue.TryPut(7));   // handed to the pending get...
            task.Cancel();                  // ...whose task is cancelled before it resumes
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal(1, queue.Count);
            Assert.Equal(7, await queue.GetAsync());
        });
    }

    [Fact]
    public void GetUnderWaitFor_OuterCancelledInIterationItemArrives_ItemStaysQueued()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> task = Consumer(loop, async () => await LoopTask.WaitFor(queue.GetAsync().AsFuture(), TimeSpan.FromHours(1)));
            await LoopTask.Yield();
            Assert.True(queue.TryPut(7));
            task.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal(7, await queue.GetAsync());
        });
    }

    [Fact]
    public void GetUnderWaitFor_OuterCancelledAfterWaitForFinished_ItemStaysQueued()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> task = Consumer(loop, async () => await LoopTask.WaitFor(queue.GetAsync().AsFuture(), TimeSpan.FromHours(1)));
            await LoopTask.Yield();
            Assert.True(queue.TryPut(7));

            // Next iteration, after the WaitFor task returned the item and before its awaiting task resumes.
            loop.CallSoon(() => task.Cancel());
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal(7, await queue.GetAsync());
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GetUnderWaitFor_TimeoutInIterationItemArrives_ItemReturnedOrQueued(bool putFirst)
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            TimeSpan deadline = TimeSpan.FromSeconds(1);
            if (putFirst)
            {
                loop.CallLater(deadline, () => queue.TryPut(7));   // same deadline: runs before the WaitFor timer
            }

            LoopTask<int> task = Consumer(loop, async () => await LoopTask.WaitFor(queue.GetAsync().AsFuture(), deadline));
            await LoopTask.Yield();   // the WaitFor timer is armed now
            if (!putFirst)
            {
                loop.CallLater(deadline, () => queue.TryPut(7));
            }

            try
            {
                Assert.Equal(7, await task);   // the get produced the item before the timeout took effect
                Assert.True(putFirst);
                Assert.Equal(0, queue.Count);
            }
            catch (TimeoutException)
            {
                Assert.False(putFirst);
                Assert.Equal(7, await queue.GetAsync());   // the item stayed queued
            }
        });
    }

    [Fact]
    public void GetUnderShield_CancelledBeforeItemArrives_ItemKeptByTheShieldedGet()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            Future<int> get = queue.GetAsync().AsFuture();
            LoopTask<int> task = Consumer(loop, async () => await LoopTask.Shield(get));
            await LoopTask.Yield();
            Assert.True(queue.TryPut(7));
            task.Cancel();   // the shield's outer future is still pending: it is cancelled, the get is not
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal(7, await get);   // asyncio's shield: the inner operation keeps its result
            Assert.Equal(0, queue.Count);
        });
    }

    [Fact]
    public void GetUnderShield_CancelledAfterShieldCompletedBeforeResume_ItemStaysQueued()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            Future<int> get = queue.GetAsync().AsFuture();
            LoopTask<int> task = Consumer(loop, async () => await LoopTask.Shield(get));
            await LoopTask.Yield();
            Assert.True(queue.TryPut(7));
            loop.CallSoon(() => task.Cancel());   // runs after the shield copied the item
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal(7, await queue.GetAsync());
            await Assert.ThrowsAsync<CancelledError>(async () => await get);   // its item went back: received once
        });
    }

    [Fact]
    public void GetsUnderGather_CancelledAfterGatherCompletedBeforeResume_ItemsStayQueuedInOrder()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            LoopTask<int> task = Consumer(loop, async () =>
            {
                int[] items = await LoopTask.Gather(queue.GetAsync().AsFuture(), queue.GetAsync().AsFuture());
                return items.Sum();
            });
            await LoopTask.Yield();
            Assert.True(queue.TryPut(1));
            Assert.True(queue.TryPut(2));
            loop.CallSoon(() => task.Cancel());   // runs after the gather completed with both items
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal(2, queue.Count);
            Assert.Equal(1, await queue.GetAsync());
            Assert.Equal(2, await queue.GetAsync());
        });
    }

    [Fact]
    public void GetsUnderGather_CancelledInIterationOneItemArrives_ItemAccountedFor()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            Future<int> first = queue.GetAsync().AsFuture();
            Future<int> second = queue.GetAsync().AsFuture();
            LoopTask<int[]> task = loop.CreateTask(async () => await LoopTask.Gather(first, second));
            await LoopTask.Yield();
            Assert.True(queue.TryPut(1));   // the first get has it
            task.Cancel();                  // the gather cancels the second get; the first keeps its item
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal(1, await first);
            Assert.True(second.IsCancelled);
            Assert.Equal(0, queue.Count);
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PermitUnderWaitFor_CancelledAfterWaitForFinishedBeforeResume_PermitReleased(bool typed)
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var semaphore = new AsyncSemaphore(1);
            Releaser held = await semaphore.AcquireAsync();
            LoopTask task = loop.CreateTask(async () =>
            {
                Future<Releaser> acquire = semaphore.AcquireAsync();
                if (typed)
                {
                    await LoopTask.WaitFor(acquire, TimeSpan.FromHours(1));
                }
                else
                {
                    await LoopTask.WaitFor((Future)acquire, TimeSpan.FromHours(1));
                }
            });
            await LoopTask.Yield();
            held.Dispose();                       // the permit goes to the waiting acquisition
            loop.CallSoon(() => task.Cancel());   // after WaitFor finished with it, before the task resumes
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal(1, semaphore.CurrentCount);   // given back, not stranded
        });
    }

    [Fact]
    public void GetUnderTimeoutScope_DeadlineInIterationItemArrives_ItemStaysQueued()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            TimeSpan deadline = TimeSpan.FromSeconds(1);
            loop.CallLater(deadline, () => queue.TryPut(7));   // same deadline, armed first: the put runs first
            LoopTask task = loop.CreateTask(async () =>
            {
                await Assert.ThrowsAsync<TimeoutException>(() => LoopTask.TimeoutAsync(deadline, async () => await queue.GetAsync()));
            });
            await task;
            Assert.Equal(7, await queue.GetAsync());
        });
    }
}

public sealed class QueueGetWrapperEpollTests : QueueGetWrapperTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class QueueGetWrapperPortableTests : QueueGetWrapperTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
