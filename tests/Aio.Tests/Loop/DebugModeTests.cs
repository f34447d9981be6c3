using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Aio.Tests.Loop;

/// <summary>
/// Debug mode (docs/design.md, the loop contract): non-thread-safe APIs throw when called from a thread
/// other than the one running the loop, slow callbacks are logged, handles remember where they
/// were created.
/// </summary>
public abstract class DebugModeTests : LoopTestBase
{
    [Fact]
    public void CallSoon_FromOtherThreadInDebugMode_Throws() =>
        AssertThrowsFromOtherThread(loop => loop.CallSoon(() => { }));

    [Fact]
    public void CallSoon_StateOverloadFromOtherThreadInDebugMode_Throws() =>
        AssertThrowsFromOtherThread(loop => loop.CallSoon(static _ => { }, null));

    [Fact]
    public void CallLater_FromOtherThreadInDebugMode_Throws() =>
        AssertThrowsFromOtherThread(loop => loop.CallLater(TimeSpan.FromHours(1), () => { }));

    [Fact]
    public void CallLater_StateOverloadFromOtherThreadInDebugMode_Throws() =>
        AssertThrowsFromOtherThread(loop => loop.CallLater(TimeSpan.FromHours(1), static _ => { }, null));

    [Fact]
    public void CallAt_FromOtherThreadInDebugMode_Throws() =>
        AssertThrowsFromOtherThread(loop => loop.CallAt(loop.Time() + 3600, () => { }));

    [Fact]
    public void CallAt_StateOverloadFromOtherThreadInDebugMode_Throws() =>
        AssertThrowsFromOtherThread(loop => loop.CallAt(loop.Time() + 3600, static _ => { }, null));

    [Fact]
    public void Stop_FromOtherThreadInDebugMode_ThrowsAndLoopKeepsRunning() =>
        AssertThrowsFromOtherThread(loop => loop.Stop(), afterThrow: loop => Assert.True(loop.IsRunning));

    [Fact]
    public void HandleCancel_FromOtherThreadInDebugMode_ThrowsAndLeavesHandleActive()
    {
        TimerHandle? timer = null;
        Handle? handle = null;
        AssertThrowsFromOtherThread(
            loop => timer!.Cancel(),
            beforeRun: loop => timer = loop.CallAt(double.PositiveInfinity, () => { }),
            afterThrow: _ => Assert.False(timer!.IsCancelled));
        AssertThrowsFromOtherThread(
            loop => handle!.Cancel(),
            beforeRun: loop => handle = loop.CallAt(double.PositiveInfinity, static _ => { }, null),
            afterThrow: _ => Assert.False(handle!.IsCancelled));
    }

    [Fact]
    public void AddSignalHandler_FromOtherThreadInDebugMode_Throws() =>
        AssertThrowsFromOtherThread(loop => loop.AddSignalHandler((PosixSignal)10, () => { }));

    [Fact]
    public void Stop_FromOtherThreadWithoutDebug_IsNotChecked()
    {
        EventLoop loop = NewLoop(debug: false);
        Assert.False(loop.DebugEnabled);
        using var started = new ManualResetEventSlim();
        Thread thread = RunOnThread(loop, started);
        Assert.True(started.Wait(Patience), "the loop never started");

        Exception? error = Record.Exception(() => loop.Stop());

        // The stop request is honoured once the loop wakes up for the next post.
        loop.CallSoonThreadSafe(() => { });
        bool joined = thread.Join(Patience);
        if (!joined)
        {
            loop.CallSoonThreadSafe(loop.Stop);
            thread.Join(Patience);
        }

        Assert.Null(error);
        Assert.True(joined, "Stop() from another thread was not honoured");
    }

    [Fact]
    public void CallSoon_FromOtherThreadInDebugModeWhileNotRunning_IsAllowed()
    {
        EventLoop loop = NewVirtualLoop(out _, debug: true);
        bool ran = false;
        Exception? error = null;
        var other = new Thread(() => error = Record.Exception(() =>
        {
            loop.CallSoon(() => ran = true);
            loop.CallLater(TimeSpan.FromSeconds(1), loop.Stop);
        }));
        other.Start();
        Assert.True(other.Join(Patience));
        Assert.Null(error);

        loop.RunForever();

        Assert.True(ran);
    }

    [Fact]
    public void CallSoon_FromLoopThreadInDebugMode_IsAllowed()
    {
        EventLoop loop = NewVirtualLoop(out _, debug: true);
        bool ran = false;
        Exception? error = null;
        loop.CallSoon(() => error = Record.Exception(() =>
        {
            loop.CallSoon(() => ran = true);
            loop.CallAt(loop.Time() + 1, loop.Stop);
        }));

        loop.RunForever();

        Assert.Null(error);
        Assert.True(ran);
    }

    [Fact]
    public void SlowCallback_InDebugMode_LoggedAsWarningNamingTheCallback()
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend, LoggerFactory = factory, Debug = true });
        loop.SlowCallbackDuration = TimeSpan.Zero;
        loop.CallSoon(NamedCallback);

        loop.Stop();
        loop.RunForever();

        LogEntry entry = Assert.Single(recorder.Entries, e => e.Message.Contains(nameof(NamedCallback), StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Null(entry.Exception);
    }

    [Fact]
    public void SlowCallback_StateOverloadAndTimerInDebugMode_AreLoggedToo()
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        var clock = new VirtualClock();
        using var loop = new EventLoop(new EventLoopOptions
        {
            Backend = Backend,
            LoggerFactory = factory,
            Debug = true,
            TimeProvider = clock,
            SlowCallbackDuration = TimeSpan.Zero,
        });
        loop.CallSoon(NamedStateCallback, null);
        loop.CallLater(TimeSpan.FromSeconds(1), NamedTimerCallback);
        loop.CallLater(TimeSpan.FromSeconds(2), loop.Stop);

        loop.RunForever();

        IReadOnlyList<LogEntry> entries = recorder.Entries;
        Assert.Contains(entries, e => e.Level == LogLevel.Warning && e.Message.Contains(nameof(NamedStateCallback), StringComparison.Ordinal));
        Assert.Contains(entries, e => e.Level == LogLevel.Warning && e.Message.Contains(nameof(NamedTimerCallback), StringComparison.Ordinal));
    }

    [Fact]
    public void SlowCallback_WithoutDebug_NotLogged()
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend, LoggerFactory = factory, Debug = false });
        loop.SlowCallbackDuration = TimeSpan.Zero;
        loop.CallSoon(NamedCallback);

        loop.Stop();
        loop.RunForever();

        Assert.Empty(recorder.Entries);
    }

    [Fact]
    public void SlowCallback_FasterThanThresholdInDebugMode_NotLogged()
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend, LoggerFactory = factory, Debug = true });
        loop.SlowCallbackDuration = TimeSpan.FromHours(1);
        loop.CallSoon(NamedCallback);

        loop.Stop();
        loop.RunForever();

        Assert.Empty(recorder.Entries);
    }

    [Fact]
    public void SlowCallbackDuration_Default_Is100Milliseconds()
    {
        EventLoop loop = NewLoop();

        Assert.Equal(TimeSpan.FromMilliseconds(100), loop.SlowCallbackDuration);
    }

    [Fact]
    public void CallSoon_InDebugMode_HandleRemembersCreationStackTrace()
    {
        EventLoop loop = NewLoop(debug: true);

        Handle handle = loop.CallSoon(() => { });

        Assert.NotNull(handle.CreationStackTrace);
        Assert.Contains(nameof(CallSoon_InDebugMode_HandleRemembersCreationStackTrace), handle.CreationStackTrace.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CallLater_InDebugMode_TimerHandleRemembersCreationStackTrace()
    {
        EventLoop loop = NewVirtualLoop(out _, debug: true);

        TimerHandle handle = loop.CallLater(TimeSpan.FromSeconds(1), () => { });

        Assert.NotNull(handle.CreationStackTrace);
        Assert.Contains(nameof(CallLater_InDebugMode_TimerHandleRemembersCreationStackTrace), handle.CreationStackTrace.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CallSoonThreadSafe_InDebugMode_HandleRemembersCreationStackTrace()
    {
        EventLoop loop = NewLoop(debug: true);

        Handle handle = loop.CallSoonThreadSafe(() => { });

        Assert.NotNull(handle.CreationStackTrace);
        Assert.Contains(nameof(CallSoonThreadSafe_InDebugMode_HandleRemembersCreationStackTrace), handle.CreationStackTrace.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CallSoon_WithoutDebug_HandleHasNoCreationStackTrace()
    {
        EventLoop loop = NewVirtualLoop(out _, debug: false);

        Assert.Null(loop.CallSoon(() => { }).CreationStackTrace);
        Assert.Null(loop.CallLater(TimeSpan.FromSeconds(1), () => { }).CreationStackTrace);
        Assert.Null(loop.CallSoonThreadSafe(() => { }).CreationStackTrace);
    }

    [Fact]
    public void CallbackThrows_InDebugMode_ContextCarriesSourceTraceback()
    {
        EventLoop loop = NewLoop(debug: true);
        Handle handle = loop.CallSoon(() => throw new InvalidOperationException("boom"));
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        ExceptionContext context = Assert.Single(TakeErrors());
        Assert.Same(handle, context.Handle);
        Assert.NotNull(context.SourceTraceback);
        Assert.Contains(nameof(CallbackThrows_InDebugMode_ContextCarriesSourceTraceback), context.SourceTraceback.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void DebugEnabled_FromOptions_ReflectsTheOption()
    {
        Assert.True(NewLoop(debug: true).DebugEnabled);
        Assert.False(NewLoop(debug: false).DebugEnabled);
    }

    [Fact]
    public void DebugEnabled_Set_ChangesTheModeAndItsEffects()
    {
        EventLoop loop = NewLoop(debug: false);

        loop.DebugEnabled = true;
        Assert.True(loop.DebugEnabled);
        Assert.NotNull(loop.CallSoon(() => { }).CreationStackTrace);

        loop.DebugEnabled = false;
        Assert.False(loop.DebugEnabled);
        Assert.Null(loop.CallSoon(() => { }).CreationStackTrace);
    }

    [Fact]
    public void DebugEnabled_TurnedOnAfterConstruction_ChecksTheThread()
    {
        EventLoop loop = NewLoop(debug: false);
        loop.DebugEnabled = true;
        using var started = new ManualResetEventSlim();
        Thread thread = RunOnThread(loop, started);
        Assert.True(started.Wait(Patience), "the loop never started");

        Exception? error = Record.Exception(() => loop.CallSoon(() => { }));

        loop.CallSoonThreadSafe(loop.Stop);
        Assert.True(thread.Join(Patience), "the loop did not stop");
        Assert.IsType<InvalidOperationException>(error);
    }

    private static void NamedCallback()
    {
    }

    private static void NamedStateCallback(object? state)
    {
    }

    private static void NamedTimerCallback()
    {
    }

    /// <summary>
    /// Runs a debug-mode loop on a thread, calls <paramref name="call"/> from this thread and asserts
    /// it throws <see cref="InvalidOperationException"/> naming the thread problem; then stops the
    /// loop thread-safely and joins it.
    /// </summary>
    private void AssertThrowsFromOtherThread(
        Action<EventLoop> call,
        Action<EventLoop>? beforeRun = null,
        Action<EventLoop>? afterThrow = null)
    {
        EventLoop loop = NewLoop(debug: true);
        beforeRun?.Invoke(loop);
        using var started = new ManualResetEventSlim();
        Thread thread = RunOnThread(loop, started);
        Exception? error;
        try
        {
            Assert.True(started.Wait(Patience), "the loop never started");
            Assert.True(loop.IsRunning);
            error = Record.Exception(() => call(loop));
            afterThrow?.Invoke(loop);
        }
        finally
        {
            loop.CallSoonThreadSafe(loop.Stop);
            Assert.True(thread.Join(Patience), "the loop did not stop");
        }

        var invalid = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("thread", invalid.Message, StringComparison.OrdinalIgnoreCase);
    }
}

public sealed class DebugModeEpollTests : DebugModeTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class DebugModePortableTests : DebugModeTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
