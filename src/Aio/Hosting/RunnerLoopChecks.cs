namespace Aio.Hosting;

/// <summary>aiorun's checks on <c>run(loop=)</c>: a given loop excludes the options that would configure a new one.</summary>
internal static class RunnerLoopChecks
{
    public static void Check(RunnerOptions options)
    {
        if (options.Loop is not { } loop)
        {
            return;
        }

        if (options.Backend != LoopBackend.Default)
        {
            throw new ArgumentException(
                "RunnerOptions.Loop and RunnerOptions.Backend are mutually exclusive: make your own loop with the backend you want (new EventLoop(new EventLoopOptions { Backend = ... })) and pass it in.",
                nameof(options));
        }

        if (options.TimeProvider is not null)
        {
            throw new ArgumentException(
                "RunnerOptions.Loop and RunnerOptions.TimeProvider are mutually exclusive: give the clock to the loop you pass in (EventLoopOptions.TimeProvider).",
                nameof(options));
        }

        if (options.StopOnUnhandledErrors && loop.GetExceptionHandler() is not null)
        {
            throw new ArgumentException(
                "The loop passed in RunnerOptions.Loop has a custom exception handler, so StopOnUnhandledErrors is unavailable (all exceptions are handled there): remove the handler or leave StopOnUnhandledErrors false.",
                nameof(options));
        }

        if (loop.IsClosed)
        {
            throw new ArgumentException("The loop passed in RunnerOptions.Loop is closed: pass a new loop.", nameof(options));
        }

        if (loop.IsRunning)
        {
            throw new ArgumentException("The loop passed in RunnerOptions.Loop is already running: pass a loop that is not running.", nameof(options));
        }
    }
}
