using System.Diagnostics;

namespace Aio.Tests.Loop;

/// <summary>
/// Virtual time (trio's MockClock): with a <see cref="VirtualClock"/> the loop's timers run
/// instantly and in exactly the order real time would give; with auto-jump off, time moves only
/// through <see cref="VirtualClock.Advance"/>.
/// </summary>
public abstract class VirtualTimeTests : LoopTestBase
{
    /// <summary>Runs the loop until stopped; a real-time watchdog outside the loop fails the test after <see cref="LoopTestBase.Patience"/>.</summary>
    private static void RunBounded(EventLoop loop)
    {
        bool timedOut = false;
        using (new Timer(_ => loop.TryCallSoonThreadSafe(() =>
               {
                   timedOut = true;
                   loop.Stop();
               }), null, Patience, Timeout.InfiniteTimeSpan))
        {
            loop.RunForever();
        }

        Assert.False(timedOut, $"the loop was not stopped within {Patience} of real time");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ManyTimers_RandomDeadlinesAndCancels_FireInDeadlineThenScheduleOrder(int seed)
    {
        EventLoop loop = NewVirtualLoop(out _);
        var random = new Random(seed);
        double start = loop.Time();
        var fired = new List<int>();
        var expected = new List<(double When, int Index)>();
        var handles = new List<TimerHandle>();
        for (int i = 0; i < 3000; i++)
        {
            int index = i;
            double when = start + random.Next(0, 500); // many equal deadlines
            handles.Add(loop.CallAt(when, () => fired.Add(index)));
            expected.Add((when, index));
        }

        // Cancel most of them (more than half: the heap compacts), in random order.
        var cancelled = new HashSet<int>();
        foreach (int i in Enumerable.Range(0, handles.Count).OrderBy(_ => random.Next()).Take(2000))
        {
            handles[i].Cancel();
            cancelled.Add(i);
        }

        loop.CallAt(start + 1000, loop.Stop);
        RunBounded(loop);

        int[] order = [.. expected.Where(e => !cancelled.Contains(e.Index)).OrderBy(e => e.When).ThenBy(e => e.Index).Select(e => e.Index)];
        Assert.Equal(order, fired);
    }

    [Fact]
    public void CallLater_OneHour_FiresAtOnceInRealTimeWithLoopTimeAdvanced()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        double start = loop.Time();
        double firedAt = double.NaN;
        loop.CallLater(TimeSpan.FromHours(1), () =>
        {
            firedAt = loop.Time();
            loop.Stop();
        });

        var realTime = Stopwatch.StartNew();
        RunBounded(loop);

        Assert.True(firedAt - start >= 3600, $"fired after {firedAt - start} s of loop time");
        Assert.True(loop.Time() - start >= 3600);
        Assert.True(clock.Elapsed >= TimeSpan.FromHours(1));
        Assert.True(realTime.Elapsed < Patience);
    }

    [Fact]
    public void CallLater_MixedDelays_FireInDeadlineOrderAndFifoAmongEqualDeadlines()
    {
        EventLoop loop = NewVirtualLoop(out _);
        double start = loop.Time();
        var fired = new List<(string Name, double At)>();
        (string Name, double Delay)[] timers =
        [
            ("e1", 5), ("a1", 1), ("c1", 3), ("a2", 1), ("e2", 5), ("b1", 2), ("a3", 1), ("d1", 4), ("c2", 3),
        ];
        foreach ((string name, double delay) in timers)
        {
            loop.CallLater(TimeSpan.FromSeconds(delay), () => fired.Add((name, loop.Time())));
        }

        loop.CallLater(TimeSpan.FromSeconds(6), loop.Stop);
        RunBounded(loop);

        Assert.Equal(["a1", "a2", "a3", "b1", "c1", "c2", "d1", "e1", "e2"], fired.Select(f => f.Name));
        foreach ((string name, double at) in fired)
        {
            double deadline = start + timers.Single(t => t.Name == name).Delay;
            Assert.InRange(at, deadline, deadline + 0.001);
        }
    }

    [Fact]
    public void CallAt_ManyEqualDeadlines_FireInSchedulingOrder()
    {
        EventLoop loop = NewVirtualLoop(out _);
        double when = loop.Time() + 7;
        var fired = new List<int>();
        for (int i = 0; i < 200; i++)
        {
            int n = i;
            loop.CallAt(when, () => fired.Add(n));
        }

        loop.CallAt(when, loop.Stop);
        RunBounded(loop);

        Assert.Equal(Enumerable.Range(0, 200), fired);
    }

    [Fact]
    public void CallLater_ChainedFromTimerCallbacks_LoopTimeIsSumOfDelays()
    {
        EventLoop loop = NewVirtualLoop(out _);
        double start = loop.Time();
        var firedAt = new List<double>();
        void Next()
        {
            firedAt.Add(loop.Time() - start);
            if (firedAt.Count == 10)
            {
                loop.Stop();
                return;
            }

            loop.CallLater(TimeSpan.FromMinutes(30), Next);
        }

        loop.CallLater(TimeSpan.FromMinutes(30), Next);
        RunBounded(loop);

        Assert.Equal(10, firedAt.Count);
        for (int i = 0; i < 10; i++)
        {
            Assert.InRange(firedAt[i], (i + 1) * 1800.0, ((i + 1) * 1800.0) + 0.001);
        }
    }

    [Fact]
    public void CallLater_CancelledEarlierTimer_NeverRunsAndLaterTimerStillFires()
    {
        EventLoop loop = NewVirtualLoop(out _);
        double start = loop.Time();
        bool cancelledRan = false;
        double liveAt = double.NaN;
        TimerHandle cancelled = loop.CallLater(TimeSpan.FromSeconds(10), () => cancelledRan = true);
        loop.CallLater(TimeSpan.FromSeconds(20), () =>
        {
            liveAt = loop.Time() - start;
            loop.Stop();
        });
        cancelled.Cancel();

        RunBounded(loop);

        Assert.False(cancelledRan);
        Assert.InRange(liveAt, 20, 20.001);
    }

    [Fact]
    public void CallLater_WhileCallbacksKeepLoopBusy_TimeDoesNotJump()
    {
        EventLoop loop = NewVirtualLoop(out _);
        double start = loop.Time();
        int spins = 0;
        int spinsWhenTimerFired = -1;
        loop.CallLater(TimeSpan.FromSeconds(1), () =>
        {
            spinsWhenTimerFired = spins;
            loop.Stop();
        });
        void Spin()
        {
            if (++spins < 100)
            {
                loop.CallSoon(Spin);
            }
        }

        loop.CallSoon(Spin);
        RunBounded(loop);

        // Auto-jump happens only when the loop would otherwise sleep: never while callbacks are ready.
        Assert.Equal(100, spinsWhenTimerFired);
        Assert.InRange(loop.Time() - start, 1, 1.001);
    }

    [Fact]
    public void Time_OnlyCallbacksNoTimers_DoesNotAdvance()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        double start = loop.Time();
        int spins = 0;
        void Spin()
        {
            if (++spins == 50)
            {
                loop.Stop();
                return;
            }

            loop.CallSoon(Spin);
        }

        loop.CallSoon(Spin);
        RunBounded(loop);

        Assert.Equal(start, loop.Time());
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }

    [Fact]
    public void Advance_AutoJumpOff_TimerFiresOnlyOnIterationAfterEnoughAdvance()
    {
        var clock = new VirtualClock(autoJump: false);
        Assert.Null(clock.AutoJumpThreshold);
        EventLoop loop = NewLoop(clock);
        int iteration = 0;
        int firedAt = 0;
        int advancedEnoughAt = 0;
        loop.CallLater(TimeSpan.FromSeconds(10), () =>
        {
            firedAt = iteration;
            loop.Stop();
        });
        void Tick()
        {
            iteration++;
            if (iteration == 5)
            {
                clock.Advance(TimeSpan.FromSeconds(9)); // not yet due
            }
            else if (iteration == 10)
            {
                clock.Advance(TimeSpan.FromSeconds(1));
                advancedEnoughAt = iteration;
            }

            loop.CallSoon(Tick);
        }

        loop.CallSoon(Tick);
        RunBounded(loop);

        Assert.Equal(10, advancedEnoughAt);
        Assert.Equal(advancedEnoughAt + 1, firedAt);
        Assert.Equal(TimeSpan.FromSeconds(10), clock.Elapsed);
    }

    [Fact]
    public void Advance_AutoJumpOff_IdleLoopDoesNotMoveTimeUntilAdvancePosted()
    {
        var clock = new VirtualClock(autoJump: false);
        EventLoop loop = NewLoop(clock);
        using var started = new ManualResetEventSlim();
        using var fired = new ManualResetEventSlim();
        double firedAt = double.NaN;
        loop.CallLater(TimeSpan.FromSeconds(30), () =>
        {
            firedAt = loop.Time();
            fired.Set();
        });
        Thread thread = RunOnThread(loop, started);
        var probes = new List<(bool Fired, TimeSpan Elapsed)>();
        bool ran;
        try
        {
            Assert.True(started.Wait(Patience));

            // Between two probes the loop runs out of callbacks and idles with its only timer 30
            // virtual seconds away: nothing may move time but Advance.
            for (int i = 0; i < 3; i++)
            {
                using var probed = new ManualResetEventSlim();
                loop.CallSoonThreadSafe(() =>
                {
                    probes.Add((fired.IsSet, clock.Elapsed));
                    probed.Set();
                });
                Assert.True(probed.Wait(Patience));
            }

            loop.CallSoonThreadSafe(() => clock.Advance(TimeSpan.FromSeconds(30)));
            ran = fired.Wait(Patience);
        }
        finally
        {
            loop.CallSoonThreadSafe(loop.Stop);
            Assert.True(thread.Join(Patience));
        }

        Assert.All(probes, probe => Assert.Equal((false, TimeSpan.Zero), probe));
        Assert.True(ran, "the timer did not fire after time was advanced");
        Assert.Equal(30, firedAt, 6);
    }

    [Fact]
    public void Advance_Negative_ThrowsAndLeavesTimeUnchanged()
    {
        var clock = new VirtualClock(autoJump: false);
        clock.Advance(TimeSpan.FromSeconds(3));

        Assert.Throws<ArgumentOutOfRangeException>(() => clock.Advance(TimeSpan.FromTicks(-1)));
        Assert.Equal(TimeSpan.FromSeconds(3), clock.Elapsed);
    }

    [Fact]
    public void Advance_Zero_ChangesNothing()
    {
        var clock = new VirtualClock();
        long before = clock.GetTimestamp();

        clock.Advance(TimeSpan.Zero);

        Assert.Equal(before, clock.GetTimestamp());
    }

    [Fact]
    public void ElapsedAndGetUtcNow_Advance_MoveWithLoopTime()
    {
        var clock = new VirtualClock(autoJump: false);
        EventLoop loop = NewLoop(clock);
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
        DateTimeOffset utc0 = clock.GetUtcNow();
        double time0 = loop.Time();
        long stamp0 = clock.GetTimestamp();

        clock.Advance(TimeSpan.FromSeconds(90));

        Assert.Equal(TimeSpan.FromSeconds(90), clock.Elapsed);
        Assert.Equal(TimeSpan.FromSeconds(90), clock.GetUtcNow() - utc0);
        Assert.Equal(90, loop.Time() - time0, 6);
        Assert.Equal(TimeSpan.FromSeconds(90), clock.GetElapsedTime(stamp0));
    }

    [Fact]
    public void ElapsedAndGetUtcNow_LoopJumpsToTimer_MoveByTheJump()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        DateTimeOffset utc0 = clock.GetUtcNow();
        loop.CallLater(TimeSpan.FromMinutes(45), loop.Stop);

        RunBounded(loop);

        Assert.InRange(clock.Elapsed, TimeSpan.FromMinutes(45), TimeSpan.FromMinutes(45) + TimeSpan.FromMilliseconds(1));
        Assert.Equal(clock.Elapsed, clock.GetUtcNow() - utc0);
    }
}

public sealed class VirtualTimeEpollTests : VirtualTimeTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class VirtualTimePortableTests : VirtualTimeTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
