// Idle accounting, as CPython's ThreadPoolExecutor (_idle_semaphore). _idle counts workers
// waiting for a job that no submitter has claimed yet. A submitter that finds one CLAIMS it
// (decrements _idle) before pulsing; otherwise it starts a thread (up to MaxWorkers). Taking the
// count when the worker wakes instead would let a burst of N submissions before that wake-up all
// see the same single idle worker, and run one at a time on it: two jobs where one waits for the
// other would then stall. Shutdown wakes every waiter (PulseAll) and zeroes _idle, since none of
// those wake-ups is a claim; a worker exits only under the lock with the queue empty, so a job
// enqueued after shutdown began is either seen by a live worker or starts a new one.
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
                _idle--; // this job claims one waiting worker
                Monitor.Pulse(_gate);
                return;
            }

            if (_threads >= MaxWorkers)
            {
                return;
            }

            var thread = new Thread(Work) { IsBackground = true, Name = $"{ThreadNamePrefix}_{_threads}" };
            thread.Start(); // may throw (out of threads); the job stays queued for a live worker
            _threads++;
        }
    }

    /// <inheritdoc />
    protected override void OnShutdown()
    {
        lock (_gate)
        {
            _stopping = true;
            _idle = 0;
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

                    _idle++; // a submitter takes it back when it hands this worker a job
                    Monitor.Wait(_gate);
                }

                job = _jobs.Dequeue();
            }

            job();
        }
    }
}
