using System.Runtime.CompilerServices;

namespace Aio.Sync;

/// <content>Counting done items, shutting down, and reading until shutdown.</content>
public partial class AsyncQueue<T>
{
    /// <summary>
    /// Marks one item taken from the queue as processed [queue.task_done()]. Every put counts one
    /// unfinished item; when the count reaches zero, every <see cref="JoinAsync"/> completes.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called more times than items were put (asyncio's ValueError).</exception>
    public void TaskDone()
    {
        _affinity.ForAccess(this);
        if (_unfinished <= 0)
        {
            throw new InvalidOperationException("TaskDone was called more times than there were items put into the queue.");
        }

        if (--_unfinished == 0)
        {
            WakeJoiners();
        }
    }

    /// <summary>
    /// Waits until every item put has been marked done with <see cref="TaskDone"/> [queue.join()];
    /// completes at once when none is unfinished. Each call waits on a future of its own, so
    /// cancelling one joiner leaves the others waiting.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (the await throws <see cref="CancelledError"/>); cancelling the task does too.</param>
    /// <exception cref="InvalidOperationException">No loop runs on this thread, or the queue is bound to another loop.</exception>
    public Future JoinAsync(CancellationToken cancellationToken = default)
    {
        EventLoop loop = BindLoop();
        if (cancellationToken.IsCancellationRequested)
        {
            return Cancelled(loop);
        }

        if (_unfinished == 0)
        {
            return _completed!;
        }

        var waiter = new QueueJoinWaiter(loop, _joiners);
        _joiners.AddLast(waiter);
        waiter.Link(cancellationToken);
        return waiter;
    }

    /// <summary>
    /// Shuts the queue down [queue.shutdown(immediate)], as Python 3.13 does: every later put, and
    /// every put and get that is waiting now, throws <see cref="QueueShutDownError"/>; gets still
    /// return the items left and throw once the queue is empty. With <paramref name="immediate"/>
    /// the items left are dropped instead, each counting as done for <see cref="JoinAsync"/>.
    /// Calling it again is allowed (an immediate call still drops what is left).
    /// </summary>
    public void Shutdown(bool immediate = false)
    {
        _affinity.ForAccess(this);
        if (immediate)
        {
            _shutdown = ShutdownState.Dropped;
            int dropped = _store.Clear();
            if (_unfinished > 0)
            {
                _unfinished = Math.Max(0, _unfinished - dropped);
                if (_unfinished == 0)
                {
                    WakeJoiners();
                }
            }
        }
        else if (_shutdown == ShutdownState.Open)
        {
            _shutdown = ShutdownState.Draining;
        }

        while (_getters.RemoveFirst() is { } getter)
        {
            getter.SetException(new QueueShutDownError());
        }

        while (_putters.RemoveFirst() is { } putter)
        {
            putter.SetException(new QueueShutDownError());
        }
    }

    /// <summary>
    /// Gets items one by one until the queue is shut down and empty, then ends cleanly. Each item
    /// is removed as by <see cref="GetAsync"/> (call <see cref="TaskDone"/> yourself if you join).
    /// Cancelling the consuming task, or <paramref name="cancellationToken"/>, ends the enumeration
    /// with <see cref="CancelledError"/>; no item is lost.
    /// </summary>
    /// <param name="cancellationToken">Cancels a waiting get.</param>
    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_store.Count == 0 && _shutdown != ShutdownState.Open)
            {
                yield break;
            }

            T item;
            try
            {
                item = await GetAsync(cancellationToken);
            }
            catch (QueueShutDownError)
            {
                yield break;
            }

            yield return item;
        }
    }
}
