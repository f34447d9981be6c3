// The async method builders that make async LoopTask / async LoopTask<T> methods Aio's native
// coroutines. Calling such a method is asyncio's create_task(coro()): Start makes the task (the
// state machine's box, MethodTask), registers it and queues its first step on the running loop
// (or runs it at once when the loop's tasks are eager); the method's body does not run inside the
// call. SetResult and SetException complete the task directly, with the task rules of TaskState.
// Awaits of Aio awaitables queue the box itself; other awaiters get its MoveNext delegate.
using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>The builder of <c>async LoopTask</c> methods; the compiler uses it, user code need not.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct LoopTaskMethodBuilder
{
    private LoopTask? _task;

    /// <summary>The task of the method (the compiler reads it after <see cref="Start"/>).</summary>
    public readonly LoopTask Task => _task!;

    /// <summary>Creates a builder.</summary>
    public static LoopTaskMethodBuilder Create() => default;

    /// <summary>Creates the task and queues its first step on the running loop.</summary>
    /// <exception cref="InvalidOperationException">No event loop is running on this thread.</exception>
    public void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        var box = new MethodTask<TStateMachine>(MethodSteps.RunningLoop());
        _task = box;
        box.Steps.StateMachine = stateMachine;
        box.Steps.Start(box);
    }

    /// <summary>Not used: the task is the box.</summary>
#pragma warning disable CA1822 // The compiler calls it as an instance member of the builder.
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) => ArgumentNullException.ThrowIfNull(stateMachine);
#pragma warning restore CA1822

    /// <summary>The method returned: the task succeeds.</summary>
    public readonly void SetResult() => _task!.Succeed();

    /// <summary>The method threw: the task fails, or ends cancelled (see <see cref="LoopTask"/>).</summary>
    public readonly void SetException(Exception exception) => ((ITaskInternals)_task!).FinishWith(exception);

    /// <summary>Suspends the method on <paramref name="awaiter"/>.</summary>
    public readonly void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine
    {
        var box = (MethodTask<TStateMachine>)_task!;
        if (!box.Steps.SuspendOn(box, ref awaiter))
        {
            awaiter.OnCompleted(box.Steps.MoveNextAction(box));
        }
    }

    /// <summary>Suspends the method on <paramref name="awaiter"/>.</summary>
    public readonly void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine
    {
        var box = (MethodTask<TStateMachine>)_task!;
        if (!box.Steps.SuspendOn(box, ref awaiter))
        {
            awaiter.UnsafeOnCompleted(box.Steps.MoveNextAction(box));
        }
    }
}

/// <summary>The builder of <c>async LoopTask&lt;T&gt;</c> methods; the compiler uses it, user code need not.</summary>
/// <typeparam name="TResult">The method's result type.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct LoopTaskMethodBuilder<TResult>
{
    private LoopTask<TResult>? _task;

    /// <summary>The task of the method (the compiler reads it after <see cref="Start"/>).</summary>
    public readonly LoopTask<TResult> Task => _task!;

    /// <summary>Creates a builder.</summary>
#pragma warning disable CA1000 // The compiler's builder pattern requires a static Create on the generic builder.
    public static LoopTaskMethodBuilder<TResult> Create() => default;
#pragma warning restore CA1000

    /// <summary>Creates the task and queues its first step on the running loop.</summary>
    /// <exception cref="InvalidOperationException">No event loop is running on this thread.</exception>
    public void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        var box = new MethodTask<TResult, TStateMachine>(MethodSteps.RunningLoop());
        _task = box;
        box.Steps.StateMachine = stateMachine;
        box.Steps.Start(box);
    }

    /// <summary>Not used: the task is the box.</summary>
#pragma warning disable CA1822 // The compiler calls it as an instance member of the builder.
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) => ArgumentNullException.ThrowIfNull(stateMachine);
#pragma warning restore CA1822

    /// <summary>The method returned <paramref name="result"/>: the task succeeds with it.</summary>
    public readonly void SetResult(TResult result) => _task!.Succeed(result);

    /// <summary>The method threw: the task fails, or ends cancelled (see <see cref="LoopTask"/>).</summary>
    public readonly void SetException(Exception exception) => ((ITaskInternals)_task!).FinishWith(exception);

    /// <summary>Suspends the method on <paramref name="awaiter"/>.</summary>
    public readonly void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine
    {
        var box = (MethodTask<TResult, TStateMachine>)_task!;
        if (!box.Steps.SuspendOn(box, ref awaiter))
        {
            awaiter.OnCompleted(box.Steps.MoveNextAction(box));
        }
    }

    /// <summary>Suspends the method on <paramref name="awaiter"/>.</summary>
    public readonly void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine
    {
        var box = (MethodTask<TResult, TStateMachine>)_task!;
        if (!box.Steps.SuspendOn(box, ref awaiter))
        {
            awaiter.UnsafeOnCompleted(box.Steps.MoveNextAction(box));
        }
    }
}
