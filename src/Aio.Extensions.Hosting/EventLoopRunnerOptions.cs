using Aio.Hosting;

namespace Aio.Extensions.Hosting;

/// <summary>
/// Settings of the event loop that <c>services.AddEventLoopRunner(...)</c> runs for the Generic
/// Host's lifetime [aiorun.run's keyword arguments, as <see cref="RunnerOptions"/>]. Bindable from
/// configuration (section <c>Aio:Runner</c> by default, see <see cref="EventLoopRunnerConfiguration"/>)
/// and validated when the host starts. Stop signals are the host's (<c>ConsoleLifetime</c> turns
/// SIGINT and SIGTERM into the host stopping), so there is no signal setting here.
/// </summary>
public sealed class EventLoopRunnerOptions
{
    /// <summary>The loop's backend [use_uvloop]: epoll by default on Linux, portable on request.</summary>
    public LoopBackend Backend { get; set; }

    /// <summary>
    /// Stop the host (and shut the loop down) as soon as the main task completes, as <c>asyncio.run</c>
    /// does. Default false: keep running after main returns until the host stops, as aiorun does.
    /// </summary>
    public bool StopWhenMainCompletes { get; set; }

    /// <summary>
    /// Stop the loop, and the host, on the first error that reaches the loop's exception handler
    /// [stop_on_unhandled_errors]; the exit code is then 1.
    /// </summary>
    public bool StopOnUnhandledErrors { get; set; }

    /// <summary>
    /// How long shutdown waits for cancelled tasks, and then for the executor [timeout_task_shutdown].
    /// Default 60 s. The host's own <c>HostOptions.ShutdownTimeout</c> (30 s by default) bounds how long
    /// the host waits for the whole shutdown; give it at least twice this value to see every step.
    /// </summary>
    public TimeSpan TaskShutdownTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>When set, the loop's default executor is a <see cref="WorkerThreadExecutor"/> with this many workers [executor_workers]; otherwise the .NET thread pool.</summary>
    public int? ExecutorWorkers { get; set; }

    /// <summary>
    /// Runs on the loop after it stopped and before pending tasks are cancelled [shutdown_callback]
    /// (code only; not read from configuration). If it throws, shutdown goes on and the exit code is 1.
    /// </summary>
    public Func<EventLoop, Task>? ShutdownCallback { get; set; }
}
