// The shared loop: score.asyncio's ConfiguredAsyncioModule. One EventLoop, run in a background
// thread of its own for as long as anyone holds a loop token, so that unrelated parts of a
// synchronous application (request handlers, a desktop UI, a console tool) can use one loop.
//
// Lifecycle. Everything below is decided under one monitor (_gate) and never waits while holding
// it, except through Monitor.Wait (which releases it). The phases:
//
//   Idle ──first StartLoop──▶ Starting ──loop thread runs its first callback──▶ Running
//   Running ──last token released──▶ Draining ──tasks done, timeout, or cancel──▶ Stopping ──thread left RunForever──▶ Idle
//   Draining ──StartLoop (a new token)──▶ Running   (the drain is abandoned; the loop never stopped)
//
//   * StartLoop in Idle creates the thread and waits (Monitor.Wait) until a callback posted before
//     RunForever has run on it: when StartLoop returns, Loop.IsRunning is true. Other StartLoop
//     callers meanwhile wait for the same start. In Stopping, StartLoop waits for Idle (the stop
//     is already posted and cannot be taken back, but it is imminent) and then starts again.
//   * The last release moves to Draining and returns a stop sequence (StopAfterReleaseAsync) that
//     runs outside the monitor: a LoopDrain on the loop thread watches the pending tasks (asyncio's
//     all_tasks, re-read whenever the watched ones have finished, so tasks spawned meanwhile count)
//     until none is left, the stop timeout expires, or the caller's token is cancelled. The tasks
//     are never cancelled. Then, if no StartLoop took a token meanwhile (the drain is still the
//     current one), the phase becomes Stopping and a stop callback is posted; the release returns
//     when the loop thread has left RunForever. Tasks still pending stay where they are: awaits
//     that complete while the loop is stopped queue their continuations in the loop's inbox, and
//     they run at the next start, as score.asyncio documents.
//   * The loop thread loops on RunForever until our own stop callback has run (LoopRun.StopDelivered),
//     so a stray Loop.Stop() from user code does not stop a loop that tokens keep alive, and no
//     stop callback can outlive its run and stop the next one. When it ends it sets Idle itself.
//   * A release on the loop thread cannot wait for the loop to stop (it would wait for itself):
//     the stop sequence then proceeds in the background, driven by loop callbacks and the thread
//     pool, and the release returns at once. A StartLoop on the loop thread during Stopping would
//     have to wait for itself too, and throws instead.
//   * Tokens are counted, not tracked: each token releases once (an interlocked flag), so
//     releasing twice is harmless; Dispose resets the count, and releases after it do nothing.
using Microsoft.Extensions.Logging;

namespace Aio.Hosting;

/// <summary>
/// One event loop shared by a whole application and run in a background thread of its own while
/// anyone holds a <see cref="LoopToken"/> [score.asyncio's ConfiguredAsyncioModule]. Take a token
/// with <see cref="StartLoop"/> (the loop is running when it returns), release it with
/// <see cref="LoopToken.Release"/>, <see cref="ReleaseLoop"/> or <c>using</c>; the last release
/// stops the loop after its pending tasks finish (up to <see cref="StopTimeout"/>). Call into the
/// loop from other threads with <see cref="Await{T}(Func{Task{T}}, CancellationToken)"/>,
/// <see cref="AwaitMultiple{T}(IEnumerable{Func{Task{T}}}, CancellationToken)"/> and their async
/// variants, or with the loop's thread-safe methods (<see cref="EventLoop.CallSoonThreadSafe(Action)"/>,
/// <see cref="EventLoop.RunThreadSafe{T}(Func{Task{T}}, CancellationToken)"/>).
/// </summary>
/// <remarks>
/// Every member is thread-safe. Do not run <see cref="Loop"/> yourself (<see cref="EventLoop.RunForever"/>,
/// <see cref="EventLoop.RunUntilComplete(Func{Task})"/>) or close it: the shared loop owns its
/// lifecycle, and a <see cref="EventLoop.Stop"/> from loop code is ignored while tokens are held.
/// The loop thread is a background thread: a process whose other threads have ended exits even
/// if tokens are still held (pending tasks are then abandoned).
/// </remarks>
public sealed partial class SharedEventLoop : IDisposable
{
    /// <summary>The longest finite wait <see cref="Task.WaitAsync(TimeSpan)"/> accepts, rounded down.</summary>
    private static readonly TimeSpan LongestWait = TimeSpan.FromMilliseconds(int.MaxValue);

    private static readonly Action<ILogger, int, Exception?> LogStoppingWithPendingTasks =
        LoggerMessage.Define<int>(
            LogLevel.Information,
            new EventId(20, "SharedLoopStoppingWithPendingTasks"),
            "Stopping the shared loop with {Count} pending task(s) left; they resume when the loop starts again");

    private readonly object _gate = new();
    private Phase _phase;
    private int _tokens;
    private LoopRun? _run;
    private LoopDrain? _drain;
    private bool _disposed;

    /// <summary>
    /// Creates the shared loop and its <see cref="EventLoop"/>, neither running nor closed; no thread
    /// starts until the first <see cref="StartLoop"/>.
    /// </summary>
    /// <param name="options">Settings; null means all defaults. The values are copied.</param>
    /// <param name="loggerFactory">Where the loop logs (its exception handler's default, debug mode, the stop sequence); null: errors to standard error.</param>
    /// <exception cref="PlatformNotSupportedException">The epoll backend was requested on a system without epoll.</exception>
    /// <exception cref="InvalidOperationException">
    /// <see cref="SharedEventLoopOptions.UseGlobalLoop"/> is on but another loop is already
    /// <see cref="EventLoopPolicy.GlobalLoop"/>: dispose the shared loop that installed it, or clear it.
    /// </exception>
    public SharedEventLoop(SharedEventLoopOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        options ??= new SharedEventLoopOptions();
        StopTimeout = options.StopTimeout;
        Loop = new EventLoop(new EventLoopOptions { Backend = options.Backend, LoggerFactory = loggerFactory });
        if (options.UseGlobalLoop)
        {
            if (!EventLoopPolicy.TryInstallGlobalLoop(Loop))
            {
                Loop.Close();
                throw new InvalidOperationException(
                    "UseGlobalLoop is on, but another loop is already EventLoopPolicy.GlobalLoop (another SharedEventLoop with UseGlobalLoop?). " +
                    "Only one loop can be global: dispose the other shared loop first, clear EventLoopPolicy.GlobalLoop, or turn UseGlobalLoop off.");
            }

            IsGlobalLoop = true;
        }
    }

    private enum Phase
    {
        Idle,
        Starting,
        Running,
        Draining,
        Stopping,
    }

    /// <summary>
    /// The shared loop [ConfiguredAsyncioModule.loop]. Use its thread-safe members from other
    /// threads; never run or close it yourself.
    /// </summary>
    public EventLoop Loop { get; }

    /// <summary>How long the last release waits for pending tasks (null: without limit; zero: not at all).</summary>
    public TimeSpan? StopTimeout { get; }

    /// <summary>Whether this loop installed itself as <see cref="EventLoopPolicy.GlobalLoop"/> (until disposed).</summary>
    public bool IsGlobalLoop { get; }

    /// <summary>How many tokens are held (taken and not yet released). Thread-safe; a snapshot.</summary>
    public int TokenCount
    {
        get
        {
            lock (_gate)
            {
                return _tokens;
            }
        }
    }

    /// <summary>Whether the last release is waiting for pending tasks (for tests). Thread-safe.</summary>
    internal bool IsDraining
    {
        get
        {
            lock (_gate)
            {
                return _phase == Phase.Draining;
            }
        }
    }

    /// <summary>Whether the calling thread is the one running <see cref="Loop"/>. Thread-safe.</summary>
    public bool IsLoopThread => Loop.IsOnLoopThread;

    /// <summary>
    /// Takes a loop token [ConfiguredAsyncioModule.start_loop]: starts the loop thread if the loop
    /// is not running (the first token, or the first after a full stop), and returns once the loop
    /// is running. If the last token's release is still waiting for pending tasks, the loop simply
    /// keeps running and that release returns without stopping it. Tasks left pending by the
    /// previous stop resume. Thread-safe.
    /// </summary>
    /// <returns>A token; release it exactly once (further releases are harmless no-ops).</returns>
    /// <exception cref="ObjectDisposedException">The shared loop was disposed.</exception>
    /// <exception cref="InvalidOperationException">
    /// Called on the loop thread while the loop is stopping (it would wait for itself); or
    /// <see cref="Loop"/> was closed by someone else; or the loop thread failed to start.
    /// </exception>
    public LoopToken StartLoop()
    {
        lock (_gate)
        {
            while (true)
            {
                ThrowIfDisposed();
                switch (_phase)
                {
                    case Phase.Running:
                        _tokens++;
                        return new LoopToken(this);
                    case Phase.Draining:
                        _drain!.Abandon();
                        _drain = null;
                        _phase = Phase.Running;
                        _tokens++;
                        return new LoopToken(this);
                    case Phase.Stopping when IsLoopThread:
                        throw new InvalidOperationException(
                            "The shared loop is stopping (its last token was released) and cannot be restarted from its own thread, " +
                            "which would have to wait for itself to stop. Take the new token before releasing the last one, or from another thread.");
                    case Phase.Starting:
                    case Phase.Stopping:
                        Monitor.Wait(_gate);
                        break;
                    default:
                        StartThread();
                        break;
                }
            }
        }
    }

    /// <summary>
    /// Releases <paramref name="token"/> [ConfiguredAsyncioModule.release_loop]; same as
    /// <see cref="LoopToken.Release"/>. When it was the last token held, waits for the loop's
    /// pending tasks to finish (up to <see cref="StopTimeout"/>; they are never cancelled), stops
    /// the loop and returns once it has stopped — unless another thread takes a token meanwhile,
    /// in which case the loop keeps running and this returns. Releasing a token again does
    /// nothing. On the loop thread, the last release cannot wait for the loop to stop: the stop
    /// proceeds in the background and this returns at once. Thread-safe.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="token"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="token"/> belongs to another shared loop.</exception>
    public void ReleaseLoop(LoopToken token)
    {
        Task stopped = ReleaseLoopAsync(token, CancellationToken.None);
        if (!IsLoopThread)
        {
            stopped.GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Releases <paramref name="token"/> as <see cref="ReleaseLoop"/> does, without blocking: the
    /// returned task completes when the release is done (for the last token: when the loop has
    /// stopped). Cancelling <paramref name="cancellationToken"/> cuts the wait for pending tasks
    /// short — the loop then stops at once — and never faults the task. This is how a host honours
    /// its shutdown timeout. Awaiting it from code on the loop, when it releases the last token,
    /// resumes only when the loop starts again. Thread-safe.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="token"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="token"/> belongs to another shared loop.</exception>
    public Task ReleaseLoopAsync(LoopToken token, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (!ReferenceEquals(token.SharedLoop, this))
        {
            throw new ArgumentException("The token belongs to another SharedEventLoop; release it through that one (or through the token itself).", nameof(token));
        }

        if (!token.TryMarkReleased())
        {
            return Task.CompletedTask;
        }

        LoopDrain drain;
        LoopRun run;
        lock (_gate)
        {
            if (_disposed)
            {
                return Task.CompletedTask;
            }

            _tokens--;
            if (_tokens > 0 || _phase != Phase.Running)
            {
                return Task.CompletedTask;
            }

            run = _run!;
            drain = _drain = new LoopDrain(Loop);
            _phase = Phase.Draining;
        }

        return StopAfterReleaseAsync(run, drain, cancellationToken);
    }

    /// <summary>
    /// Stops the loop at once if it runs — without waiting for pending tasks, even if tokens are
    /// still held (their releases then do nothing) — closes <see cref="Loop"/>, and gives up
    /// <see cref="EventLoopPolicy.GlobalLoop"/> if this loop had it. Release your tokens first to
    /// let pending tasks finish. Idempotent. Thread-safe, but not from the loop thread.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called on the loop thread, which cannot wait for itself to stop.</exception>
    public void Dispose()
    {
        LoopRun? running;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            if (IsLoopThread)
            {
                throw new InvalidOperationException(
                    "A SharedEventLoop cannot be disposed from its own loop thread, which would have to wait for itself to stop; dispose it from another thread.");
            }

            _disposed = true;
            _tokens = 0;
            while (_phase == Phase.Starting)
            {
                Monitor.Wait(_gate);
            }

            running = _run;
            if (_phase is Phase.Running or Phase.Draining)
            {
                _drain?.Abandon();
                _drain = null;
                _phase = Phase.Stopping;
                PostStop(running!);
            }
        }

        running?.Exited.Task.GetAwaiter().GetResult();
        _disposing.Cancel();
        if (IsGlobalLoop)
        {
            EventLoopPolicy.UninstallGlobalLoop(Loop);
        }

        Loop.Close();
    }

    /// <inheritdoc />
    public override string ToString()
    {
        lock (_gate)
        {
            return $"<SharedEventLoop {_phase.ToString().ToLowerInvariant()} tokens={_tokens} backend={Loop.Backend}{(_disposed ? " disposed" : string.Empty)}>";
        }
    }

    /// <summary>Starts the loop thread (phase Idle, under the gate) and waits until it runs or fails.</summary>
    private void StartThread()
    {
        if (Loop.IsClosed)
        {
            throw new InvalidOperationException(
                "The shared loop's EventLoop was closed (someone called Loop.Close() or Loop.Dispose()); it cannot run again. " +
                "Create a new SharedEventLoop, and let Dispose() close the loop.");
        }

        var run = new LoopRun(this);
        _run = run;
        _phase = Phase.Starting;
        var thread = new Thread(static state => ((LoopRun)state!).Owner.RunThread((LoopRun)state!))
        {
            IsBackground = true,
            Name = "Aio shared loop",
        };
        thread.Start(run);
        while (!run.Started && !run.Ended)
        {
            Monitor.Wait(_gate);
        }

        if (!run.Started)
        {
            throw new InvalidOperationException(
                $"The shared loop's thread failed before the loop ran: {run.Failure?.Message}", run.Failure);
        }
    }

    /// <summary>The loop thread: runs the loop until our stop callback has run.</summary>
    private void RunThread(LoopRun run)
    {
        try
        {
            Loop.CallSoon(static state => ((LoopRun)state!).MarkStarted(), run);
            while (!run.StopDelivered)
            {
                Loop.RunForever();
            }
        }
        catch (Exception exception)
        {
            run.Failure = exception;
        }
        finally
        {
            lock (_gate)
            {
                run.Ended = true;
                if (ReferenceEquals(_run, run))
                {
                    _run = null;
                    _drain?.Abandon();
                    _drain = null;
                    _phase = Phase.Idle;
                }

                Monitor.PulseAll(_gate);
            }

            if (run.Failure is { } failure && run.Started && !Loop.IsClosed)
            {
                Loop.CallExceptionHandler(new ExceptionContext(
                    "The shared loop's thread failed and the loop stopped; the next StartLoop starts it again", failure));
            }

            run.Exited.TrySetResult();
        }
    }

    /// <summary>The last release's stop sequence: drain, then stop, unless a new token arrived meanwhile.</summary>
    private async Task StopAfterReleaseAsync(LoopRun run, LoopDrain drain, CancellationToken cancellationToken)
    {
        if (StopTimeout != TimeSpan.Zero && Loop.TryCallSoonThreadSafe(static state => ((LoopDrain)state!).Start(), drain))
        {
            TimeSpan wait = StopTimeout is { } timeout && timeout < LongestWait ? timeout : Timeout.InfiniteTimeSpan;
            await drain.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }

        lock (_gate)
        {
            if (!ReferenceEquals(_drain, drain))
            {
                // A StartLoop took a token while we waited (the loop keeps running), or Dispose or a
                // failed loop thread took over the stop.
                return;
            }

            _drain = null;
            drain.Abandon();
            _phase = Phase.Stopping;
            if (drain.Outstanding is > 0 and var left)
            {
                LogStoppingWithPendingTasks(Loop.Logger, left, null);
            }

            PostStop(run);
        }

        await run.Exited.Task.ConfigureAwait(false);
    }

    /// <summary>Posts the callback that ends <paramref name="run"/>; if the loop is closed the thread is ending anyway.</summary>
    private void PostStop(LoopRun run) => Loop.TryCallSoonThreadSafe(static state => ((LoopRun)state!).DeliverStop(), run);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>One run of the loop thread, from its start to its exit.</summary>
    private sealed class LoopRun(SharedEventLoop owner)
    {
        public SharedEventLoop Owner { get; } = owner;

        /// <summary>Completes when the thread has left <see cref="EventLoop.RunForever"/> for good.</summary>
        public TaskCompletionSource Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Set on the loop thread by our own stop callback: the thread may end.</summary>
        public volatile bool StopDelivered;

        /// <summary>The loop ran its first callback (written under the gate).</summary>
        public bool Started;

        /// <summary>The thread is ending (written under the gate).</summary>
        public bool Ended;

        public Exception? Failure;

        public void MarkStarted()
        {
            lock (Owner._gate)
            {
                Started = true;
                if (Owner._phase == Phase.Starting && ReferenceEquals(Owner._run, this))
                {
                    Owner._phase = Phase.Running;
                }

                Monitor.PulseAll(Owner._gate);
            }
        }

        public void DeliverStop()
        {
            StopDelivered = true;
            Owner.Loop.Stop();
        }
    }
}
