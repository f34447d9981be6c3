// The application runner: aiorun's run() and shutdown_waits_for() on an Aio loop.
//
// Run creates a loop, makes it current, starts main as a task named "main", installs the stop
// signals and runs the loop until something stops it: a signal, main completing (when asked to),
// an unhandled error (when asked to), or code calling Stop(). Then the shutdown sequence, each
// step logged with aiorun's words (RunSession holds it):
//   stop → shutdown callback → cancel every pending task except those ShutdownWaitsFor protects,
//   main first → run the loop until they all finish, or the task shutdown timeout expires (then
//   name each task that refused, and what it waits on) → shut the executor down within the same
//   timeout → dispose registered async resources, last registered first → close the loop.
//
// ShutdownWaitsFor runs its work as a separate task and hands the caller a Shield of it: the
// caller is cancelled at shutdown like everyone else, but the protected task is not cancelled, and
// shutdown waits for it (within the timeout) because it is still pending.
using System.Runtime.CompilerServices;

namespace Aio.Hosting;

/// <summary>
/// Runs an asyncio-style application with graceful shutdown [aiorun.run]. See
/// <see cref="Run(Func{Task}, RunnerOptions?)"/> for the sequence and <see cref="RunnerOptions"/>.
/// </summary>
public static class Runner
{
    private static readonly ConditionalWeakTable<EventLoop, ShutdownRegistry> Registries = new();

    /// <summary>
    /// Runs <paramref name="main"/> as the task "main" on a new loop, made current for this thread,
    /// and returns when the application has shut down [aiorun.run(main())]. The loop runs until a stop
    /// signal (SIGINT, SIGTERM by default), <see cref="EventLoop.Stop"/>, main completing (with
    /// <see cref="RunnerOptions.StopWhenMainCompletes"/>) or an unhandled error (with
    /// <see cref="RunnerOptions.StopOnUnhandledErrors"/>); then every pending task is cancelled and
    /// awaited, the executor is shut down and the loop closed. A second stop signal during shutdown
    /// exits the process at once with 128 + the signal number.
    /// </summary>
    /// <returns>
    /// The exit code: 0 after a normal or signal-initiated shutdown; 1 when an unhandled error
    /// (with <see cref="RunnerOptions.StopOnUnhandledErrors"/>), main's own failure, or a failing
    /// shutdown callback was logged.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException">A timeout is negative or the executor workers are fewer than 1.</exception>
    /// <exception cref="InvalidOperationException">A loop is already running on this thread.</exception>
    /// <exception cref="ArgumentException"><see cref="RunnerOptions.Loop"/> is combined with an option it excludes, or is running or closed.</exception>
    public static int Run(Func<Task> main, RunnerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(main);
        options ??= new RunnerOptions();
        if (options.TaskShutdownTimeout < TimeSpan.Zero && options.TaskShutdownTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.TaskShutdownTimeout, "TaskShutdownTimeout must not be negative; use Timeout.InfiniteTimeSpan to wait without limit.");
        }

        if (options.ExecutorWorkers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ExecutorWorkers, "ExecutorWorkers must be at least 1.");
        }

        if (EventLoop.TryGetRunningLoop() is not null)
        {
            throw new InvalidOperationException("Runner.Run cannot be called while a loop runs on this thread; call it from Main.");
        }

        RunnerLoopChecks.Check(options);

        using var session = new RunSession(main, options);
        return session.Run();
    }

    /// <summary>
    /// Runs <paramref name="work"/> as a task that shutdown does not cancel but waits for
    /// [aiorun.shutdown_waits_for]. The returned future is cancelled at shutdown like any await, so
    /// the caller sees <see cref="CancelledError"/>; the work itself runs to completion (within the
    /// runner's task shutdown timeout). Outside shutdown it behaves as <see cref="LoopTask.Shield(Future)"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static Future ShutdownWaitsFor(Func<Task> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        EventLoop loop = EventLoop.GetRunningLoop();
        return ShutdownWaitsFor(loop.CreateTask(work, "shutdown-waits-for"));
    }

    /// <inheritdoc cref="ShutdownWaitsFor(Func{Task})"/>
    public static Future<T> ShutdownWaitsFor<T>(Func<Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        EventLoop loop = EventLoop.GetRunningLoop();
        LoopTask<T> task = loop.CreateTask(work, "shutdown-waits-for");
        Protect(task);
        return LoopTask.Shield(task);
    }

    /// <summary>Protects an existing task or future from shutdown's cancellation and returns a shield of it.</summary>
    public static Future ShutdownWaitsFor(Future future)
    {
        ArgumentNullException.ThrowIfNull(future);
        Protect(future);
        return LoopTask.Shield(future);
    }

    /// <summary>
    /// Registers <paramref name="resource"/> to be disposed during shutdown, after tasks and the
    /// executor have finished and before the loop closes; resources go last-registered first.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static void DisposeAtShutdown(IAsyncDisposable resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        Registries.GetOrCreateValue(EventLoop.GetRunningLoop()).Resources.Add(resource);
    }

    internal static ShutdownRegistry RegistryOf(EventLoop loop) => Registries.GetOrCreateValue(loop);

    private static void Protect(Future future)
    {
        Registries.GetOrCreateValue(future.Loop).Protected.Add(future);
        future.AddDoneCallback(done => Registries.GetOrCreateValue(done.Loop).Protected.Remove(done));
    }
}

/// <summary>What a loop's shutdown must spare and dispose.</summary>
internal sealed class ShutdownRegistry
{
    public HashSet<Future> Protected { get; } = [];

    public List<IAsyncDisposable> Resources { get; } = [];
}
