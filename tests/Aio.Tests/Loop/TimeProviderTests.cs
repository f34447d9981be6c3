using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace Aio.Tests.Loop;

/// <summary>
/// Loop timers honour whatever <see cref="TimeProvider"/> the loop was given: a
/// <see cref="FakeTimeProvider"/> advanced by hand fires them with no real waiting (the loop waits
/// through the provider's own timer), and a <see cref="VirtualClock"/> is a full provider whose
/// .NET timers (<see cref="Task.Delay(TimeSpan, TimeProvider)"/>, timed cancellation sources) run in
/// virtual time, auto-jump included. Timers an hour or a day long that fire within
/// <see cref="LoopTestBase.Patience"/> show that no real time was waited (allow-real-time: every delay here is virtual).
/// </summary>
public abstract class TimeProviderTests : LoopTestBase
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public void CallLater_FakeProviderAdvancedFromAnotherThread_FiresWithoutRealWaiting()
    {
        var fake = new FakeTimeProvider();
        EventLoop loop = NewLoop(fake);
        using var fired = new ManualResetEventSlim();
        loop.CallLater(Hour, fired.Set);
        Thread thread = RunOnThread(loop);
        try
        {
            fake.Advance(Hour - TimeSpan.FromSeconds(1));
            RoundTrip(loop);
            Assert.False(fired.IsSet, "the timer fired before its deadline");
            fake.Advance(TimeSpan.FromSeconds(1));
            Assert.True(fired.Wait(Patience), "advancing the fake provider did not fire the loop timer");
        }
        finally
        {
            StopAndJoin(loop, thread);
        }
    }

    [Fact]
    public void Timers_FakeProviderAdvancedInSteps_FireInDeadlineOrderAtTheirTimes()
    {
        var fake = new FakeTimeProvider();
        EventLoop loop = NewLoop(fake);
        var fired = new List<(int Index, double At)>();
        using var third = new ManualResetEventSlim();
        double start = loop.Time();
        loop.CallLater(TimeSpan.FromSeconds(3), () =>
        {
            fired.Add((3, loop.Time() - start));
            third.Set();
        });
        loop.CallLater(TimeSpan.FromSeconds(1), () => fired.Add((1, loop.Time() - start)));
        loop.CallLater(TimeSpan.FromSeconds(2), () => fired.Add((2, loop.Time() - start)));
        Thread thread = RunOnThread(loop);
        try
        {
            fake.Advance(TimeSpan.FromSeconds(2));
            RoundTrip(loop);
            fake.Advance(TimeSpan.FromSeconds(1));
            Assert.True(third.Wait(Patience));
        }
        finally
        {
            StopAndJoin(loop, thread);
        }

        Assert.Equal([1, 2, 3], fired.Select(f => f.Index));
        Assert.Equal(2.0, fired[0].At, 9); // both came due in the same advance
        Assert.Equal(2.0, fired[1].At, 9);
        Assert.Equal(3.0, fired[2].At, 9);
    }

    [Fact]
    public void Sleep_FakeProvider_EndsWhenTheProviderReachesTheDeadline()
    {
        var fake = new FakeTimeProvider();
        EventLoop loop = NewLoop(fake);
        var slept = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sleeping = new ManualResetEventSlim();
        LoopTask sleeper = loop.CreateTask(async () =>
        {
            SleepAwaitable sleep = LoopTask.Sleep(TimeSpan.FromMinutes(10)); // the deadline is fixed here
            sleeping.Set();
            await sleep;
            slept.SetResult();
        });
        Thread thread = RunOnThread(loop);
        try
        {
            Assert.True(sleeping.Wait(Patience));
            fake.Advance(TimeSpan.FromMinutes(10));
            Assert.True(slept.Task.Wait(Patience), "the sleep did not end when the fake provider reached its deadline");
        }
        finally
        {
            StopAndJoin(loop, thread);
        }

        Assert.True(sleeper.IsDone);
    }

    [Fact]
    public void CallLater_LongerThanTheLongestWait_FiresAfterOneBigAdvance()
    {
        var fake = new FakeTimeProvider();
        EventLoop loop = NewLoop(fake);
        using var fired = new ManualResetEventSlim();
        loop.CallLater(TimeSpan.FromDays(3), fired.Set); // the loop waits at most 24 h at a time
        Thread thread = RunOnThread(loop);
        try
        {
            fake.Advance(TimeSpan.FromDays(3));
            Assert.True(fired.Wait(Patience));
        }
        finally
        {
            StopAndJoin(loop, thread);
        }
    }

    [Fact]
    public void Time_FakeProvider_MovesExactlyAsTheProvider()
    {
        var fake = new FakeTimeProvider();
        EventLoop loop = NewLoop(fake);
        double before = loop.Time();
        fake.Advance(TimeSpan.FromMilliseconds(1500));
        Assert.Equal(1.5, loop.Time() - before, 12);
    }

    [Fact]
    public void Advance_OnTheLoopThread_DueTimersRunInDeadlineThenScheduleOrder()
    {
        // Advancing from code on the loop itself is fine too: the next iteration sees the time.
        var fake = new FakeTimeProvider();
        EventLoop loop = NewLoop(fake);
        var order = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            Future<bool> last = loop.CreateFuture<bool>();
            loop.CallLater(TimeSpan.FromSeconds(5), () => order.Add("5s"));
            loop.CallLater(TimeSpan.FromSeconds(1), () => order.Add("1s"));
            loop.CallLater(TimeSpan.FromSeconds(5), () => last.SetResult(true));
            loop.CallLater(TimeSpan.FromSeconds(6), () => order.Add("6s: not due"));
            fake.Advance(TimeSpan.FromSeconds(5));
            await last;
            order.Add("after");
        });
        Assert.Equal(["1s", "5s", "after"], order);
    }

    [Fact]
    public void TaskDelay_WithVirtualClock_RunsInVirtualTime()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var watch = Stopwatch.StartNew();
        loop.RunUntilComplete(async () =>
        {
            // allow-real-time: a .NET delay on the virtual clock; auto-jump ends it with no real waiting.
            await Task.Delay(TimeSpan.FromDays(1), clock);
            Assert.Same(loop, EventLoop.GetRunningLoop()); // resumed on the loop
        });
        Assert.Equal(TimeSpan.FromDays(1), clock.Elapsed);
        Assert.True(watch.Elapsed < Patience);
    }

    [Fact]
    public void TaskDelayAndLoopTimers_VirtualClock_InterleaveInDeadlineOrder()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var order = new List<(string What, TimeSpan At)>();
        loop.RunUntilComplete(async () =>
        {
            loop.CallLater(TimeSpan.FromSeconds(1), () => order.Add(("timer 1s", clock.Elapsed)));
            loop.CallLater(TimeSpan.FromSeconds(5), () => order.Add(("timer 5s", clock.Elapsed)));
            // allow-real-time: a .NET delay on the virtual clock; the test advances it, no real waiting.
            await Task.Delay(TimeSpan.FromSeconds(3), clock);
            order.Add(("delay 3s", clock.Elapsed));
            await LoopTask.Sleep(TimeSpan.FromSeconds(3));
        });
        Assert.Equal(
            [("timer 1s", TimeSpan.FromSeconds(1)), ("delay 3s", TimeSpan.FromSeconds(3)), ("timer 5s", TimeSpan.FromSeconds(5))],
            order);
        Assert.Equal(TimeSpan.FromSeconds(6), clock.Elapsed);
    }

    [Fact]
    public void TimedCancellationSource_VirtualClock_CancelsInVirtualTime()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        loop.RunUntilComplete(async () =>
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5), clock);
            // allow-real-time: the wait ends when the virtual clock's timed source cancels it, no real waiting.
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Delay(Timeout.InfiniteTimeSpan, cts.Token));
        });
        Assert.Equal(TimeSpan.FromMinutes(5), clock.Elapsed);
    }

    [Fact]
    public void CreateTimer_VirtualClockAdvanced_FiresOncePerPeriodAtEachDeadline()
    {
        var clock = new VirtualClock(autoJump: false);
        var seen = new List<TimeSpan>();
        using ITimer timer = clock.CreateTimer(_ => seen.Add(clock.Elapsed), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(3.5));
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3)], seen);
        Assert.Equal(TimeSpan.FromSeconds(3.5), clock.Elapsed);
        Assert.True(timer.Change(TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan));
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(4, seen.Count);
        timer.Dispose();
        Assert.False(timer.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(4, seen.Count);
    }

    [Fact]
    public void CreateTimer_VirtualClock_EqualDeadlinesFireInCreationOrder()
    {
        var clock = new VirtualClock(autoJump: false);
        var order = new List<int>();
        var timers = Enumerable.Range(0, 5).Select(i => clock.CreateTimer(_ => order.Add(i), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan)).ToList();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([0, 1, 2, 3, 4], order);
        timers.ForEach(t => t.Dispose());
    }

    [Fact]
    public void CreateTimer_BadSpans_Refused()
    {
        var clock = new VirtualClock();
        Assert.Throws<ArgumentOutOfRangeException>(() => clock.CreateTimer(_ => { }, null, TimeSpan.FromSeconds(-1), Timeout.InfiniteTimeSpan));
        Assert.Throws<ArgumentOutOfRangeException>(() => clock.CreateTimer(_ => { }, null, TimeSpan.Zero, TimeSpan.FromSeconds(-2)));
        Assert.Throws<ArgumentNullException>(() => clock.CreateTimer(null!, null, TimeSpan.Zero, TimeSpan.Zero));
    }

    [Fact]
    public void CallLater_VirtualClockWithoutAutoJumpAdvancedFromAnotherThread_WakesTheLoop()
    {
        var clock = new VirtualClock(autoJump: false);
        EventLoop loop = NewLoop(clock);
        using var fired = new ManualResetEventSlim();
        loop.CallLater(Hour, fired.Set);
        Thread thread = RunOnThread(loop);
        try
        {
            RoundTrip(loop);
            clock.Advance(Hour);
            Assert.True(fired.Wait(Patience), "advancing the virtual clock from another thread did not wake the loop");
        }
        finally
        {
            StopAndJoin(loop, thread);
        }
    }

    [Fact]
    public void TaskDelay_VirtualClockFromAnotherThread_AutoJumpReachesIt()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        loop.RunUntilComplete(async () =>
        {
            // Scheduled on the thread pool while the loop idles with nothing of its own to do.
            // allow-real-time: a .NET delay on the virtual clock, started on the pool; auto-jump ends it.
            await loop.WrapTask(Task.Run(() => Task.Delay(TimeSpan.FromHours(2), clock)));
        });
        Assert.Equal(TimeSpan.FromHours(2), clock.Elapsed);
    }

    [Fact]
    public void VirtualTimerCallbackThrows_DuringAutoJump_ReportedAndTheLoopGoesOn()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        using ITimer failing = clock.CreateTimer(_ => throw new InvalidOperationException("boom"), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        loop.RunUntilComplete(async () => await LoopTask.Sleep(TimeSpan.FromSeconds(2)));
        ExceptionContext report = Assert.Single(TakeErrors());
        Assert.IsType<InvalidOperationException>(report.Exception);
        Assert.Equal(TimeSpan.FromSeconds(2), clock.Elapsed);
    }

    /// <summary>Waits until the loop ran a callback posted now: everything posted or due before has been handled.</summary>
    private static void RoundTrip(EventLoop loop)
    {
        using var done = new ManualResetEventSlim();
        loop.CallSoonThreadSafe(done.Set);
        Assert.True(done.Wait(Patience));
    }

    private static void StopAndJoin(EventLoop loop, Thread thread)
    {
        loop.TryCallSoonThreadSafe(loop.Stop);
        Assert.True(thread.Join(Patience), "the loop did not stop");
    }
}

public sealed class TimeProviderEpollTests : TimeProviderTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class TimeProviderPortableTests : TimeProviderTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
