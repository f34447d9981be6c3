namespace Aio.Tests.Sync;

/// <summary>Helpers shared by the synchronization-primitive tests.</summary>
internal static class SyncTestSteps
{
    /// <summary>
    /// Lets the loop run <paramref name="iterations"/> iterations, so that tasks created before
    /// have started and suspended on their waits (a new task's first step runs in the next iteration).
    /// </summary>
    public static async Task Settle(int iterations = 3)
    {
        for (int i = 0; i < iterations; i++)
        {
            await LoopTask.Yield();
        }
    }

    /// <summary>
    /// Arranges for the current task to be cancelled with <paramref name="message"/> right after
    /// <paramref name="wait"/> completes and before the task resumes from awaiting it: call it before
    /// the await, so the done callback is scheduled ahead of the task's continuation, in the same
    /// iteration. That is a cancel arriving in the same iteration as the grant, after it.
    /// </summary>
    public static void CancelOnCompletion(Future wait, string message)
    {
        ILoopTask self = LoopTask.Current ?? throw new InvalidOperationException("Call it from inside a task.");
        wait.AddDoneCallback(_ => self.Cancel(message));
    }
}
