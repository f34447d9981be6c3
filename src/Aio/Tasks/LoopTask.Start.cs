namespace Aio;

// asyncio.Task(coro, loop=, name=, eager_start=): a task made without consulting the loop's task
// factory — what a factory calls to make the task it returns.
public partial class LoopTask
{
    /// <summary>
    /// Creates and starts a task on <paramref name="loop"/> without consulting its task factory
    /// [asyncio.Task(coro, loop=loop, name=name)]: the first step runs on the next iteration, or at
    /// once when <paramref name="eager"/> (or <see cref="EventLoop.EagerTasks"/>) and the loop runs
    /// on this thread. This is how an <see cref="ILoopTaskFactory"/> makes its tasks.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="loop"/> or <paramref name="body"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public static LoopTask Start(EventLoop loop, Func<CancellationToken, Task> body, string? name = null, bool eager = false)
    {
        ArgumentNullException.ThrowIfNull(loop);
        return loop.StartDefault(body, name, eager);
    }

    /// <summary>As <see cref="Start(EventLoop, Func{CancellationToken, Task}, string?, bool)"/>, for a body with a result.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="loop"/> or <paramref name="body"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public static LoopTask<T> Start<T>(EventLoop loop, Func<CancellationToken, Task<T>> body, string? name = null, bool eager = false)
    {
        ArgumentNullException.ThrowIfNull(loop);
        return loop.StartDefault(body, name, eager);
    }
}
