using Aio.Sync;

namespace Aio.Tests.Sync;

/// <summary>Queue operations cancelled through a CancellationToken, from the loop or another thread.</summary>
public abstract class QueueTokenTests : LoopTestBase
{
    [Fact]
    public void GetAsync_TokenCancelled_ThrowsCancelledErrorAndLeavesNoWaiter()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            using var source = new CancellationTokenSource();
            QueueGetAwaitable<int> get = queue.GetAsync(source.Token);
            Assert.False(get.IsCompleted);
            await source.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await get);
            queue.TryPut(1);
            Assert.Equal(1, queue.Count);
        });
    }

    [Fact]
    public void GetAsync_TokenAlreadyCancelled_ThrowsAndTheItemStays()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            queue.TryPut(1);
            await Assert.ThrowsAsync<CancelledError>(async () => await queue.GetAsync(new CancellationToken(canceled: true)));
            await Assert.ThrowsAsync<CancelledError>(async () => await queue.PutAsync(2, new CancellationToken(canceled: true)));
            await Assert.ThrowsAsync<CancelledError>(async () => await queue.JoinAsync(new CancellationToken(canceled: true)));
            Assert.Equal(1, queue.Count);
        });
    }

    [Fact]
    public void GetAsync_TokenCancelledOnAnotherThread_CancelsTheWaitOnTheLoop()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            using var source = new CancellationTokenSource();
            QueueGetAwaitable<int> get = queue.GetAsync(source.Token);
            _ = Task.Run(source.Cancel);
            await Assert.ThrowsAsync<CancelledError>(async () => await get);
            queue.TryPut(3);
            Assert.Equal(1, queue.Count);
        });
    }

    [Fact]
    public void PutAsync_TokenCancelled_ItemNeverEnters()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>(maxSize: 1);
            queue.TryPut(0);
            using var source = new CancellationTokenSource();
            Future put = queue.PutAsync(1, source.Token);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await put);
            Assert.True(queue.TryGet(out _));
            Assert.True(queue.IsEmpty);
        });
    }

    [Fact]
    public void PutAsync_TokenCancelledAfterPutCompleted_NothingHappens()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>(maxSize: 1);
            queue.TryPut(0);
            using var source = new CancellationTokenSource();
            Future put = queue.PutAsync(1, source.Token);
            queue.TryGet(out _);
            source.Cancel();
            await put;
            Assert.Equal(1, queue.Count);
        });
    }

    [Fact]
    public void JoinAsync_TokenCancelled_ThrowsCancelledError()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>();
            queue.TryPut(0);
            using var source = new CancellationTokenSource();
            Future join = queue.JoinAsync(source.Token);
            source.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await join);
        });
    }
}

public sealed class QueueTokenEpollTests : QueueTokenTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class QueueTokenPortableTests : QueueTokenTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
