namespace Aio.Tests.Loop;

// Bursts and dispatch failures: a burst of blocking jobs runs on as many threads as allowed even
// when one idle worker is waiting (the submitter claims the idle worker, as CPython's
// ThreadPoolExecutor does), and a job the executor could not dispatch never keeps shutdown waiting.
public abstract partial class ExecutorTests
{
    [Fact]
    public void WorkerThreadExecutor_BurstWithOneIdleWorker_RunsOnAsManyThreadsAsAllowed()
    {
        const int Workers = 4;
        EventLoop loop = NewLoop();
        using var executor = new WorkerThreadExecutor(Workers, "aio-burst");
        using var barrier = new Barrier(Workers);

        loop.RunUntilComplete(async () =>
        {
            // One worker exists and goes idle.
            await loop.RunInExecutor(() => { }, executor);

            // A burst of jobs that can finish only if all of them run at once.
            Task<string?>[] burst = [.. Enumerable.Range(0, Workers).Select(_ => loop.RunInExecutor(() =>
            {
                Assert.True(barrier.SignalAndWait(Patience), "the burst's jobs did not all run at once");
                return Thread.CurrentThread.Name;
            }, executor))];
            string?[] names = await Task.WhenAll(burst).WaitAsync(Patience * 2);

            Assert.Equal(Workers, names.Distinct().Count());
        });

        Assert.Equal(Workers, executor.ThreadCount);
    }

    [Fact]
    public void WorkerThreadExecutor_JobWaitingForALaterJob_BothFinish()
    {
        EventLoop loop = NewLoop();
        using var executor = new WorkerThreadExecutor(2, "aio-pair");
        using var secondRan = new ManualResetEventSlim();

        loop.RunUntilComplete(async () =>
        {
            await loop.RunInExecutor(() => { }, executor); // one idle worker
            Task<bool> first = loop.RunInExecutor(() => secondRan.Wait(Patience), executor);
            Task second = loop.RunInExecutor(secondRan.Set, executor);

            Assert.True(await first.WaitAsync(Patience * 2), "the first job waited for the second one in vain");
            await second;
        });
    }

    [Fact]
    public void Submit_DispatchThrows_ThrowsAndShutdownDoesNotWaitForTheJob()
    {
        using var executor = new FailingExecutor();
        bool ran = false;

        Exception? error = Record.Exception(() => { _ = executor.Submit(() => ran = true); });
        Task<bool> shutdown = executor.ShutdownAsync(Patience);

        Assert.Equal("no thread for you", Assert.IsType<InvalidOperationException>(error).Message);
        Assert.True(shutdown.Wait(Patience), "ShutdownAsync never finished");
        Assert.True(shutdown.Result, "ShutdownAsync waited for a job that was never accepted");
        executor.RunQueued(); // a dispatcher that kept the job and runs it late must not run it
        Assert.False(ran);
    }

    /// <summary>An executor whose Dispatch keeps the job, then fails, as a thread start that runs out of threads.</summary>
    private sealed class FailingExecutor : Executor
    {
        private readonly List<Action> _kept = [];

        public void RunQueued() => _kept.ForEach(job => job());

        protected override void Dispatch(Action job)
        {
            _kept.Add(job);
            throw new InvalidOperationException("no thread for you");
        }
    }
}
