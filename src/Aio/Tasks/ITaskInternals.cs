namespace Aio;

/// <summary>
/// The internal side of a task, which its awaits, its runner and Aio's structured code talk to;
/// <see cref="LoopTask"/> and <see cref="LoopTask{T}"/> implement it over their <see cref="TaskState"/>.
/// Loop thread only.
/// </summary>
internal interface ITaskInternals : ILoopTask
{
    /// <summary>The loop the task runs on.</summary>
    EventLoop Loop { get; }

    /// <summary>Whether a cancel waits for the task's next await (or its first step).</summary>
    bool MustCancel { get; }

    /// <summary>Adds the task to its loop's pending tasks (see <see cref="TaskState.Register"/>).</summary>
    void Register();

    /// <summary>Disposes the task's token source (the loop closed under the task).</summary>
    void DisposeToken();

    /// <summary>The future the task is suspended on, if any (for diagnostics).</summary>
    Future? WaitingOn { get; }

    /// <summary>The awaiter of <paramref name="future"/> suspends this task on it (see <see cref="TaskState.WaitOn"/>).</summary>
    void WaitOn(Future future);

    /// <summary>The task resumed from awaiting <paramref name="future"/>.</summary>
    void Resumed(Future future);

    /// <summary>At a suspension with no future (Sleep(0), Yield): throws a pending cancellation.</summary>
    void ThrowIfCancelRequested();

    /// <summary>Takes a cancellation waiting for the task's next await (see <see cref="TaskState.TakeCancelRequest"/>).</summary>
    bool TakeCancelRequest(out string? message);

    /// <summary>Ends the task by how its body failed: cancelled, or failed with <paramref name="exception"/>.</summary>
    void FinishWith(Exception exception);

    /// <summary>Ends the task cancelled by the request that was never delivered to an await.</summary>
    void FinishCancelled();

    /// <summary>Ends the task with the outcome of a finished delegate body (see DelegateTaskRunner).</summary>
    void FinishFrom(Task body);
}
