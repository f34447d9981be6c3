namespace Aio;

public sealed partial class EventLoop
{
    private Executor? _defaultExecutor;
    private bool _defaultExecutorShutDown;

    /// <summary>
    /// Runs <paramref name="work"/> off the loop [loop.run_in_executor] on <paramref name="executor"/>,
    /// or on the default executor (the .NET thread pool unless <see cref="SetDefaultExecutor"/> chose
    /// another). Await the result on the loop; the await resumes on the loop thread.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The loop is closed, the default executor was shut down, or the executor was shut down.
    /// </exception>
    public Task<T> RunInExecutor<T>(Func<T> work, Executor? executor = null)
    {
        ArgumentNullException.ThrowIfNull(work);
        CheckClosed();
        CheckThread(nameof(RunInExecutor));
        return (executor ?? DefaultExecutor()).Submit(work);
    }

    /// <inheritdoc cref="RunInExecutor{T}(Func{T}, Executor?)"/>
    public Task RunInExecutor(Action work, Executor? executor = null)
    {
        ArgumentNullException.ThrowIfNull(work);
        return RunInExecutor(() =>
        {
            work();
            return true;
        }, executor);
    }

    /// <summary>
    /// Makes <paramref name="executor"/> the one <see cref="RunInExecutor{T}"/> uses when none is
    /// given [loop.set_default_executor]. The previous default is not shut down.
    /// </summary>
    public void SetDefaultExecutor(Executor executor)
    {
        ArgumentNullException.ThrowIfNull(executor);
        CheckClosed();
        CheckThread(nameof(SetDefaultExecutor));
        _defaultExecutor = executor;
    }

    /// <summary>
    /// Shuts the default executor down and waits for its running work [loop.shutdown_default_executor],
    /// up to <paramref name="timeout"/> (null or <see cref="Timeout.InfiniteTimeSpan"/>: no limit).
    /// Afterwards <see cref="RunInExecutor{T}"/> without an executor throws. On timeout a warning is
    /// logged and the work is left running.
    /// </summary>
    /// <returns>True when all work finished in time.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public async Task<bool> ShutdownDefaultExecutorAsync(TimeSpan? timeout = null)
    {
        _defaultExecutorShutDown = true;
        if (_defaultExecutor is null)
        {
            return true;
        }

        bool finished = await _defaultExecutor.ShutdownAsync(timeout);
        if (!finished)
        {
            LogExecutorTimeout(Logger, timeout!.Value.TotalSeconds, null);
        }

        return finished;
    }

    private static readonly Action<Microsoft.Extensions.Logging.ILogger, double, Exception?> LogExecutorTimeout =
        Microsoft.Extensions.Logging.LoggerMessage.Define<double>(
            Microsoft.Extensions.Logging.LogLevel.Warning, new Microsoft.Extensions.Logging.EventId(4, "ExecutorShutdownTimeout"),
            "The default executor did not finish joining its work within {Seconds} seconds");

    private Executor DefaultExecutor()
    {
        if (_defaultExecutorShutDown)
        {
            throw new InvalidOperationException("The default executor was shut down (ShutdownDefaultExecutorAsync); pass an executor explicitly.");
        }

        return _defaultExecutor ??= new ThreadPoolExecutor();
    }

    private void ShutdownExecutorOnClose()
    {
        _defaultExecutorShutDown = true;
        _ = _defaultExecutor?.BeginShutdown();
    }
}
