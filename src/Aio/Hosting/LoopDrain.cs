namespace Aio.Hosting;

/// <summary>
/// Waits, on the loop thread, until the loop has no pending task [what score.asyncio's stop does
/// before stopping]: it watches every pending task with a done callback and, once all of those
/// have finished, reads the pending tasks again, so tasks created meanwhile are waited for too.
/// It never cancels anything. <see cref="Start"/> and the callbacks run on the loop thread;
/// <see cref="Abandon"/> and <see cref="WaitAsync"/> are thread-safe.
/// </summary>
internal sealed class LoopDrain
{
    private readonly EventLoop _loop;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<Future> _onTaskDone;
    private volatile bool _finished;
    private int _outstanding;

    public LoopDrain(EventLoop loop)
    {
        _loop = loop;
        _onTaskDone = _ => OnTaskDone();
    }

    /// <summary>How many watched tasks were still pending at the last look (for the log line).</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>Begins watching. Loop thread.</summary>
    public void Start() => Scan();

    /// <summary>Stops watching and completes <see cref="WaitAsync"/>: the tasks drained, or the caller gave up or was superseded.</summary>
    public void Abandon()
    {
        _finished = true;
        _done.TrySetResult();
    }

    /// <summary>
    /// Completes when the tasks drained or the drain was abandoned, after <paramref name="timeout"/>
    /// (<see cref="Timeout.InfiniteTimeSpan"/>: never), or when <paramref name="cancellationToken"/>
    /// is cancelled, whichever comes first. Never faults.
    /// </summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _done.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The stop timeout expired: the loop stops with the tasks still pending.
        }
        catch (OperationCanceledException)
        {
            // The caller (a host's shutdown timeout) gave up waiting: likewise.
        }
    }

    private void Scan()
    {
        if (_finished)
        {
            return;
        }

        int pending = 0;
        foreach (ILoopTask task in LoopTask.AllTasks(_loop))
        {
            if (task is Future future)
            {
                pending++;
                future.AddDoneCallback(_onTaskDone);
            }
        }

        Volatile.Write(ref _outstanding, pending);
        if (pending == 0)
        {
            Abandon();
        }
    }

    private void OnTaskDone()
    {
        int left = _outstanding - 1;
        Volatile.Write(ref _outstanding, left);
        if (left == 0)
        {
            Scan();
        }
    }
}
