namespace Aio;

// loop.set_task_factory / get_task_factory, and asyncio.Task(coro, loop=) as LoopTask.Start: the
// factory decides what CreateTask returns; Start is the plain creation a factory builds on.
public sealed partial class EventLoop
{
    private ILoopTaskFactory? _taskFactory;

    /// <summary>
    /// Installs <paramref name="factory"/> as the maker of every task that <c>CreateTask</c> returns
    /// from now on, or restores the default with null [loop.set_task_factory(factory)]. Loop thread
    /// (or before the loop runs); tasks already created are unaffected.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is closed, or (in debug mode) the call comes from another thread while the loop runs.</exception>
    public void SetTaskFactory(ILoopTaskFactory? factory)
    {
        CheckClosed();
        CheckThread("SetTaskFactory");
        _taskFactory = factory;
    }

    /// <summary>The installed task factory, or null when tasks are made the default way [loop.get_task_factory()].</summary>
    public ILoopTaskFactory? GetTaskFactory() => _taskFactory;

    private LoopTask CreateTaskThroughFactory(ILoopTaskFactory factory, Func<CancellationToken, Task> body, string? name, bool eager)
    {
        CheckClosed();
        return Made(factory.CreateTask(this, body, name, eager));
    }

    private LoopTask<T> CreateTaskThroughFactory<T>(ILoopTaskFactory factory, Func<CancellationToken, Task<T>> body, string? name, bool eager)
    {
        CheckClosed();
        return Made(factory.CreateTask(this, body, name, eager));
    }

    private TTask Made<TTask>(TTask? task)
        where TTask : Future
    {
        if (task is null)
        {
            throw new InvalidOperationException("The loop's task factory returned null: it must return the task it made (with LoopTask.Start).");
        }

        if (!ReferenceEquals(task.Loop, this))
        {
            throw new InvalidOperationException("The loop's task factory returned a task of another loop: make it on the loop it is given.");
        }

        return task;
    }

    internal LoopTask StartDefault(Func<CancellationToken, Task> body, string? name, bool eager) =>
        StartTask(new LoopTask(this, name), Checked(body), eager);

    internal LoopTask<T> StartDefault<T>(Func<CancellationToken, Task<T>> body, string? name, bool eager) =>
        StartTask(new LoopTask<T>(this, name), Checked(body), eager);
}
