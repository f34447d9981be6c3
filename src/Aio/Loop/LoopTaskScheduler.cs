namespace Aio;

/// <summary>
/// A <see cref="TaskScheduler"/> that runs tasks on the loop thread, one at a time, in FIFO order
/// with the loop's other callbacks. Tasks queued after the loop is closed are never run.
/// </summary>
internal sealed class LoopTaskScheduler : TaskScheduler
{
    private readonly EventLoop _loop;
    private readonly Action<object?> _execute;

    public LoopTaskScheduler(EventLoop loop)
    {
        _loop = loop;
        _execute = task => TryExecuteTask((Task)task!);
    }

    public override int MaximumConcurrencyLevel => 1;

    protected override void QueueTask(Task task)
    {
        if (!_loop.TryPost(_execute, task))
        {
            throw new InvalidOperationException("Event loop is closed; the task cannot be scheduled on it.");
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        _loop.IsOnLoopThread && TryExecuteTask(task);

    /// <summary>Not supported: the loop's queue holds other callbacks too (debugger support only).</summary>
    protected override IEnumerable<Task>? GetScheduledTasks() => null;
}
