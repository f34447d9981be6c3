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
}
