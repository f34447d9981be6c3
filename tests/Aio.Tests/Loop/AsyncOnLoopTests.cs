namespace Aio.Tests.Loop;

/// <summary>
/// Async methods on the loop (docs/design.md, "Async methods on the loop"): the loop's
/// SynchronizationContext brings every await back to the loop thread, its TaskScheduler runs
/// tasks there, and RunUntilComplete drives a task to its outcome [loop.run_until_complete].
/// </summary>
public abstract class AsyncOnLoopTests : LoopTestBase
{
    private sealed class MainFailedException(string message) : Exception(message);

    [Fact]
    public void RunUntilComplete_AsyncMain_CurrentContextIsTheLoops()
    {
        EventLoop loop = NewLoop();
        SynchronizationContext? seen = null;
        EventLoop? running = null;

        loop.RunUntilComplete(() =>
        {
            seen = SynchronizationContext.Current;
            running = EventLoop.GetRunningLoop();
            return Task.CompletedTask;
        });

        Assert.NotNull(seen);
        Assert.Same(loop.SynchronizationContext, seen);
        Assert.Same(loop, running);
    }

    [Fact]
    public void RunUntilComplete_AsyncMain_StartsOnALaterIterationNotInline()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.CallSoon(() => log.Add("queued first"));

        loop.RunUntilComplete(() =>
        {
            log.Add("main");
            return Task.CompletedTask;
        });

        Assert.Equal(["queued first", "main"], log);
    }

    [Fact]
    public void Await_TaskDelay_ResumesOnLoopThread()
    {
        EventLoop loop = NewLoop();
        int loopThread = Environment.CurrentManagedThreadId;
        var resumedOn = new List<int>();
        SynchronizationContext? contextAfter = null;

        loop.RunUntilComplete(async () =>
        {
            // A real timer completes on a pool thread; this tests where the await resumes, not waiting.
            await Task.Delay(1); // allow-real-time
            resumedOn.Add(Environment.CurrentManagedThreadId);

            await Task.Delay(1); // allow-real-time: same, a second time
            resumedOn.Add(Environment.CurrentManagedThreadId);
            contextAfter = SynchronizationContext.Current;
        });

        Assert.Equal([loopThread, loopThread], resumedOn);
        Assert.Same(loop.SynchronizationContext, contextAfter);
    }

    [Fact]
    public void Await_TaskRun_WorkOffLoopAndResumesOnLoopThread()
    {
        EventLoop loop = NewLoop();
        int loopThread = Environment.CurrentManagedThreadId;
        int workThread = 0;
        int resumedOn = 0;

        int result = loop.RunUntilComplete(async () =>
        {
            int value = await Task.Run(() =>
            {
                workThread = Environment.CurrentManagedThreadId;
                return 11;
            });
            resumedOn = Environment.CurrentManagedThreadId;
            return value;
        });

        Assert.Equal(11, result);
        Assert.NotEqual(loopThread, workThread);
        Assert.Equal(loopThread, resumedOn);
    }

    [Fact]
    public void Await_TaskCompletedFromOtherThreadAfterAwait_ResumesOnLoopThread()
    {
        EventLoop loop = NewLoop();
        int loopThread = Environment.CurrentManagedThreadId;
        int resumedOn = 0;
        var source = new TaskCompletionSource<int>();

        int result = loop.RunUntilComplete(async () =>
        {
            // Runs on the next iteration, after this method has suspended in the await below.
            loop.CallSoon(() => ThreadPool.QueueUserWorkItem(_ => source.SetResult(3)));
            int value = await source.Task;
            resumedOn = Environment.CurrentManagedThreadId;
            return value;
        });

        Assert.Equal(3, result);
        Assert.Equal(loopThread, resumedOn);
    }

    [Fact]
    public void Await_TaskYield_ResumesOnLoopThreadAfterCallbacksAlreadyQueued()
    {
        EventLoop loop = NewLoop();
        int loopThread = Environment.CurrentManagedThreadId;
        var log = new List<string>();

        loop.RunUntilComplete(async () =>
        {
            loop.CallSoon(() => log.Add("callback"));
            log.Add("before yield");
            await Task.Yield();
            log.Add("after yield");
            Assert.Equal(loopThread, Environment.CurrentManagedThreadId);
            Assert.Same(loop.SynchronizationContext, SynchronizationContext.Current);
        });

        // Task.Yield posts through the loop's context: the continuation queues behind the callback.
        Assert.Equal(["before yield", "callback", "after yield"], log);
    }

    [Fact]
    public void Await_ConfigureAwaitFalse_ResumesOffTheLoop()
    {
        EventLoop loop = NewLoop();
        int loopThread = Environment.CurrentManagedThreadId;
        int resumedOn = 0;
        SynchronizationContext? contextAfter = null;
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        loop.RunUntilComplete(async () =>
        {
            // Completed from a pool thread on the next iteration, after this method has suspended.
            loop.CallSoon(() => ThreadPool.QueueUserWorkItem(_ => source.SetResult()));
            await source.Task.ConfigureAwait(false);
            resumedOn = Environment.CurrentManagedThreadId;
            contextAfter = SynchronizationContext.Current;
        });

        Assert.NotEqual(0, resumedOn);
        Assert.NotEqual(loopThread, resumedOn);
        Assert.NotSame(loop.SynchronizationContext, contextAfter);
    }

    [Fact]
    public void RunUntilComplete_FuncOfTaskOfT_ReturnsResult()
    {
        EventLoop loop = NewLoop();

        string result = loop.RunUntilComplete(async () =>
        {
            await Task.Yield();
            return "done";
        });

        Assert.Equal("done", result);
    }

    [Fact]
    public void RunUntilComplete_CreatedTaskOfT_ReturnsResultOnceCompletedByLoop()
    {
        EventLoop loop = NewLoop();
        var source = new TaskCompletionSource<int>();
        loop.CallSoon(() => loop.CallSoon(() => source.SetResult(17)));

        int result = loop.RunUntilComplete(source.Task);

        Assert.Equal(17, result);
    }

    [Fact]
    public void RunUntilComplete_CreatedTaskCompletedFromOtherThread_ReturnsResult()
    {
        EventLoop loop = NewLoop();
        var source = new TaskCompletionSource<int>();
        loop.CallSoon(() => ThreadPool.QueueUserWorkItem(_ => source.SetResult(23)));

        int result = loop.RunUntilComplete(source.Task);

        Assert.Equal(23, result);
    }

    [Fact]
    public void RunUntilComplete_AlreadyCompletedTask_ReturnsResult()
    {
        EventLoop loop = NewLoop();

        Assert.Equal(5, loop.RunUntilComplete(Task.FromResult(5)));
        loop.RunUntilComplete(Task.CompletedTask);
        Assert.False(loop.IsRunning);
    }

    [Fact]
    public void RunUntilComplete_AsyncMainThrows_RethrowsSameExceptionNotAggregate()
    {
        EventLoop loop = NewLoop();
        var thrown = new MainFailedException("main failed");

        var caught = Assert.Throws<MainFailedException>(() => loop.RunUntilComplete(async () =>
        {
            await Task.Yield();
            throw thrown;
        }));

        Assert.Same(thrown, caught);
    }

    [Fact]
    public void RunUntilComplete_AsyncMainOfTThrows_RethrowsSameExceptionNotAggregate()
    {
        EventLoop loop = NewLoop();

        Assert.Throws<MainFailedException>(() => loop.RunUntilComplete<int>(async () =>
        {
            await Task.Yield();
            throw new MainFailedException("main of T failed");
        }));
    }

    [Fact]
    public void RunUntilComplete_MainThrowsSynchronously_RethrowsSameException()
    {
        EventLoop loop = NewLoop();

        Assert.Throws<MainFailedException>(() => loop.RunUntilComplete(() => throw new MainFailedException("before any await")));
    }

    [Fact]
    public void RunUntilComplete_CreatedTaskFaults_RethrowsSameExceptionNotAggregate()
    {
        EventLoop loop = NewLoop();
        var source = new TaskCompletionSource<int>();
        var thrown = new MainFailedException("faulted");
        loop.CallSoon(() => source.SetException(thrown));

        var caught = Assert.Throws<MainFailedException>(() => loop.RunUntilComplete(source.Task));

        Assert.Same(thrown, caught);
    }

    [Fact]
    public void RunUntilComplete_CreatedTaskCancelled_ThrowsTaskCanceled()
    {
        EventLoop loop = NewLoop();
        var source = new TaskCompletionSource();
        loop.CallSoon(() => source.SetCanceled());

        Assert.Throws<TaskCanceledException>(() => loop.RunUntilComplete(source.Task));
    }

    [Fact]
    public async Task TaskFactoryStartNew_LoopTaskScheduler_RunsOnLoopThread()
    {
        EventLoop loop = NewLoop();
        using var started = new ManualResetEventSlim();
        int loopThread = 0;
        loop.CallSoon(() => loopThread = Environment.CurrentManagedThreadId);
        Thread thread = RunOnThread(loop, started);
        Assert.True(started.Wait(Patience));

        (int Thread, TaskScheduler Scheduler) ranOn;
        try
        {
            ranOn = await Task.Factory.StartNew(
                () => (Environment.CurrentManagedThreadId, TaskScheduler.Current),
                CancellationToken.None,
                TaskCreationOptions.None,
                loop.TaskScheduler).WaitAsync(Patience);
        }
        finally
        {
            loop.CallSoonThreadSafe(loop.Stop);
            Assert.True(thread.Join(Patience));
        }

        Assert.NotEqual(Environment.CurrentManagedThreadId, ranOn.Thread);
        Assert.Equal(loopThread, ranOn.Thread);
        Assert.Same(loop.TaskScheduler, ranOn.Scheduler);
    }

    [Fact]
    public void TaskFactoryStartNew_LoopTaskScheduler_RunsInFifoOrderWithCallbacks()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();

        loop.RunUntilComplete(async () =>
        {
            loop.CallSoon(() => log.Add("callback 1"));
            Task task = Task.Factory.StartNew(() => log.Add("task"), CancellationToken.None, TaskCreationOptions.None, loop.TaskScheduler);
            loop.CallSoon(() => log.Add("callback 2"));
            await task;
        });

        Assert.Equal(["callback 1", "task", "callback 2"], log);
        Assert.Equal(1, loop.TaskScheduler.MaximumConcurrencyLevel);
    }

    /// <summary>
    /// Runs <paramref name="run"/> (which runs the loop) on a pool thread, so that a run that never
    /// returns fails the test after <see cref="LoopTestBase.Patience"/> instead of hanging it.
    /// </summary>
    private static async Task<T> ReturnsWithin<T>(Func<T> run) => await Task.Run(run).WaitAsync(Patience);

    [Fact]
    public async Task RunUntilComplete_StopWhileTaskPending_ThrowsAndTaskCanFinishOnNextRun()
    {
        EventLoop loop = NewLoop();
        var source = new TaskCompletionSource<int>();
        loop.CallSoon(loop.Stop);

        Exception? error = await ReturnsWithin(() => Record.Exception(() => loop.RunUntilComplete(source.Task)));

        Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("Event loop stopped before the task completed", error.Message, StringComparison.Ordinal);
        Assert.False(loop.IsRunning);
        Assert.False(source.Task.IsCompleted);

        loop.CallSoon(() => source.SetResult(4));
        Assert.Equal(4, await ReturnsWithin(() => loop.RunUntilComplete(source.Task)));
    }

    [Fact]
    public async Task RunUntilComplete_AsyncMainStopsLoopWhilePending_ThrowsThenResumesOnNextRun()
    {
        EventLoop loop = NewLoop();
        var gate = new TaskCompletionSource();
        bool finished = false;

        Task main = Task.CompletedTask;
        Exception? error = await ReturnsWithin(() => Record.Exception(() => loop.RunUntilComplete(() =>
        {
            main = Body();
            return main;
        })));
        Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("Event loop stopped before the task completed", error.Message, StringComparison.Ordinal);
        Assert.False(finished);

        // Completed while the loop is not running: the continuation waits in the loop's inbox.
        gate.SetResult();
        Assert.True(await ReturnsWithin(() =>
        {
            loop.RunUntilComplete(main);
            return finished;
        }));

        async Task Body()
        {
            loop.CallSoon(loop.Stop);
            await gate.Task;
            Assert.Same(loop.SynchronizationContext, SynchronizationContext.Current);
            finished = true;
        }
    }

    [Fact]
    public void RunUntilComplete_CalledRepeatedly_RunsEachTime()
    {
        EventLoop loop = NewLoop();

        for (int i = 0; i < 5; i++)
        {
            int n = i;
            int result = loop.RunUntilComplete(async () =>
            {
                await Task.Yield();
                return n * n;
            });
            Assert.Equal(n * n, result);
            Assert.False(loop.IsRunning);
        }
    }

    [Fact]
    public void RunUntilComplete_Returns_RestoresPreviousSynchronizationContext()
    {
        EventLoop loop = NewLoop();
        SynchronizationContext? original = SynchronizationContext.Current;
        var outer = new SynchronizationContext();
        SynchronizationContext.SetSynchronizationContext(outer);
        try
        {
            loop.RunUntilComplete(async () => await Task.Yield());
            Assert.Same(outer, SynchronizationContext.Current);

            Assert.Throws<MainFailedException>(() => loop.RunUntilComplete(async () =>
            {
                await Task.Yield();
                throw new MainFailedException("restore after failure too");
            }));
            Assert.Same(outer, SynchronizationContext.Current);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(original);
        }
    }

    [Fact]
    public void RunUntilComplete_ClosedLoop_ThrowsInvalidOperation()
    {
        EventLoop loop = NewLoop();
        loop.Close();

        Assert.Throws<InvalidOperationException>(() => loop.RunUntilComplete(() => Task.CompletedTask));
    }
}

public sealed class AsyncOnLoopEpollTests : AsyncOnLoopTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class AsyncOnLoopPortableTests : AsyncOnLoopTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
