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

    /// <summary>The futures the task is suspended on, for diagnostics.</summary>
    IEnumerable<Future> PendingAwaits { get; }

    /// <summary>An Aio awaiter suspends this task on <paramref name="entry"/>: a future, or <see cref="TaskState.YieldMarker"/> (see <see cref="TaskState.WaitOn"/>).</summary>
    void WaitOn(object entry);

    /// <summary>The task resumes from <paramref name="entry"/>: whether the await must throw a cancellation (see <see cref="TaskState.Resume"/>).</summary>
    AwaitEnd Resume(object entry, out string? cancelMessage);

    /// <summary>A cancel that reached a resuming await which could not throw it waits for the task's next await instead.</summary>
    void CancelAtNextAwait();

    /// <summary>As <see cref="Resume"/>, leaving a cancel that reached the await for the task's next await.</summary>
    void ResumeDeferringCancel(object entry);

    /// <summary>Ends the task by how its body failed: cancelled, or failed with <paramref name="exception"/>.</summary>
    void FinishWith(Exception exception);

    /// <summary>Ends the task cancelled by the request that was never delivered to an await.</summary>
    void FinishCancelled();

    /// <summary>Ends the task with the outcome of a finished delegate body (see DelegateTaskRunner).</summary>
    void FinishFrom(Task body);
}
