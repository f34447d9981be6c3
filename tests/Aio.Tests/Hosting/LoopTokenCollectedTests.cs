using System.Runtime.CompilerServices;
using Aio.Hosting;
using Microsoft.Extensions.Logging;

namespace Aio.Tests.Hosting;

/// <summary>score.asyncio's finalizer rule: a token collected while held is released, with a warning.</summary>
public sealed class LoopTokenCollectedTests
{
    [Fact]
    public void LoopToken_CollectedWithoutRelease_ReleasedWithWarningAndLoopStops()
    {
        var logger = new CapturingLoggerFactory();
        using var shared = new SharedEventLoop(null, logger);
        TakeAndDropToken(shared);
        Assert.True(shared.Loop.IsRunning);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        // allow-real-time: the release runs on the thread pool; wait for its effect, bounded.
        Assert.True(SpinWait.SpinUntil(() => !shared.Loop.IsRunning, TimeSpan.FromSeconds(10)), "the collected token was not released");
        Assert.Contains(logger.Messages, message => message.Contains("garbage-collected without being released", StringComparison.Ordinal));
    }

    [Fact]
    public void LoopToken_Released_NotReleasedAgainWhenCollected()
    {
        var logger = new CapturingLoggerFactory();
        using var shared = new SharedEventLoop(null, logger);
        LoopToken held = shared.StartLoop();
        ReleaseAndDrop(shared);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(shared.Loop.IsRunning); // the other token still holds it
        Assert.DoesNotContain(logger.Messages, message => message.Contains("garbage-collected", StringComparison.Ordinal));
        held.Release();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TakeAndDropToken(SharedEventLoop shared) => _ = shared.StartLoop();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ReleaseAndDrop(SharedEventLoop shared) => shared.StartLoop().Release();

    private sealed class CapturingLoggerFactory : ILoggerFactory, ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _messages = new();

        public IEnumerable<string> Messages => _messages;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => this;

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _messages.Enqueue(formatter(state, exception));
    }
}
