namespace Aio;

/// <summary>
/// A result of type <typeparamref name="T"/> that will be set later [asyncio.Future]. Create one with
/// <see cref="EventLoop.CreateFuture{T}"/>; await it on the loop. Loop thread only.
/// </summary>
public class Future<T> : Future
{
    private T? _result;

    /// <summary>Creates a pending future on <paramref name="loop"/> [loop.create_future()].</summary>
    public Future(EventLoop loop)
        : base(loop)
    {
    }

    /// <summary>
    /// The result [future.result()]: rethrows the future's exception, throws
    /// <see cref="CancelledError"/> if it was cancelled.
    /// </summary>
    /// <exception cref="InvalidStateError">The future is still pending.</exception>
    public T Result
    {
        get
        {
            ThrowIfNotSucceeded();
            return _result!;
        }
    }

    /// <summary>Completes the future with <paramref name="result"/> [future.set_result] and schedules its callbacks.</summary>
    /// <exception cref="InvalidStateError">The future is already done.</exception>
    /// <exception cref="InvalidOperationException">The future is a <see cref="LoopTask{T}"/>: its body sets its outcome.</exception>
    public void SetResult(T result)
    {
        ThrowIfTask(nameof(SetResult));
        ThrowIfDone();
        _result = result;
        CompleteSucceeded();
    }

    /// <summary>As <see cref="SetResult"/>, but returns false instead of throwing when the future is done.</summary>
    /// <exception cref="InvalidOperationException">The future is a <see cref="LoopTask{T}"/>: its body sets its outcome.</exception>
    public bool TrySetResult(T result)
    {
        ThrowIfTask(nameof(TrySetResult));
        if (IsDone)
        {
            return false;
        }

        SetResult(result);
        return true;
    }

    /// <summary>Gets an awaiter that yields the result.</summary>
    public new FutureAwaiter<T> GetAwaiter() => new(this);

    /// <summary>A .NET task that completes with this future's outcome, for code that is not on the loop.</summary>
    public new Task<T> AsTask()
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        AddDoneCallback(future =>
        {
            var typed = (Future<T>)future;
            if (typed.IsCancelled)
            {
                completion.SetCanceled();
            }
            else if (typed.GetException() is { } exception)
            {
                completion.SetException(exception);
            }
            else
            {
                completion.SetResult(typed._result!);
            }
        });
        return completion.Task;
    }

    /// <summary>The end of an await (see <see cref="Future.EndAwait"/>): the result, or the failure thrown.</summary>
    internal T GetResultForAwait()
    {
        EndAwait();
        return _result!;
    }

    /// <summary>Stores a result without completing (tasks set it, then complete through their own path).</summary>
    private protected void StoreResult(T result) => _result = result;
}
