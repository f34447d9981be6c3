using Microsoft.Extensions.Configuration;

namespace Aio.Extensions.Hosting;

/// <summary>
/// Reads <see cref="EventLoopRunnerOptions"/> from configuration, for example <c>appsettings.json</c>:
/// <code>
/// { "Aio": { "Runner": { "Backend": "Epoll", "StopWhenMainCompletes": true, "TaskShutdownTimeout": "10s", "ExecutorWorkers": 4 } } }
/// </code>
/// or environment variables <c>Aio__Runner__TaskShutdownTimeout=10s</c>. Keys are case-insensitive;
/// a key that is absent or empty keeps the option's default. A value that does not parse, or an
/// unknown key (a typo would otherwise be ignored silently), throws an
/// <see cref="InvalidOperationException"/> naming the full key, such as
/// <c>Aio:Runner:TaskShutdownTimeout</c>, and what it accepts. Thread-safe (it only reads).
/// </summary>
public static class EventLoopRunnerConfiguration
{
    /// <summary>The section <c>AddEventLoopRunner(configuration, main)</c> reads by default.</summary>
    public const string DefaultSectionName = "Aio:Runner";

    private const string BackendKey = "Backend";
    private const string StopWhenMainCompletesKey = "StopWhenMainCompletes";
    private const string StopOnUnhandledErrorsKey = "StopOnUnhandledErrors";
    private const string TaskShutdownTimeoutKey = "TaskShutdownTimeout";
    private const string ExecutorWorkersKey = "ExecutorWorkers";

    /// <summary>
    /// Sets the options that <paramref name="section"/> names: <c>Backend</c> (<c>Default</c>,
    /// <c>Epoll</c>, <c>Portable</c>), <c>StopWhenMainCompletes</c> and <c>StopOnUnhandledErrors</c>
    /// (<c>true</c>/<c>false</c>, <c>1</c>/<c>0</c>), <c>TaskShutdownTimeout</c> (<c>"2.5"</c> seconds,
    /// <c>"500ms"</c>, <c>"10s"</c>, <c>"1m"</c>, <c>"00:00:10"</c>) and <c>ExecutorWorkers</c> (a whole
    /// number of at least 1). A missing section changes nothing.
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="InvalidOperationException">A value is invalid, or a key is unknown; the message names the key.</exception>
    public static void Bind(IConfiguration section, EventLoopRunnerOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        foreach ((string key, string path, string value) in ConfigurationValues.Entries(
            section, "the event loop runner", BackendKey, StopWhenMainCompletesKey, StopOnUnhandledErrorsKey, TaskShutdownTimeoutKey, ExecutorWorkersKey))
        {
            switch (key)
            {
                case BackendKey:
                    options.Backend = ConfigurationValues.ParseBackend(value, path);
                    break;
                case StopWhenMainCompletesKey:
                    options.StopWhenMainCompletes = ConfigurationValues.ParseBoolean(value, path);
                    break;
                case StopOnUnhandledErrorsKey:
                    options.StopOnUnhandledErrors = ConfigurationValues.ParseBoolean(value, path);
                    break;
                case TaskShutdownTimeoutKey:
                    options.TaskShutdownTimeout = ConfigurationValues.ParseDuration(value, path);
                    break;
                default:
                    options.ExecutorWorkers = ConfigurationValues.ParsePositiveInt32(value, path);
                    break;
            }
        }
    }
}
