using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Aio.Hosting;

/// <summary>Settings for <see cref="Runner.Run(Func{Task}, RunnerOptions?)"/> [aiorun.run's keyword arguments].</summary>
public sealed class RunnerOptions
{
    /// <summary>
    /// Stop (and shut down) as soon as main completes, as <c>asyncio.run</c> does. Default false:
    /// keep running after main returns until a signal or <see cref="EventLoop.Stop"/>, as aiorun does.
    /// </summary>
    public bool StopWhenMainCompletes { get; init; }

    /// <summary>
    /// A loop to run on instead of a new one [aiorun.run(loop=)]: it must not be running or closed,
    /// and the runner closes it at the end, as aiorun does. Mutually exclusive with
    /// <see cref="Backend"/> and <see cref="TimeProvider"/> (which configure a new loop: make your
    /// own loop with them and pass it in), and with <see cref="StopOnUnhandledErrors"/> when the loop
    /// already has a custom exception handler (all exceptions are handled there). Default null.
    /// </summary>
    public EventLoop? Loop { get; init; }

    /// <summary>The loop's backend [use_uvloop]: epoll by default on Linux, portable on request.</summary>
    public LoopBackend Backend { get; init; }

    /// <summary>
    /// Stop the loop on the first error that reaches the loop's exception handler
    /// [stop_on_unhandled_errors]; after shutdown the error is logged and the exit code is 1.
    /// </summary>
    public bool StopOnUnhandledErrors { get; init; }

    /// <summary>
    /// Replaces what a stop signal does [shutdown_handler]: called on the loop thread with the loop.
    /// Default: log "Stopping the loop" and stop it.
    /// </summary>
    public Action<EventLoop>? ShutdownHandler { get; init; }

    /// <summary>
    /// Runs on the loop after it stopped and before pending tasks are cancelled [shutdown_callback].
    /// If it throws, shutdown goes on and the exit code is 1.
    /// </summary>
    public Func<EventLoop, Task>? ShutdownCallback { get; init; }

    /// <summary>The default executor to install [executor]; the runner shuts it down. Default: the .NET thread pool.</summary>
    public Executor? Executor { get; init; }

    /// <summary>When set (and <see cref="Executor"/> is not), a <see cref="WorkerThreadExecutor"/> with this many workers [executor_workers].</summary>
    public int? ExecutorWorkers { get; init; }

    /// <summary>
    /// How long shutdown waits for cancelled tasks, and then for the executor [timeout_task_shutdown].
    /// Default 60 s; <see cref="Timeout.InfiniteTimeSpan"/> waits without limit.
    /// </summary>
    public TimeSpan TaskShutdownTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The signals that stop the loop; a second one forces an immediate exit. Default: SIGINT and SIGTERM.</summary>
    public IReadOnlyList<PosixSignal> StopSignals { get; init; } = [PosixSignal.SIGINT, PosixSignal.SIGTERM];

    /// <summary>Where the runner and its loop log. Default: standard error, shutdown steps included.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The loop's clock. Default: the system clock.</summary>
    public TimeProvider? TimeProvider { get; init; }
}
