// Which task is running (asyncio.current_task).
//
// Every task has its own execution context, made at its first step by setting an AsyncLocal to the
// task: the async machinery captures the execution context at each await and restores it when the
// code resumes, so the task stays current in every later step of its body and of the async methods
// it calls, whichever awaitable resumed them (Aio awaiters, foreign tasks through the loop's
// SynchronizationContext, anything). A Func<Task> body's runner sets it around the first call of
// the delegate (DelegateTaskRunner); an async LoopTask method's box sets it in its first step and
// runs every later step in the context captured at the suspension (MethodTask).
//
// The context costs each task one ExecutionContext and its value map (~72 bytes). A thread-static
// set by the box's MoveNext would be free for the method's own code, but nested async Task methods
// (including Aio's own TaskGroup.RunAsync and timeout scopes, which await the user's body) resume
// after a foreign await through the SynchronizationContext, outside any box: only the execution
// context reaches them, so the task must be in it.
namespace Aio;

/// <summary>Which task is running: an AsyncLocal that each task sets in its own execution context. Loop thread only.</summary>
internal static class RunningTask
{
    private static readonly AsyncLocal<ITaskInternals?> CurrentTask = new();

    /// <summary>The task whose code is running now (flows across awaits), or null.</summary>
    public static ITaskInternals? Current => CurrentTask.Value;

    /// <summary>Makes <paramref name="task"/> current in this execution context; returns the previous one.</summary>
    public static ITaskInternals? Enter(ITaskInternals task)
    {
        ITaskInternals? previous = CurrentTask.Value;
        CurrentTask.Value = task;
        return previous;
    }

    /// <summary>Restores what <see cref="Enter"/> returned.</summary>
    public static void Exit(ITaskInternals? previous) => CurrentTask.Value = previous;
}
