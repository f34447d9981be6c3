namespace Aio.Tests.Loop;

/// <summary>
/// Cross-thread posts (docs/design.md, the loop contract): <c>CallSoonThreadSafe</c> and its try-variants
/// deliver every post exactly once in per-thread order, wake a blocked loop, and refuse a closed loop.
/// </summary>
public abstract class ThreadSafePostTests : LoopTestBase
{
    private const int Producers = 4;
    private const int PostsPerProducer = 20_000;

    /// <summary>Posts callback(state) to the loop in one of the four ways under test; returns whether it was accepted.</summary>
    private delegate bool Poster(EventLoop loop, Action<object?> callback, object? state);

    private static readonly Poster ThrowingAction = static (loop, callback, state) =>
    {
        loop.CallSoonThreadSafe(() => callback(state));
        return true;
    };

    private static readonly Poster ThrowingState = static (loop, callback, state) =>
    {
        loop.CallSoonThreadSafe(callback, state);
        return true;
    };

    private static readonly Poster TryAction = static (loop, callback, state) => loop.TryCallSoonThreadSafe(() => callback(state));

    private static readonly Poster TryState = static (loop, callback, state) => loop.TryCallSoonThreadSafe(callback, state);

    [Fact]
    public void CallSoonThreadSafe_ActionFromFourThreads_EachRunsOnceInPerThreadOrder() =>
        AssertFourProducersDeliverEverything(ThrowingAction);

    [Fact]
    public void CallSoonThreadSafe_StateFromFourThreads_EachRunsOnceInPerThreadOrder() =>
        AssertFourProducersDeliverEverything(ThrowingState);

    [Fact]
    public void TryCallSoonThreadSafe_ActionFromFourThreads_EachRunsOnceInPerThreadOrder() =>
        AssertFourProducersDeliverEverything(TryAction);

    [Fact]
    public void TryCallSoonThreadSafe_StateFromFourThreads_EachRunsOnceInPerThreadOrder() =>
        AssertFourProducersDeliverEverything(TryState);

    [Fact]
    public void CallSoonThreadSafe_MixedOverloadsFromFourThreads_EachRunsOnceInPerThreadOrder() =>
        AssertFourProducersDeliverEverything((loop, callback, state) => (((Item)state!).Seq % 4) switch
        {
            0 => ThrowingAction(loop, callback, state),
            1 => ThrowingState(loop, callback, state),
            2 => TryAction(loop, callback, state),
            _ => TryState(loop, callback, state),
        });

    [Fact]
    public void CallSoonThreadSafe_StopFromAnotherThread_WakesLoopBlockedWithNothingToDo()
    {
        EventLoop loop = NewLoop();
        using var started = new ManualResetEventSlim();
        Thread thread = RunOnThread(loop, started);
        Assert.True(started.Wait(Patience), "the loop never started");

        // No timers, no ready callbacks: the loop waits with an infinite timeout until the post wakes it.
        loop.CallSoonThreadSafe(loop.Stop);

        Assert.True(thread.Join(Patience), "the post did not wake the blocked loop");
        Assert.False(loop.IsRunning);
    }

    [Fact]
    public void CallSoonThreadSafe_RepeatedRoundTripsToIdleLoop_EveryPostWakesIt() =>
        AssertRoundTripsWakeIdleLoop(ThrowingAction);

    [Fact]
    public void CallSoonThreadSafe_StateRepeatedRoundTripsToIdleLoop_EveryPostWakesIt() =>
        AssertRoundTripsWakeIdleLoop(ThrowingState);

    [Fact]
    public void TryCallSoonThreadSafe_ActionRepeatedRoundTripsToIdleLoop_EveryPostWakesIt() =>
        AssertRoundTripsWakeIdleLoop(TryAction);

    [Fact]
    public void TryCallSoonThreadSafe_StateRepeatedRoundTripsToIdleLoop_EveryPostWakesIt() =>
        AssertRoundTripsWakeIdleLoop(TryState);

    [Fact]
    public void TryCallSoonThreadSafe_AfterClose_ReturnsFalseAndNeverRuns()
    {
        EventLoop loop = NewLoop();
        loop.Close();
        bool ran = false;

        Assert.False(loop.TryCallSoonThreadSafe(() => ran = true));
        Assert.False(loop.TryCallSoonThreadSafe(_ => ran = true, null));
        Assert.False(ran);
    }

    [Fact]
    public void TryCallSoonThreadSafe_AfterCloseFromAnotherThread_ReturnsFalse()
    {
        EventLoop loop = NewLoop();
        loop.Close();
        bool? actionAccepted = null;
        bool? stateAccepted = null;
        var worker = new Thread(() =>
        {
            actionAccepted = loop.TryCallSoonThreadSafe(() => { });
            stateAccepted = loop.TryCallSoonThreadSafe(static _ => { }, null);
        });
        worker.Start();

        Assert.True(worker.Join(Patience));
        Assert.False(actionAccepted);
        Assert.False(stateAccepted);
    }

    [Fact]
    public void CallSoonThreadSafe_ActionAfterClose_ThrowsSayingClosed()
    {
        EventLoop loop = NewLoop();
        loop.Close();

        var error = Assert.Throws<InvalidOperationException>(() => loop.CallSoonThreadSafe(() => { }));
        Assert.Contains("closed", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void CallSoonThreadSafe_StateAfterClose_ThrowsSayingClosed()
    {
        EventLoop loop = NewLoop();
        loop.Close();

        var error = Assert.Throws<InvalidOperationException>(() => loop.CallSoonThreadSafe(static _ => { }, null));
        Assert.Contains("closed", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void CallSoonThreadSafe_PostedFromAnotherThreadBeforeRun_RunsOnFirstIterationInOrder()
    {
        EventLoop loop = NewLoop();
        var order = new List<int>();
        int refused = 0;
        var poster = new Thread(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                int n = i;
                switch (n % 4)
                {
                    case 0:
                        loop.CallSoonThreadSafe(() => order.Add(n));
                        break;
                    case 1:
                        loop.CallSoonThreadSafe(static state => ((Action)state!)(), (Action)(() => order.Add(n)));
                        break;
                    case 2:
                        refused += loop.TryCallSoonThreadSafe(() => order.Add(n)) ? 0 : 1;
                        break;
                    default:
                        refused += loop.TryCallSoonThreadSafe(static state => ((Action)state!)(), (Action)(() => order.Add(n))) ? 0 : 1;
                        break;
                }
            }
        });
        poster.Start();
        Assert.True(poster.Join(Patience));
        Assert.Equal(0, refused);

        // Stop before RunForever: exactly one iteration, so everything that ran, ran in the first one.
        loop.Stop();
        loop.RunForever();

        Assert.Equal(Enumerable.Range(0, 20), order);
    }

    [Fact]
    public void CallSoonThreadSafe_PostedBeforeRun_RunsAfterCallSoonCallbacksQueuedEarlier()
    {
        EventLoop loop = NewLoop();
        var order = new List<string>();
        loop.CallSoon(() => order.Add("soon"));
        loop.CallSoonThreadSafe(() => order.Add("posted"));

        loop.Stop();
        loop.RunForever();

        Assert.Equal(["soon", "posted"], order);
    }

    [Fact]
    public void CallSoonThreadSafe_FromOwningThreadWhileNotRunning_Runs()
    {
        EventLoop loop = NewLoop();
        var order = new List<string>();
        loop.CallSoon(loop.Stop);
        loop.RunForever();

        // The loop ran and stopped; the thread that owns it posts while it is idle, then runs it again.
        Handle handle = loop.CallSoonThreadSafe(() => order.Add("action"));
        loop.CallSoonThreadSafe(static state => ((List<string>)state!).Add("state"), order);
        Assert.True(loop.TryCallSoonThreadSafe(() => order.Add("try-action")));
        Assert.True(loop.TryCallSoonThreadSafe(static state => ((List<string>)state!).Add("try-state"), order));
        loop.CallSoonThreadSafe(loop.Stop);
        loop.RunForever();

        Assert.Equal(["action", "state", "try-action", "try-state"], order);
        Assert.Same(loop, handle.Loop);
        Assert.False(handle.IsCancelled);
    }

    [Fact]
    public void CallSoonThreadSafe_HandleCancelledOnLoopThreadBeforeItRuns_DoesNotRun()
    {
        EventLoop loop = NewLoop();
        bool ran = false;
        Handle handle = loop.CallSoonThreadSafe(() => ran = true);
        handle.Cancel();

        loop.Stop();
        loop.RunForever();

        Assert.True(handle.IsCancelled);
        Assert.False(ran);
    }

    /// <summary>One post: which producer sent it and its sequence number in that producer.</summary>
    private sealed record Item(int Producer, int Seq);

    /// <summary>What the loop saw; touched only on the loop thread, read after it is joined.</summary>
    private sealed class Tally
    {
        public readonly int[] Next = new int[Producers];
        public int OutOfOrder;
        public int Total;
        public ManualResetEventSlim AllArrived { get; } = new();
    }

    private void AssertFourProducersDeliverEverything(Poster post)
    {
        EventLoop loop = NewLoop();
        using var started = new ManualResetEventSlim();
        var tally = new Tally();
        Thread loopThread = RunOnThread(loop, started);
        Assert.True(started.Wait(Patience), "the loop never started");

        Action<object?> record = state =>
        {
            var item = (Item)state!;
            if (tally.Next[item.Producer] != item.Seq)
            {
                tally.OutOfOrder++;
            }

            tally.Next[item.Producer] = item.Seq + 1;
            if (++tally.Total == Producers * PostsPerProducer)
            {
                tally.AllArrived.Set();
            }
        };

        using var go = new ManualResetEventSlim();
        int[] refused = new int[Producers];
        var producers = new Thread[Producers];
        bool arrived;
        try
        {
            for (int p = 0; p < Producers; p++)
            {
                int producer = p;
                producers[p] = new Thread(() =>
                {
                    go.Wait();
                    for (int seq = 0; seq < PostsPerProducer; seq++)
                    {
                        if (!post(loop, record, new Item(producer, seq)))
                        {
                            refused[producer]++;
                        }
                    }
                })
                { IsBackground = true, Name = $"producer {p}" };
                producers[p].Start();
            }

            go.Set();
            foreach (Thread producer in producers)
            {
                Assert.True(producer.Join(Patience), "a producer did not finish posting");
            }

            arrived = tally.AllArrived.Wait(Patience);
        }
        finally
        {
            go.Set();
            StopAndJoin(loop, loopThread);
        }

        tally.AllArrived.Dispose();

        Assert.Equal(new int[Producers], refused);
        Assert.True(arrived, $"only {tally.Total} of {Producers * PostsPerProducer} posts ran");
        Assert.Equal(Producers * PostsPerProducer, tally.Total);
        Assert.Equal(0, tally.OutOfOrder);
        Assert.All(tally.Next, next => Assert.Equal(PostsPerProducer, next));
    }

    /// <summary>Stops a loop running on <paramref name="thread"/> from this thread and waits for it; asserts it stopped.</summary>
    private static void StopAndJoin(EventLoop loop, Thread thread)
    {
        loop.TryCallSoonThreadSafe(loop.Stop);
        Assert.True(thread.Join(Patience), "the loop did not stop");
    }

    private void AssertRoundTripsWakeIdleLoop(Poster post)
    {
        const int RoundTrips = 200;
        EventLoop loop = NewLoop();
        using var started = new ManualResetEventSlim();
        Thread loopThread = RunOnThread(loop, started);
        Assert.True(started.Wait(Patience), "the loop never started");

        using var ran = new ManualResetEventSlim();
        int loopThreadId = 0;
        int wrongThread = 0;
        int completed = 0;
        Action<object?> callback = state =>
        {
            if (Environment.CurrentManagedThreadId != loopThreadId)
            {
                wrongThread++;
            }

            ((ManualResetEventSlim)state!).Set();
        };

        loopThreadId = loopThread.ManagedThreadId;
        try
        {
            for (int i = 0; i < RoundTrips; i++)
            {
                // After each round trip the loop has nothing to do and goes back to an unbounded wait.
                ran.Reset();
                Assert.True(post(loop, callback, ran));
                if (!ran.Wait(Patience))
                {
                    break;
                }

                completed++;
            }
        }
        finally
        {
            StopAndJoin(loop, loopThread);
        }

        Assert.Equal(RoundTrips, completed);
        Assert.Equal(0, wrongThread);
    }
}

public sealed class ThreadSafePostEpollTests : ThreadSafePostTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class ThreadSafePostPortableTests : ThreadSafePostTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
