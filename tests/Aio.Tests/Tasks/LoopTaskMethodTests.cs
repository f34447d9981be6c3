using System.Runtime.CompilerServices;

namespace Aio.Tests.Tasks;

/// <summary>
/// Async LoopTask methods (the LoopTaskMethodBuilder): calling one on the loop is create_task(coro()),
/// with every task rule of the delegate-bodied tasks.
/// </summary>
public abstract class LoopTaskMethodTests : LoopTestBase
{
    [Fact]
    public void Call_OnLoop_FirstStepRunsOnNextIteration()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.CallSoon(() =>
        {
            _ = Record(log, "task");
            log.Add("caller");
        });
        loop.CallSoon(() => log.Add("queued before the task"));

        loop.RunUntilComplete(async () => await LoopTask.Sleep(TimeSpan.FromSeconds(0.001)));

        Assert.Equal(["caller", "queued before the task", "task"], log);
    }

    [Fact]
    public void Steps_YieldAndCompletedFutureAwaits_AllocateNothing()
    {
        EventLoop loop = NewLoop();
        long allocated = -1;
        loop.RunUntilComplete(async () => await MeasureSteps(loop, bytes => allocated = bytes));

        Assert.Equal(0, allocated);
    }

    private static async LoopTask MeasureSteps(EventLoop loop, Action<long> report)
    {
        Future<int> done = loop.CreateFuture<int>();
        done.SetResult(1);
        for (int i = 0; i < 100; i++)
        {
            await LoopTask.Yield(); // warm up: first-await setup, JIT tiers
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            await LoopTask.Yield();
            await done;
        }

        report(GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Call_EagerTasks_RunsFirstStepInsideTheCall()
    {
        EventLoop loop = NewLoop();
        loop.EagerTasks = true;
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = RecordAroundYield(log);
            log.Add("after call");
            await task;
        });

        Assert.Equal(["body start", "after call", "body end"], log);
    }

    [Fact]
    public void Call_EagerTasks_MethodWithoutAwait_IsDoneOnReturn()
    {
        EventLoop loop = NewLoop();
        loop.EagerTasks = true;
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = Constant(7);
            Assert.True(task.IsDone);
            Assert.Equal(7, await task);
        });
    }

    [Fact]
    public void Call_NoRunningLoop_ThrowsWithWhatToDo()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Constant(1));
        Assert.Contains("loop.CreateTask", error.Message, StringComparison.Ordinal);
        Assert.Contains("RunUntilComplete", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Await_FromDelegateTaskAndFromMethod_GivesResult()
    {
        EventLoop loop = NewVirtualLoop(out _);
        int result = loop.RunUntilComplete(async () => await SumOfSleepers(3));
        Assert.Equal(1 + 2 + 3, result);
    }

    [Fact]
    public void Exception_PropagatesToAwaiterWithOriginalType()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = FailAfterYield("broken");
            var error = await Assert.ThrowsAsync<FormatException>(async () => await task);
            Assert.Equal("broken", error.Message);
            Assert.True(task.IsFaulted);
        });
    }

    [Fact]
    public void Exception_NeverRetrieved_IsReported()
    {
        EventLoop loop = NewLoop();
        StartFailingAndForget(loop);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        loop.Stop();
        loop.RunForever();

        ExceptionContext report = Assert.Single(TakeErrors());
        Assert.Equal("Task exception was never retrieved", report.Message);
        Assert.IsType<FormatException>(report.Exception);
        Assert.Matches("^<LoopTask Task-[0-9]+ failed>$", (string)report.Future!);   // the finished task, as CPython prints it
    }

    [Fact]
    public void Cancel_AtPendingAioAwait_ThrowsCancelledErrorInside()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = SleepAndLog(log, TimeSpan.FromHours(1));
            await LoopTask.Yield();
            Assert.True(task.Cancel("stop"));
            var error = await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.Equal("stop", error.Message);
        });

        Assert.Equal(["cancelled: stop"], log);
    }

    [Fact]
    public void Cancel_BeforeFirstStep_BodyNeverRuns()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = Record(log, "body");
            Assert.True(task.Cancel());
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.True(task.IsCancelled);
        });

        Assert.Empty(log);
    }

    [Fact]
    public void Cancel_WhileAwaitingForeignTask_CancelsTokenAndIsDeliveredAtNextAioAwait()
    {
        EventLoop loop = NewLoop();
        var foreign = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = AwaitForeignThenYield(foreign.Task, log);
            await LoopTask.Yield();
            Assert.True(task.Cancel());
            foreign.SetResult();
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.True(task.IsCancelled);
        });

        Assert.Equal(["token cancelled: True", "resumed on the loop: True"], log);
    }

    [Fact]
    public void Cancel_AfterLastAwait_TaskEndsCancelled()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = CancelSelfThenReturn();
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.True(task.IsCancelled);
        });
    }

    [Fact]
    public void Cancel_CaughtAndUncancelled_TaskSucceeds()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = Stubborn();
            await LoopTask.Yield();
            task.Cancel();
            Assert.Equal(1, task.Cancelling());
            Assert.Equal(42, await task);
            Assert.Equal(0, task.Cancelling());
        });
    }

    [Fact]
    public void Cancel_ReachesAioAwaitInNestedHelper_AfterAnEarlierAioAwait()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = CallHelperThatSleepsTwice(log);
            await LoopTask.Sleep(TimeSpan.FromSeconds(1.5));
            task.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });

        Assert.Equal(["first sleep done", "second sleep cancelled"], log);
    }

    [Fact]
    public void Current_InMethod_AfterEveryKindOfAwait_IsTheTask()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<List<bool>> task = CheckCurrentAfterAwaits(loop);
            List<bool> checks = await task;
            Assert.Equal(7, checks.Count);
            Assert.All(checks, Assert.True);
        });
    }

    [Fact]
    public void Current_InNestedHelper_AfterAioAwaits_IsTheTask()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<bool> task = HelperSeesTask();
            Assert.True(await task);
        });
    }

    [Fact]
    public void Current_InNestedHelper_AfterForeignAwait_IsTheTask()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<ILoopTask?> task = HelperCurrentAfterForeignAwait();
            Assert.Same(task, await task);
        });
    }

    [Fact]
    public void Cancel_ReachesAioAwaitInNestedHelper_AfterAForeignAwait()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = CallHelperForeignThenSleep(log);
            while (log.Count == 0)
            {
                await LoopTask.Sleep(TimeSpan.FromMilliseconds(1));
            }

            task.Cancel("stop");
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });

        Assert.Equal(["sleeping", "sleep cancelled: stop"], log);
    }

    private static async LoopTask CallHelperForeignThenSleep(List<string> log) => await ForeignThenSleep(log);

    private static async Task ForeignThenSleep(List<string> log)
    {
        await Task.Run(() => Thread.Sleep(1)); // allow-real-time: a foreign await that resumes from another thread
        log.Add("sleeping");
        try
        {
            await LoopTask.Sleep(TimeSpan.FromHours(1));
        }
        catch (CancelledError error)
        {
            log.Add("sleep cancelled: " + error.Message);
            throw;
        }
    }

    [Fact]
    public void Current_MixedWithDelegateTasks_EachSeesItself()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            ILoopTask main = LoopTask.Current!;
            LoopTask<bool> method = MethodStartingDelegateTask(loop);
            Assert.True(await method);
            Assert.Same(main, LoopTask.Current);
        });
    }

    [Fact]
    public void Current_EagerMethodInsideDelegateTask_IsTheMethodThenTheDelegateTaskAgain()
    {
        EventLoop loop = NewLoop();
        loop.EagerTasks = true;
        loop.RunUntilComplete(async () =>
        {
            ILoopTask main = LoopTask.Current!;
            ILoopTask? seen = null;
            LoopTask task = CaptureCurrent(value => seen = value);
            Assert.Same(task, seen);
            Assert.Same(main, LoopTask.Current);
            await task;
        });
    }

    [Fact]
    public void SynchronizationContext_InMethod_IsTheLoops()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<bool> task = ContextIsLoops(loop);
            Assert.True(await task);
        });
    }

    [Fact]
    public void AsyncLocal_SetInMethod_FlowsAcrossItsAwaitsAndDoesNotLeak()
    {
        EventLoop loop = NewLoop();
        var local = new AsyncLocal<string?>();
        loop.RunUntilComplete(async () =>
        {
            local.Value = "creator";
            LoopTask<string?> task = SetAndReadLocal(local);
            Assert.Equal("creator", local.Value);
            Assert.Equal("method|creator-seen", await task);
            Assert.Equal("creator", local.Value);
        });
    }

    [Fact]
    public void Name_DefaultsToTaskNumber_AndCanBeSet()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            LoopTask task = Record([], "x");
            Assert.Matches("^Task-[0-9]+$", task.Name);
            task.Name = "worker";
            Assert.Equal("worker", task.Name);
            Assert.Equal("<LoopTask worker pending>", task.ToString());
            await task;
            Assert.Equal("<LoopTask worker finished>", task.ToString());
        });
    }

    [Fact]
    public void AllTasks_ListsPendingMethodTasksOnly()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask sleeper = SleepAndLog([], TimeSpan.FromSeconds(5));
            sleeper.Name = "sleeper";
            LoopTask quick = Record([], "quick");
            quick.Name = "quick";
            Assert.Equal(["main", "quick", "sleeper"], LoopTask.AllTasks(loop).Select(t => t.Name).Order());
            await quick;
            Assert.Equal(["main", "sleeper"], LoopTask.AllTasks(loop).Select(t => t.Name).Order());
            await sleeper;
            Assert.Equal(["main"], LoopTask.AllTasks(loop).Select(t => t.Name));
        });
    }

    [Fact]
    public void PendingMethodTask_CollectedWhileWaitingOnUnreachableFuture_IsReported()
    {
        EventLoop loop = NewLoop();
        StartOrphanMethod(loop);
        loop.Stop();
        loop.RunForever();   // the call: the task is created, its first step queued
        loop.Stop();
        loop.RunForever();   // the first step: the task suspends on a future nothing else references
        GC.Collect();
        GC.WaitForPendingFinalizers();
        loop.Stop();
        loop.RunForever();

        ExceptionContext report = Assert.Single(TakeErrors());
        Assert.Equal("Task was destroyed but it is pending!", report.Message);
        Assert.Contains("orphan", report.Future!.ToString(), StringComparison.Ordinal);
        Assert.Empty(LoopTask.AllTasks(loop));
    }

    [Fact]
    public void ManyMethodTasks_AwaitingOneFuture_AllFinish()
    {
        EventLoop loop = NewLoop();
        int finished = loop.RunUntilComplete(async () =>
        {
            Future<int> gate = loop.CreateFuture<int>();
            var all = new LoopTask<int>[1000];
            for (int i = 0; i < all.Length; i++)
            {
                all[i] = AddToGate(gate, i);
            }

            await LoopTask.Yield();
            gate.SetResult(1);
            int[] results = await LoopTask.Gather(all);
            return results.Count(r => r > 0);
        });

        Assert.Equal(1000, finished);
    }

    [Fact]
    public void TaskGroupAndTimeout_InMethod_WithForeignAwaitsInTheirBodies_Work()
    {
        EventLoop loop = NewLoop();   // real time: the foreign awaits take real time
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = GroupAndTimeout();
            Assert.Equal(3, await task);
        });
    }

    private static async LoopTask<int> GroupAndTimeout()
    {
        int result = 0;
        await TaskGroup.RunAsync(async group =>
        {
            await Task.Run(() => Thread.Sleep(1)); // allow-real-time: a foreign await that resumes from another thread
            _ = group.CreateTask(async () => await LoopTask.Yield());
            await LoopTask.Yield();
            result++;
        });
        await using (var group = new TaskGroup())
        {
            _ = group.CreateTask(async () => await Task.Run(() => Thread.Sleep(1))); // allow-real-time: a foreign await
            result++;
        }

        await LoopTask.TimeoutAsync(TimeSpan.FromHours(1), async () =>
        {
            await Task.Run(() => Thread.Sleep(1)); // allow-real-time: a foreign await that resumes from another thread
            await LoopTask.Sleep(TimeSpan.FromMilliseconds(1));
            result++;
        });
        return result;
    }

    private static async LoopTask Record(List<string> log, string entry)
    {
        log.Add(entry);
        await Task.CompletedTask;
    }

    private static async LoopTask RecordAroundYield(List<string> log)
    {
        log.Add("body start");
        await LoopTask.Yield();
        log.Add("body end");
    }

#pragma warning disable CS1998 // An async LoopTask method without await is still a task.
    private static async LoopTask<int> Constant(int value) => value;
#pragma warning restore CS1998

    private static async LoopTask<int> SleepThenReturn(int value)
    {
        await LoopTask.Sleep(TimeSpan.FromSeconds(value));
        return value;
    }

    private static async LoopTask<int> SumOfSleepers(int count)
    {
        int sum = 0;
        for (int i = 1; i <= count; i++)
        {
            sum += await SleepThenReturn(i);
        }

        return sum;
    }

    private static async LoopTask<int> FailAfterYield(string message)
    {
        await LoopTask.Yield();
        throw new FormatException(message);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void StartFailingAndForget(EventLoop loop) =>
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> task = FailAfterYield("lost");
            await LoopTask.Sleep(TimeSpan.FromMilliseconds(1));
            Assert.True(task.IsFaulted);
        });

    private static async LoopTask SleepAndLog(List<string> log, TimeSpan delay)
    {
        try
        {
            await LoopTask.Sleep(delay);
        }
        catch (CancelledError error)
        {
            log.Add("cancelled: " + error.Message);
            throw;
        }
    }

    private static async LoopTask AwaitForeignThenYield(Task foreign, List<string> log)
    {
        CancellationToken token = LoopTask.Current!.CancellationToken;
        await foreign;
        log.Add("token cancelled: " + token.IsCancellationRequested);
        log.Add("resumed on the loop: " + (EventLoop.TryGetRunningLoop() is not null));
        await LoopTask.Yield();
        log.Add("not reached");
    }

#pragma warning disable CS1998
    private static async LoopTask<int> CancelSelfThenReturn()
    {
        LoopTask.Current!.Cancel();
        return 5;
    }
#pragma warning restore CS1998

    private static async LoopTask<int> Stubborn()
    {
        try
        {
            await LoopTask.Sleep(TimeSpan.FromHours(1));
        }
        catch (CancelledError)
        {
            LoopTask.Current!.Uncancel();
        }

        await LoopTask.Sleep(TimeSpan.FromSeconds(1));
        return 42;
    }

    private static async LoopTask CallHelperThatSleepsTwice(List<string> log) => await SleepTwice(log);

    private static async Task SleepTwice(List<string> log)
    {
        await LoopTask.Sleep(TimeSpan.FromSeconds(1));
        log.Add("first sleep done");
        try
        {
            await LoopTask.Sleep(TimeSpan.FromHours(1));
        }
        catch (CancelledError)
        {
            log.Add("second sleep cancelled");
            throw;
        }
    }

    private static async LoopTask<List<bool>> CheckCurrentAfterAwaits(EventLoop loop)
    {
        ILoopTask self = LoopTask.Current!;
        var checks = new List<bool>();
        Future<int> future = loop.CreateFuture<int>();
        loop.CallSoon(() => future.SetResult(1));
        await future;
        checks.Add(ReferenceEquals(LoopTask.Current, self));
        await LoopTask.Yield();
        checks.Add(ReferenceEquals(LoopTask.Current, self));
        await LoopTask.Sleep(TimeSpan.FromSeconds(1));
        checks.Add(ReferenceEquals(LoopTask.Current, self));
        await Task.Run(() => Thread.Sleep(1)); // allow-real-time: a foreign await that resumes from another thread
        checks.Add(ReferenceEquals(LoopTask.Current, self));
        await HelperWithForeignAndAioAwaits();
        checks.Add(ReferenceEquals(LoopTask.Current, self));
        await SleepThenReturn(1);
        checks.Add(ReferenceEquals(LoopTask.Current, self));
        await Task.Yield();
        checks.Add(ReferenceEquals(LoopTask.Current, self));
        return checks;
    }

    private static async Task HelperWithForeignAndAioAwaits()
    {
        await Task.Run(() => Thread.Sleep(1)); // allow-real-time: a foreign await that resumes from another thread
        await LoopTask.Yield();
        await Task.Delay(1); // allow-real-time: a foreign timer await
    }

    private static async LoopTask<bool> HelperSeesTask()
    {
        ILoopTask self = LoopTask.Current!;
        return await HelperCurrentAfterAioAwaits(self);
    }

    private static async Task<bool> HelperCurrentAfterAioAwaits(ILoopTask expected)
    {
        bool before = ReferenceEquals(LoopTask.Current, expected);
        await LoopTask.Yield();
        bool afterYield = ReferenceEquals(LoopTask.Current, expected);
        await LoopTask.Sleep(TimeSpan.FromSeconds(1));
        bool afterSleep = ReferenceEquals(LoopTask.Current, expected);
        bool nested = await NestedDeeper(expected);
        return before && afterYield && afterSleep && nested && ReferenceEquals(LoopTask.Current, expected);
    }

    private static async Task<bool> NestedDeeper(ILoopTask expected)
    {
        await LoopTask.Yield();
        return ReferenceEquals(LoopTask.Current, expected);
    }

    private static async LoopTask<ILoopTask?> HelperCurrentAfterForeignAwait() => await CurrentAfterForeignAwait();

    private static async Task<ILoopTask?> CurrentAfterForeignAwait()
    {
        await Task.Run(() => Thread.Sleep(1)); // allow-real-time: a foreign await that resumes from another thread
        return LoopTask.Current;
    }

    private static async LoopTask<bool> MethodStartingDelegateTask(EventLoop loop)
    {
        ILoopTask self = LoopTask.Current!;
        ILoopTask? inDelegate = null;
        LoopTask child = loop.CreateTask(async () =>
        {
            await LoopTask.Yield();
            await Task.Run(() => Thread.Sleep(1)); // allow-real-time: a foreign await that resumes from another thread
            inDelegate = LoopTask.Current;
        });
        await child;
        return ReferenceEquals(inDelegate, child) && ReferenceEquals(LoopTask.Current, self);
    }

#pragma warning disable CS1998
    private static async LoopTask CaptureCurrent(Action<ILoopTask?> capture) => capture(LoopTask.Current);
#pragma warning restore CS1998

    private static async LoopTask<bool> ContextIsLoops(EventLoop loop)
    {
        bool first = SynchronizationContext.Current == loop.SynchronizationContext;
        await LoopTask.Yield();
        bool afterAio = SynchronizationContext.Current == loop.SynchronizationContext;
        await Task.Run(() => Thread.Sleep(1)); // allow-real-time: a foreign await that resumes from another thread
        return first && afterAio && SynchronizationContext.Current == loop.SynchronizationContext;
    }

    private static async LoopTask<string?> SetAndReadLocal(AsyncLocal<string?> local)
    {
        string seen = local.Value + "-seen";
        local.Value = "method";
        await LoopTask.Yield();
        await Task.Run(() => Thread.Sleep(1)); // allow-real-time: a foreign await that resumes from another thread
        return local.Value + "|" + seen;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void StartOrphanMethod(EventLoop loop) =>
        loop.CallSoon(() =>
        {
            LoopTask task = AwaitNewFuture(loop);
            task.Name = "orphan";
        });

    private static async LoopTask AwaitNewFuture(EventLoop loop) => await loop.CreateFuture<int>();

    private static async LoopTask<int> AddToGate(Future<int> gate, int value) => await gate + value;
}

public sealed class LoopTaskMethodEpollTests : LoopTaskMethodTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class LoopTaskMethodPortableTests : LoopTaskMethodTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
