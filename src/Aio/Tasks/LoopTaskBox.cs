// The task of an async LoopTask method is the method's state-machine box: one object holds the
// future, the task's state and the compiler's state machine (as .NET's own Task boxes do), so a task
// costs no Task, no delegate, no closure and no completion watcher.
//
// Steps. Every resumption of the method runs the box's MoveNext: an Aio awaiter queues the box
// itself as a loop work item (ILoopAwaiter, no delegate); any other awaiter gets the box's MoveNext
// as an Action, made on the first such await. The first step runs in the creator's execution
// context and makes the task current there (TaskCore), which gives the task its own context; every
// later step runs in the context captured at the suspension, and the loop thread's own is restored
// afterwards, as .NET's builders do. The first step is queued with a marker state: it is where a
// cancel that arrived before the task ever ran ends the task without running it.
using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>The first-step rules shared by both boxes. Loop thread only.</summary>
internal static class LoopTaskBoxes
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
    public static void Schedule(ITaskCore task, ILoopWorkItem box)
    {
        task.State.Register(task);
        if (task.Loop.EagerTasks)
        {
            box.Execute(FirstStep);
        }
        else
        {
            task.Loop.EnqueueReady(box, FirstStep);
        }
    }

    /// <summary>Before the first step: false when the task is done or was cancelled before it ever ran (then it ends cancelled).</summary>
    public static bool BeginFirstStep(ITaskCore task)
    {
        if (task.IsDone)
        {
            return false;
        }

        if (task.State.MustCancel)
        {
            task.FinishCancelled();
            return false;
        }

        return true;
    }
}

/// <summary>An async LoopTask method's task and state machine. Loop thread only.</summary>
internal sealed class LoopTaskBox<TStateMachine> : LoopTask, ILoopWorkItem
    where TStateMachine : IAsyncStateMachine
{
    private static readonly ContextCallback RunStateMachine = static box => ((LoopTaskBox<TStateMachine>)box!).StateMachine.MoveNext();
    private static readonly ContextCallback RunFirstStep = static state =>
    {
        var box = (LoopTaskBox<TStateMachine>)state!;
        TaskCore.Enter(box);
        box.StateMachine.MoveNext();
    };

    /// <summary>The compiler's state machine (copied in by the builder before the first step).</summary>
    public TStateMachine StateMachine = default!;

    private ExecutionContext? _context;
    private Action? _moveNext;

    public LoopTaskBox(EventLoop loop)
        : base(loop, null)
    {
    }

    /// <summary>MoveNext as a delegate, for awaiters that are not Aio's.</summary>
    public Action MoveNextAction => _moveNext ??= MoveNext;

    /// <summary>Captures the creator's context and schedules the first step.</summary>
    public void Start()
    {
        _context = ExecutionContext.Capture();
        LoopTaskBoxes.Schedule(this, this);
    }

    /// <summary>The method suspends: the next step runs in the context it has now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Suspend() => _context = ExecutionContext.Capture();

    void ILoopWorkItem.Execute(object? state)
    {
        if (state != LoopTaskBoxes.FirstStep)
        {
            MoveNext();
        }
        else if (LoopTaskBoxes.BeginFirstStep(this))
        {
            FirstStep();
        }
    }

    private void FirstStep()
    {
        if (_context is { } context)
        {
            ExecutionContext.Run(context, RunFirstStep, this);
            return;
        }

        ITaskCore? previous = TaskCore.Enter(this);
        try
        {
            StateMachine.MoveNext();
        }
        finally
        {
            TaskCore.Exit(previous);
        }
    }

    private void MoveNext()
    {
        if (_context is { } context)
        {
            ExecutionContext.Run(context, RunStateMachine, this);
        }
        else
        {
            StateMachine.MoveNext();
        }
    }
}

/// <summary>An async LoopTask&lt;T&gt; method's task and state machine. Loop thread only.</summary>
internal sealed class LoopTaskBox<TResult, TStateMachine> : LoopTask<TResult>, ILoopWorkItem
    where TStateMachine : IAsyncStateMachine
{
    private static readonly ContextCallback RunStateMachine = static box => ((LoopTaskBox<TResult, TStateMachine>)box!).StateMachine.MoveNext();
    private static readonly ContextCallback RunFirstStep = static state =>
    {
        var box = (LoopTaskBox<TResult, TStateMachine>)state!;
        TaskCore.Enter(box);
        box.StateMachine.MoveNext();
    };

    /// <summary>The compiler's state machine (copied in by the builder before the first step).</summary>
    public TStateMachine StateMachine = default!;

    private ExecutionContext? _context;
    private Action? _moveNext;

    public LoopTaskBox(EventLoop loop)
        : base(loop, null)
    {
    }

    /// <summary>MoveNext as a delegate, for awaiters that are not Aio's.</summary>
    public Action MoveNextAction => _moveNext ??= MoveNext;

    /// <summary>Captures the creator's context and schedules the first step.</summary>
    public void Start()
    {
        _context = ExecutionContext.Capture();
        LoopTaskBoxes.Schedule(this, this);
    }

    /// <summary>The method suspends: the next step runs in the context it has now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Suspend() => _context = ExecutionContext.Capture();

    void ILoopWorkItem.Execute(object? state)
    {
        if (state != LoopTaskBoxes.FirstStep)
        {
            MoveNext();
        }
        else if (LoopTaskBoxes.BeginFirstStep(this))
        {
            FirstStep();
        }
    }

    private void FirstStep()
    {
        if (_context is { } context)
        {
            ExecutionContext.Run(context, RunFirstStep, this);
            return;
        }

        ITaskCore? previous = TaskCore.Enter(this);
        try
        {
            StateMachine.MoveNext();
        }
        finally
        {
            TaskCore.Exit(previous);
        }
    }

    private void MoveNext()
    {
        if (_context is { } context)
        {
            ExecutionContext.Run(context, RunStateMachine, this);
        }
        else
        {
            StateMachine.MoveNext();
        }
    }
}
