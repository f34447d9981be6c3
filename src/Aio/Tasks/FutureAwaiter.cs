using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>Awaits a <see cref="Future"/>; the compiler uses it, user code need not.</summary>
public readonly struct FutureAwaiter : ICriticalNotifyCompletion, ILoopAwaiter
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

    void ILoopAwaiter.OnCompleted(ILoopWorkItem step) => _future.OnAwait(step);
}

/// <summary>Awaits a <see cref="Future{T}"/> and yields its result; the compiler uses it, user code need not.</summary>
public readonly struct FutureAwaiter<T> : ICriticalNotifyCompletion, ILoopAwaiter
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

    void ILoopAwaiter.OnCompleted(ILoopWorkItem step) => _future.OnAwait(step);
}

/// <summary>
/// An Aio awaiter that can resume an async LoopTask method's box directly (a loop work item), with
/// no continuation delegate: the method builder uses it for every Aio await.
/// </summary>
internal interface ILoopAwaiter
{
    /// <summary>Runs <paramref name="step"/> on the loop when the awaited thing is done (as UnsafeOnCompleted).</summary>
    void OnCompleted(ILoopWorkItem step);
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

/// <summary>
/// Calls <see cref="ILoopAwaiter.OnCompleted"/> on an awaiter of type <typeparamref name="TAwaiter"/>
/// without boxing it, whatever the JIT's optimization level: a method builder knows the awaiter
/// only as an <see cref="INotifyCompletion"/>, and casting a struct to the interface would box it
/// (32 B per await) wherever the JIT does not elide that box (tier 0, debug builds). Made once per
/// awaiter type: a delegate over a constrained generic call, or null for awaiters that are not Aio's.
/// </summary>
internal static class LoopAwaiter<TAwaiter>
{
    /// <summary>The awaiter's <see cref="ILoopAwaiter.OnCompleted"/> taken by reference, or null.</summary>
    public static readonly OnCompletedByRef? OnCompleted = Make();

    /// <summary>Registers <paramref name="step"/> with the awaiter.</summary>
    public delegate void OnCompletedByRef(ref TAwaiter awaiter, ILoopWorkItem step);

    private static OnCompletedByRef? Make() =>
        typeof(ILoopAwaiter).IsAssignableFrom(typeof(TAwaiter))
            ? typeof(LoopAwaiterCalls).GetMethod(nameof(LoopAwaiterCalls.OnCompleted))!
                .MakeGenericMethod(typeof(TAwaiter))
                .CreateDelegate<OnCompletedByRef>()
            : null;
}

/// <summary>The constrained call behind <see cref="LoopAwaiter{TAwaiter}"/>.</summary>
internal static class LoopAwaiterCalls
{
    /// <summary>Calls the awaiter's OnCompleted through the constraint (no box).</summary>
    public static void OnCompleted<TAwaiter>(ref TAwaiter awaiter, ILoopWorkItem step)
        where TAwaiter : ILoopAwaiter => awaiter.OnCompleted(step);
}
