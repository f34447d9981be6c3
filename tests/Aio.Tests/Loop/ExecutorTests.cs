namespace Aio.Tests.Loop;

/// <summary>
/// Running blocking work off the loop [loop.run_in_executor, concurrent.futures executors]:
/// results and exceptions reach the awaiting loop code on the loop thread; executors bound their
/// threads and shut down as concurrent.futures does.
/// </summary>
public abstract partial class ExecutorTests : LoopTestBase
{
    private sealed class WorkFailedException(string message) : Exception(message);

    [Fact]
    public void RunInExecutor_Work_ReturnsResultFromAnotherThread()
    {
        EventLoop loop = NewLoop();
        int loopThread = Environment.CurrentManagedThreadId;
        int workThread = 0;

        int result = loop.RunUntilComplete(async () => await loop.RunInExecutor(() =>
        {
            workThread = Environment.CurrentManagedThreadId;
            return 42;
        }));

        Assert.Equal(42, result);
        Assert.NotEqual(0, workThread);
        Assert.NotEqual(loopThread, workThread);
    }

    [Fact]
    public void RunInExecutor_WorkThrows_AwaitRethrowsSameException()
    {
        EventLoop loop = NewLoop();
        var thrown = new WorkFailedException("boom");
        Exception? caught = null;

        loop.RunUntilComplete(async () =>
        {
            try
            {
                await loop.RunInExecutor<int>(() => throw thrown);
            }
            catch (WorkFailedException exception)
            {
                caught = exception;
            }
        });

        Assert.Same(thrown, caught);
    }

    [Fact]
    public void RunInExecutor_WorkThrowsUncaught_RunUntilCompleteRethrowsIt()
    {
        EventLoop loop = NewLoop();

        var error = Assert.Throws<WorkFailedException>(() =>
            loop.RunUntilComplete(async () => await loop.RunInExecutor(() => throw new WorkFailedException("from the worker"))));

        Assert.Equal("from the worker", error.Message);
    }

    [Fact]
    public void RunInExecutor_Await_ResumesOnLoopThreadWithLoopContext()
    {
        EventLoop loop = NewLoop();
        int loopThread = Environment.CurrentManagedThreadId;
        var resumedOn = new List<int>();
        SynchronizationContext? contextAfter = null;

        loop.RunUntilComplete(async () =>
        {
            for (int i = 0; i < 3; i++)
            {
                await loop.RunInExecutor(() => { });
                resumedOn.Add(Environment.CurrentManagedThreadId);
            }

            contextAfter = SynchronizationContext.Current;
        });

        Assert.Equal([loopThread, loopThread, loopThread], resumedOn);
        Assert.Same(loop.SynchronizationContext, contextAfter);
    }

    [Fact]
    public void RunInExecutor_ActionOverload_RunsTheWork()
    {
        EventLoop loop = NewLoop();
        int ran = 0;

        loop.RunUntilComplete(async () => await loop.RunInExecutor(() => { Interlocked.Increment(ref ran); }));

        Assert.Equal(1, ran);
    }

    [Fact]
    public void WorkerThreadExecutor_MoreJobsThanWorkers_RunsAtMostMaxWorkersAtOnceOnPrefixedThreads()
    {
        EventLoop loop = NewLoop();
        using var executor = new WorkerThreadExecutor(2, "aio-test-worker");
        using var gate = new ManualResetEventSlim();
        using var twoRunning = new ManualResetEventSlim();
        int running = 0;
        int maxRunning = 0;
        var names = new System.Collections.Concurrent.ConcurrentBag<string>();

        string Job()
        {
            int now = Interlocked.Increment(ref running);
            int seen;
            while ((seen = Volatile.Read(ref maxRunning)) < now && Interlocked.CompareExchange(ref maxRunning, now, seen) != seen)
            {
            }

            if (now == 2)
            {
                twoRunning.Set();
            }

            string name = Thread.CurrentThread.Name ?? "";
            names.Add(name);
            Assert.True(gate.Wait(Patience), "the gate was never opened");
            Interlocked.Decrement(ref running);
            return name;
        }

        loop.RunUntilComplete(async () =>
        {
            Task<string>[] jobs = [.. Enumerable.Range(0, 5).Select(_ => loop.RunInExecutor(Job, executor))];

            // Wait off the loop for the first two jobs to block in their workers.
            Assert.True(await Task.Run(() => twoRunning.Wait(Patience)), "two jobs never ran at once");
            Assert.Equal(2, executor.ThreadCount);
            Assert.Equal(2, Volatile.Read(ref running));
            Assert.All(jobs.Skip(2), job => Assert.False(job.IsCompleted));

            gate.Set();
            string[] ranOn = await Task.WhenAll(jobs).WaitAsync(Patience);

            Assert.All(ranOn, name => Assert.StartsWith("aio-test-worker_", name, StringComparison.Ordinal));
            Assert.Equal(["aio-test-worker_0", "aio-test-worker_1"], ranOn.Distinct().Order());
        });

        Assert.Equal(2, maxRunning);
        Assert.Equal(2, executor.MaxWorkers);
        Assert.Equal("aio-test-worker", executor.ThreadNamePrefix);
    }

    [Fact]
    public void WorkerThreadExecutor_LessThanOneWorker_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerThreadExecutor(0));
    }

    public static TheoryData<string> ExecutorKinds => new() { "thread pool", "worker threads" };

    private static Executor CreateExecutor(string kind) =>
        kind == "thread pool" ? new ThreadPoolExecutor() : new WorkerThreadExecutor(2, "aio-shutdown-test");

    [Theory]
    [MemberData(nameof(ExecutorKinds))]
    public async Task ShutdownAsync_JobRunning_WaitsForItAndReturnsTrue(string kind)
    {
        using Executor executor = CreateExecutor(kind);
        using var gate = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        Task<int> job = executor.Submit(() =>
        {
            started.Set();
            Assert.True(gate.Wait(Patience), "the gate was never opened");
            return 1;
        });
        Assert.True(started.Wait(Patience));

        Task<bool> shutdown = executor.ShutdownAsync();

        Assert.True(executor.IsShutdown);
        Assert.False(shutdown.IsCompleted, "shutdown finished while a job was still running");
        gate.Set();
        Assert.True(await shutdown.WaitAsync(Patience));
        Assert.True(job.IsCompletedSuccessfully);
        Assert.Equal(1, await job);
    }

    [Theory]
    [MemberData(nameof(ExecutorKinds))]
    public async Task ShutdownAsync_QueuedJobs_AllRunBeforeItCompletes(string kind)
    {
        using Executor executor = CreateExecutor(kind);
        using var gate = new ManualResetEventSlim();
        int done = 0;
        Task<int>[] jobs = [.. Enumerable.Range(0, 6).Select(i => executor.Submit(() =>
        {
            Assert.True(gate.Wait(Patience), "the gate was never opened");
            Interlocked.Increment(ref done);
            return i;
        }))];

        Task<bool> shutdown = executor.ShutdownAsync();
        gate.Set();

        Assert.True(await shutdown.WaitAsync(Patience));
        Assert.Equal(6, Volatile.Read(ref done));
        Assert.Equal(Enumerable.Range(0, 6), await Task.WhenAll(jobs));
    }

    [Theory]
    [MemberData(nameof(ExecutorKinds))]
    public async Task ShutdownAsync_TimeoutWhileJobBlocked_ReturnsFalseAndJobGoesOn(string kind)
    {
        using Executor executor = CreateExecutor(kind);
        using var gate = new ManualResetEventSlim();
        Task<int> job = executor.Submit(() =>
        {
            Assert.True(gate.Wait(Patience), "the gate was never opened");
            return 5;
        });

        // allow-real-time: the timeout itself is what is tested; the job is blocked until the gate opens.
        bool finished = await executor.ShutdownAsync(TimeSpan.FromMilliseconds(50));

        Assert.False(finished);
        Assert.False(job.IsCompleted);
        gate.Set();
        Assert.Equal(5, await job.WaitAsync(Patience));
        Assert.True(await executor.ShutdownAsync().WaitAsync(Patience));
    }

    [Theory]
    [MemberData(nameof(ExecutorKinds))]
    public async Task ShutdownAsync_NegativeTimeout_ThrowsArgumentOutOfRange(string kind)
    {
        using Executor executor = CreateExecutor(kind);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => executor.ShutdownAsync(TimeSpan.FromSeconds(-1)));
    }

    [Theory]
    [MemberData(nameof(ExecutorKinds))]
    public async Task Submit_AfterShutdown_ThrowsInvalidOperation(string kind)
    {
        EventLoop loop = NewLoop();
        using Executor executor = CreateExecutor(kind);
        Assert.Equal(1, await executor.Submit(() => 1).WaitAsync(Patience));

        Assert.True(await executor.ShutdownAsync().WaitAsync(Patience));

        Assert.Throws<InvalidOperationException>(() => { _ = executor.Submit(() => 2); });
        Assert.Throws<InvalidOperationException>(() => { _ = loop.RunInExecutor(() => 3, executor); });
        Assert.True(await executor.ShutdownAsync().WaitAsync(Patience)); // idempotent
    }

    [Fact]
    public void ShutdownDefaultExecutorAsync_ThenRunInExecutorWithoutExecutor_Throws()
    {
        EventLoop loop = NewLoop();

        loop.RunUntilComplete(async () =>
        {
            Assert.Equal(1, await loop.RunInExecutor(() => 1));
            Assert.True(await loop.ShutdownDefaultExecutorAsync());

            var error = Assert.Throws<InvalidOperationException>(() => { _ = loop.RunInExecutor(() => 2); });
            Assert.Contains("shut down", error.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void ShutdownDefaultExecutorAsync_NeverUsed_ThenRunInExecutorWithoutExecutor_Throws()
    {
        EventLoop loop = NewLoop();

        loop.RunUntilComplete(async () =>
        {
            Assert.True(await loop.ShutdownDefaultExecutorAsync());
            Assert.Throws<InvalidOperationException>(() => { _ = loop.RunInExecutor(() => { }); });
        });
    }

    [Fact]
    public void ShutdownDefaultExecutorAsync_ExplicitExecutor_StillAccepted()
    {
        EventLoop loop = NewLoop();
        using var executor = new WorkerThreadExecutor(1, "aio-explicit");

        string name = loop.RunUntilComplete(async () =>
        {
            Assert.True(await loop.ShutdownDefaultExecutorAsync());
            return await loop.RunInExecutor(() => Thread.CurrentThread.Name ?? "", executor);
        });

        Assert.Equal("aio-explicit_0", name);
    }

    [Fact]
    public void ShutdownDefaultExecutorAsync_DefaultJobRunning_WaitsForIt()
    {
        EventLoop loop = NewLoop();
        using var executor = new WorkerThreadExecutor(1, "aio-default-shutdown");
        using var gate = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        loop.SetDefaultExecutor(executor);

        loop.RunUntilComplete(async () =>
        {
            Task<int> job = loop.RunInExecutor(() =>
            {
                started.Set();
                Assert.True(gate.Wait(Patience), "the gate was never opened");
                return 9;
            });
            Assert.True(await Task.Run(() => started.Wait(Patience)));

            Task<bool> shutdown = loop.ShutdownDefaultExecutorAsync();
            Assert.False(shutdown.IsCompleted, "shutdown finished while a default-executor job was running");
            Assert.True(executor.IsShutdown);

            gate.Set();
            Assert.True(await shutdown.WaitAsync(Patience));
            Assert.Equal(9, await job);
        });
    }

    [Fact]
    public void SetDefaultExecutor_ThenRunInExecutor_UsesIt()
    {
        EventLoop loop = NewLoop();
        using var executor = new WorkerThreadExecutor(1, "aio-default");
        loop.SetDefaultExecutor(executor);

        string[] names = loop.RunUntilComplete(async () =>
        {
            string first = await loop.RunInExecutor(() => Thread.CurrentThread.Name ?? "");
            string second = await loop.RunInExecutor(() => Thread.CurrentThread.Name ?? "");
            return new[] { first, second };
        });

        Assert.Equal(["aio-default_0", "aio-default_0"], names);
        Assert.False(executor.IsShutdown, "the loop must not shut down an executor it was handed while running");
    }

    [Fact]
    public void SetDefaultExecutor_Replaced_PreviousNotShutDown()
    {
        EventLoop loop = NewLoop();
        using var first = new WorkerThreadExecutor(1, "aio-first");
        using var second = new WorkerThreadExecutor(1, "aio-second");
        loop.SetDefaultExecutor(first);
        loop.SetDefaultExecutor(second);

        string name = loop.RunUntilComplete(async () => await loop.RunInExecutor(() => Thread.CurrentThread.Name ?? ""));

        Assert.Equal("aio-second_0", name);
        Assert.False(first.IsShutdown);
        Assert.Equal(0, first.ThreadCount);
    }

    [Fact]
    public void Close_WithDefaultExecutor_ShutsItDown()
    {
        EventLoop loop = NewLoop();
        using var executor = new WorkerThreadExecutor(1, "aio-close");
        loop.SetDefaultExecutor(executor);

        loop.Close();

        Assert.True(executor.IsShutdown);
        Assert.Throws<InvalidOperationException>(() => { _ = loop.RunInExecutor(() => 1); });
    }
}

public sealed class ExecutorEpollTests : ExecutorTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class ExecutorPortableTests : ExecutorTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
