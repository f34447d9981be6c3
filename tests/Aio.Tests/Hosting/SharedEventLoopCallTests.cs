using Aio.Hosting;

namespace Aio.Tests.Hosting;

/// <summary>
/// Calling into the shared loop from other threads (score.asyncio's await_ and await_multiple, and
/// their async variants): results, exceptions unchanged, cancellation, the on-loop-thread error,
/// and concurrent multi-calls with mixed outcomes.
/// </summary>
public abstract class SharedEventLoopCallTests : SharedLoopTestBase
{
    [Fact]
    public void Await_Body_RunsOnTheLoopThreadAndReturnsItsResult()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();

        (bool onLoop, EventLoop? running, int value) = shared.Await(async () =>
        {
            await LoopTask.Yield();
            return (shared.IsLoopThread, EventLoop.TryGetRunningLoop(), 42);
        });

        Assert.True(onLoop);
        Assert.Same(shared.Loop, running);
        Assert.Equal(42, value);
    }

    [Fact]
    public void Await_WithoutAToken_StartsTheLoopForTheCallAndStopsItAfterwards()
    {
        SharedEventLoop shared = NewShared();

        Assert.Equal("hi", shared.Await(() => Task.FromResult("hi")));
        bool ran = false;
        shared.Await(async () =>
        {
            await LoopTask.Yield();
            ran = true;
        });

        Assert.True(ran);
        Assert.False(shared.Loop.IsRunning);
        Assert.Equal(0, shared.TokenCount);
    }

    [Fact]
    public void Await_BodyThrowsAfterAnAwait_TheSameExceptionArrives()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();
        var error = new FormatException("bad input");

        var thrown = Assert.Throws<FormatException>(() => shared.Await<int>(async () =>
        {
            await LoopTask.Yield();
            throw error;
        }));

        Assert.Same(error, thrown);
    }

    [Fact]
    public void Await_BodyThrowsSynchronously_TheSameExceptionArrives()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();
        var error = new ArgumentOutOfRangeException("x");

        var thrown = Assert.Throws<ArgumentOutOfRangeException>(() => shared.Await(() => throw error));

        Assert.Same(error, thrown);
    }

    [Fact]
    public void Await_TaskCancelsItself_CancelledErrorArrives()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();

        var error = Assert.Throws<CancelledError>(() => shared.Await<int>(async () =>
        {
            LoopTask.Current!.Cancel("enough");
            await LoopTask.Yield();
            return 1;
        }));

        Assert.Equal("enough", error.Message);
    }

    [Fact]
    public void Await_CancellationTokenCancelled_CancelsTheLoopTask()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();
        using var cancel = new CancellationTokenSource();
        using var waiting = new ManualResetEventSlim();
        bool sawCancellation = false;

        Task call = OnThread(() => shared.Await(
            async () =>
            {
                Future<int> never = shared.Loop.CreateFuture<int>();
                waiting.Set();
                try
                {
                    await never;
                }
                catch (CancelledError)
                {
                    sawCancellation = true;
                    throw;
                }
            },
            cancel.Token));
        Assert.True(waiting.Wait(Patience));
        cancel.Cancel();

        Assert.Throws<CancelledError>(() => Finish(call));
        Assert.True(sawCancellation);
    }

    [Fact]
    public void Await_TokenAlreadyCancelled_ThrowsWithoutRunningTheBody()
    {
        SharedEventLoop shared = NewShared();
        bool ran = false;

        Assert.Throws<OperationCanceledException>(() => shared.Await(
            () =>
            {
                ran = true;
                return Task.FromResult(1);
            },
            new CancellationToken(canceled: true)));

        Assert.False(ran);
        Assert.Equal(0, shared.TokenCount);
    }

    [Fact]
    public void Await_OnTheLoopThread_ThrowsInvalidOperationExplainingTheDeadlock()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();

        Exception? error = shared.Await(() => Task.FromResult(Record.Exception(() => shared.Await(() => Task.FromResult(1)))));
        Exception? multiError = shared.Await(() => Task.FromResult(Record.Exception(() => shared.AwaitMultiple([() => Task.FromResult(1)]))));

        var invalid = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("deadlock", invalid.Message, StringComparison.Ordinal);
        Assert.Contains("AwaitAsync", invalid.Message, StringComparison.Ordinal);
        Assert.Contains("deadlock", Assert.IsType<InvalidOperationException>(multiError).Message, StringComparison.Ordinal);
        Assert.Equal(1, shared.TokenCount);
    }

    [Fact]
    public async Task AwaitAsync_FromLoopCode_DoesNotBlockAndCompletes()
    {
        SharedEventLoop shared = NewShared();
        LoopToken token = shared.StartLoop();
        try
        {
            int result = await shared.AwaitAsync(async () => await shared.AwaitAsync(() => Task.FromResult(5)) + 1);
            Assert.Equal(6, result);
        }
        finally
        {
            await token.ReleaseAsync();
        }
    }

    [Fact]
    public async Task AwaitAsync_ResultAndFailure_ArriveUnchanged()
    {
        SharedEventLoop shared = NewShared();
        var error = new InvalidTimeZoneException("tz");

        Assert.Equal(9, await shared.AwaitAsync(async () =>
        {
            await LoopTask.Yield();
            return 9;
        }));
        Exception thrown = await Assert.ThrowsAsync<InvalidTimeZoneException>(() => shared.AwaitAsync(async () =>
        {
            await LoopTask.Yield();
            throw error;
        }));

        Assert.Same(error, thrown);
        Assert.Equal(0, shared.TokenCount);
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public async Task AwaitAsync_TaskCancelled_TheTaskIsCancelledWithTheCancelledError()
    {
        SharedEventLoop shared = NewShared();

        Task call = shared.AwaitAsync(async () =>
        {
            LoopTask.Current!.Cancel("stop");
            await LoopTask.Yield();
        });
        var error = await Assert.ThrowsAsync<CancelledError>(() => call);

        Assert.True(call.IsCanceled);
        Assert.Equal("stop", error.Message);
    }

    [Fact]
    public void AwaitAsync_TokenAlreadyCancelled_ReturnsACancelledTask()
    {
        SharedEventLoop shared = NewShared();

        Task<int> call = shared.AwaitAsync(() => Task.FromResult(1), new CancellationToken(canceled: true));

        Assert.True(call.IsCanceled);
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void AwaitMultiple_MixedSuccessesAndFailures_OneOutcomePerCallInOrder()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();
        var bad = new FormatException("bad");

        CallOutcome<int>[] outcomes = shared.AwaitMultiple<int>(
        [
            async () =>
            {
                await LoopTask.Sleep(TimeSpan.FromMilliseconds(1));
                return 1;
            },
            async () =>
            {
                await LoopTask.Yield();
                throw bad;
            },
            () => Task.FromResult(3),
            async () =>
            {
                LoopTask.Current!.Cancel("no");
                await LoopTask.Yield();
                return 4;
            },
            () => throw new DivideByZeroException(),
        ]);

        Assert.Equal(5, outcomes.Length);
        Assert.True(outcomes[0].Succeeded);
        Assert.Equal(1, outcomes[0].Result);
        Assert.False(outcomes[1].Succeeded);
        Assert.Same(bad, outcomes[1].Exception);
        Assert.Same(bad, Assert.Throws<FormatException>(() => outcomes[1].GetResult()));
        Assert.Same(bad, Assert.Throws<InvalidOperationException>(() => outcomes[1].Result).InnerException);
        Assert.Equal(3, outcomes[2].GetResult());
        Assert.IsType<CancelledError>(outcomes[3].Exception);
        Assert.IsType<DivideByZeroException>(outcomes[4].Exception);
    }

    [Fact]
    public void AwaitMultiple_Calls_RunConcurrentlyOnTheLoop()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();
        Future<int> handOff = shared.Await(() => Task.FromResult(shared.Loop.CreateFuture<int>()));
        var threads = new int[2];

        // The first waits for what the second hands it: run one after another, they would hang.
        Task<CallOutcome<int>[]> calls = shared.AwaitMultipleAsync<int>(
        [
            async () =>
            {
                threads[0] = Environment.CurrentManagedThreadId;
                return await handOff + 1;
            },
            async () =>
            {
                threads[1] = Environment.CurrentManagedThreadId;
                await LoopTask.Yield();
                handOff.SetResult(10);
                return 10;
            },
        ]);

        Assert.True(calls.Wait(Patience), "the calls did not run concurrently");
        Assert.Equal([11, 10], calls.Result.Select(outcome => outcome.GetResult()));
        Assert.Equal(threads[0], threads[1]);
    }

    [Fact]
    public void AwaitMultiple_WithoutResults_NullWhereSucceededAndTheErrorElsewhere()
    {
        SharedEventLoop shared = NewShared();
        var error = new TimeoutException("late");
        int ran = 0;

        Exception?[] outcomes = shared.AwaitMultiple(
        [
            () =>
            {
                ran++;
                return Task.CompletedTask;
            },
            () => Task.FromException(error),
            async () =>
            {
                await LoopTask.Yield();
                ran++;
            },
        ]);

        Assert.Equal(2, ran);
        Assert.Null(outcomes[0]);
        Assert.Same(error, outcomes[1]);
        Assert.Null(outcomes[2]);
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void AwaitMultiple_CancellationToken_CancelsTheCallsStillRunning()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();
        using var cancel = new CancellationTokenSource();
        using var waiting = new ManualResetEventSlim();

        Task<CallOutcome<int>[]> calls = shared.AwaitMultipleAsync<int>(
        [
            () => Task.FromResult(1),
            async () =>
            {
                Future<int> never = shared.Loop.CreateFuture<int>();
                waiting.Set();
                return await never;
            },
        ],
        cancel.Token);
        Assert.True(waiting.Wait(Patience));
        cancel.Cancel();

        Assert.True(calls.Wait(Patience));
        Assert.Equal(1, calls.Result[0].GetResult());
        Assert.IsType<CancelledError>(calls.Result[1].Exception);
    }

    [Fact]
    public async Task AwaitMultipleAsync_MixedOutcomes_InOrder()
    {
        SharedEventLoop shared = NewShared();
        var error = new KeyNotFoundException("k");

        CallOutcome<string>[] outcomes = await shared.AwaitMultipleAsync<string>(
        [
            () => Task.FromException<string>(error),
            async () =>
            {
                await LoopTask.Yield();
                return "b";
            },
        ]);
        Exception?[] plain = await shared.AwaitMultipleAsync([() => Task.CompletedTask, () => Task.FromException(error)]);

        Assert.Same(error, outcomes[0].Exception);
        Assert.Equal("b", outcomes[1].Result);
        Assert.Equal([null, error], plain);
        Assert.Equal(0, shared.TokenCount);
    }

    [Fact]
    public void AwaitMultiple_EmptyOrNullDelegate_EmptyResultOrArgumentException()
    {
        SharedEventLoop shared = NewShared();

        Assert.Empty(shared.AwaitMultiple(Array.Empty<Func<Task<int>>>()));
        var error = Assert.Throws<ArgumentException>(() => shared.AwaitMultiple<int>([() => Task.FromResult(1), null!]));

        Assert.Contains("index 1", error.Message, StringComparison.Ordinal);
        Assert.False(shared.Loop.IsRunning);
    }

    [Fact]
    public void Await_ManyThreadsAtOnce_EveryCallMutatesLoopStateOnTheLoopThreadOnly()
    {
        SharedEventLoop shared = NewShared();
        using LoopToken token = shared.StartLoop();
        const int Threads = 8;
        const int Calls = 100;
        int counter = 0;
        int offLoop = 0;

        Task[] workers = [.. Enumerable.Range(0, Threads).Select(n => OnThread(() =>
        {
            for (int i = 0; i < Calls; i++)
            {
                shared.Await(async () =>
                {
                    if (!shared.IsLoopThread)
                    {
                        offLoop++;
                    }

                    await LoopTask.Yield();
                    counter++; // no lock: only the loop thread touches it
                });
            }
        }, $"caller {n}"))];
        Finish(Task.WhenAll(workers));

        Assert.Equal(Threads * Calls, shared.Await(() => Task.FromResult(counter)));
        Assert.Equal(0, offLoop);
    }
}

public sealed class SharedEventLoopCallEpollTests : SharedEventLoopCallTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class SharedEventLoopCallPortableTests : SharedEventLoopCallTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
