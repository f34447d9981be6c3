// Which task is running (asyncio.current_task), for the two kinds of task body.
//
// A Func<Task> body (loop.CreateTask(...)) is an ordinary async method: its continuations are resumed
// by whatever it awaits (Aio awaiters, foreign tasks through the loop's SynchronizationContext), so
// the only thing that reaches all of them is the execution context. Its first step sets an AsyncLocal
// (DelegateTask), which gives the task its own execution context; the builder of the async method
// restores it at every resumption.
//
// An async LoopTask method is the task itself (LoopTaskBox): every resumption of the method runs the
// box's MoveNext, which sets a thread-static (t_running) around the step, so those tasks need no
// execution context of their own and share their creator's. Its nested async Task helpers resume
// on their own continuations; when they await an Aio awaitable the awaiter binds the continuation
// to the running task (Bind), so the helper resumes as that task. A helper resumed by a foreign
// await (through the SynchronizationContext) runs outside the task: there Current is null.
//
// Current reads the AsyncLocal first: a Func<Task> body is in its own context wherever its code runs
// (even inline inside another task's step). An async LoopTask method must therefore not inherit a
// creator's AsyncLocal: CaptureForNewTask gives it the creator's context without it (one context
// per creating body's context, cached on that body's runner).
namespace Aio;

/// <summary>The running task and how continuations are bound to it. Loop thread only.</summary>
internal static class TaskCore
{
    private static readonly AsyncLocal<DelegateTaskRunner?> DelegateTask = new();

    [ThreadStatic]
    private static ITaskCore? t_running;

    /// <summary>The task whose code is running now, or null.</summary>
    public static ITaskCore? Current => DelegateTask.Value?.Task ?? t_running;

    /// <summary>Enters a step of a Func&lt;Task&gt; body: its task becomes current in its context.</summary>
    public static DelegateTaskRunner? EnterDelegateStep(DelegateTaskRunner runner)
    {
        DelegateTaskRunner? previous = DelegateTask.Value;
        DelegateTask.Value = runner;
        return previous;
    }

    /// <summary>Leaves the step <see cref="EnterDelegateStep"/> entered.</summary>
    public static void ExitDelegateStep(DelegateTaskRunner? previous) => DelegateTask.Value = previous;

    /// <summary>Enters a step of an async LoopTask method (or a continuation bound to its task).</summary>
    public static ITaskCore? EnterStep(ITaskCore task)
    {
        ITaskCore? previous = t_running;
        t_running = task;
        return previous;
    }

    /// <summary>Leaves the step <see cref="EnterStep"/> entered.</summary>
    public static void ExitStep(ITaskCore? previous) => t_running = previous;

    /// <summary>
    /// The continuation an Aio awaiter stores: <paramref name="continuation"/> itself, or, when it
    /// belongs to a nested async method of a running async LoopTask method, the continuation bound
    /// to that task so that it resumes as the task.
    /// </summary>
    public static object Bind(Action continuation)
    {
        if (t_running is { } task && DelegateTask.Value is null && continuation.Target != task)
        {
            return new BoundContinuation(task, continuation);
        }

        return continuation;
    }

    /// <summary>Runs a continuation <see cref="Bind"/> returned (or a task box), now.</summary>
    public static void Run(object continuation)
    {
        if (continuation is Action action)
        {
            action();
        }
        else
        {
            ((ILoopWorkItem)continuation).Execute(null);
        }
    }

    /// <summary>
    /// The execution context an async LoopTask method created here runs in: the current one, without
    /// the Func&lt;Task&gt; body's current-task value (null when the flow is suppressed).
    /// </summary>
    public static ExecutionContext? CaptureForNewTask()
    {
        ExecutionContext? context = ExecutionContext.Capture();
        if (context is null || DelegateTask.Value is not { } creator)
        {
            return context;
        }

        if (!ReferenceEquals(context, creator.DirtyContext))
        {
            DelegateTask.Value = null;
            creator.CleanContext = ExecutionContext.Capture();
            ExecutionContext.Restore(context);
            creator.DirtyContext = context;
        }

        return creator.CleanContext;
    }

    /// <summary>A nested async method's continuation that resumes as the task it was awaited in.</summary>
    private sealed class BoundContinuation(ITaskCore task, Action continuation) : ILoopWorkItem
    {
        public void Execute(object? state)
        {
            ITaskCore? previous = EnterStep(task);
            try
            {
                continuation();
            }
            finally
            {
                ExitStep(previous);
            }
        }
    }
}
