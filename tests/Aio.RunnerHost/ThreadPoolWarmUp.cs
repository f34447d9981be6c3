// Starts the thread pool's threads while descriptors are still free.
//
// On Linux, .NET cannot start a thread once the process has no descriptor left: the runtime's
// thread start opens a pipe, fails with EMFILE, and the process aborts ("Out of memory.", SIGABRT).
// The portable backend's completions run on the thread pool, which may start a thread whenever work
// arrives, so a scenario that exhausts descriptors on purpose starts the pool's threads first (and
// keeps them: SetMinThreads stops the pool from retiring them as idle below that count), more than
// a loaded machine's starvation detection would add. docs/asyncio-mapping.md tells users the same.
internal static class ThreadPoolWarmUp
{
    public static void Run()
    {
        int workers = Math.Max(16, Environment.ProcessorCount * 4);
        ThreadPool.GetMinThreads(out _, out int io);
        ThreadPool.SetMinThreads(workers, Math.Max(io, workers));
        using var barrier = new Barrier(workers);
        Task[] all = [.. Enumerable.Range(0, workers).Select(_ => Task.Run(() => barrier.SignalAndWait(TimeSpan.FromSeconds(30))))];
        Task.WaitAll(all);
    }
}
