// The task of an async LoopTask method is the method's state-machine box: one object holds the
// future, the task's state and the compiler's state machine (see MethodSteps for how it steps).
using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>An async LoopTask method's task and state machine. Loop thread only.</summary>
internal sealed class MethodTask<TStateMachine>(EventLoop loop) : LoopTask(loop, null), IMethodTask<TStateMachine>
    where TStateMachine : IAsyncStateMachine
{
    private MethodSteps<TStateMachine> _steps;

    public ref MethodSteps<TStateMachine> Steps => ref _steps;

    public void MoveNext() => _steps.Step(this);

    void ILoopWorkItem.Execute(object? state) => _steps.Execute(this, state);
}

/// <summary>An async LoopTask&lt;T&gt; method's task and state machine. Loop thread only.</summary>
internal sealed class MethodTask<TResult, TStateMachine>(EventLoop loop) : LoopTask<TResult>(loop, null), IMethodTask<TStateMachine>
    where TStateMachine : IAsyncStateMachine
{
    private MethodSteps<TStateMachine> _steps;

    public ref MethodSteps<TStateMachine> Steps => ref _steps;

    public void MoveNext() => _steps.Step(this);

    void ILoopWorkItem.Execute(object? state) => _steps.Execute(this, state);
}
