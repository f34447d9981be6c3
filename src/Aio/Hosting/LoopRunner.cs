// A reusable runner [asyncio.Runner]: one loop, created on first use, on which several mains run
// one after another (each with RunUntilComplete), closed once.
//
// States, as asyncio's: created → initialized (the first Run or GetLoop makes the loop, current for
// this thread unless a loop factory made it) → closed (Close cancelled every pending task and ran
// the loop until they finished, shut the default executor down, gave up the current-loop slot and
// closed the loop). Run and GetLoop on a closed runner throw "Runner is closed"; Close again does
// nothing. As in asyncio, closing a runner that never made its loop leaves it usable.
//
// Unlike Runner.Run (aiorun), this installs no signal handlers and keeps no loop running between
// mains: tasks a main leaves pending run again only during the next main (or are cancelled at Close).
namespace Aio.Hosting;

/// <summary>
/// Runs several mains on one loop, then closes it once [asyncio.Runner]. Use it with <c>using</c>:
/// <code>
/// using var runner = new LoopRunner();
/// runner.Run(async () => await SetUpAsync());
/// int answer = runner.Run(async () => await ComputeAsync());
/// </code>
/// Not thread-safe: use it from one thread at a time.
/// </summary>
public sealed class LoopRunner : IDisposable
{
    /// <summary>How long Close waits for the default executor [asyncio's THREAD_JOIN_TIMEOUT].</summary>
    private static readonly TimeSpan ExecutorShutdownTimeout = TimeSpan.FromSeconds(300);

    private readonly Func<EventLoop>? _loopFactory;
    private readonly EventLoopOptions? _options;
    private EventLoop? _loop;
    private bool _setCurrent;
    private RunnerState _state;

    /// <summary>
    /// A runner whose loop will be <c>new EventLoop(options)</c>, made current for the calling thread
    /// while the runner is open [asyncio.Runner(debug=)].
    /// </summary>
    /// <param name="options">The loop's options (backend, debug, clock); null for defaults.</param>
    public LoopRunner(EventLoopOptions? options = null) => _options = options;

    /// <summary>
    /// A runner whose loop <paramref name="loopFactory"/> makes [asyncio.Runner(loop_factory=)]; that
    /// loop is not made current (as asyncio's). The runner closes it.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="loopFactory"/> is null.</exception>
    public LoopRunner(Func<EventLoop> loopFactory)
    {
        ArgumentNullException.ThrowIfNull(loopFactory);
        _loopFactory = loopFactory;
    }

    /// <summary>Whether <see cref="Close"/> has closed the runner (and its loop).</summary>
    public bool IsClosed => _state == RunnerState.Closed;

    /// <summary>The runner's loop, made now if this is the first use [runner.get_loop()].</summary>
    /// <exception cref="InvalidOperationException">The runner is closed; or the loop factory returned null or a closed loop.</exception>
    public EventLoop GetLoop() => Initialize();

    /// <summary>
    /// Runs <paramref name="main"/> as the task "main" until it completes and rethrows its exception
    /// [runner.run(coro)]. Tasks it leaves pending stay pending until the next run or <see cref="Close"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="main"/> is null.</exception>
    /// <exception cref="InvalidOperationException">A loop runs on this thread ("cannot be called from a running event loop"), or the runner is closed.</exception>
    public void Run(Func<Task> main)
    {
        ArgumentNullException.ThrowIfNull(main);
        EventLoop loop = PrepareRun();
        loop.RunUntilComplete(loop.CreateTask(main, "main"));
    }

    /// <summary>As <see cref="Run(Func{Task})"/>, returning main's result.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="main"/> is null.</exception>
    /// <exception cref="InvalidOperationException">A loop runs on this thread, or the runner is closed.</exception>
    public T Run<T>(Func<Task<T>> main)
    {
        ArgumentNullException.ThrowIfNull(main);
        EventLoop loop = PrepareRun();
        return loop.RunUntilComplete(loop.CreateTask(main, "main"));
    }

    /// <summary>
    /// Closes the runner [runner.close()]: cancels every pending task of its loop and runs the loop
    /// until they finish (a task that fails instead is reported to the loop's exception handler as
    /// "unhandled exception during LoopRunner.Close() shutdown"), shuts the default executor down (up to 300 s),
    /// clears the thread's current loop if the runner set it, and closes the loop. Afterwards
    /// <see cref="Run(Func{Task})"/> and <see cref="GetLoop"/> throw. Idempotent; a runner that never
    /// made its loop has nothing to close and stays usable, as asyncio's.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from inside one of the runner's mains (the loop is running).</exception>
    public void Close()
    {
        if (_state != RunnerState.Initialized)
        {
            return;
        }

        EventLoop loop = _loop!;
        if (loop.IsRunning)
        {
            throw new InvalidOperationException("The runner's loop is running: close the runner after Run returns, not from inside a main.");
        }

        try
        {
            CancelAllTasks(loop);
            loop.RunUntilComplete(loop.ShutdownDefaultExecutorAsync(ExecutorShutdownTimeout));
        }
        finally
        {
            if (_setCurrent)
            {
                EventLoop.SetEventLoop(null);
            }

            loop.Close();
            _loop = null;
            _state = RunnerState.Closed;
        }
    }

    /// <summary>Same as <see cref="Close"/> (for <c>using</c>).</summary>
    public void Dispose() => Close();

    /// <inheritdoc />
    public override string ToString() => $"<LoopRunner {_state.ToString().ToLowerInvariant()}>";

    private EventLoop PrepareRun()
    {
        if (EventLoop.TryGetRunningLoop() is not null)
        {
            throw new InvalidOperationException("LoopRunner.Run cannot be called from a running event loop: await the work instead.");
        }

        return Initialize();
    }

    private EventLoop Initialize()
    {
        if (_state == RunnerState.Closed)
        {
            throw new InvalidOperationException("Runner is closed: create a new LoopRunner.");
        }

        if (_state == RunnerState.Initialized)
        {
            return _loop!;
        }

        if (_loopFactory is null)
        {
            _loop = new EventLoop(_options);
            EventLoop.SetEventLoop(_loop);
            _setCurrent = true;
        }
        else
        {
            EventLoop made = _loopFactory() ?? throw new InvalidOperationException("The loop factory returned null: it must return a new EventLoop.");
            if (made.IsClosed)
            {
                throw new InvalidOperationException("The loop factory returned a closed loop: it must return a new EventLoop.");
            }

            _loop = made;
        }

        _state = RunnerState.Initialized;
        return _loop;
    }

    private static void CancelAllTasks(EventLoop loop)
    {
        Future[] pending = [.. LoopTask.AllTasks(loop).Cast<Future>()];
        if (pending.Length == 0)
        {
            return;
        }

        foreach (Future task in pending)
        {
            task.Cancel();
        }

        loop.RunUntilComplete(LoopTask.Gather(pending, returnExceptions: true));
        foreach (Future task in pending)
        {
            if (!task.IsCancelled && task.GetException() is { } error)
            {
                loop.CallExceptionHandler(new ExceptionContext("unhandled exception during LoopRunner.Close() shutdown", error) { Future = task });
            }
        }
    }

    private enum RunnerState
    {
        Created,
        Initialized,
        Closed,
    }
}
