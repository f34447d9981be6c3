using Microsoft.Extensions.Logging;

namespace Aio;

/// <summary>
/// The logger a loop uses when no <see cref="ILoggerFactory"/> was given: warnings and errors go
/// to standard error (like Python's last-resort logging handler), nothing else is written.
/// </summary>
internal sealed class StandardErrorLogger : ILogger
{
    public static readonly StandardErrorLogger Instance = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        ArgumentNullException.ThrowIfNull(formatter);
        string text = $"aio: {logLevel}: {formatter(state, exception)}";
        Console.Error.WriteLine(exception is null ? text : $"{text}\n{exception}");
    }
}
