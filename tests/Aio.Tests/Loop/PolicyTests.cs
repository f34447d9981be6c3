using System.Runtime.ExceptionServices;

namespace Aio.Tests.Loop;

/// <summary>
/// The policy tests change <see cref="EventLoop.Policy"/>, which is process-wide: they run alone.
/// </summary>
[CollectionDefinition("policy", DisableParallelization = true)]
public sealed class PolicyCollectionDefinition
{
}

/// <summary>
/// Running-loop lookup and event loop policies (docs/design.md, layers: GetRunningLoop, GetEventLoop,
/// SetEventLoop, NewEventLoop). Every test that changes the policy restores it, and closes every
/// loop the policy built.
/// </summary>
public abstract class PolicyTests : LoopTestBase
{
    [Fact]
    public void GetRunningLoop_OutsideRunningLoop_Throws()
    {
        var error = Assert.Throws<InvalidOperationException>(() => EventLoop.GetRunningLoop());
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void GetRunningLoop_InsideCallback_ReturnsTheRunningLoop()
    {
        EventLoop loop = NewLoop();
        EventLoop? seen = null;
        loop.CallSoon(() =>
        {
            seen = EventLoop.GetRunningLoop();
            loop.Stop();
        });

        loop.RunForever();

        Assert.Same(loop, seen);
    }

    [Fact]
    public void GetRunningLoop_AfterRunForeverReturns_ThrowsAgain()
    {
        EventLoop loop = NewLoop();
        loop.Stop();
        loop.RunForever();

        Assert.Throws<InvalidOperationException>(() => EventLoop.GetRunningLoop());
        Assert.Null(EventLoop.TryGetRunningLoop());
    }

    [Fact]
    public void TryGetRunningLoop_OutsideRunningLoop_ReturnsNull() => Assert.Null(EventLoop.TryGetRunningLoop());

    [Fact]
    public void TryGetRunningLoop_InsideTimerCallback_ReturnsTheRunningLoop()
    {
        EventLoop loop = NewVirtualLoop(out _);
        EventLoop? seen = null;
        loop.CallLater(TimeSpan.FromSeconds(1), () =>
        {
            seen = EventLoop.TryGetRunningLoop();
            loop.Stop();
        });

        loop.RunForever();

        Assert.Same(loop, seen);
    }

    [Fact]
    public void TryGetRunningLoop_OnAnotherThreadWhileLoopRuns_ReturnsNull()
    {
        EventLoop loop = NewLoop();
        using var started = new ManualResetEventSlim();
        Thread thread = RunOnThread(loop, started);
        EventLoop? seen;
        try
        {
            Assert.True(started.Wait(Patience), "the loop never started");
            seen = EventLoop.TryGetRunningLoop();
        }
        finally
        {
            loop.CallSoonThreadSafe(loop.Stop);
            Assert.True(thread.Join(Patience), "the loop did not stop");
        }

        Assert.Null(seen);
    }

    [Fact]
    public void GetEventLoop_WhileLoopRuns_ReturnsRunningLoopNotTheCurrentOne()
    {
        EventLoop running = NewLoop();
        EventLoop current = NewLoop();
        WithPolicy(new EventLoopPolicy(), _ =>
        {
            EventLoop? seen = null;
            RunOnNewThread(() =>
            {
                EventLoop.SetEventLoop(current);
                running.CallSoon(() =>
                {
                    seen = EventLoop.GetEventLoop();
                    running.Stop();
                });
                running.RunForever();
                Assert.Same(current, EventLoop.GetEventLoop());
            });

            Assert.Same(running, seen);
        });
    }

    [Fact]
    public void GetEventLoop_NonMainThreadWithNothingSet_Throws()
    {
        WithPolicy(new EventLoopPolicy(), _ =>
        {
            Exception? error = null;
            RunOnNewThread(() => error = Record.Exception(() => EventLoop.GetEventLoop()));

            var invalid = Assert.IsType<InvalidOperationException>(error);
            Assert.Contains("SetEventLoop", invalid.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void GetEventLoop_NonMainThreadAfterSetEventLoop_ReturnsThatLoop()
    {
        EventLoop loop = NewLoop();
        WithPolicy(new EventLoopPolicy(), _ => RunOnNewThread(() =>
        {
            EventLoop.SetEventLoop(loop);

            Assert.Same(loop, EventLoop.GetEventLoop());
            Assert.Same(loop, EventLoop.GetEventLoop());
        }));
    }

    [Fact]
    public void SetEventLoop_OnOneThread_DoesNotAffectAnother()
    {
        EventLoop loop = NewLoop();
        WithPolicy(new EventLoopPolicy(), _ =>
        {
            RunOnNewThread(() => EventLoop.SetEventLoop(loop));

            Exception? error = null;
            RunOnNewThread(() => error = Record.Exception(() => EventLoop.GetEventLoop()));
            Assert.IsType<InvalidOperationException>(error);
        });
    }

    [Fact]
    public void SetEventLoop_Null_ThenGetEventLoopThrows()
    {
        EventLoop loop = NewLoop();
        WithPolicy(new EventLoopPolicy(), _ => RunOnNewThread(() =>
        {
            EventLoop.SetEventLoop(loop);
            Assert.Same(loop, EventLoop.GetEventLoop());

            EventLoop.SetEventLoop(null);

            Assert.Throws<InvalidOperationException>(() => EventLoop.GetEventLoop());
        }));
    }

    [Fact]
    public void SetEventLoop_NullOnMainThread_GetEventLoopThrowsInsteadOfCreating()
    {
        var policy = new MainThreadPolicy(new EventLoopOptions { Backend = Backend });
        WithPolicy(policy, _ =>
        {
            EventLoop.SetEventLoop(null);

            Assert.Throws<InvalidOperationException>(() => EventLoop.GetEventLoop());
            Assert.Equal(0, policy.Created);
        });
    }

    [Fact]
    public void GetEventLoop_MainThreadPolicyWithNothingSet_CreatesAndRemembersALoop()
    {
        var policy = new MainThreadPolicy(new EventLoopOptions { Backend = Backend });
        WithPolicy(policy, _ =>
        {
            EventLoop first = EventLoop.GetEventLoop();
            try
            {
                EventLoop second = EventLoop.GetEventLoop();

                Assert.Same(first, second);
                Assert.Equal(1, policy.Created);
                Assert.Equal(Backend, first.Backend);
                Assert.False(first.IsRunning);
                Assert.False(first.IsClosed);
            }
            finally
            {
                first.Close();
            }
        });
    }

    [Fact]
    public void GetEventLoop_MainThreadPolicyOnTwoThreads_EachThreadGetsItsOwnLoop()
    {
        var policy = new MainThreadPolicy(new EventLoopOptions { Backend = Backend });
        WithPolicy(policy, _ =>
        {
            EventLoop? a = null;
            EventLoop? b = null;
            try
            {
                RunOnNewThread(() => a = EventLoop.GetEventLoop());
                RunOnNewThread(() => b = EventLoop.GetEventLoop());

                Assert.NotNull(a);
                Assert.NotNull(b);
                Assert.NotSame(a, b);
                Assert.Equal(2, policy.Created);
            }
            finally
            {
                a?.Close();
                b?.Close();
            }
        });
    }

    [Fact]
    public void GetEventLoop_CurrentLoopClosed_StillReturnsItUntilReplaced()
    {
        var policy = new MainThreadPolicy(new EventLoopOptions { Backend = Backend });
        WithPolicy(policy, _ =>
        {
            EventLoop created = EventLoop.GetEventLoop();
            created.Close();

            Assert.Same(created, EventLoop.GetEventLoop());
            Assert.Equal(1, policy.Created);

            EventLoop replacement = NewLoop();
            EventLoop.SetEventLoop(replacement);
            Assert.Same(replacement, EventLoop.GetEventLoop());
        });
    }

    [Fact]
    public void NewEventLoop_PolicyWithBackend_BuildsLoopOnThatBackendAndDoesNotMakeItCurrent()
    {
        WithPolicy(new EventLoopPolicy(new EventLoopOptions { Backend = Backend }), _ => RunOnNewThread(() =>
        {
            using EventLoop first = EventLoop.NewEventLoop();
            using EventLoop second = EventLoop.NewEventLoop();

            Assert.Equal(Backend, first.Backend);
            Assert.Equal(Backend, second.Backend);
            Assert.NotSame(first, second);
            Assert.False(first.IsClosed);
            Assert.Throws<InvalidOperationException>(() => EventLoop.GetEventLoop());
        }));
    }

    [Fact]
    public void NewEventLoop_PolicyOptions_AreAppliedToTheLoop()
    {
        var options = new EventLoopOptions { Backend = Backend, Debug = true, SlowCallbackDuration = TimeSpan.FromSeconds(3) };
        WithPolicy(new EventLoopPolicy(options), policy =>
        {
            Assert.Same(options, policy.Options);
            using EventLoop loop = EventLoop.NewEventLoop();

            Assert.True(loop.DebugEnabled);
            Assert.Equal(TimeSpan.FromSeconds(3), loop.SlowCallbackDuration);
        });
    }

    [Fact]
    public void NewEventLoop_CustomPolicy_StaticMethodsGoThroughIt()
    {
        var policy = new MainThreadPolicy(new EventLoopOptions { Backend = Backend });
        WithPolicy(policy, _ =>
        {
            using EventLoop loop = EventLoop.NewEventLoop();

            Assert.Equal(1, policy.Created);
            Assert.Equal(Backend, loop.Backend);
        });
    }

    [Fact]
    public void Policy_Set_GetReturnsTheSameInstance()
    {
        var policy = new EventLoopPolicy();
        WithPolicy(policy, _ =>
        {
            Assert.Same(policy, EventLoop.Policy);
            Assert.Same(policy, EventLoop.Policy);
        });
    }

    [Fact]
    public void Policy_SetNull_RestoresADefaultPolicy()
    {
        var custom = new MainThreadPolicy(new EventLoopOptions { Backend = Backend });
        WithPolicy(custom, _ =>
        {
            EventLoop.Policy = null!;

            EventLoopPolicy restored = EventLoop.Policy;
            Assert.NotNull(restored);
            Assert.NotSame(custom, restored);
            Assert.IsType<EventLoopPolicy>(restored);
            Assert.Same(restored, EventLoop.Policy);
            Assert.Equal(LoopBackend.Default, restored.Options.Backend);
        });
    }

    [Fact]
    public void Policy_Default_NonMainThreadWithNothingSetThrows()
    {
        WithPolicy(null, policy =>
        {
            Assert.IsType<EventLoopPolicy>(policy);
            Exception? error = null;
            RunOnNewThread(() => error = Record.Exception(() => EventLoop.GetEventLoop()));

            Assert.IsType<InvalidOperationException>(error);
        });
    }

    /// <summary>
    /// Installs <paramref name="policy"/> (null: a default one) for the duration of
    /// <paramref name="body"/>, which gets the installed policy, then restores the previous policy.
    /// </summary>
    private static void WithPolicy(EventLoopPolicy? policy, Action<EventLoopPolicy> body)
    {
        EventLoopPolicy saved = EventLoop.Policy;
        try
        {
            EventLoop.Policy = policy!;
            body(EventLoop.Policy);
        }
        finally
        {
            EventLoop.Policy = saved;
        }
    }

    /// <summary>Runs <paramref name="body"/> on a new thread (never the main thread), joins it and rethrows what it threw.</summary>
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
        { IsBackground = true, Name = "policy test" };
        thread.Start();
        Assert.True(thread.Join(Patience), "the test thread did not finish");
        failure?.Throw();
    }

    /// <summary>A policy that treats every thread as the main thread and counts the loops it builds.</summary>
    private sealed class MainThreadPolicy(EventLoopOptions options) : EventLoopPolicy(options)
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
public sealed class PolicyEpollTests : PolicyTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("policy")]
public sealed class PolicyPortableTests : PolicyTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
