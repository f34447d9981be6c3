// The event loop: one thread that runs callbacks, timers, cross-thread posts and I/O readiness in
// a defined order (asyncio's BaseEventLoop). This file holds its state and lifetime; scheduling,
// running, I/O, signals, executors, policies and error handling live in the other EventLoop.*.cs
// files. The contract is in docs/design.md, "The loop contract".
//
// Ownership: everything here except the inbox, the closed flag and the backend's Wake belongs to
// the loop thread. While the loop runs, the owner is the running thread; while it does not run,
// whoever holds the loop may use it (asyncio's rule), and debug mode checks only running loops.
using Aio.Backends;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aio;

/// <summary>
/// An asyncio-style event loop [asyncio.AbstractEventLoop]. Create one with <c>new EventLoop()</c>
/// or <see cref="NewEventLoop"/>, schedule work with <see cref="CallSoon(Action)"/>,
/// <see cref="CallLater(TimeSpan, Action)"/> and friends, then drive it with
/// <see cref="RunForever"/> or <see cref="RunUntilComplete(Func{Task})"/>.
/// </summary>
/// <remarks>
/// Unless a member says it is thread-safe, call it on the thread running the loop, or on any one
/// thread while the loop is not running. Thread-safe members: <see cref="CallSoonThreadSafe(Action)"/>
/// and its try-variants, <see cref="IsClosed"/>, <see cref="IsRunning"/>, <see cref="Time"/>.
/// </remarks>
public sealed partial class EventLoop : IDisposable, IIoReadySink
{
    private readonly ReadyQueue _ready = new();
    private readonly TimerHeap _timers = new();
    private readonly Inbox _inbox;
    private readonly IoBackend _backend;
    private readonly TimeProvider _clock;
    private readonly VirtualClock? _virtualClock;
    private readonly double _secondsPerTick;
    private readonly ILoggerFactory _loggerFactory;
    private volatile bool _closed;
    private volatile int _threadId;
    private bool _stopping;
    private bool _debug;
    private TimeSpan _slowCallbackDuration;

    /// <summary>Creates a loop that is neither running nor closed.</summary>
    /// <param name="options">Settings; null means all defaults.</param>
    /// <exception cref="PlatformNotSupportedException">The epoll backend was requested on a system without epoll.</exception>
    public EventLoop(EventLoopOptions? options = null)
    {
        options ??= new EventLoopOptions();
        if (options.SlowCallbackDuration < TimeSpan.Zero && options.SlowCallbackDuration != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "SlowCallbackDuration must not be negative; use Timeout.InfiniteTimeSpan to log no callback as slow.");
        }

        Backend = EventLoopOptions.Resolve(options.Backend);
        _clock = options.TimeProvider ?? TimeProvider.System;
        _virtualClock = _clock as VirtualClock;
        _providerTimers = !ReferenceEquals(_clock, TimeProvider.System);
        _timestampOrigin = _providerTimers && _virtualClock is null ? _clock.GetTimestamp() : 0;
        _secondsPerTick = 1.0 / _clock.TimestampFrequency;
        ClockResolution = _secondsPerTick;
        _debug = options.Debug ?? Environment.GetEnvironmentVariable("AIO_DEBUG") == "1";
        SlowCallbackDuration = options.SlowCallbackDuration;
        _loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        Logger = options.LoggerFactory is null ? StandardErrorLogger.Instance : _loggerFactory.CreateLogger("Aio.EventLoop");
        _backend = Backend == LoopBackend.Epoll ? EpollBackend.Create() : new PortableBackend();
        _inbox = new Inbox(_backend.Wake);
        SynchronizationContext = new LoopSynchronizationContext(this);
        TaskScheduler = new LoopTaskScheduler(this);
        AttachClock();
    }

    /// <summary>The backend this loop runs on (never <see cref="LoopBackend.Default"/>).</summary>
    public LoopBackend Backend { get; }

    /// <summary>
    /// The context that is <see cref="SynchronizationContext.Current"/> while the loop runs: every
    /// <c>await</c> in code started on the loop resumes on the loop thread through it.
    /// <c>ConfigureAwait(false)</c> opts out and resumes on the thread pool.
    /// </summary>
    public SynchronizationContext SynchronizationContext { get; }

    /// <summary>A <see cref="System.Threading.Tasks.TaskScheduler"/> that runs tasks on the loop thread, one at a time.</summary>
    public TaskScheduler TaskScheduler { get; }

    /// <summary>The smallest time step of the loop's clock, in seconds; timers due within it fire together.</summary>
    public double ClockResolution { get; }

    /// <summary>
    /// In debug mode, callbacks slower than this are logged [loop.slow_callback_duration];
    /// <see cref="Timeout.InfiniteTimeSpan"/> logs none.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan SlowCallbackDuration
    {
        get => _slowCallbackDuration;
        set
        {
            if (value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "SlowCallbackDuration must not be negative; use Timeout.InfiniteTimeSpan to log no callback as slow.");
            }

            _slowCallbackDuration = value;
        }
    }

    /// <summary>
    /// Debug mode [loop.get_debug / set_debug]: non-thread-safe calls from a thread other than the
    /// running loop's throw, slow callbacks are logged, and handles record where they were created.
    /// </summary>
    public bool DebugEnabled
    {
        get => _debug;
        set => _debug = value;
    }

    /// <summary>Whether the loop is running [loop.is_running]. Thread-safe.</summary>
    public bool IsRunning => _threadId != 0;

    /// <summary>Whether <see cref="Close"/> was called [loop.is_closed]. Thread-safe.</summary>
    public bool IsClosed => _closed;

    /// <summary>The logger the loop reports through.</summary>
    internal ILogger Logger { get; }

    /// <summary>The loop's logger factory, for components that log on its behalf.</summary>
    internal ILoggerFactory LoggerFactory => _loggerFactory;

    /// <summary>
    /// The loop's current time in seconds [loop.time], from its monotonic clock. Only differences
    /// between values mean anything (with a provider other than the system clock or a
    /// <see cref="VirtualClock"/>, the loop counts from its creation). Thread-safe.
    /// </summary>
    public double Time() => (_clock.GetTimestamp() - _timestampOrigin) * _secondsPerTick;

    /// <summary>
    /// Closes the loop [loop.close]: drops pending callbacks and timers, removes signal handlers,
    /// releases the backend and shuts the default executor down without waiting. Idempotent and final.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is running; stop it first.</exception>
    public void Close()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("Cannot close a running event loop; call Stop() and let RunForever() return first.");
        }

        if (_closed)
        {
            return;
        }

        _closed = true;
        RemoveAllSignalHandlers();
        _ready.Clear();
        _timers.Clear();
        _inbox.Clear();
        _io.Clear();
        _ownedSockets.Clear();
        _backend.Dispose();
        DetachClock();
        ShutdownExecutorOnClose();
    }

    /// <summary>Same as <see cref="Close"/>.</summary>
    public void Dispose() => Close();

    /// <inheritdoc />
    public override string ToString() =>
        $"<EventLoop backend={_backend.Name} running={IsRunning} closed={IsClosed} debug={DebugEnabled}>";

    /// <summary>Throws when the loop is closed; every scheduling API calls it.</summary>
    internal void CheckClosed()
    {
        if (_closed)
        {
            throw new InvalidOperationException("Event loop is closed; create a new one with new EventLoop() or EventLoop.NewEventLoop().");
        }
    }

    /// <summary>In debug mode, throws when a running loop is used from another thread.</summary>
    internal void CheckThread(string operation)
    {
        if (!_debug)
        {
            return;
        }

        int owner = _threadId;
        if (owner != 0 && owner != Environment.CurrentManagedThreadId)
        {
            throw new InvalidOperationException(
                $"Non-thread-safe operation {operation} invoked on an event loop from a thread other than the one running it; " +
                "use CallSoonThreadSafe to hand work to the loop.");
        }
    }

    /// <summary>Whether the calling thread is the one running this loop.</summary>
    internal bool IsOnLoopThread => _threadId == Environment.CurrentManagedThreadId;

    /// <summary>Called by <see cref="TimerHandle.Cancel"/> for a timer still in the heap.</summary>
    internal void TimerCancelled() => _timers.OnCancelled();
}
