// How an async LoopTask method runs. Its task is the method's state-machine box (MethodTask): one object holds the
// future, the task's state and the compiler's state machine (as .NET's own Task boxes do), so a task
// costs no Task, no delegate, no closure and no completion watcher.
//
// Steps. Every resumption of the method runs the box's MoveNext: an Aio awaiter queues the box
// itself as a loop work item (IMethodTaskAwaiter, no delegate); any other awaiter gets the box's MoveNext
// as an Action, made on the first such await. The first step runs in the creator's execution
// context and makes the task current there (RunningTask), which gives the task its own context; every
// later step runs in the context captured at the suspension, and the loop thread's own is restored
// afterwards, as .NET's builders do. The first step is queued with a marker state: it is where a
// cancel that arrived before the task ever ran ends the task without running it.
using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>The first-step rules of every async LoopTask method's task. Loop thread only.</summary>
internal static class MethodSteps
{
    /// <summary>The state the first step is queued with.</summary>
    public static readonly object FirstStep = new();

    /// <summary>The running loop, for an async LoopTask method being called.</summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static EventLoop RunningLoop() => EventLoop.TryGetRunningLoop() ?? throw new InvalidOperationException(
        "Calling an async LoopTask method starts a task on the event loop running on this thread, and none is running. " +
        "Call it from code the loop runs, or start it through the loop: loop.RunUntilComplete(async () => await Method()) " +
        "or loop.CreateTask(async () => await Method()).");

    /// <summary>Registers the task and queues its first step (runs it now when the loop's tasks are eager).</summary>
    public static void Schedule(IMethodTask box)
    {
        box.Register();
        if (box.Loop.EagerTasks)
        {
            box.Execute(FirstStep);
        }
        else
        {
            box.Loop.EnqueueReady(box, FirstStep);
        }
    }

    /// <summary>Before the first step: false when the task is done or was cancelled before it ever ran (then it ends cancelled).</summary>
    public static bool BeginFirstStep(ITaskInternals task)
    {
        if (task.IsDone)
        {
            return false;
        }

        if (task.MustCancel)
        {
            task.FinishCancelled();
            return false;
        }

        return true;
    }
}

/// <summary>The task of an async LoopTask method, which the loop runs as a work item (its steps).</summary>
internal interface IMethodTask : ITaskInternals, ILoopWorkItem
{
}

/// <summary>What <see cref="MethodSteps{TStateMachine}"/> needs of the two <see cref="MethodTask{TStateMachine}"/> classes.</summary>
internal interface IMethodTask<TStateMachine> : IMethodTask
    where TStateMachine : IAsyncStateMachine
{
    /// <summary>The state machine and the stepping state, in the box.</summary>
    ref MethodSteps<TStateMachine> Steps { get; }

    /// <summary>Runs the method's next step (the target of <see cref="MethodSteps{TStateMachine}.MoveNextAction"/>).</summary>
    void MoveNext();
}

/// <summary>
/// The stepping shared by both boxes: the compiler's state machine, the execution context of the
/// next step, the MoveNext delegate for awaiters that are not Aio's, and the first-step and
/// suspension rules. Lives inside the box (reached by reference); loop thread only.
/// </summary>
internal struct MethodSteps<TStateMachine>
    where TStateMachine : IAsyncStateMachine
{
    private static readonly ContextCallback RunStep = static box => ((IMethodTask<TStateMachine>)box!).Steps.StateMachine.MoveNext();
    private static readonly ContextCallback RunFirstStep = static state =>
    {
        var box = (IMethodTask<TStateMachine>)state!;
        RunningTask.Enter(box);
        box.Steps.StateMachine.MoveNext();
    };

    /// <summary>The compiler's state machine (copied in by the builder before the first step).</summary>
    public TStateMachine StateMachine;

    private ExecutionContext? _context;
    private Action? _moveNext;

    /// <summary>Captures the creator's context and schedules the first step of <paramref name="box"/>.</summary>
    public void Start(IMethodTask<TStateMachine> box)
    {
        _context = ExecutionContext.Capture();
        MethodSteps.Schedule(box);
    }

    /// <summary>
    /// The method suspends on <paramref name="awaiter"/>: the next step runs in the context it has
    /// now. An Aio awaiter queues the box itself (true); for any other the caller registers
    /// <see cref="MoveNextAction"/> (false).
    /// </summary>
    public bool SuspendOn<TAwaiter>(IMethodTask<TStateMachine> box, ref TAwaiter awaiter)
    {
        _context = ExecutionContext.Capture();
        if (MethodTaskAwaiter<TAwaiter>.OnCompleted is { } onCompleted)
        {
            onCompleted(ref awaiter, box);
            return true;
        }

        return false;
    }

    /// <summary>The box's MoveNext as a delegate, made once.</summary>
    public Action MoveNextAction(IMethodTask<TStateMachine> box) => _moveNext ??= box.MoveNext;

    /// <summary>The box's work item: the first step (queued with <see cref="MethodSteps.FirstStep"/>) or a resumption.</summary>
    public void Execute(IMethodTask<TStateMachine> box, object? state)
    {
        if (state != MethodSteps.FirstStep)
        {
            Step(box);
        }
        else if (MethodSteps.BeginFirstStep(box))
        {
            FirstStep(box);
        }
    }

    /// <summary>Runs the next step in the context captured at the suspension.</summary>
    public void Step(IMethodTask<TStateMachine> box)
    {
        if (_context is { } context)
        {
            ExecutionContext.Run(context, RunStep, box);
        }
        else
        {
            StateMachine.MoveNext();
        }
    }

    private void FirstStep(IMethodTask<TStateMachine> box)
    {
        if (_context is { } context)
        {
            ExecutionContext.Run(context, RunFirstStep, box);
            return;
        }

        ITaskInternals? previous = RunningTask.Enter(box);
        try
        {
            StateMachine.MoveNext();
        }
        finally
        {
            RunningTask.Exit(previous);
        }
    }
}

