namespace Aio.Tests.Loop;

/// <summary>Run, stop, close and re-entry rules of the loop contract.</summary>
public abstract class RunStopCloseTests : LoopTestBase
{
    [Fact]
    public void Stop_BeforeRunForever_RunsExactlyOneIterationWithoutWaiting()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.CallSoon(() =>
        {
            log.Add("first");
            loop.CallSoon(() => log.Add("second"));
        });

        // A timer far away must not make the single iteration wait.
        loop.CallLater(TimeSpan.FromHours(1), () => log.Add("timer"));
        loop.Stop();
        loop.RunForever();

        Assert.Equal(["first"], log);
        Assert.False(loop.IsRunning);
    }

    [Fact]
    public void Stop_InsideCallback_LetsTheIterationFinish()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.CallSoon(() =>
        {
            log.Add("a");
            loop.Stop();
        });
        loop.CallSoon(() => log.Add("b"));

        loop.RunForever();

        Assert.Equal(["a", "b"], log);
    }

    [Fact]
    public void RunForever_AfterStop_CanRunAgain()
    {
        EventLoop loop = NewLoop();
        int runs = 0;
        for (int i = 0; i < 3; i++)
        {
            loop.CallSoon(() =>
            {
                runs++;
                loop.Stop();
            });
            loop.RunForever();
        }

        Assert.Equal(3, runs);
    }

    [Fact]
    public void IsRunning_InsideAndOutside_Reported()
    {
        EventLoop loop = NewLoop();
        bool inside = false;
        loop.CallSoon(() =>
        {
            inside = loop.IsRunning;
            loop.Stop();
        });

        Assert.False(loop.IsRunning);
        loop.RunForever();

        Assert.True(inside);
        Assert.False(loop.IsRunning);
    }

    [Fact]
    public void RunForever_WhileRunning_Throws()
    {
        EventLoop loop = NewLoop();
        Exception? error = null;
        loop.CallSoon(() =>
        {
            error = Record.Exception(loop.RunForever);
            loop.Stop();
        });

        loop.RunForever();

        InvalidOperationException thrown = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("already running", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunForever_SecondLoopOnSameThread_Throws()
    {
        EventLoop first = NewLoop();
        EventLoop second = NewLoop();
        Exception? error = null;
        first.CallSoon(() =>
        {
            error = Record.Exception(second.RunForever);
            first.Stop();
        });

        first.RunForever();

        InvalidOperationException thrown = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("another loop", thrown.Message, StringComparison.Ordinal);
        Assert.False(second.IsRunning);
    }

    [Fact]
    public void TwoLoops_OnTwoThreads_RunIndependently()
    {
        EventLoop first = NewLoop();
        EventLoop second = NewLoop();
        using var firstStarted = new ManualResetEventSlim();
        using var secondStarted = new ManualResetEventSlim();
        Thread a = RunOnThread(first, firstStarted);
        Thread b = RunOnThread(second, secondStarted);

        Assert.True(firstStarted.Wait(Patience));
        Assert.True(secondStarted.Wait(Patience));
        Assert.True(first.IsRunning);
        Assert.True(second.IsRunning);

        first.CallSoonThreadSafe(first.Stop);
        second.CallSoonThreadSafe(second.Stop);
        Assert.True(a.Join(Patience));
        Assert.True(b.Join(Patience));
    }

    [Fact]
    public void Close_WhileRunning_Throws()
    {
        EventLoop loop = NewLoop();
        Exception? error = null;
        loop.CallSoon(() =>
        {
            error = Record.Exception(loop.Close);
            loop.Stop();
        });

        loop.RunForever();

        Assert.IsType<InvalidOperationException>(error);
        Assert.False(loop.IsClosed);
    }

    [Fact]
    public void Close_IsIdempotentAndFinal()
    {
        EventLoop loop = NewLoop();
        bool ran = false;
        loop.CallSoon(() => ran = true);
        loop.CallLater(TimeSpan.FromSeconds(1), () => ran = true);

        loop.Close();
        loop.Close();
        loop.Dispose();

        Assert.True(loop.IsClosed);
        Assert.False(ran);
    }

    [Fact]
    public void ClosedLoop_EverySchedulingApi_ThrowsEventLoopIsClosed()
    {
        EventLoop loop = NewLoop();
        loop.Close();

        Action[] uses =
        [
            () => loop.CallSoon(() => { }),
            () => loop.CallSoon(static _ => { }, null),
            () => loop.CallLater(TimeSpan.FromSeconds(1), () => { }),
            () => loop.CallLater(TimeSpan.FromSeconds(1), static _ => { }, null),
            () => loop.CallAt(1, () => { }),
            () => loop.CallAt(1, static _ => { }, null),
            () => loop.CallSoonThreadSafe(() => { }),
            () => loop.CallSoonThreadSafe(static _ => { }, null),
            loop.RunForever,
            () => loop.RunUntilComplete(Task.CompletedTask),
            () => loop.RunUntilComplete(() => Task.CompletedTask),
            () => loop.RunInExecutor(() => 1),
        ];

        foreach (Action use in uses)
        {
            InvalidOperationException error = Assert.Throws<InvalidOperationException>(use);
            Assert.Contains("closed", error.Message, StringComparison.Ordinal);
        }

        Assert.False(loop.TryCallSoonThreadSafe(() => { }));
        Assert.False(loop.TryCallSoonThreadSafe(static _ => { }, null));
    }

    [Fact]
    public void RunUntilComplete_LoopStoppedFirst_ThrowsStoppedBeforeTaskCompleted()
    {
        EventLoop loop = NewLoop();
        var never = new TaskCompletionSource();
        loop.CallSoon(loop.Stop);

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => loop.RunUntilComplete(never.Task));

        Assert.Contains("stopped before the task completed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunUntilComplete_StaleTaskCompletion_DoesNotStopALaterRun()
    {
        EventLoop loop = NewLoop();
        var first = new TaskCompletionSource();
        loop.CallSoon(loop.Stop);
        Assert.Throws<InvalidOperationException>(() => loop.RunUntilComplete(first.Task));

        // The first task completes during a later run: that run must go on to its own end.
        int ticks = 0;
        loop.CallSoon(() => first.SetResult());
        void Tick()
        {
            if (++ticks == 5)
            {
                loop.Stop();
            }
            else
            {
                loop.CallSoon(Tick);
            }
        }

        loop.CallSoon(Tick);
        loop.RunForever();

        Assert.Equal(5, ticks);
    }

    [Fact]
    public void RunUntilComplete_CompletedTask_ReturnsResultWithoutRunning()
    {
        EventLoop loop = NewLoop();
        Assert.Equal(42, loop.RunUntilComplete(Task.FromResult(42)));
    }

    [Fact]
    public void RunUntilComplete_FaultedDelegate_RethrowsOriginalException()
    {
        EventLoop loop = NewLoop();
        var error = Assert.Throws<FormatException>(() => loop.RunUntilComplete(async () =>
        {
            await Task.Yield();
            throw new FormatException("boom");
        }));

        Assert.Equal("boom", error.Message);
    }

    [Fact]
    public void RunUntilComplete_DelegateThatThrowsSynchronously_Rethrows()
    {
        EventLoop loop = NewLoop();
        Assert.Throws<ArgumentException>(() => loop.RunUntilComplete(new Func<Task<int>>(() => throw new ArgumentException("sync"))));
    }
}

public sealed class RunStopCloseEpollTests : RunStopCloseTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class RunStopClosePortableTests : RunStopCloseTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
