namespace Aio;

/// <summary>
/// Makes the tasks that <see cref="EventLoop.CreateTask(Func{Task}, string?, bool)"/> and its
/// overloads return [the factory of loop.set_task_factory]: install one with
/// <see cref="EventLoop.SetTaskFactory"/> to observe, name, wrap or eagerly start every task created
/// through the loop. A factory makes its task with <see cref="LoopTask.Start(EventLoop, Func{CancellationToken, Task}, string?, bool)"/>
/// (asyncio's <c>Task(coro, loop=, name=)</c>), which bypasses the factory, possibly around a
/// wrapped body. Bodies without a token parameter arrive adapted to take one (they ignore it).
/// Called on the loop thread, inside <c>CreateTask</c>. An <c>async LoopTask</c> method creates its
/// own task and does not consult the factory (as constructing <c>asyncio.Task</c> directly does not).
/// </summary>
public interface ILoopTaskFactory
{
    /// <summary>Makes a task without a result for <paramref name="body"/>.</summary>
    /// <param name="eventLoop">The loop whose <c>CreateTask</c> was called; the task must belong to it.</param>
    /// <param name="body">The task's body; call it once, from the task's first step.</param>
    /// <param name="name">The requested name, or null for the default <c>Task-N</c>.</param>
    /// <param name="eager">Whether the caller asked for an eager first step.</param>
    /// <returns>The task, already started; never null.</returns>
    LoopTask CreateTask(EventLoop eventLoop, Func<CancellationToken, Task> body, string? name, bool eager);

    /// <summary>Makes a task with a result for <paramref name="body"/>; as the result-less form.</summary>
    /// <typeparam name="T">The task's result type.</typeparam>
    /// <param name="eventLoop">The loop whose <c>CreateTask</c> was called; the task must belong to it.</param>
    /// <param name="body">The task's body; call it once, from the task's first step.</param>
    /// <param name="name">The requested name, or null for the default <c>Task-N</c>.</param>
    /// <param name="eager">Whether the caller asked for an eager first step.</param>
    /// <returns>The task, already started; never null.</returns>
    LoopTask<T> CreateTask<T>(EventLoop eventLoop, Func<CancellationToken, Task<T>> body, string? name, bool eager);
}
