using Microsoft.Extensions.Logging;

namespace Aio;

/// <summary>Which I/O multiplexer a loop uses (the <c>use_uvloop</c> choice of aiorun).</summary>
public enum LoopBackend
{
    /// <summary>Epoll on Linux, portable elsewhere.</summary>
    Default,

    /// <summary>The loop thread waits in <c>epoll_wait</c> itself (Linux only).</summary>
    Epoll,

    /// <summary>No native calls; runs wherever .NET runs.</summary>
    Portable,
}

/// <summary>Settings for a new <see cref="EventLoop"/>. Every property has a sensible default.</summary>
public sealed class EventLoopOptions
{
    /// <summary>The I/O backend. Default: epoll on Linux, portable elsewhere.</summary>
    public LoopBackend Backend { get; init; }

    /// <summary>
    /// The loop's clock. Default: <see cref="TimeProvider.System"/>. Pass a <see cref="VirtualClock"/>
    /// to run timers in virtual time. Any other provider drives the loop's timers too: the loop asks it
    /// for a timer (<see cref="TimeProvider.CreateTimer"/>) at its earliest deadline and wakes when that
    /// fires, so a fake provider advanced by hand (Microsoft.Extensions.TimeProvider.Testing's
    /// <c>FakeTimeProvider</c>) fires loop timers with no real waiting.
    /// </summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>
    /// Debug mode [loop.set_debug]: wrong-thread checks, slow-callback logging, creation stack traces
    /// on handles. Default: on when the environment variable <c>AIO_DEBUG</c> is <c>1</c>.
    /// </summary>
    public bool? Debug { get; init; }

    /// <summary>Where the default exception handler and debug mode log. Default: errors to standard error.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// In debug mode, callbacks that run longer than this are logged. Default: 100 ms;
    /// <see cref="Timeout.InfiniteTimeSpan"/> logs none.
    /// </summary>
    public TimeSpan SlowCallbackDuration { get; init; } = TimeSpan.FromMilliseconds(100);

    internal static LoopBackend Resolve(LoopBackend backend) =>
        backend != LoopBackend.Default ? backend : OperatingSystem.IsLinux() ? LoopBackend.Epoll : LoopBackend.Portable;
}
