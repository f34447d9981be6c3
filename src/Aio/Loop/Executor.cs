namespace Aio;

/// <summary>
/// Runs blocking work off the loop [concurrent.futures.Executor]. <see cref="Submit{T}"/> is
/// thread-safe; results arrive as .NET tasks, which code on the loop awaits and resumes on the loop.
/// </summary>
/// <remarks>
/// After <see cref="ShutdownAsync"/> (or <see cref="Dispose"/>) no new work is accepted; work already
/// submitted still runs to completion.
/// </remarks>
public abstract class Executor : IDisposable
{
    private readonly object _gate = new();
    private int _running;
    private bool _shutdown;
    private TaskCompletionSource? _drained;

    /// <summary>Whether shutdown has begun.</summary>
    public bool IsShutdown
    {
        get
        {
            lock (_gate)
            {
                return _shutdown;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on one of the executor's threads. The task completes with its
    /// result or exception. Thread-safe.
    /// </summary>
    /// <exception cref="InvalidOperationException">The executor was shut down.</exception>
    /// <remarks>
    /// If handing the job to a thread fails (<see cref="Dispatch"/> throws before the job started),
    /// that exception propagates, the job never runs, and shutdown does not wait for it.
    /// </remarks>
    public Task<T> Submit<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        lock (_gate)
        {
            if (_shutdown)
            {
                throw new InvalidOperationException("The executor was shut down and accepts no new work; create a new executor.");
            }

            _running++;
        }

        var job = new SubmittedJob<T>(this, work);
        try
        {
            Dispatch(job.Run);
        }
        catch (Exception) when (job.TryAbandon())
        {
            // Not accepted: the job will never run (a later Run is a no-op), so it must not keep
            // ShutdownAsync waiting; the caller hears the failure.
            WorkDone();
            throw;
        }

        return job.Task;
    }

    /// <summary>
    /// Stops accepting work and waits for the work already submitted to finish
    /// [executor.shutdown(wait=True)], up to <paramref name="timeout"/> (null or
    /// <see cref="Timeout.InfiniteTimeSpan"/>: no limit). Idempotent; thread-safe.
    /// </summary>
    /// <returns>True when all work finished; false when the timeout expired first (the work goes on).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public async Task<bool> ShutdownAsync(TimeSpan? timeout = null)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            timeout = null;
        }

        if (timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The shutdown timeout must not be negative; pass null or Timeout.InfiniteTimeSpan to wait without a limit.");
        }

        Task drained = BeginShutdown();
        if (timeout is null)
        {
            await drained.ConfigureAwait(false);
            return true;
        }

        Task winner = await Task.WhenAny(drained, Task.Delay(timeout.Value)).ConfigureAwait(false);
        return winner == drained;
    }

    /// <summary>Begins shutdown and blocks until submitted work has finished [executor.shutdown(wait=True)].</summary>
    public void Dispose()
    {
        BeginShutdown().GetAwaiter().GetResult();
        GC.SuppressFinalize(this);
    }

    /// <summary>Stops accepting work; returns a task that completes when running work has finished.</summary>
    internal Task BeginShutdown()
    {
        bool first;
        Task drained;
        lock (_gate)
        {
            first = !_shutdown;
            _shutdown = true;
            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_running == 0)
            {
                _drained.TrySetResult();
            }

            drained = _drained.Task;
        }

        if (first)
        {
            OnShutdown();
        }

        return drained;
    }

    /// <summary>Runs <paramref name="job"/> on an executor thread. Never throws for a job it accepted.</summary>
    protected abstract void Dispatch(Action job);

    /// <summary>Called once when shutdown begins, after which <see cref="Dispatch"/> is still called for nothing new.</summary>
    protected virtual void OnShutdown()
    {
    }

    /// <summary>One submitted job: runs at most once, or is abandoned when its dispatch failed.</summary>
    private sealed class SubmittedJob<T>(Executor owner, Func<T> work)
    {
        private const int Pending = 0;
        private const int Started = 1;
        private const int Abandoned = 2;

        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _state;

        public Task<T> Task => _completion.Task;

        public void Run()
        {
            if (Interlocked.CompareExchange(ref _state, Started, Pending) != Pending)
            {
                return;
            }

            try
            {
                _completion.SetResult(work());
            }
            catch (Exception exception)
            {
                _completion.SetException(exception);
            }
            finally
            {
                owner.WorkDone();
            }
        }

        /// <summary>Marks the job as never to run; false when it has already started.</summary>
        public bool TryAbandon() => Interlocked.CompareExchange(ref _state, Abandoned, Pending) == Pending;
    }

    private void WorkDone()
    {
        lock (_gate)
        {
            if (--_running == 0 && _shutdown)
            {
                _drained!.TrySetResult();
            }
        }
    }
}
