namespace Aio;

/// <summary>
/// An async method running on the loop as an asyncio Task [asyncio.Task]: created by
/// <see cref="EventLoop.CreateTask(Func{Task}, string?, bool)"/>, first step on the next iteration
/// (or at once when eager), cancellable without a token. Await it, or read its outcome with
/// <see cref="Future.ThrowIfNotSucceeded"/> once done. Loop thread only.
/// </summary>
public sealed partial class LoopTask : Future, ILoopTask, ITaskOwner
{
    private readonly TaskCore _core;
    private readonly Delegate _body;

    internal LoopTask(EventLoop loop, Delegate body, string? name)
        : base(loop)
    {
        _body = body;
        _core = new TaskCore(this, name);
    }

    /// <summary>
    /// The task whose code is running [asyncio.current_task()], or null outside any task. Flows
    /// across every await of the task's async method.
    /// </summary>
    public static ILoopTask? Current => TaskCore.Current?.Task;

    /// <inheritdoc />
    public string Name
    {
        get => _core.Name;
        set => _core.Name = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <inheritdoc />
    public CancellationToken CancellationToken => _core.Token;

    Future ITaskOwner.Future => this;

    TaskCore ITaskOwner.Core => _core;

    internal TaskCore Core => _core;

    /// <summary>The pending tasks of <paramref name="loop"/> (default: the running loop) [asyncio.all_tasks()].</summary>
    /// <exception cref="InvalidOperationException">No loop was given and none is running.</exception>
    public static IReadOnlyCollection<ILoopTask> AllTasks(EventLoop? loop = null) =>
        (loop ?? EventLoop.GetRunningLoop()).PendingTasks();

    /// <summary>
    /// Suspends the current code for <paramref name="delay"/> of loop time [asyncio.sleep]; a zero or
    /// negative delay yields exactly one iteration without allocating. Cancelling the task ends the
    /// sleep with <see cref="CancelledError"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static SleepAwaitable Sleep(TimeSpan delay)
    {
        EventLoop loop = EventLoop.GetRunningLoop();
        return new SleepAwaitable(loop, delay > TimeSpan.Zero ? new SleepFuture(loop, delay) : null);
    }

    /// <summary>Yields one loop iteration [asyncio.sleep(0)]; same as <c>Sleep(TimeSpan.Zero)</c>.</summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static SleepAwaitable Yield() => new(EventLoop.GetRunningLoop(), null);

    /// <inheritdoc />
    public override bool Cancel(string? message = null) => _core.Cancel(message);

    /// <inheritdoc />
    public int Cancelling() => _core.Cancelling();

    /// <inheritdoc />
    public int Uncancel() => _core.Uncancel();

    /// <inheritdoc />
    public override string ToString() => $"<LoopTask {Name} {StateText(this)}>";

    Task ITaskOwner.StartBody() => _body switch
    {
        Func<Task> plain => plain(),
        _ => ((Func<CancellationToken, Task>)_body)(_core.Token),
    };

    void ITaskOwner.CompleteFrom(Task body)
    {
        body.GetAwaiter().GetResult();
        CompleteSucceeded();
    }

    void ITaskOwner.CancelFuture(string? message) => TryCancel(message);

    void ITaskOwner.FailFuture(Exception exception) => SetException(exception);

    /// <summary>What <paramref name="task"/> is suspended on, for shutdown and debugging reports.</summary>
    internal static string DescribeWait(ILoopTask task)
    {
        TaskCore core = ((ITaskOwner)task).Core;
        return core.WaitingOn?.ToString() ?? "nothing of Aio's (it is running, or awaiting a foreign task)";
    }

    internal static string StateText(Future future) =>
        !future.IsDone ? "pending" : future.IsCancelled ? "cancelled" : future.IsCompletedSuccessfully ? "finished" : "failed";
}
