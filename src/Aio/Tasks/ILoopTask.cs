namespace Aio;

/// <summary>
/// What every loop task offers whatever its result type [asyncio.Task]: <see cref="LoopTask"/> and
/// <see cref="LoopTask{T}"/> implement it, and <see cref="LoopTask.AllTasks"/> lists them by it.
/// Loop thread only.
/// </summary>
public interface ILoopTask
{
    /// <summary>The task's name [task.get_name / set_name].</summary>
    string Name { get; set; }

    /// <summary>Whether the task finished, failed or was cancelled.</summary>
    bool IsDone { get; }

    /// <summary>Whether the task ended cancelled.</summary>
    bool IsCancelled { get; }

    /// <summary>
    /// Cancelled when the task is, for awaits that are not Aio's (HttpClient, Task.Delay, ...).
    /// Aio awaitables need no token: cancelling the task makes them throw <see cref="CancelledError"/>.
    /// </summary>
    CancellationToken CancellationToken { get; }

    /// <summary>
    /// Requests cancellation [task.cancel(msg)]: every await of an Aio awaitable pending on the task's
    /// behalf (several when its code runs helpers concurrently, as with <c>Task.WhenAll</c>) throws
    /// <see cref="CancelledError"/> when it resumes, once per request — also an await whose future had
    /// already completed, after handing back what it obtained; if none is pending (the task runs, or
    /// awaits something else) its next such awaits throw. <see cref="CancellationToken"/> is cancelled too.
    /// </summary>
    /// <returns>False when the task is already done.</returns>
    bool Cancel(string? message = null);

    /// <summary>How many cancellation requests are pending [task.cancelling()].</summary>
    int Cancelling();

    /// <summary>Withdraws one cancellation request [task.uncancel()]; returns the remaining count.</summary>
    int Uncancel();
}
