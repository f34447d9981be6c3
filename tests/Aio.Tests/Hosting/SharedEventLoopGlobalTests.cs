using Aio.Hosting;

namespace Aio.Tests.Hosting;

/// <summary>
/// UseGlobalLoop: the shared loop becomes what <see cref="EventLoop.GetEventLoop"/> returns in
/// every thread that has no loop of its own. Process-wide, so these run in the "policy" collection.
/// </summary>
public abstract class SharedEventLoopGlobalTests : SharedLoopTestBase
{
    [Fact]
    public void UseGlobalLoop_ThreadWithNoLoop_GetEventLoopReturnsTheSharedLoop()
    {
        SharedEventLoop shared = NewShared(useGlobalLoop: true);
        EventLoop? seen = null;

        Finish(OnThread(() => seen = EventLoop.GetEventLoop()));

        Assert.True(shared.IsGlobalLoop);
        Assert.Same(shared.Loop, EventLoopPolicy.GlobalLoop);
        Assert.Same(shared.Loop, seen);
    }

    [Fact]
    public void UseGlobalLoop_ThreadWithItsOwnLoop_GetsItsOwnLoop()
    {
        SharedEventLoop shared = NewShared(useGlobalLoop: true);
        using var own = new EventLoop(new EventLoopOptions { Backend = Backend });
        EventLoop? seen = null;

        Finish(OnThread(() =>
        {
            EventLoop.SetEventLoop(own);
            seen = EventLoop.GetEventLoop();
        }));

        Assert.Same(own, seen);
        Assert.NotSame(shared.Loop, seen);
    }

    [Fact]
    public void UseGlobalLoop_OnTheLoopThread_GetEventLoopIsTheSharedLoop()
    {
        SharedEventLoop shared = NewShared(useGlobalLoop: true);
        using LoopToken token = shared.StartLoop();

        Assert.Same(shared.Loop, shared.Await(() => Task.FromResult(EventLoop.GetEventLoop())));
    }

    [Fact]
    public void UseGlobalLoop_AfterDispose_ThreadsWithNoLoopHaveNoneAgain()
    {
        SharedEventLoop shared = NewShared(useGlobalLoop: true);
        shared.Dispose();
        Exception? error = null;

        Finish(OnThread(() => error = Record.Exception(() => EventLoop.GetEventLoop())));

        Assert.Null(EventLoopPolicy.GlobalLoop);
        Assert.IsType<InvalidOperationException>(error);
    }

    [Fact]
    public void UseGlobalLoop_SecondSharedLoop_ThrowsSayingOnlyOneCanBeGlobal()
    {
        SharedEventLoop first = NewShared(useGlobalLoop: true);

        var error = Assert.Throws<InvalidOperationException>(() => NewShared(useGlobalLoop: true));

        Assert.Contains("Only one loop can be global", error.Message, StringComparison.Ordinal);
        Assert.Same(first.Loop, EventLoopPolicy.GlobalLoop);
    }

    [Fact]
    public void UseGlobalLoopOff_GlobalLoopIsNotTouched()
    {
        SharedEventLoop shared = NewShared();

        Assert.False(shared.IsGlobalLoop);
        Assert.Null(EventLoopPolicy.GlobalLoop);
    }
}

[Collection("policy")]
public sealed class SharedEventLoopGlobalEpollTests : SharedEventLoopGlobalTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("policy")]
public sealed class SharedEventLoopGlobalPortableTests : SharedEventLoopGlobalTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
