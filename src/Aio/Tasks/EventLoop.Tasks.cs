namespace Aio;

public sealed partial class EventLoop
{
    private readonly TaskRegistry _tasks = new();

    /// <summary>
    /// Whether new tasks run their first step synchronously inside <c>CreateTask</c> when the loop is
    /// running on the calling thread [loop.set_task_factory(asyncio.eager_task_factory)]. Default: false.
    /// </summary>
    public bool EagerTasks { get; set; }

    /// <summary>Creates a pending future on this loop [loop.create_future()].</summary>
    public Future<T> CreateFuture<T>()
    {
        CheckClosed();
        return new Future<T>(this);
    }

    /// <summary>
    /// Wraps <paramref name="body"/> in a task [loop.create_task(coro, name=)] whose first step runs
    /// on the next iteration — or at once when <paramref name="eager"/> (or <see cref="EagerTasks"/>)
    /// and the loop is running on this thread.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public LoopTask CreateTask(Func<Task> body, string? name = null, bool eager = false) =>
        _taskFactory is { } factory
            ? CreateTaskThroughFactory(factory, WithToken(Checked(body)), name, eager)
            : StartTask(new LoopTask(this, name), Checked(body), eager);

    /// <summary>As <see cref="CreateTask(Func{Task}, string?, bool)"/>; the body receives the task's <see cref="ILoopTask.CancellationToken"/>.</summary>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public LoopTask CreateTask(Func<CancellationToken, Task> body, string? name = null, bool eager = false) =>
        _taskFactory is { } factory
            ? CreateTaskThroughFactory(factory, Checked(body), name, eager)
            : StartTask(new LoopTask(this, name), Checked(body), eager);

    /// <summary>As <see cref="CreateTask(Func{Task}, string?, bool)"/>, for a body with a result.</summary>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public LoopTask<T> CreateTask<T>(Func<Task<T>> body, string? name = null, bool eager = false) =>
        _taskFactory is { } factory
            ? CreateTaskThroughFactory(factory, WithToken(Checked(body)), name, eager)
            : StartTask(new LoopTask<T>(this, name), Checked(body), eager);

    /// <summary>As <see cref="CreateTask{T}(Func{Task{T}}, string?, bool)"/>; the body receives the task's token.</summary>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public LoopTask<T> CreateTask<T>(Func<CancellationToken, Task<T>> body, string? name = null, bool eager = false) =>
        _taskFactory is { } factory
            ? CreateTaskThroughFactory(factory, Checked(body), name, eager)
            : StartTask(new LoopTask<T>(this, name), Checked(body), eager);

    /// <summary>
    /// Runs <paramref name="body"/> as a task on this loop from any thread and returns a .NET task
    /// with its outcome [asyncio.run_coroutine_threadsafe]. Cancelling <paramref name="cancellationToken"/>
    /// cancels the loop task. Thread-safe.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is closed.</exception>
    public Task<T> RunThreadSafe<T>(Func<Task<T>> body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        CallSoonThreadSafe(() =>
        {
            LoopTask<T> task;
            try
            {
                task = CreateTask(body);
            }
            catch (Exception exception)
            {
                completion.TrySetException(exception);
                return;
            }

            if (cancellationToken.CanBeCanceled)
            {
                CancellationTokenRegistration registration = cancellationToken.Register(
                    () => TryCallSoonThreadSafe(() => task.Cancel()));
                task.AddDoneCallback(_ => registration.Dispose());
            }

            task.AddDoneCallback(done =>
            {
                if (done.IsCancelled)
                {
                    completion.TrySetCanceled(cancellationToken.IsCancellationRequested ? cancellationToken : default);
                }
                else if (done.GetException() is { } exception)
                {
                    completion.TrySetException(exception);
                }
                else
                {
                    completion.TrySetResult(task.Result);
                }
            });
        });
        return completion.Task;
    }

    /// <inheritdoc cref="RunThreadSafe{T}(Func{Task{T}}, CancellationToken)"/>
    public Task RunThreadSafe(Func<Task> body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        return RunThreadSafe(async () =>
        {
            await body();
            return true;
        }, cancellationToken);
    }

    internal int RegisterTask(ILoopTask task) => _tasks.Add(task);

    internal void UnregisterTask(int slot) => _tasks.Remove(slot);

    internal IReadOnlyCollection<ILoopTask> PendingTasks() => _tasks.Pending();

    private TTask StartTask<TTask>(TTask task, Delegate body, bool eager)
        where TTask : ITaskInternals
    {
        CheckClosed();
        CheckThread("CreateTask");
        DelegateTaskRunner.Start(task, body, eager || EagerTasks);
        return task;
    }

    private static Func<CancellationToken, Task> WithToken(Func<Task> body) => _ => body();

    private static Func<CancellationToken, Task<T>> WithToken<T>(Func<Task<T>> body) => _ => body();

    private static T Checked<T>(T body)
        where T : Delegate
    {
        ArgumentNullException.ThrowIfNull(body);
        return body;
    }
}
