namespace Aio.Tests.Loop;

/// <summary>Call soon, call later, call at, handles and timer order (docs/design.md, the loop contract).</summary>
public abstract class SchedulingTests : LoopTestBase
{
    [Fact]
    public void CallSoon_ManyCallbacks_RunInFifoOrder()
    {
        EventLoop loop = NewLoop();
        var order = new List<int>();
        for (int i = 0; i < 1000; i++)
        {
            int n = i;
            if (n % 2 == 0)
            {
                loop.CallSoon(() => order.Add(n));
            }
            else
            {
                loop.CallSoon(static state => ((Action)state!)(), (Action)(() => order.Add(n)));
            }
        }

        loop.CallSoon(loop.Stop);
        loop.RunForever();

        Assert.Equal(Enumerable.Range(0, 1000), order);
    }

    [Fact]
    public void CallSoon_FromCallback_RunsInNextIterationAfterAPoll()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.CallSoon(() =>
        {
            log.Add("a");
            loop.CallSoon(() => log.Add("c"));
        });
        loop.CallSoon(() =>
        {
            log.Add("b");
            loop.Stop();
        });

        loop.RunForever();
        Assert.Equal(["a", "b"], log);

        // The callback scheduled during the stopped iteration runs on the next run.
        loop.Stop();
        loop.RunForever();
        Assert.Equal(["a", "b", "c"], log);
    }

    [Fact]
    public void CallSoon_StateOverload_PassesStateAndAllocatesNothingPerCall()
    {
        EventLoop loop = NewLoop();
        var box = new int[1];
        Action<object?> increment = static state => ((int[])state!)[0]++;

        // Warm up so the ready queue has grown to its working size.
        for (int i = 0; i < 1000; i++)
        {
            loop.CallSoon(increment, box);
        }

        loop.Stop();
        loop.RunForever();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            loop.CallSoon(increment, box);
        }

        long after = GC.GetAllocatedBytesForCurrentThread();
        loop.Stop();
        loop.RunForever();

        Assert.Equal(2000, box[0]);
        Assert.Equal(0, after - before);
    }

    [Fact]
    public void Handle_CancelledBeforeRun_DoesNotRun()
    {
        EventLoop loop = NewLoop();
        bool ran = false;
        Handle handle = loop.CallSoon(() => ran = true);

        handle.Cancel();
        handle.Cancel();
        loop.Stop();
        loop.RunForever();

        Assert.True(handle.IsCancelled);
        Assert.False(ran);
        Assert.Same(loop, handle.Loop);
    }

    [Fact]
    public void Handle_CancelledByEarlierCallbackInSameIteration_DoesNotRun()
    {
        EventLoop loop = NewLoop();
        bool ran = false;
        Handle? second = null;
        loop.CallSoon(() => second!.Cancel());
        second = loop.CallSoon(() => ran = true);

        loop.Stop();
        loop.RunForever();

        Assert.False(ran);
    }

    [Fact]
    public void CallLater_Timers_FireInDeadlineOrderThenScheduleOrder()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var order = new List<string>();
        loop.CallLater(TimeSpan.FromSeconds(3), () => order.Add("3s"));
        loop.CallLater(TimeSpan.FromSeconds(1), () => order.Add("1s-a"));
        loop.CallLater(TimeSpan.FromSeconds(2), () => order.Add("2s"));
        loop.CallLater(TimeSpan.FromSeconds(1), () => order.Add("1s-b"));
        double t = loop.Time();
        loop.CallAt(t + 1, () => order.Add("1s-c"));
        loop.CallLater(TimeSpan.FromSeconds(4), loop.Stop);

        loop.RunForever();

        Assert.Equal(["1s-a", "1s-b", "1s-c", "2s", "3s"], order);
    }

    [Fact]
    public void CallLater_ManyEqualDeadlines_KeepScheduleOrder()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var order = new List<int>();
        double when = loop.Time() + 5;
        for (int i = 0; i < 500; i++)
        {
            int n = i;
            loop.CallAt(when, () => order.Add(n));
        }

        loop.CallAt(when + 1, loop.Stop);
        loop.RunForever();

        Assert.Equal(Enumerable.Range(0, 500), order);
    }

    [Fact]
    public void CallLater_PastDeadlines_RunAfterReadyCallbacksInDeadlineOrder()
    {
        EventLoop loop = NewLoop();
        var order = new List<string>();
        loop.CallLater(TimeSpan.FromSeconds(-5), () => order.Add("negative"));
        loop.CallLater(TimeSpan.Zero, () => order.Add("zero"));
        loop.CallSoon(() => order.Add("soon"));
        loop.CallAt(double.NegativeInfinity, () => order.Add("-inf"));

        loop.Stop();
        loop.RunForever();

        Assert.Equal(["soon", "-inf", "negative", "zero"], order);
    }

    [Fact]
    public void CallAt_NaN_ThrowsArgumentException()
    {
        EventLoop loop = NewLoop();
        ArgumentException error = Assert.Throws<ArgumentException>(() => loop.CallAt(double.NaN, () => { }));
        Assert.Contains("NaN", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CallLater_HugeAndInfiniteDelays_NeverFireAndDoNotOverflow()
    {
        EventLoop loop = NewLoop();
        bool fired = false;
        loop.CallLater(TimeSpan.MaxValue, () => fired = true);
        loop.CallAt(double.PositiveInfinity, () => fired = true);
        loop.CallAt(double.MaxValue, () => fired = true);
        TimerHandle timer = loop.CallLater(TimeSpan.FromDays(365 * 1000), () => fired = true);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        Assert.False(fired);
        Assert.True(timer.When > loop.Time() + (365.0 * 999 * 86400));
    }

    [Fact]
    public void TimerHandle_When_IsLoopTimePlusDelay()
    {
        EventLoop loop = NewVirtualLoop(out _);
        double before = loop.Time();
        TimerHandle timer = loop.CallLater(TimeSpan.FromSeconds(2.5), () => { });

        Assert.Equal(before + 2.5, timer.When, precision: 6);
        timer.Cancel();
        Assert.True(timer.IsCancelled);
    }

    [Fact]
    public void TimerHandle_Cancelled_DoesNotFire()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var fired = new List<int>();
        var timers = new List<TimerHandle>();
        for (int i = 0; i < 300; i++)
        {
            int n = i;
            timers.Add(loop.CallLater(TimeSpan.FromSeconds(1 + (i % 7)), () => fired.Add(n)));
        }

        // Cancel most of them: the heap compacts, the survivors still fire in order.
        for (int i = 0; i < 300; i++)
        {
            if (i % 10 != 0)
            {
                timers[i].Cancel();
            }
        }

        loop.CallLater(TimeSpan.FromSeconds(10), loop.Stop);
        loop.RunForever();

        int[] expected = Enumerable.Range(0, 300).Where(i => i % 10 == 0).OrderBy(i => 1 + (i % 7)).ThenBy(i => i).ToArray();
        Assert.Equal(expected, fired);
    }

    [Fact]
    public void Timer_DueWithinClockResolution_FiresInSameIteration()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        clock.AutoJumpThreshold = null;
        bool fired = false;
        loop.CallAt(loop.Time() + (loop.ClockResolution / 2), () => fired = true);

        loop.Stop();
        loop.RunForever();

        Assert.True(fired);
        Assert.True(loop.ClockResolution > 0);
    }

    [Fact]
    public void Timer_RealClock_FiresNoEarlierThanItsDeadline()
    {
        EventLoop loop = NewLoop();
        double firedAt = 0;
        TimerHandle timer = loop.CallLater(TimeSpan.FromMilliseconds(30), () =>
        {
            firedAt = loop.Time();
            loop.Stop();
        });

        loop.RunForever();

        Assert.True(firedAt >= timer.When - loop.ClockResolution, $"fired at {firedAt}, due at {timer.When}");
    }

    [Fact]
    public void SelfReschedulingCallback_DoesNotStarveTimersOrOtherCallbacks()
    {
        // Real clock on purpose: a busy loop never idles, so virtual time would never jump.
        EventLoop loop = NewLoop();
        long spins = 0;
        bool timerFired = false;
        bool otherRan = false;

        void Spin()
        {
            spins++;
            if (!timerFired)
            {
                loop.CallSoon(Spin);
            }
        }

        loop.CallSoon(Spin);
        loop.CallSoon(() => otherRan = true);
        loop.CallLater(TimeSpan.FromMilliseconds(10), () =>
        {
            timerFired = true;
            loop.Stop();
        });

        loop.RunForever();

        Assert.True(timerFired);
        Assert.True(otherRan);
        Assert.True(spins > 1);
    }
}

public sealed class SchedulingEpollTests : SchedulingTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class SchedulingPortableTests : SchedulingTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
