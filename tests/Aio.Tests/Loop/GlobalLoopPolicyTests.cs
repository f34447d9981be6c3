using System.Runtime.ExceptionServices;

namespace Aio.Tests.Loop;

/// <summary>
/// <see cref="EventLoopPolicy.GlobalLoop"/>: the process-wide fallback that GetEventLoop returns in
/// threads with no current loop. Process-wide, so these run in the "policy" collection; every test
/// clears it again.
/// </summary>
public abstract class GlobalLoopPolicyTests : LoopTestBase
{
    [Fact]
    public void GlobalLoop_Unset_IsNullByDefault() => Assert.Null(EventLoopPolicy.GlobalLoop);

    [Fact]
    public void GetEventLoop_GlobalLoopSetAndThreadHasNone_ReturnsTheGlobalLoop()
    {
        EventLoop global = NewLoop();
        WithGlobal(global, () =>
        {
            EventLoop? seen = null;
            RunOnNewThread(() => seen = EventLoop.GetEventLoop());
            Assert.Same(global, seen);
        });
    }

    [Fact]
    public void GetEventLoop_ThreadClearedItsLoop_ReturnsTheGlobalLoop()
    {
        EventLoop global = NewLoop();
        EventLoop own = NewLoop();
        WithGlobal(global, () => RunOnNewThread(() =>
        {
            EventLoop.SetEventLoop(own);
            Assert.Same(own, EventLoop.GetEventLoop());

            EventLoop.SetEventLoop(null);

            Assert.Same(global, EventLoop.GetEventLoop());
        }));
    }

    [Fact]
    public void GetEventLoop_RunningLoop_WinsOverTheGlobalLoop()
    {
        EventLoop global = NewLoop();
        EventLoop running = NewLoop();
        WithGlobal(global, () =>
        {
            EventLoop? seen = null;
            running.CallSoon(() =>
            {
                seen = EventLoop.GetEventLoop();
                running.Stop();
            });
            RunOnNewThread(running.RunForever);
            Assert.Same(running, seen);
        });
    }

    [Fact]
    public void GetEventLoop_MainThreadPolicyWithGlobalLoop_ReturnsItInsteadOfCreatingOne()
    {
        EventLoop global = NewLoop();
        var policy = new EveryThreadIsMainPolicy();
        EventLoopPolicy saved = EventLoop.Policy;
        try
        {
            EventLoop.Policy = policy;
            WithGlobal(global, () => RunOnNewThread(() => Assert.Same(global, EventLoop.GetEventLoop())));
            Assert.Equal(0, policy.Created);
        }
        finally
        {
            EventLoop.Policy = saved;
        }
    }

    [Fact]
    public void GlobalLoop_SurvivesReplacingThePolicy()
    {
        EventLoop global = NewLoop();
        EventLoopPolicy saved = EventLoop.Policy;
        WithGlobal(global, () =>
        {
            try
            {
                EventLoop.Policy = new EventLoopPolicy();
                EventLoop? seen = null;
                RunOnNewThread(() => seen = EventLoop.GetEventLoop());
                Assert.Same(global, seen);
            }
            finally
            {
                EventLoop.Policy = saved;
            }
        });
    }

    [Fact]
    public void GlobalLoop_Cleared_ThreadsWithNoLoopThrowAgain()
    {
        EventLoop global = NewLoop();
        WithGlobal(global, () => { });

        Exception? error = null;
        RunOnNewThread(() => error = Record.Exception(() => EventLoop.GetEventLoop()));

        Assert.IsType<InvalidOperationException>(error);
    }

    private static void WithGlobal(EventLoop loop, Action body)
    {
        EventLoopPolicy.GlobalLoop = loop;
        try
        {
            body();
        }
        finally
        {
            EventLoopPolicy.GlobalLoop = null;
        }
    }

    private static void RunOnNewThread(Action body)
    {
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception exception)
            {
                failure = ExceptionDispatchInfo.Capture(exception);
            }
        })
        { IsBackground = true, Name = "global loop test" };
        thread.Start();
        Assert.True(thread.Join(Patience), "the test thread did not finish");
        failure?.Throw();
    }

    private sealed class EveryThreadIsMainPolicy : EventLoopPolicy
    {
        private int _created;

        public int Created => Volatile.Read(ref _created);

        public override EventLoop NewEventLoop()
        {
            Interlocked.Increment(ref _created);
            return base.NewEventLoop();
        }

        protected override bool IsMainThread() => true;
    }
}

[Collection("policy")]
public sealed class GlobalLoopPolicyEpollTests : GlobalLoopPolicyTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("policy")]
public sealed class GlobalLoopPolicyPortableTests : GlobalLoopPolicyTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
