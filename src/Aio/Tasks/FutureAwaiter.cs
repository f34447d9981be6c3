using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>Awaits a <see cref="Future"/>; the compiler uses it, user code need not.</summary>
public readonly struct FutureAwaiter : ICriticalNotifyCompletion, IMethodTaskAwaiter
{
    private readonly Future _future;

    internal FutureAwaiter(Future future) => _future = future;

    /// <summary>Whether the future is done (then the await continues without suspending).</summary>
    public bool IsCompleted => _future.IsDone;

    /// <summary>Returns when the future succeeded; otherwise throws its exception or <see cref="CancelledError"/>.</summary>
    public void GetResult() => _future.EndAwait();

    /// <summary>Schedules <paramref name="continuation"/> on the loop when the future is done, flowing the execution context.</summary>
    public void OnCompleted(Action continuation) => _future.OnAwait(FlowingContinuation.Wrap(continuation));

    /// <summary>Schedules <paramref name="continuation"/> on the loop when the future is done.</summary>
    public void UnsafeOnCompleted(Action continuation) => _future.OnAwait(continuation);

    void IMethodTaskAwaiter.OnCompleted(IMethodTask task) => _future.OnAwait(task, task);
}

/// <summary>Awaits a <see cref="Future{T}"/> and yields its result; the compiler uses it, user code need not.</summary>
public readonly struct FutureAwaiter<T> : ICriticalNotifyCompletion, IMethodTaskAwaiter
{
    private readonly Future<T> _future;

    internal FutureAwaiter(Future<T> future) => _future = future;

    /// <summary>Whether the future is done (then the await continues without suspending).</summary>
    public bool IsCompleted => _future.IsDone;

    /// <summary>The result; or throws the future's exception or <see cref="CancelledError"/>.</summary>
    public T GetResult() => _future.GetResultForAwait();

    /// <summary>Schedules <paramref name="continuation"/> on the loop when the future is done, flowing the execution context.</summary>
    public void OnCompleted(Action continuation) => _future.OnAwait(FlowingContinuation.Wrap(continuation));

    /// <summary>Schedules <paramref name="continuation"/> on the loop when the future is done.</summary>
    public void UnsafeOnCompleted(Action continuation) => _future.OnAwait(continuation);

    void IMethodTaskAwaiter.OnCompleted(IMethodTask task) => _future.OnAwait(task, task);
}

/// <summary>Runs a continuation inside the execution context captured when it was registered.</summary>
internal static class FlowingContinuation
{
    public static Action Wrap(Action continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        ExecutionContext? context = ExecutionContext.Capture();
        return context is null
            ? continuation
            : () => ExecutionContext.Run(context, static state => ((Action)state!)(), continuation);
    }
}
