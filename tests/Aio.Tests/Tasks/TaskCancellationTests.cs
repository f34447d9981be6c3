namespace Aio.Tests.Tasks;

/// <summary>Tasks and asyncio's cancellation rules.</summary>
public abstract class TaskCancellationTests : LoopTestBase
{
    [Fact]
    public void CreateTask_FirstStep_RunsOnNextIteration()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.CallSoon(() =>
        {
            loop.CreateTask(() =>
            {
                log.Add("task");
                return Task.CompletedTask;
            });
            log.Add("creator");
        });
        loop.CallSoon(() => log.Add("queued before the task"));

        loop.RunUntilComplete(async () => await LoopTask.Sleep(TimeSpan.FromSeconds(0.001)));

        Assert.Equal(["creator", "queued before the task", "task"], log);
    }

    [Fact]
    public void CreateTask_Eager_RunsFirstStepSynchronously()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = loop.CreateTask(async () =>
            {
                log.Add("body start");
                await LoopTask.Yield();
                log.Add("body end");
            }, eager: true);
            log.Add("after create");
            await task;
        });

        Assert.Equal(["body start", "after create", "body end"], log);
    }

    [Fact]
    public void Task_Result_ReturnedByAwaitAndResult()
    {
        EventLoop loop = NewLoop();
        int result = loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = loop.CreateTask(async () =>
            {
                await LoopTask.Yield();
                return 7;
            }, name: "seven");
            Assert.Equal("seven", task.Name);
            int value = await task;
            Assert.Equal(7, task.Result);
            Assert.True(task.IsCompletedSuccessfully);
            return value * 6;
        });

        Assert.Equal(42, result);
    }

    [Fact]
    public void Cancel_TaskAwaitingFuture_ThrowsCancelledErrorIntoTheAwait()
    {
        EventLoop loop = NewLoop();
        Future<int> future = loop.CreateFuture<int>();
        string? caught = null;
        LoopTask? task = null;
        loop.RunUntilComplete(async () =>
        {
            task = loop.CreateTask(async () =>
            {
                try
                {
                    await future;
                }
                catch (CancelledError error)
                {
                    caught = error.Message;
                    throw;
                }
            });
            await LoopTask.Yield();
            Assert.True(task.Cancel("stop now"));
            Assert.Equal(1, task.Cancelling());
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });

        Assert.Equal("stop now", caught);
        Assert.True(task!.IsCancelled);
        Assert.True(future.IsCancelled);
        Assert.Equal("stop now", task.CancelMessage);
    }

    [Fact]
    public void Cancel_TaskThatCatchesAndReturns_IsNotCancelled()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask<string>? task = null;
        loop.RunUntilComplete(async () =>
        {
            task = loop.CreateTask(async () =>
            {
                try
                {
                    await LoopTask.Sleep(TimeSpan.FromHours(1));
                    return "slept";
                }
                catch (CancelledError)
                {
                    return "caught";
                }
            });
            await LoopTask.Yield();
            task.Cancel();
            Assert.Equal("caught", await task);
        });

        Assert.False(task!.IsCancelled);
        Assert.True(task.IsCompletedSuccessfully);
    }

    [Fact]
    public void Cancel_DoneTask_ReturnsFalse()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = loop.CreateTask(() => Task.CompletedTask);
            await task;
            Assert.False(task.Cancel());
            Assert.Equal(0, task.Cancelling());
        });
    }

    [Fact]
    public void Cancel_BeforeFirstStep_BodyNeverRuns()
    {
        EventLoop loop = NewLoop();
        bool ran = false;
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = loop.CreateTask(() =>
            {
                ran = true;
                return Task.CompletedTask;
            });
            task.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });

        Assert.False(ran);
    }

    [Fact]
    public void Cancel_Self_AppliesAtNextAwait()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        LoopTask? task = null;
        loop.RunUntilComplete(async () =>
        {
            task = loop.CreateTask(async () =>
            {
                ((ILoopTask)LoopTask.Current!).Cancel();
                log.Add("still running after self-cancel");
                await LoopTask.Yield();
                log.Add("never");
            });
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });

        Assert.Equal(["still running after self-cancel"], log);
        Assert.True(task!.IsCancelled);
    }

    [Fact]
    public void Cancel_TaskAwaitingForeignTask_CancelsItsToken()
    {
        EventLoop loop = NewLoop();
        var never = new TaskCompletionSource();
        LoopTask? task = null;
        loop.RunUntilComplete(async () =>
        {
            task = loop.CreateTask(async token => await never.Task.WaitAsync(token));
            await LoopTask.Yield();
            task.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await task);
        });

        Assert.True(task!.IsCancelled);
    }

    [Fact]
    public void Cancel_ArrivingAfterLastAwaitCompleted_TaskStillEndsCancelled()
    {
        EventLoop loop = NewLoop();
        Future<int> future = loop.CreateFuture<int>();
        LoopTask<int>? task = null;
        loop.RunUntilComplete(async () =>
        {
            task = loop.CreateTask(async () => await future + 1);
            await LoopTask.Yield();

            // The awaited future completes, and the cancel arrives before the task resumes.
            future.SetResult(1);
            Assert.True(task.Cancel());
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });

        Assert.True(task!.IsCancelled);
    }

    [Fact]
    public void Uncancel_AfterCaughtCancel_CountsDown()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = loop.CreateTask(async () =>
            {
                var self = LoopTask.Current!;
                try
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(10));
                }
                catch (CancelledError)
                {
                    Assert.Equal(1, self.Cancelling());
                    Assert.Equal(0, self.Uncancel());
                }

                await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                return self.Cancelling();
            });
            await LoopTask.Yield();
            task.Cancel();
            Assert.Equal(0, await task);
        });
    }

    [Fact]
    public void CurrentTask_FlowsAcrossForeignAwaits()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            Assert.Equal("main", LoopTask.Current!.Name);
            LoopTask task = loop.CreateTask(async () =>
            {
                ILoopTask? before = LoopTask.Current;
                await Task.Yield();
                Assert.Same(before, LoopTask.Current);
                await LoopTask.Yield();
                Assert.Same(before, LoopTask.Current);
            });
            await task;
            Assert.Equal(["main"], LoopTask.AllTasks().Select(t => t.Name));
        });
    }

    [Fact]
    public void FailedTask_ExceptionNeverRetrieved_IsReported()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            CreateAndForget(loop);
            await LoopTask.Yield();
            await LoopTask.Yield();
        });

        GC.Collect();
        GC.WaitForPendingFinalizers();
        loop.Stop();
        loop.RunForever();

        ExceptionContext report = Assert.Single(TakeErrors());
        Assert.Contains("never retrieved", report.Message, StringComparison.Ordinal);
        Assert.IsType<FormatException>(report.Exception);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void CreateAndForget(EventLoop loop) =>
        loop.CreateTask(() => Task.FromException(new FormatException("lost")));
}

public sealed class TaskCancellationEpollTests : TaskCancellationTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class TaskCancellationPortableTests : TaskCancellationTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
