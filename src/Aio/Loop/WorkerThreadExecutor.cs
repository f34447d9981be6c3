namespace Aio;

/// <summary>
/// An <see cref="Executor"/> with its own named threads, at most <see cref="MaxWorkers"/>
/// [concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix)]. Threads start on
/// demand when no idle one is waiting, and exit once shutdown has begun and the queue is empty.
/// Use it for blocking work that should not occupy the .NET thread pool.
/// </summary>
public sealed class WorkerThreadExecutor : Executor
{
    private readonly Queue<Action> _jobs = new();
    private readonly object _gate = new();
    private int _threads;
    private int _idle;
    private bool _stopping;

    /// <summary>Creates an executor that runs at most <paramref name="maxWorkers"/> jobs at once.</summary>
    /// <param name="maxWorkers">The most threads it starts; at least 1.</param>
    /// <param name="threadNamePrefix">Thread names are this prefix followed by <c>_0</c>, <c>_1</c>, ...</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxWorkers"/> is less than 1.</exception>
    public WorkerThreadExecutor(int maxWorkers, string threadNamePrefix = "Aio.Worker")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWorkers, 1);
        ArgumentNullException.ThrowIfNull(threadNamePrefix);
        MaxWorkers = maxWorkers;
        ThreadNamePrefix = threadNamePrefix;
    }

    /// <summary>The most worker threads this executor runs.</summary>
    public int MaxWorkers { get; }

    /// <summary>The prefix of the worker threads' names.</summary>
    public string ThreadNamePrefix { get; }

    /// <summary>Worker threads started so far and still alive.</summary>
    public int ThreadCount
    {
        get
        {
            lock (_gate)
            {
                return _threads;
            }
        }
    }

    /// <inheritdoc />
    protected override void Dispatch(Action job)
    {
        lock (_gate)
        {
            _jobs.Enqueue(job);
            if (_idle > 0)
            {
                Monitor.Pulse(_gate);
                return;
            }

            if (_threads >= MaxWorkers)
            {
                return;
            }

            var thread = new Thread(Work) { IsBackground = true, Name = $"{ThreadNamePrefix}_{_threads}" };
            _threads++;
            thread.Start();
        }
    }

    /// <inheritdoc />
    protected override void OnShutdown()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
    }

    private void Work()
    {
        while (true)
        {
            Action job;
            lock (_gate)
            {
                while (_jobs.Count == 0)
                {
                    if (_stopping)
                    {
                        _threads--;
                        return;
                    }

                    _idle++;
                    Monitor.Wait(_gate);
                    _idle--;
                }

                job = _jobs.Dequeue();
            }

            job();
        }
    }
}
