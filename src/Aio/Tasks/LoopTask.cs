using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>
/// An async method running on the loop as an asyncio Task [asyncio.Task]. Either an
/// <c>async LoopTask</c> method — calling it on the loop's thread creates the task, as
/// <c>asyncio.create_task(coro())</c> does — or a delegate given to
/// <see cref="EventLoop.CreateTask(Func{Task}, string?, bool)"/>. First step on the next iteration
/// (or at once when eager), cancellable without a token. Await it, or read its outcome with
/// <see cref="Future.ThrowIfNotSucceeded"/> once done. Loop thread only.
/// </summary>
[AsyncMethodBuilder(typeof(LoopTaskMethodBuilder))]
public partial class LoopTask : Future, ILoopTask, ITaskInternals
{
    private TaskState _state;

    internal LoopTask(EventLoop loop, string? name)
        : base(loop) => _state = new TaskState(name);

    /// <summary>Reports a task collected while pending ("Task was destroyed but it is pending!").</summary>
    ~LoopTask() => _state.ReportDestroyed(this, Name);

    /// <summary>
    /// The task whose code is running [asyncio.current_task()], or null outside any task. Flows
    /// across every await of the task's method and of the async methods it calls.
    /// </summary>
    public static ILoopTask? Current => RunningTask.Current;

    /// <inheritdoc />
    public string Name
    {
        get => _state.Name;
        set => _state.Name = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <inheritdoc />
    public CancellationToken CancellationToken => _state.Token;

    bool ITaskInternals.MustCancel => _state.MustCancel;

    IEnumerable<Future> ITaskInternals.PendingAwaits => _state.PendingAwaits;

    /// <summary>The pending tasks of <paramref name="loop"/> (default: the running loop) [asyncio.all_tasks()].</summary>
    /// <exception cref="InvalidOperationException">No loop was given and none is running.</exception>
    public static IReadOnlyCollection<ILoopTask> AllTasks(EventLoop? loop = null) =>
        (loop ?? EventLoop.GetRunningLoop()).PendingTasks();

    /// <summary>
    /// Suspends the current code for <paramref name="delay"/> of loop time [asyncio.sleep]; a zero or
    /// negative delay yields exactly one iteration without allocating, and
    /// <see cref="Timeout.InfiniteTimeSpan"/> sleeps until the task is cancelled. Cancelling the task
    /// ends the sleep with <see cref="CancelledError"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static SleepAwaitable Sleep(TimeSpan delay)
    {
        EventLoop loop = EventLoop.GetRunningLoop();
        return new SleepAwaitable(loop, delay > TimeSpan.Zero || delay == System.Threading.Timeout.InfiniteTimeSpan ? new SleepFuture(loop, delay) : null);
    }

    /// <summary>Yields one loop iteration [asyncio.sleep(0)]; same as <c>Sleep(TimeSpan.Zero)</c>.</summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static SleepAwaitable Yield() => new(EventLoop.GetRunningLoop(), null);

    /// <inheritdoc />
    public override bool Cancel(string? message = null) => _state.Cancel(this, message);

    /// <inheritdoc />
    public int Cancelling() => _state.Cancelling;

    /// <inheritdoc />
    public int Uncancel() => _state.Uncancel();

    /// <inheritdoc />
    public override string ToString() => $"<LoopTask {Name} {StateText(this)}>";

    void ITaskInternals.Register() => _state.Register(this);

    void ITaskInternals.DisposeToken() => _state.DisposeToken();

    void ITaskInternals.WaitOn(object entry) => _state.WaitOn(this, entry);

    AwaitEnd ITaskInternals.Resume(object entry, out string? cancelMessage) => _state.Resume(this, entry, out cancelMessage);

    void ITaskInternals.ResumeDeferringCancel(object entry) => _state.ResumeDeferringCancel(this, entry);

    void ITaskInternals.CancelAtNextAwait() => _state.CancelAtNextAwait(this);

    void ITaskInternals.FinishWith(Exception exception) => _state.FinishWith(this, exception);

    void ITaskInternals.FinishCancelled() => _state.FinishCancelled(this);

    void ITaskInternals.FinishFrom(Task body)
    {
        try
        {
            body.GetAwaiter().GetResult();
        }
        catch (Exception exception)
        {
            _state.FinishWith(this, exception);
            return;
        }

        Succeed();
    }

    /// <summary>The body returned: the task succeeds (or ends cancelled by a request no await took).</summary>
    internal void Succeed()
    {
        if (_state.TrySucceed(this))
        {
            CompleteSucceeded();
        }
    }

    /// <summary>What <paramref name="task"/> is suspended on, for shutdown and debugging reports.</summary>
    internal static string DescribeWait(ILoopTask task) =>
        ((ITaskInternals)task).PendingAwaits.ToArray() is { Length: > 0 } futures
            ? string.Join(", ", futures.Select(future => future.ToString()))
            : "nothing of Aio's (it is running, yielding, or awaiting a foreign task)";

    internal static string StateText(Future future) =>
        !future.IsDone ? "pending" : future.IsCancelled ? "cancelled" : future.IsCompletedSuccessfully ? "finished" : "failed";
}
