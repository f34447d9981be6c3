using Microsoft.Extensions.Options;

namespace Aio.Extensions.Hosting;

/// <summary>
/// Checks <see cref="EventLoopRunnerOptions"/> when the host starts (<c>ValidateOnStart</c>); a failure
/// names the setting by its configuration key (<paramref name="keyPrefix"/> plus the property).
/// </summary>
internal sealed class EventLoopRunnerOptionsValidator(string keyPrefix) : IValidateOptions<EventLoopRunnerOptions>
{
    public ValidateOptionsResult Validate(string? name, EventLoopRunnerOptions options)
    {
        List<string> failures = [];
        if (options.TaskShutdownTimeout < TimeSpan.Zero)
        {
            failures.Add($"'{keyPrefix}:TaskShutdownTimeout' is {options.TaskShutdownTimeout}; it must not be negative.");
        }

        if (options.ExecutorWorkers < 1)
        {
            failures.Add($"'{keyPrefix}:ExecutorWorkers' is {options.ExecutorWorkers}; it must be at least 1 (or unset for the thread pool).");
        }

        if (!Enum.IsDefined(options.Backend))
        {
            failures.Add($"'{keyPrefix}:Backend' is {(int)options.Backend}; use Default, Epoll or Portable.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
