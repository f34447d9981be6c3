namespace Aio;

/// <summary>
/// An <see cref="Executor"/> that runs work on the shared .NET thread pool: the loop's default
/// executor. Shutting it down waits for work it accepted, not for the pool.
/// </summary>
public sealed class ThreadPoolExecutor : Executor
{
    private static readonly Action<Action> RunJob = static job => job();

    /// <inheritdoc />
    protected override void Dispatch(Action job) => ThreadPool.UnsafeQueueUserWorkItem(RunJob, job, preferLocal: false);
}
