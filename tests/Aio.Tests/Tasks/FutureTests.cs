using System.Runtime.CompilerServices;

namespace Aio.Tests.Tasks;

/// <summary>Futures: states, misuse, callbacks, lost errors; and the loop's task registry.</summary>
public abstract class FutureTests : LoopTestBase
{
    [Fact]
    public void Future_ReadBeforeDone_ThrowsInvalidStateError()
    {
        EventLoop loop = NewLoop();
        Future<int> future = loop.CreateFuture<int>();

        Assert.Throws<InvalidStateError>(() => future.Result);
        Assert.Throws<InvalidStateError>(future.GetException);
        Assert.False(future.IsDone);
    }

    [Fact]
    public void Future_ToString_NamesTheTypeAndState()
    {
        EventLoop loop = NewLoop();
        Future<int> future = loop.CreateFuture<int>();
        Assert.Equal("<Future pending>", future.ToString());
        future.Cancel();
        Assert.Equal("<Future cancelled>", future.ToString());
    }

    [Fact]
    public void Future_SetTwice_ThrowsInvalidStateError()
    {
        EventLoop loop = NewLoop();
        Future<int> future = loop.CreateFuture<int>();
        future.SetResult(1);

        Assert.Throws<InvalidStateError>(() => future.SetResult(2));
        Assert.Throws<InvalidStateError>(() => future.SetException(new FormatException()));
        Assert.False(future.TrySetResult(3));
        Assert.False(future.Cancel());
        Assert.Equal(1, future.Result);
        Assert.Null(future.GetException());
    }

    [Fact]
    public void Future_Cancelled_ResultAndExceptionThrowCancelledErrorWithMessage()
    {
        EventLoop loop = NewLoop();
        Future<int> future = loop.CreateFuture<int>();

        Assert.True(future.Cancel("why"));
        Assert.True(future.IsCancelled);
        Assert.Equal("why", Assert.Throws<CancelledError>(() => future.Result).Message);
        Assert.Throws<CancelledError>(future.GetException);
    }

    [Fact]
    public void Future_Failed_ResultRethrowsOriginalException()
    {
        EventLoop loop = NewLoop();
        Future<int> future = loop.CreateFuture<int>();
        var error = new FormatException("bad");
        future.SetException(error);

        Assert.Same(error, Assert.Throws<FormatException>(() => future.Result));
        Assert.True(future.IsFaulted);
        Assert.Same(error, future.GetException());
    }

    [Fact]
    public void DoneCallbacks_NeverRunInline_RunInOrderOnTheLoop()
    {
        EventLoop loop = NewLoop();
        Future<int> future = loop.CreateFuture<int>();
        var log = new List<string>();
        future.AddDoneCallback(f => log.Add("first " + ((Future<int>)f).Result));
        future.AddDoneCallback(_ => log.Add("second"));

        future.SetResult(5);
        Assert.Empty(log);
        future.AddDoneCallback(_ => log.Add("added after done"));
        Assert.Empty(log);

        loop.Stop();
        loop.RunForever();
        Assert.Equal(["first 5", "second", "added after done"], log);
    }

    [Fact]
    public void RemoveDoneCallback_RemovesEveryRegistration_ReturnsCount()
    {
        EventLoop loop = NewLoop();
        Future<int> future = loop.CreateFuture<int>();
        int calls = 0;
        Action<Future> callback = _ => calls++;
        future.AddDoneCallback(callback);
        future.AddDoneCallback(_ => { });
        future.AddDoneCallback(callback);

        Assert.Equal(2, future.RemoveDoneCallback(callback));
        Assert.Equal(0, future.RemoveDoneCallback(callback));
        future.SetResult(1);
        loop.Stop();
        loop.RunForever();
        Assert.Equal(0, calls);
    }

    [Fact]
    public void Await_CompletedLater_ResumesOnNextIteration()
    {
        EventLoop loop = NewLoop();
        Future<string> future = loop.CreateFuture<string>();
        loop.CallSoon(() => future.SetResult("ready"));

        Assert.Equal("ready", loop.RunUntilComplete(async () => await future));
    }

    [Fact]
    public void FailedFuture_NeverRetrieved_IsReportedWhenCollected()
    {
        EventLoop loop = NewLoop();
        FailAndForget(loop);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        loop.Stop();
        loop.RunForever();

        ExceptionContext report = Assert.Single(TakeErrors());
        Assert.Equal("Future exception was never retrieved", report.Message);
        Assert.IsType<FormatException>(report.Exception);
        Assert.Equal("<Future failed>", report.Future);
    }

    [Fact]
    public void FailedFuture_Retrieved_IsNotReported()
    {
        EventLoop loop = NewLoop();
        FailAndRetrieve(loop);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        loop.Stop();
        loop.RunForever();

        Assert.Empty(TakeErrors());
    }

    [Fact]
    public void PendingTask_CollectedWhileWaitingOnUnreachableFuture_IsReported()
    {
        EventLoop loop = NewLoop();
        StartOrphan(loop);
        loop.Stop();
        loop.RunForever();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        loop.Stop();
        loop.RunForever();

        ExceptionContext report = Assert.Single(TakeErrors());
        Assert.Equal("Task was destroyed but it is pending!", report.Message);
        Assert.Contains("orphan", report.Future!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AllTasks_ListsPendingTasksOnly()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask sleeper = loop.CreateTask(async () => await LoopTask.Sleep(TimeSpan.FromSeconds(5)), name: "sleeper");
            LoopTask quick = loop.CreateTask(() => Task.CompletedTask, name: "quick");
            await quick;
            Assert.Equal(["main", "sleeper"], LoopTask.AllTasks(loop).Select(t => t.Name).Order());
            await sleeper;
            Assert.Equal(["main"], LoopTask.AllTasks(loop).Select(t => t.Name));
        });
    }

    [Fact]
    public void EagerTasks_LoopWide_RunsFirstStepInCreateTask()
    {
        EventLoop loop = NewLoop();
        loop.EagerTasks = true;
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = loop.CreateTask(() =>
            {
                log.Add("body");
                return Task.CompletedTask;
            });
            log.Add("after");
            Assert.True(task.IsDone);
            await task;
        });

        Assert.Equal(["body", "after"], log);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FailAndForget(EventLoop loop) => loop.CreateFuture<int>().SetException(new FormatException("lost"));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FailAndRetrieve(EventLoop loop)
    {
        Future<int> future = loop.CreateFuture<int>();
        future.SetException(new FormatException("seen"));
        _ = future.GetException();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void StartOrphan(EventLoop loop) =>
        loop.CreateTask(async () => await loop.CreateFuture<int>(), name: "orphan");
}

public sealed class FutureEpollTests : FutureTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class FuturePortableTests : FutureTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
