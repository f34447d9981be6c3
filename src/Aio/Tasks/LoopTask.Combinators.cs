namespace Aio;

public partial class LoopTask
{
    /// <summary>
    /// Waits for every future and returns their results in order [asyncio.gather]. The first
    /// failure (or cancellation) of a child fails the gather at once; the other children run on.
    /// Cancelling the gather cancels every pending child.
    /// </summary>
    /// <exception cref="ArgumentException">The futures belong to different loops.</exception>
    public static Future<T[]> Gather<T>(params Future<T>[] futures) => Gather((IEnumerable<Future<T>>)futures);

    /// <inheritdoc cref="Gather{T}(Future{T}[])"/>
    public static Future<T[]> Gather<T>(IEnumerable<Future<T>> futures)
    {
        Future[] children = Materialize(futures);
        return new GatherFuture<T[]>(LoopOf(children), children, returnExceptions: false, static done =>
        {
            var results = new T[done.Length];
            for (int i = 0; i < done.Length; i++)
            {
                results[i] = ((Future<T>)done[i]).Result;
            }

            return results;
        });
    }

    /// <summary>Gather for futures of different types: completes when all succeed; read each result from its own future.</summary>
    /// <exception cref="ArgumentException">The futures belong to different loops.</exception>
    public static Future Gather(params Future[] futures)
    {
        Future[] children = Materialize(futures);
        return new GatherFuture<bool>(LoopOf(children), children, returnExceptions: false, static _ => true);
    }

    /// <summary>
    /// Gather with asyncio's <c>return_exceptions=True</c>: waits for every future and never fails
    /// because of a child; element <c>i</c> of the result is null when future <c>i</c> succeeded,
    /// else its exception (<see cref="CancelledError"/> when it was cancelled).
    /// </summary>
    /// <exception cref="ArgumentException">The futures belong to different loops.</exception>
    public static Future<Exception?[]> Gather(IEnumerable<Future> futures, bool returnExceptions)
    {
        Future[] children = Materialize(futures);
        if (!returnExceptions)
        {
            return new GatherFuture<Exception?[]>(LoopOf(children), children, returnExceptions: false, static done => new Exception?[done.Length]);
        }

        return new GatherFuture<Exception?[]>(LoopOf(children), children, returnExceptions: true, static done =>
        {
            var outcomes = new Exception?[done.Length];
            for (int i = 0; i < done.Length; i++)
            {
                outcomes[i] = done[i].IsCancelled ? new CancelledError(done[i].CancelMessage) : done[i].GetException();
            }

            return outcomes;
        });
    }

    /// <summary>
    /// Waits until <paramref name="returnWhen"/> is met or <paramref name="timeout"/> passes
    /// [asyncio.wait]; never cancels the futures and never throws because of them. Null or
    /// <see cref="Timeout.InfiniteTimeSpan"/>: no limit.
    /// </summary>
    /// <exception cref="ArgumentException">No futures were given, or they belong to different loops.</exception>
    public static Future<WaitResult> Wait(IEnumerable<Future> futures, TimeSpan? timeout = null, ReturnWhen returnWhen = ReturnWhen.AllCompleted)
    {
        Future[] children = Materialize(futures);
        if (children.Length == 0)
        {
            throw new ArgumentException("Wait needs at least one future.", nameof(futures));
        }

        return new WaitFuture(LoopOf(children), children, timeout, returnWhen);
    }

    /// <summary>
    /// Waits for <paramref name="future"/> for at most <paramref name="timeout"/> [asyncio.wait_for].
    /// On timeout the future is cancelled, the wait goes on until it has actually finished, and then
    /// <see cref="TimeoutException"/> is thrown — unless the future still produced a result. A
    /// cancellation of the waiting task is never turned into a timeout. Null or
    /// <see cref="Timeout.InfiniteTimeSpan"/>: no limit. A zero or other negative timeout never lets a
    /// pending future run on: it is cancelled at once (a task not yet started never starts), and the
    /// wait times out unless it still produced a result. A queue get or a lock acquisition wrapped
    /// here is never lost: cancelling the task that awaits the wait after the get succeeded gives the
    /// item back (see <see cref="Future.Cancel"/> and the guide).
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<T> WaitFor<T>(Future<T> future, TimeSpan? timeout)
    {
        ArgumentNullException.ThrowIfNull(future);
        var task = new WaitForTask<T>(future);
        StartWaitFor(task, () => WaitForBody(future, timeout, () => future.Result));
        return task;
    }

    /// <inheritdoc cref="WaitFor{T}(Future{T}, TimeSpan?)"/>
    public static LoopTask WaitFor(Future future, TimeSpan? timeout)
    {
        ArgumentNullException.ThrowIfNull(future);
        var task = new WaitForTask(future);
        StartWaitFor(task, () => (Task)WaitForBody(future, timeout, () => true));
        return task;
    }

    /// <summary>
    /// Protects <paramref name="future"/> from cancellation [asyncio.shield]: the returned future
    /// mirrors its outcome, and cancelling the returned one (for example by cancelling the task that
    /// awaits it) leaves <paramref name="future"/> running.
    /// </summary>
    public static Future<T> Shield<T>(Future<T> future)
    {
        ArgumentNullException.ThrowIfNull(future);
        if (future.IsDone)
        {
            return future;
        }

        var outer = new ShieldFuture<T>(future);
        Mirror(future, outer, () => outer.SetResult(future.Result));
        return outer;
    }

    /// <inheritdoc cref="Shield{T}(Future{T})"/>
    public static Future Shield(Future future)
    {
        ArgumentNullException.ThrowIfNull(future);
        if (future.IsDone)
        {
            return future;
        }

        var outer = new ShieldFuture<bool>(future);
        Mirror(future, outer, () => outer.SetResult(true));
        return outer;
    }

    /// <summary>
    /// Yields the futures in the order they complete [asyncio.as_completed, 3.13 async-iteration form].
    /// With a timeout, the enumeration throws <see cref="TimeoutException"/> when it expires before all are done;
    /// null or <see cref="Timeout.InfiniteTimeSpan"/> means no limit.
    /// Cancelling the consuming task ends the wait with <see cref="CancelledError"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The futures belong to different loops.</exception>
    public static IAsyncEnumerable<TFuture> AsCompleted<TFuture>(IEnumerable<TFuture> futures, TimeSpan? timeout = null)
        where TFuture : Future
    {
        ArgumentNullException.ThrowIfNull(futures);
        TFuture[] all = [.. futures];
        return new AsCompletedSequence<TFuture>(all.Length == 0 ? null : LoopOf(all), all, timeout);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the running loop's default executor and awaits it as a future
    /// [asyncio.to_thread]. Cancelling the future does not stop the work.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static Future<T> ToThread<T>(Func<T> work)
    {
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.WrapTask(loop.RunInExecutor(work));
    }

    /// <summary>Starts a WaitFor task eagerly: its body runs now, so a zero timeout cancels the future before it can run a step.</summary>
    private static void StartWaitFor(ITaskInternals task, Delegate body)
    {
        task.Loop.CheckClosed();
        task.Loop.CheckThread(nameof(WaitFor));
        DelegateTaskRunner.Start(task, body, eager: true);
    }

    private static async Task<T> WaitForBody<T>(Future future, TimeSpan? timeout, Func<T> result)
    {
        if (timeout is null || timeout.Value == System.Threading.Timeout.InfiniteTimeSpan)
        {
            await future;
            return result();
        }

        ITaskInternals self = RunningTask.Current!;
        if (timeout.Value <= TimeSpan.Zero)
        {
            // asyncio: a future that is not done is cancelled and waited for, never given time to run.
            if (!future.IsDone)
            {
                future.Cancel();
            }

            try
            {
                await future;
                return result();
            }
            catch (CancelledError error) when (self.Cancelling() == 0)
            {
                throw new TimeoutException($"The wait timed out at once (timeout {timeout.Value.TotalSeconds:0.###} s).", error);
            }
        }

        bool timedOut = false;
        TimerHandle timer = future.Loop.CallLater(timeout.Value, () =>
        {
            timedOut = true;
            future.Cancel();
        });
        try
        {
            await future;
            return result();
        }
        catch (CancelledError error) when (timedOut && self.Cancelling() == 0)
        {
            throw new TimeoutException($"The wait timed out after {timeout.Value.TotalSeconds:0.###} s.", error);
        }
        finally
        {
            timer.Cancel();
        }
    }

    /// <summary>Copies <paramref name="inner"/>'s outcome to <paramref name="outer"/> unless the outer was cancelled first.</summary>
    private static void Mirror(Future inner, Future outer, Action succeed) => inner.AddDoneCallback(done =>
    {
        if (outer.IsCancelled)
        {
            RetrieveQuietly(done);
        }
        else if (done.IsCancelled)
        {
            outer.Cancel(done.CancelMessage);
        }
        else if (done.GetException() is { } failure)
        {
            outer.SetException(failure);
        }
        else
        {
            succeed();
        }
    });

    private static void RetrieveQuietly(Future future)
    {
        if (!future.IsCancelled)
        {
            _ = future.GetException();
        }
    }

    private static Future[] Materialize<TFuture>(IEnumerable<TFuture> futures)
        where TFuture : Future
    {
        ArgumentNullException.ThrowIfNull(futures);
        Future[] children = [.. futures];
        foreach (Future child in children)
        {
            ArgumentNullException.ThrowIfNull(child, nameof(futures));
        }

        return children;
    }

    private static EventLoop LoopOf(Future[] futures) =>
        futures.Length > 0 ? futures[0].Loop : EventLoop.GetRunningLoop();
}
