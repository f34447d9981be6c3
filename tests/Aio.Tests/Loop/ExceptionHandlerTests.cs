using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Aio.Tests.Loop;

/// <summary>
/// The exception handler (docs/design.md, the loop contract): a callback's exception never stops the
/// loop; it reaches the handler with a context; a throwing custom handler falls back to the
/// default one, which logs through <see cref="ILogger"/>.
/// </summary>
public abstract class ExceptionHandlerTests : LoopTestBase
{
    [Fact]
    public void CallSoon_CallbackThrows_LaterCallbacksInSameAndNextIterationsStillRun()
    {
        EventLoop loop = NewLoop();
        var log = new List<string>();
        loop.CallSoon(() =>
        {
            log.Add("a");
            loop.CallSoon(() =>
            {
                log.Add("next iteration");
                loop.Stop();
            });
            throw new InvalidOperationException("boom");
        });
        loop.CallSoon(() => log.Add("b"));

        loop.RunForever();

        Assert.Equal(["a", "b", "next iteration"], log);
        ExceptionContext context = Assert.Single(TakeErrors());
        Assert.Equal("boom", context.Exception?.Message);
    }

    [Fact]
    public void RunForever_EveryKindOfCallbackThrows_LoopKeepsRunningAndReportsEach()
    {
        EventLoop loop = NewVirtualLoop(out _);
        bool last = false;
        loop.CallSoon(() => throw new InvalidOperationException("soon"));
        loop.CallSoon(static _ => throw new InvalidOperationException("soon state"), null);
        loop.CallSoonThreadSafe(() => throw new InvalidOperationException("posted"));
        loop.CallSoonThreadSafe(static _ => throw new InvalidOperationException("posted state"), null);
        loop.CallLater(TimeSpan.FromSeconds(1), () => throw new InvalidOperationException("timer"));
        loop.CallLater(TimeSpan.FromSeconds(2), static _ => throw new InvalidOperationException("timer state"), null);
        loop.CallLater(TimeSpan.FromSeconds(3), () =>
        {
            last = true;
            loop.Stop();
        });

        loop.RunForever();

        Assert.True(last);
        Assert.Equal(
            ["soon", "soon state", "posted", "posted state", "timer", "timer state"],
            TakeErrors().Select(context => context.Exception!.Message));
    }

    [Fact]
    public void CallSoon_ActionThrows_ContextHasMessageExceptionAndHandle()
    {
        EventLoop loop = NewLoop();
        var error = new InvalidOperationException("boom");
        Handle handle = loop.CallSoon(() => throw error);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        ExceptionContext context = Assert.Single(TakeErrors());
        Assert.Same(error, context.Exception);
        Assert.Same(handle, context.Handle);
        Assert.Null(context.Callback);
        Assert.False(string.IsNullOrWhiteSpace(context.Message));
        Assert.Contains("callback", context.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void CallSoon_StateCallbackThrows_ContextHasMessageExceptionAndCallback()
    {
        EventLoop loop = NewLoop();
        var error = new InvalidOperationException("boom");
        Action<object?> callback = static state => throw (Exception)state!;
        loop.CallSoon(callback, error);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        ExceptionContext context = Assert.Single(TakeErrors());
        Assert.Same(error, context.Exception);
        Assert.Null(context.Handle);
        Assert.Same(callback, context.Callback);
        Assert.False(string.IsNullOrWhiteSpace(context.Message));
    }

    [Fact]
    public void CallLater_TimerThrows_ContextHasTheTimerHandle()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var error = new InvalidOperationException("boom");
        TimerHandle timer = loop.CallLater(TimeSpan.FromSeconds(5), () => throw error);
        loop.CallLater(TimeSpan.FromSeconds(6), loop.Stop);

        loop.RunForever();

        ExceptionContext context = Assert.Single(TakeErrors());
        Assert.Same(error, context.Exception);
        Assert.Same(timer, context.Handle);
    }

    [Fact]
    public void CallSoonThreadSafe_ActionThrows_ContextHasTheReturnedHandle()
    {
        EventLoop loop = NewLoop();
        var error = new InvalidOperationException("boom");
        Handle handle = loop.CallSoonThreadSafe(() => throw error);
        loop.CallSoonThreadSafe(loop.Stop);

        loop.RunForever();

        ExceptionContext context = Assert.Single(TakeErrors());
        Assert.Same(error, context.Exception);
        Assert.Same(handle, context.Handle);
    }

    [Fact]
    public void SetExceptionHandler_Custom_ReceivesLoopAndContextOnLoopThread()
    {
        EventLoop loop = NewLoop();
        var error = new InvalidOperationException("boom");
        var seen = new List<(EventLoop Loop, ExceptionContext Context, bool OnLoopThread)>();
        loop.SetExceptionHandler((l, c) => seen.Add((l, c, EventLoop.TryGetRunningLoop() == loop)));
        loop.CallSoon(() => throw error);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        var (handlerLoop, context, onLoopThread) = Assert.Single(seen);
        Assert.Same(loop, handlerLoop);
        Assert.Same(error, context.Exception);
        Assert.True(onLoopThread);
    }

    [Fact]
    public void GetExceptionHandler_AfterSet_ReturnsSameHandlerAndNullRestoresDefault()
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend, LoggerFactory = factory });
        int customCalls = 0;
        ExceptionHandler custom = (_, _) => customCalls++;

        Assert.Null(loop.GetExceptionHandler());
        loop.SetExceptionHandler(custom);
        Assert.Same(custom, loop.GetExceptionHandler());
        loop.SetExceptionHandler(null);
        Assert.Null(loop.GetExceptionHandler());

        var error = new InvalidOperationException("after reset");
        loop.CallSoon(() => throw error);
        loop.CallSoon(loop.Stop);
        loop.RunForever();

        Assert.Equal(0, customCalls);
        LogEntry entry = Assert.Single(recorder.Entries);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Same(error, entry.Exception);
    }

    [Fact]
    public void CallExceptionHandler_CustomHandlerThrows_DefaultHandlerLogsFailureAndOriginalAtError()
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend, LoggerFactory = factory });
        var handlerFailure = new InvalidOperationException("the handler broke");
        var original = new InvalidOperationException("the callback broke");
        int handlerCalls = 0;
        loop.SetExceptionHandler((_, _) =>
        {
            handlerCalls++;
            throw handlerFailure;
        });
        bool later = false;
        loop.CallSoon(() => throw original);
        loop.CallSoon(() => later = true);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        Assert.True(later, "the loop stopped running callbacks after the handler threw");
        Assert.Equal(1, handlerCalls);
        IReadOnlyList<LogEntry> entries = recorder.Entries;
        Assert.Equal(2, entries.Count);
        Assert.All(entries, entry => Assert.Equal(LogLevel.Error, entry.Level));
        Assert.Contains(entries, entry => ReferenceEquals(entry.Exception, handlerFailure));
        Assert.Contains(entries, entry => ReferenceEquals(entry.Exception, original));
    }

    [Fact]
    public void CallExceptionHandler_CustomContext_ReachesHandlerAsIs()
    {
        EventLoop loop = NewLoop();
        var future = new object();
        var context = new ExceptionContext("custom report", new InvalidOperationException("x")) { Future = future };

        loop.CallExceptionHandler(context);

        ExceptionContext received = Assert.Single(TakeErrors());
        Assert.Same(context, received);
        Assert.Equal("custom report", received.Message);
        Assert.Same(future, received.Future);
    }

    [Fact]
    public void CallExceptionHandler_NoCustomHandler_DefaultLogsContextMessage()
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend, LoggerFactory = factory });

        loop.CallExceptionHandler(new ExceptionContext("something only the handler knows"));

        LogEntry entry = Assert.Single(recorder.Entries);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Contains("something only the handler knows", entry.Message, StringComparison.Ordinal);
        Assert.Null(entry.Exception);
    }

    [Fact]
    public void CallExceptionHandler_NullContext_ThrowsArgumentNullException()
    {
        EventLoop loop = NewLoop();

        Assert.Throws<ArgumentNullException>(() => loop.CallExceptionHandler(null!));
    }

    [Fact]
    public void DefaultExceptionHandler_WithLoggerFactory_LogsErrorWithMessageAndException()
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend, LoggerFactory = factory });
        var error = new InvalidOperationException("boom");

        loop.DefaultExceptionHandler(new ExceptionContext("default handler message", error));

        LogEntry entry = Assert.Single(recorder.Entries);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Same(error, entry.Exception);
        Assert.Contains("default handler message", entry.Message, StringComparison.Ordinal);
        Assert.StartsWith("Aio", entry.Category, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultExceptionHandler_ContextWithHandle_LogMentionsTheHandle()
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend, LoggerFactory = factory });
        loop.CallSoon(NamedFailingCallback);
        loop.CallSoon(loop.Stop);

        loop.RunForever();

        LogEntry entry = Assert.Single(recorder.Entries);
        Assert.Contains(nameof(NamedFailingCallback), entry.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(entry.Exception);
    }

    [Fact]
    public void DefaultExceptionHandler_LoggerThrows_DoesNotThrow()
    {
        using var recorder = new LoopLogRecorder { ThrowOnLog = true };
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions { Backend = Backend, LoggerFactory = factory });
        bool later = false;
        loop.CallSoon(() => throw new InvalidOperationException("boom"));
        loop.CallSoon(() => later = true);
        loop.CallSoon(loop.Stop);

        loop.DefaultExceptionHandler(new ExceptionContext("direct"));
        loop.RunForever();

        Assert.True(later);
        Assert.True(recorder.Attempts >= 2, "the logger was never called");
    }

    [Fact]
    public void DefaultExceptionHandler_NullContext_ThrowsArgumentNullException()
    {
        EventLoop loop = NewLoop();

        Assert.Throws<ArgumentNullException>(() => loop.DefaultExceptionHandler(null!));
    }

    private static void NamedFailingCallback() => throw new InvalidOperationException("named");
}

public sealed class ExceptionHandlerEpollTests : ExceptionHandlerTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class ExceptionHandlerPortableTests : ExceptionHandlerTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}

/// <summary>One log call seen by <see cref="LoopLogRecorder"/>.</summary>
internal sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

/// <summary>
/// A logger provider that records every entry (thread-safe), for tests of what the loop logs.
/// With <see cref="ThrowOnLog"/> every log call throws instead.
/// </summary>
internal sealed class LoopLogRecorder : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private int _attempts;

    public bool ThrowOnLog { get; init; }

    /// <summary>How many log calls reached this provider, recorded or not.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>The entries so far, in the order they were logged.</summary>
    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    /// <summary>A factory whose only provider is this recorder, at every level.</summary>
    public ILoggerFactory CreateFactory() => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(LogLevel.Trace);
        builder.AddProvider(this);
    });

    public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Recorder(LoopLogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Interlocked.Increment(ref owner._attempts);
            if (owner.ThrowOnLog)
            {
                throw new InvalidOperationException("this logger always fails");
            }

            owner._entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
        }
    }
}
