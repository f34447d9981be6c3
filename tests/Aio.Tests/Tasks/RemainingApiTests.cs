using System.Runtime.CompilerServices;
using Aio.Hosting;
using Aio.Net;
using Aio.Sync;

namespace Aio.Tests.Tasks;

/// <summary>
/// asyncio names that came late: the task factory, WaitFor over stream reads and queue gets,
/// QueueEmpty/QueueFull, the reusable runner and aiorun's loop=.
/// </summary>
public abstract class RemainingApiTests : LoopTestBase
{
    [Fact]
    public void WaitFor_StreamRead_CompilesAndReturnsTheLine()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var reader = new AsyncStreamReader();
        byte[] line = loop.RunUntilComplete(async () =>
        {
            loop.CallLater(TimeSpan.FromSeconds(1), () => reader.FeedData("hi\n"u8));
            return await LoopTask.WaitFor(reader.ReadLineAsync(), TimeSpan.FromSeconds(5));
        });
        Assert.Equal("hi\n"u8.ToArray(), line);
    }

    [Fact]
    public void WaitFor_StreamReadTimesOut_ThrowsTimeoutAndKeepsTheBuffer()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData("partial"u8);
            await Assert.ThrowsAsync<TimeoutException>(async () => await LoopTask.WaitFor(reader.ReadLineAsync(), TimeSpan.FromSeconds(1)));
            reader.FeedEof();
            Assert.Equal("partial"u8.ToArray(), await reader.ReadAsync());
        });
    }

    [Fact]
    public void WaitFor_QueueGet_CompilesAndReturnsTheItem()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var queue = new AsyncQueue<int>();
        int item = loop.RunUntilComplete(async () =>
        {
            loop.CallLater(TimeSpan.FromSeconds(1), () => queue.TryPut(42));
            return await LoopTask.WaitFor(queue.GetAsync(), TimeSpan.FromSeconds(5));
        });
        Assert.Equal(42, item);
        Assert.True(queue.IsEmpty);
    }

    [Fact]
    public void WaitFor_QueueGetTimesOut_LosesNoLaterItem()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var queue = new AsyncQueue<int>();
        loop.RunUntilComplete(async () =>
        {
            await Assert.ThrowsAsync<TimeoutException>(async () => await LoopTask.WaitFor(queue.GetAsync(), TimeSpan.FromSeconds(1)));
            queue.PutNoWait(7);
            Assert.Equal(7, queue.GetNoWait());
        });
    }

    [Fact]
    public void NoWaitForms_EmptyOrFull_ThrowQueueEmptyAndQueueFull()
    {
        var queue = new AsyncQueue<string>(maxSize: 1);
        Assert.Throws<QueueEmptyError>(() => queue.GetNoWait());
        queue.PutNoWait("a");
        QueueFullError full = Assert.Throws<QueueFullError>(() => queue.PutNoWait("b"));
        Assert.Contains("PutAsync", full.Message, StringComparison.Ordinal);
        Assert.Equal("a", queue.GetNoWait());
        queue.Shutdown();
        Assert.Throws<QueueShutDownError>(() => queue.GetNoWait());
        Assert.Throws<QueueShutDownError>(() => queue.PutNoWait("c"));
    }

    [Fact]
    public void TaskFactory_Installed_MakesEveryCreateTaskAndCanWrapTheBody()
    {
        EventLoop loop = NewLoop();
        var factory = new CountingFactory();
        Assert.Null(loop.GetTaskFactory());
        loop.SetTaskFactory(factory);
        Assert.Same(factory, loop.GetTaskFactory());
        int result = loop.RunUntilComplete(async () =>
        {
            LoopTask plain = loop.CreateTask(() => Task.CompletedTask, "plain");
            LoopTask<int> valued = loop.CreateTask(async ct => { await LoopTask.Yield(); return 5; }, "valued");
            await plain;
            Assert.Equal("wrapped-plain", plain.Name);
            return await valued;
        });
        Assert.Equal(5, result);
        Assert.Equal(["main", "plain", "valued"], factory.Names); // RunUntilComplete's main goes through it too
        Assert.Equal(3, factory.BodiesRun);

        loop.SetTaskFactory(null);
        loop.RunUntilComplete(loop.CreateTask(() => Task.CompletedTask, "after"));
        Assert.Equal(3, factory.Names.Count);
    }

    [Fact]
    public void TaskFactory_ReturnsNull_CreateTaskThrows()
    {
        EventLoop loop = NewLoop();
        loop.SetTaskFactory(new NullFactory());
        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => loop.CreateTask(() => Task.CompletedTask));
        Assert.Contains("returned null", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoopRunner_SeveralMains_RunOnOneLoopThenCloseOnce()
    {
        EventLoop? first = null;
        var runner = new LoopRunner(new EventLoopOptions { Backend = Backend });
        runner.Run(() =>
        {
            first = EventLoop.GetRunningLoop();
            return Task.CompletedTask;
        });
        int answer = runner.Run(async () =>
        {
            Assert.Same(first, EventLoop.GetRunningLoop());
            await LoopTask.Yield();
            return 42;
        });
        Assert.Equal(42, answer);
        Assert.Same(first, runner.GetLoop());
        Assert.Same(first, EventLoop.GetEventLoop()); // current for this thread while open

        runner.Close();
        Assert.True(runner.IsClosed);
        Assert.True(first!.IsClosed);
        runner.Close(); // idempotent
        Assert.Equal("Runner is closed: create a new LoopRunner.", Assert.Throws<InvalidOperationException>(() => runner.Run(() => Task.CompletedTask)).Message);
        Assert.Throws<InvalidOperationException>(() => runner.GetLoop());
    }

    [Fact]
    public void LoopRunner_Close_CancelsTasksAMainLeftPending()
    {
        var runner = new LoopRunner(new EventLoopOptions { Backend = Backend });
        LoopTask? left = null;
        bool sawCancel = false;
        runner.Run(() =>
        {
            left = EventLoop.GetRunningLoop().CreateTask(async () =>
            {
                try
                {
                    await EventLoop.GetRunningLoop().CreateFuture<bool>();
                }
                catch (CancelledError)
                {
                    sawCancel = true;
                    throw;
                }
            });
            return Task.CompletedTask;
        });
        Assert.False(left!.IsDone);
        runner.Dispose();
        Assert.True(left.IsCancelled);
        Assert.True(sawCancel);
    }

    [Fact]
    public void LoopRunner_RunInsideARunningLoop_Throws()
    {
        EventLoop loop = NewLoop();
        using var runner = new LoopRunner(() => new EventLoop(new EventLoopOptions { Backend = Backend }));
        loop.RunUntilComplete(() =>
        {
            InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => runner.Run(() => Task.CompletedTask));
            Assert.Contains("running event loop", error.Message, StringComparison.Ordinal);
            return Task.CompletedTask;
        });
    }

    [Fact]
    public void RunnerLoop_GivenLoop_MainRunsOnItAndItIsClosedAfter()
    {
        var loop = new EventLoop(new EventLoopOptions { Backend = Backend });
        EventLoop? ranOn = null;
        int code = Runner.Run(
            () =>
            {
                ranOn = EventLoop.GetRunningLoop();
                return Task.CompletedTask;
            },
            new RunnerOptions { Loop = loop, StopWhenMainCompletes = true, StopSignals = [], LoggerFactory = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance });
        Assert.Equal(0, code);
        Assert.Same(loop, ranOn);
        Assert.True(loop.IsClosed);
    }

    [Fact]
    public void RunnerLoop_WithExclusiveOptions_ThrowsArgumentException()
    {
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend });
        Assert.Contains("mutually exclusive", Assert.Throws<ArgumentException>(() => Runner.Run(() => Task.CompletedTask, new RunnerOptions { Loop = loop, Backend = LoopBackend.Portable })).Message, StringComparison.Ordinal);
        Assert.Contains("mutually exclusive", Assert.Throws<ArgumentException>(() => Runner.Run(() => Task.CompletedTask, new RunnerOptions { Loop = loop, TimeProvider = TimeProvider.System })).Message, StringComparison.Ordinal);
        loop.SetExceptionHandler((_, _) => { });
        Assert.Contains("exception handler", Assert.Throws<ArgumentException>(() => Runner.Run(() => Task.CompletedTask, new RunnerOptions { Loop = loop, StopOnUnhandledErrors = true })).Message, StringComparison.Ordinal);
        Assert.False(loop.IsClosed);
    }

    [Fact]
    public void GetStack_SuspendedTasks_NameTheirMethodsAndWhatTheyAwait()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            Future<bool> gate = loop.CreateFuture<bool>();
            Future<bool> otherGate = loop.CreateFuture<bool>();
            LoopTask method = SuspendedMethodAsync(gate);
            LoopTask viaDelegate = loop.CreateTask(() => SuspendedHelperAsync(otherGate), "delegate");
            await LoopTask.Yield();

            IReadOnlyList<string> own = method.GetStack();
            Assert.Contains(own, frame => frame.Contains("RemainingApiTests.SuspendedMethodAsync", StringComparison.Ordinal));
            Assert.Contains("awaiting", own[^1], StringComparison.Ordinal);
            IReadOnlyList<string> helper = viaDelegate.GetStack();
            Assert.Contains(helper, frame => frame.Contains("RemainingApiTests.SuspendedHelperAsync", StringComparison.Ordinal));
            Assert.Single(method.GetStack(limit: 1));

            var printed = new StringWriter();
            viaDelegate.PrintStack(writer: printed);
            Assert.StartsWith("Stack for <LoopTask delegate pending> (most recent call last):", printed.ToString(), StringComparison.Ordinal);

            gate.SetResult(true);
            otherGate.SetResult(true);
            await method;
            await viaDelegate;
            Assert.Empty(method.GetStack());
            var none = new StringWriter();
            method.PrintStack(writer: none);
            Assert.StartsWith("No stack for", none.ToString(), StringComparison.Ordinal);
        });
    }

    [Fact]
    public void GetStack_FailedTask_GivesTheExceptionFramesWithoutRetrievingIt()
    {
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            LoopTask failing = loop.CreateTask(ThrowingAsync, "failing");
            await LoopTask.Wait([failing]);
            Assert.Contains(failing.GetStack(), frame => frame.Contains("ThrowingAsync", StringComparison.Ordinal));
            Assert.IsType<InvalidTimeZoneException>(failing.GetException()); // retrieved here, by the test
        });
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async LoopTask SuspendedMethodAsync(Future<bool> gate) => await gate;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task SuspendedHelperAsync(Future<bool> gate) => await gate;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task ThrowingAsync()
    {
        await LoopTask.Yield();
        throw new InvalidTimeZoneException("for the stack");
    }

    private sealed class CountingFactory : ILoopTaskFactory
    {
        public List<string> Names { get; } = [];

        public int BodiesRun { get; private set; }

        public LoopTask CreateTask(EventLoop eventLoop, Func<CancellationToken, Task> body, string? name, bool eager)
        {
            Names.Add(name ?? "?");
            LoopTask task = LoopTask.Start(eventLoop, ct => { BodiesRun++; return body(ct); }, name, eager);
            if (name == "plain")
            {
                task.Name = "wrapped-plain";
            }

            return task;
        }

        public LoopTask<T> CreateTask<T>(EventLoop eventLoop, Func<CancellationToken, Task<T>> body, string? name, bool eager)
        {
            Names.Add(name ?? "?");
            return LoopTask.Start(eventLoop, ct => { BodiesRun++; return body(ct); }, name, eager);
        }
    }

    private sealed class NullFactory : ILoopTaskFactory
    {
        public LoopTask CreateTask(EventLoop eventLoop, Func<CancellationToken, Task> body, string? name, bool eager) => null!;

        public LoopTask<T> CreateTask<T>(EventLoop eventLoop, Func<CancellationToken, Task<T>> body, string? name, bool eager) => null!;
    }
}

public sealed class RemainingApiEpollTests : RemainingApiTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class RemainingApiPortableTests : RemainingApiTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
