namespace Aio.Sync;

/// <content>The queue's machinery: loop binding, hand-off, refill from putters, give-back, waking.</content>
public partial class AsyncQueue<T>
{
    /// <summary>A get's waiter was cancelled: unlink it (its item, if any, stays its result).</summary>
    internal void RemoveGetter(QueueGetWaiter<T> waiter) => _getters.Remove(waiter);

    /// <summary>A put's waiter was cancelled: unlink it; its item never entered the queue.</summary>
    internal void RemovePutter(QueuePutWaiter<T> waiter) => _putters.Remove(waiter);

    /// <summary>
    /// A getter that was handed <paramref name="item"/> had its task cancelled before it resumed:
    /// the item goes to the next getter, or back into the queue where its ticket places it (dropped,
    /// and counted done, if the queue was shut down immediately meanwhile, as it would have been).
    /// </summary>
    internal void GiveBack(T item, long ticket)
    {
        if (_shutdown == ShutdownState.Dropped)
        {
            if (_unfinished > 0 && --_unfinished == 0)
            {
                WakeJoiners();
            }

            return;
        }

        if (_getters.RemoveFirst() is { } getter)
        {
            getter.Deliver(item, ticket);
        }
        else
        {
            _store.Restore(item, ticket);
        }
    }

    /// <summary>The running loop, binding the queue to it on first use.</summary>
    private EventLoop BindLoop()
    {
        EventLoop loop = _affinity.ForWait(this);
        if (_completed is null)
        {
            var completed = new Future<bool>(loop);
            completed.SetResult(true);
            _completed = completed;
        }

        return loop;
    }

    /// <summary>Counts the item unfinished and hands it to the longest-waiting getter, or stores it. The queue has room.</summary>
    private void PutNow(T item)
    {
        long ticket = _nextTicket++;
        _unfinished++;
        if (_getters.RemoveFirst() is { } getter)
        {
            getter.Deliver(item, ticket);
        }
        else
        {
            _store.Add(item, ticket);
        }
    }

    /// <summary>Takes the next stored item, then lets waiting putters fill the room it freed.</summary>
    private T TakeNow()
    {
        T item = _store.Take();
        while (_putters.First is not null && !IsFull)
        {
            QueuePutWaiter<T> putter = _putters.RemoveFirst()!;
            PutNow(putter.Item);
            putter.Succeed();
        }

        return item;
    }

    private void WakeJoiners()
    {
        while (_joiners.RemoveFirst() is { } joiner)
        {
            joiner.Succeed();
        }
    }

    private static Future<bool> Cancelled(EventLoop loop)
    {
        var cancelled = new Future<bool>(loop);
        cancelled.Cancel(QueueWaiterToken.Message);
        return cancelled;
    }

    private static Future<bool> ShutDown(EventLoop loop)
    {
        var failed = new Future<bool>(loop);
        failed.SetException(new QueueShutDownError());
        return failed;
    }
}
