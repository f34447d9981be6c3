namespace Aio;

public sealed partial class EventLoop
{
    /// <summary>
    /// A future on this loop that completes with <paramref name="task"/>'s outcome
    /// [asyncio.wrap_future]: awaiting it from loop code is an Aio await, so cancelling the awaiting
    /// task cancels the future (the .NET task itself goes on). Thread-safe.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public Future<T> WrapTask<T>(Task<T> task)
    {
        ArgumentNullException.ThrowIfNull(task);
        CheckClosed();
        var future = new Future<T>(this);
        task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(() => TryPost((Action<object?>)(static state =>
        {
            var (future, task) = ((Future<T>, Task<T>))state!;
            if (future.IsDone)
            {
                _ = task.Exception;
            }
            else if (task.IsCanceled)
            {
                future.Cancel();
            }
            else if (task.IsFaulted)
            {
                future.SetException(task.Exception!.InnerExceptions.Count == 1 ? task.Exception.InnerException! : task.Exception);
            }
            else
            {
                future.SetResult(task.Result);
            }
        }), (future, task)));
        return future;
    }

    /// <inheritdoc cref="WrapTask{T}(Task{T})"/>
    public Future WrapTask(Task task)
    {
        ArgumentNullException.ThrowIfNull(task);
        return WrapTask(task.ContinueWith(
            static done =>
            {
                done.GetAwaiter().GetResult();
                return true;
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            System.Threading.Tasks.TaskScheduler.Default));
    }
}
