using System.Diagnostics;
using Aio.Hosting;

namespace Aio.Tests.Hosting;

/// <summary>
/// The shared loop's lifecycle (score.asyncio's start_loop, release_loop and loop tokens): the
/// loop runs in its own thread while any token is held and stops after the last release, once its
/// pending tasks are done or the stop timeout expired; leftover tasks resume at the next start.
/// </summary>
public abstract class SharedEventLoopLifecycleTests : SharedLoopTestBase
{
    public enum ReleasePath
    {
        TokenRelease,
        ReleaseLoop,
        Using,
        AwaitUsing,
    }

    [Fact]
    public void StartLoop_TenTokens_RunningThroughoutAndStoppedAfterTheLastRelease()
    {
        // The seed's test excerpt.
        SharedEventLoop shared = NewShared();
        var tokens = new List<LoopToken>();

        Assert.False(shared.Loop.IsRunning);
        for (int i = 0; i < 10; i++)
        {
            LoopToken token = shared.StartLoop();
            Assert.True(shared.Loop.IsRunning);
            tokens.Add(token);
        }

        foreach (LoopToken token in tokens)
        {
            Assert.True(shared.Loop.IsRunning);
            token.Release();
        }

        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void StartLoop_First_RunsTheLoopOnABackgroundThreadOfItsOwn()
    {
        SharedEventLoop shared = NewShared();
        using (shared.StartLoop())
        {
            Thread? loopThread = shared.Await(() => Task.FromResult(Thread.CurrentThread));

            Assert.NotSame(Thread.CurrentThread, loopThread);
            Assert.True(loopThread.IsBackground);
            Assert.False(shared.IsLoopThread);
            Assert.True(shared.Await(() => Task.FromResult(shared.IsLoopThread)));
            Assert.Equal(Backend, shared.Loop.Backend);
            Assert.Equal(1, shared.TokenCount);
        }

        Assert.Equal(0, shared.TokenCount);
    }

    [Fact]
    public void StartLoop_AfterAFullStop_StartsAgain()
    {
        SharedEventLoop shared = NewShared();
        for (int round = 0; round < 3; round++)
        {
            LoopToken token = shared.StartLoop();
            Assert.True(shared.Loop.IsRunning);
            Assert.Equal(round, shared.Await(() => Task.FromResult(round)));
            token.Release();
            Assert.False(shared.Loop.IsRunning);
        }
    }

    [Fact]
    public void Release_Twice_IsHarmlessAndCountsOnce()
    {
        SharedEventLoop shared = NewShared();
        LoopToken keeper = shared.StartLoop();
        LoopToken token = shared.StartLoop();

        token.Release();
        token.Release();
        shared.ReleaseLoop(token);
        token.Dispose();

        Assert.True(token.IsReleased);
        Assert.Equal(1, shared.TokenCount);
        Assert.True(shared.Loop.IsRunning);

        keeper.Release();
        keeper.Release();
        Assert.False(shared.Loop.IsRunning);
        Assert.Equal(0, shared.TokenCount);
    }

    [Theory]
    [InlineData(ReleasePath.TokenRelease)]
    [InlineData(ReleasePath.ReleaseLoop)]
    [InlineData(ReleasePath.Using)]
    [InlineData(ReleasePath.AwaitUsing)]
    public async Task Release_EachPath_StopsTheLoopAfterTheLastToken(ReleasePath path)
    {
        SharedEventLoop shared = NewShared();
        LoopToken other = shared.StartLoop();
        LoopToken token = shared.StartLoop();
        other.Release();
        Assert.True(shared.Loop.IsRunning);

        switch (path)
        {
            case ReleasePath.TokenRelease:
                token.Release();
                break;
            case ReleasePath.ReleaseLoop:
                shared.ReleaseLoop(token);
                break;
            case ReleasePath.Using:
                using (token)
                {
                    Assert.True(shared.Loop.IsRunning);
                }

                break;
            case ReleasePath.AwaitUsing:
                await using (token.ConfigureAwait(false))
                {
                    Assert.True(shared.Loop.IsRunning);
                }

                break;
        }

        Assert.True(token.IsReleased);
        Assert.False(shared.Loop.IsRunning);
        Assert.Equal(0, shared.TokenCount);
    }

    [Fact]
    public void ReleaseLoop_TokenOfAnotherSharedLoop_ThrowsArgumentException()
    {
        SharedEventLoop first = NewShared();
        SharedEventLoop second = NewShared();
        LoopToken token = first.StartLoop();
        try
        {
            var error = Assert.Throws<ArgumentException>(() => second.ReleaseLoop(token));
            Assert.Contains("another SharedEventLoop", error.Message, StringComparison.Ordinal);
            Assert.False(token.IsReleased);
        }
        finally
        {
            token.Release();
        }
    }

    [Fact]
    public void StartLoop_ConcurrentStartsAndReleasesFromManyThreads_RunningWheneverATokenIsHeld()
    {
        SharedEventLoop shared = NewShared();
        const int Threads = 8;
        const int Rounds = 40;
        int notRunning = 0;
        int onLoop = 0;
        using var barrier = new Barrier(Threads);
        Task[] workers = [.. Enumerable.Range(0, Threads).Select(n => OnThread(() =>
        {
            barrier.SignalAndWait(Patience);
            for (int i = 0; i < Rounds; i++)
            {
                using LoopToken token = shared.StartLoop();
                if (!shared.Loop.IsRunning)
                {
                    Interlocked.Increment(ref notRunning);
                }

                if (i % 8 == 0)
                {
                    shared.Await(() =>
                    {
                        onLoop++; // loop thread only: no lock needed
                        return Task.CompletedTask;
                    });
                }
            }
        }, $"churn {n}"))];

        Finish(Task.WhenAll(workers));

        Assert.Equal(0, notRunning);
        Assert.Equal(Threads * Rounds / 8, onLoop);
        Assert.Equal(0, shared.TokenCount);
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void StartLoop_ChurnWhileOneTokenIsHeld_LoopNeverStops()
    {
        SharedEventLoop shared = NewShared();
        LoopToken keeper = shared.StartLoop();
        Thread first = shared.Await(() => Task.FromResult(Thread.CurrentThread));
        Task[] workers = [.. Enumerable.Range(0, 4).Select(n => OnThread(() =>
        {
            for (int i = 0; i < 50; i++)
            {
                shared.StartLoop().Release();
            }
        }, $"churn {n}"))];
        Finish(Task.WhenAll(workers));

        Assert.Same(first, shared.Await(() => Task.FromResult(Thread.CurrentThread)));
        Assert.True(first.IsAlive);
        keeper.Release();
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void StopTimeoutNone_LastRelease_WaitsForPendingTasksWithoutCancellingThem()
    {
        SharedEventLoop shared = NewShared(stopTimeout: null);
        LoopToken token = shared.StartLoop();
        (LoopTask<int> task, Future<int> gate) = StartGatedTask(shared);

        Task release = OnThread(token.Release, "releaser");
        WaitUntil(() => shared.IsDraining, "the release waits for pending tasks");
        Assert.False(release.IsCompleted);
        Assert.True(shared.Loop.IsRunning);

        shared.Loop.CallSoonThreadSafe(() => gate.SetResult(7));
        Finish(release);

        Assert.False(shared.Loop.IsRunning);
        Assert.True(task.IsCompletedSuccessfully);
        Assert.Equal(7, task.Result);
    }

    [Fact]
    public void StopTimeoutNone_TaskSpawnedDuringTheWait_IsWaitedForToo()
    {
        SharedEventLoop shared = NewShared(stopTimeout: null);
        LoopToken token = shared.StartLoop();
        (Future<int> first, Future<int> second, LoopTask? child) = (null!, null!, null);
        LoopTask parent = shared.Await(() =>
        {
            first = shared.Loop.CreateFuture<int>();
            second = shared.Loop.CreateFuture<int>();
            return Task.FromResult(shared.Loop.CreateTask(async () =>
            {
                await first;
                child = shared.Loop.CreateTask(async () => { await second; });
            }));
        });

        Task release = OnThread(token.Release, "releaser");
        WaitUntil(() => shared.IsDraining, "the release waits for pending tasks");
        shared.Loop.CallSoonThreadSafe(() => first.SetResult(1));
        WaitUntil(() => Volatile.Read(ref child) is not null, "the parent spawned its child");
        Assert.True(shared.IsDraining);
        Assert.False(release.IsCompleted);

        shared.Loop.CallSoonThreadSafe(() => second.SetResult(2));
        Finish(release);

        Assert.True(parent.IsCompletedSuccessfully);
        Assert.True(child!.IsCompletedSuccessfully);
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void StopTimeoutZero_LastRelease_StopsAtOnceAndTheTaskResumesAtTheNextStart()
    {
        SharedEventLoop shared = NewShared(stopTimeout: TimeSpan.Zero);
        LoopToken token = shared.StartLoop();
        (LoopTask<int> task, Future<int> gate) = StartGatedTask(shared);

        token.Release();

        Assert.False(shared.Loop.IsRunning);
        Assert.False(task.IsDone);
        Assert.Empty(TakeErrors());

        using (shared.StartLoop())
        {
            int result = shared.Await(async () =>
            {
                gate.SetResult(3);
                return await task;
            });
            Assert.Equal(3, result);
            Assert.False(task.IsCancelled);
        }
    }

    [Fact]
    public void StopTimeoutPositive_TaskStillPending_StopsAfterTheTimeoutWithoutCancellingIt()
    {
        // allow-real-time: the stop timeout is real time (the loop runs in its own thread); 100 ms, checked with 50 ms tolerance.
        TimeSpan timeout = TimeSpan.FromMilliseconds(100);
        SharedEventLoop shared = NewShared(stopTimeout: timeout);
        LoopToken token = shared.StartLoop();
        (LoopTask<int> task, Future<int> gate) = StartGatedTask(shared);

        var watch = Stopwatch.StartNew();
        token.Release();
        watch.Stop();

        Assert.False(shared.Loop.IsRunning);
        Assert.False(task.IsDone);
        Assert.True(watch.Elapsed >= timeout - TimeSpan.FromMilliseconds(50), $"stopped after {watch.Elapsed}, before the timeout");

        using (shared.StartLoop())
        {
            shared.Await(() =>
            {
                gate.SetResult(1);
                return Task.CompletedTask;
            });
            Assert.Equal(1, shared.Await(async () => await task));
        }
    }

    [Fact]
    public void StopTimeoutPositive_TasksFinishInTime_ReleaseReturnsWhenTheyDo()
    {
        SharedEventLoop shared = NewShared(stopTimeout: TimeSpan.FromMinutes(5));
        LoopToken token = shared.StartLoop();
        (LoopTask<int> task, Future<int> gate) = StartGatedTask(shared);

        Task release = OnThread(token.Release, "releaser");
        WaitUntil(() => shared.IsDraining, "the release waits for pending tasks");
        Assert.False(release.IsCompleted);
        shared.Loop.CallSoonThreadSafe(() => gate.SetResult(5));
        Finish(release);

        Assert.Equal(5, task.Result);
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void ReleaseAsync_CancelledWhileWaitingForTasks_StopsAtOnceWithoutFaulting()
    {
        SharedEventLoop shared = NewShared(stopTimeout: null);
        LoopToken token = shared.StartLoop();
        (LoopTask<int> task, Future<int> gate) = StartGatedTask(shared);
        using var cancel = new CancellationTokenSource();

        Task release = token.ReleaseAsync(cancel.Token);
        WaitUntil(() => shared.IsDraining, "the release waits for pending tasks");
        cancel.Cancel();
        Finish(release);

        Assert.True(release.IsCompletedSuccessfully);
        Assert.False(shared.Loop.IsRunning);
        Assert.False(task.IsDone);
        using (shared.StartLoop())
        {
            shared.Await(() => Task.FromResult(gate.TrySetResult(0)));
        }

        Assert.True(task.IsCompletedSuccessfully);
    }

    [Fact]
    public void StartLoop_WhileTheLastReleaseWaitsForTasks_LoopKeepsRunningAndThatReleaseReturns()
    {
        SharedEventLoop shared = NewShared(stopTimeout: null);
        LoopToken first = shared.StartLoop();
        (LoopTask<int> task, Future<int> gate) = StartGatedTask(shared);
        Thread loopThread = shared.Await(() => Task.FromResult(Thread.CurrentThread));

        Task release = OnThread(first.Release, "releaser");
        WaitUntil(() => shared.IsDraining, "the release waits for pending tasks");
        LoopToken second = shared.StartLoop();
        Finish(release);

        Assert.True(shared.Loop.IsRunning);
        Assert.False(task.IsDone);
        Assert.Same(loopThread, shared.Await(() => Task.FromResult(Thread.CurrentThread)));

        shared.Loop.CallSoonThreadSafe(() => gate.SetResult(1));
        second.Release();
        Assert.True(task.IsCompletedSuccessfully);
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void LeftoverTask_ForeignAwaitCompletesWhileStopped_ResumesAtTheNextStart()
    {
        SharedEventLoop shared = NewShared(stopTimeout: TimeSpan.Zero);
        var foreign = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        int? resumedOn = null;
        LoopTask<int> task;
        using (shared.StartLoop())
        {
            task = shared.Await(() => Task.FromResult(shared.Loop.CreateTask(async () =>
            {
                int value = await foreign.Task;
                resumedOn = Environment.CurrentManagedThreadId;
                return value * 2;
            })));
        }

        foreign.SetResult(21);
        Assert.False(shared.Loop.IsRunning);
        Assert.False(task.IsDone);

        using (shared.StartLoop())
        {
            Assert.Equal(42, shared.Await(async () => await task));
            Assert.Equal(shared.Await(() => Task.FromResult(Environment.CurrentManagedThreadId)), resumedOn);
        }
    }

    [Fact]
    public void LoopStop_CalledByLoopCodeWhileTokensAreHeld_IsIgnored()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();

        shared.Await(() =>
        {
            shared.Loop.Stop();
            return Task.CompletedTask;
        });

        Assert.Equal(2, shared.Await(() => Task.FromResult(2)));
        WaitUntil(() => shared.Loop.IsRunning, "the loop runs again");
    }

    [Fact]
    public void Release_LastTokenOnTheLoopThread_StopsInTheBackground()
    {
        SharedEventLoop shared = NewShared(stopTimeout: null);
        LoopToken token = shared.StartLoop();
        var stopped = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);

        shared.Loop.CallSoonThreadSafe(() =>
        {
            token.Release();
            stopped.SetResult(shared.ReleaseLoopAsync(token));
            Assert.True(shared.Loop.IsRunning);
        });

        Finish(stopped.Task);
        WaitUntil(() => !shared.Loop.IsRunning, "the loop stops");
        Assert.Equal(0, shared.TokenCount);
    }

    [Fact]
    public void ReleaseAsync_LastTokenOnTheLoopThread_CompletesWhenTheLoopStopped()
    {
        SharedEventLoop shared = NewShared(stopTimeout: null);
        LoopToken token = shared.StartLoop();
        var release = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);

        shared.Loop.CallSoonThreadSafe(() => release.SetResult(token.ReleaseAsync()));

        Assert.True(release.Task.Wait(Patience));
        Finish(release.Task.Result);
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void StartLoop_OnTheLoopThreadWhileRunning_ReturnsAnotherToken()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();

        int count = shared.Await(() =>
        {
            LoopToken inner = shared.StartLoop();
            int held = shared.TokenCount;
            inner.Release();
            return Task.FromResult(held);
        });

        Assert.Equal(3, count); // ours, the call's own, and the inner one
        Assert.True(shared.Loop.IsRunning);
    }

    [Fact]
    public void Dispose_WithTokensHeld_StopsClosesAndLaterReleasesDoNothing()
    {
        SharedEventLoop shared = NewShared(stopTimeout: null);
        LoopToken token = shared.StartLoop();
        (LoopTask<int> task, _) = StartGatedTask(shared);

        shared.Dispose();
        shared.Dispose();

        Assert.False(shared.Loop.IsRunning);
        Assert.True(shared.Loop.IsClosed);
        Assert.False(task.IsDone);
        Assert.Equal(0, shared.TokenCount);
        token.Release();
        Assert.Throws<ObjectDisposedException>(() => shared.StartLoop());
        Assert.Throws<ObjectDisposedException>(() => shared.Await(() => Task.FromResult(1)));
    }

    [Fact]
    public void Dispose_OnTheLoopThread_ThrowsInvalidOperationException()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();

        var error = shared.Await(() => Task.FromResult(Record.Exception(shared.Dispose)));

        var invalid = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("another thread", invalid.Message, StringComparison.Ordinal);
        Assert.False(shared.Loop.IsClosed);
    }

    [Fact]
    public void Dispose_WhileACallIsInFlight_TheCallFailsWithObjectDisposed()
    {
        SharedEventLoop shared = NewShared(stopTimeout: null);
        using var started = new ManualResetEventSlim();
        var never = new TaskCompletionSource<int>();
        Task<int> call = shared.AwaitAsync(async () =>
        {
            started.Set();
            return await never.Task;
        });
        Assert.True(started.Wait(Patience));

        shared.Dispose();

        Assert.Throws<ObjectDisposedException>(() => Finish(call));
    }

    [Fact]
    public void StartLoop_LoopClosedBySomeoneElse_ThrowsInvalidOperationSayingWhy()
    {
        SharedEventLoop shared = NewShared();
        shared.Loop.Close();

        var error = Assert.Throws<InvalidOperationException>(() => shared.StartLoop());

        Assert.Contains("closed", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, shared.TokenCount);
    }

    /// <summary>Creates, on the running shared loop, a task that waits for a future the test sets.</summary>
    private static (LoopTask<int> Task, Future<int> Gate) StartGatedTask(SharedEventLoop shared) =>
        shared.Await(() =>
        {
            Future<int> gate = shared.Loop.CreateFuture<int>();
            LoopTask<int> task = shared.Loop.CreateTask(async () => await gate, "gated");
            return Task.FromResult((task, gate));
        });
}

public sealed class SharedEventLoopLifecycleEpollTests : SharedEventLoopLifecycleTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class SharedEventLoopLifecyclePortableTests : SharedEventLoopLifecycleTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
