using Microsoft.Extensions.Logging;

namespace Aio;

/// <summary>
/// The logger used when no <see cref="ILoggerFactory"/> was given: entries at or above a minimum
/// level go to standard error (like Python's last-resort logging handler). <see cref="Instance"/>
/// (the loop's) writes warnings and errors; the runner also writes its informational shutdown steps.
/// </summary>
internal sealed class StandardErrorLogger : ILogger
{
    public static readonly StandardErrorLogger Instance = new(LogLevel.Warning);

    private readonly LogLevel _minimum;

    public StandardErrorLogger(LogLevel minimum) => _minimum = minimum;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= _minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        ArgumentNullException.ThrowIfNull(formatter);
        string message = formatter(state, exception);
        string text = logLevel <= LogLevel.Information ? message : $"aio: {logLevel}: {message}";
        Console.Error.WriteLine(exception is null ? text : $"{text}\n{exception}");
    }
}
