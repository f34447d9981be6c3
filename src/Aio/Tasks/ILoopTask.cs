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
    /// Requests cancellation [task.cancel(msg)]: the task's pending await of an Aio awaitable throws
    /// <see cref="CancelledError"/> on the next iteration (or its next such await, if it is running
    /// or awaiting something else), and <see cref="CancellationToken"/> is cancelled.
    /// </summary>
    /// <returns>False when the task is already done.</returns>
    bool Cancel(string? message = null);

    /// <summary>How many cancellation requests are pending [task.cancelling()].</summary>
    int Cancelling();

    /// <summary>Withdraws one cancellation request [task.uncancel()]; returns the remaining count.</summary>
    int Uncancel();
}
