using System.Globalization;

namespace Aio.Hosting;

/// <summary>
/// Settings for a <see cref="SharedEventLoop"/> [score.asyncio's configuration: <c>backend</c>
/// (its <c>use_uvloop</c> choice), <c>use_global_loop</c>, <c>stop_timeout</c>]. A plain settable
/// class, so <c>Microsoft.Extensions.Options</c> can build and configure it; the shared loop copies
/// the values when it is created, and later changes do not reach it.
/// </summary>
public sealed class SharedEventLoopOptions
{
    private TimeSpan? _stopTimeout;

    /// <summary>The loop's I/O backend. Default: epoll on Linux, portable elsewhere.</summary>
    public LoopBackend Backend { get; set; }

    /// <summary>
    /// Make the shared loop <see cref="EventLoopPolicy.GlobalLoop"/>, so that
    /// <see cref="EventLoop.GetEventLoop"/> returns it in every thread that has no current loop of
    /// its own, for as long as the shared loop is not disposed. Only one loop can be global at a
    /// time. Default: false.
    /// </summary>
    public bool UseGlobalLoop { get; set; }

    /// <summary>
    /// How long the last token's release waits for the loop's pending tasks to finish before it
    /// stops the loop anyway (the tasks are not cancelled; they resume at the next start).
    /// Null (the default) or <see cref="Timeout.InfiniteTimeSpan"/> (read back as null): wait as long
    /// as it takes. <see cref="TimeSpan.Zero"/>: stop at once. Values longer than about 24 days (the
    /// longest finite wait .NET supports) wait without limit.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan? StopTimeout
    {
        get => _stopTimeout;
        set
        {
            if (value == Timeout.InfiniteTimeSpan)
            {
                value = null;
            }

            if (value < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(value), value, "StopTimeout must not be negative: use TimeSpan.Zero to stop at once, or null to wait for pending tasks without limit.");
            }

            _stopTimeout = value;
        }
    }

    /// <summary>
    /// Parses a stop timeout as configuration files and environment variables write it:
    /// a number of seconds (<c>"0"</c>, <c>"2.5"</c>); a number with a unit, <c>ms</c>, <c>s</c>,
    /// <c>m</c>/<c>min</c> or <c>h</c> (<c>"500ms"</c>, <c>"1s"</c>, <c>"1.5 h"</c>); a .NET time span
    /// with colons (<c>"00:00:01"</c>, <c>"1.00:00:00"</c>); or <c>"none"</c>, <c>"infinite"</c> or
    /// an empty string for no limit (null). Case-insensitive; surrounding spaces are ignored; the
    /// decimal separator is always a dot. Thread-safe.
    /// </summary>
    /// <param name="text">The text; null means no limit, like an unset key.</param>
    /// <returns>The time span, or null for no limit.</returns>
    /// <exception cref="FormatException">The text is none of those forms, is negative, or is too large for a <see cref="TimeSpan"/>.</exception>
    public static TimeSpan? ParseStopTimeout(string? text)
    {
        if (TryParseStopTimeout(text, out TimeSpan? timeout, out string? error))
        {
            return timeout;
        }

        throw new FormatException(error);
    }

    /// <summary>As <see cref="ParseStopTimeout"/>, returning false instead of throwing. Thread-safe.</summary>
    /// <param name="text">The text to parse.</param>
    /// <param name="timeout">The parsed value (null for no limit), or null when parsing failed.</param>
    public static bool TryParseStopTimeout(string? text, out TimeSpan? timeout) =>
        TryParseStopTimeout(text, out timeout, out _);

    private static bool TryParseStopTimeout(string? text, out TimeSpan? timeout, out string? error)
    {
        timeout = null;
        error = null;
        string value = (text ?? string.Empty).Trim();
        if (value.Length == 0 || value.Equals("none", StringComparison.OrdinalIgnoreCase) || value.Equals("infinite", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        string usage =
            "use a number of seconds (\"0\", \"2.5\"), a number with a unit (\"500ms\", \"1s\", \"2m\", \"1h\"), " +
            "a time span (\"00:00:01\"), or \"none\" to wait for pending tasks without limit.";
        if (value.StartsWith('-'))
        {
            error = $"The stop timeout '{text}' is negative; {usage}";
            return false;
        }

        if (value.Contains(':', StringComparison.Ordinal))
        {
            if (TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out TimeSpan span))
            {
                timeout = span;
                return true;
            }

            error = $"The stop timeout '{text}' is not a valid time span; {usage}";
            return false;
        }

        int end = 0;
        while (end < value.Length && (char.IsAsciiDigit(value[end]) || value[end] == '.'))
        {
            end++;
        }

        string unit = value[end..].Trim();
        if (end == 0 || !double.TryParse(value.AsSpan(0, end), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number))
        {
            error = $"The stop timeout '{text}' is not a number of seconds, a number with a unit, or a time span; {usage}";
            return false;
        }

        double? milliseconds = unit.ToUpperInvariant() switch
        {
            "" or "S" => number * 1000,
            "MS" => number,
            "M" or "MIN" => number * 60_000,
            "H" => number * 3_600_000,
            _ => null,
        };
        if (milliseconds is null)
        {
            error = $"The stop timeout '{text}' has an unknown unit '{unit}' (known: ms, s, m, min, h); {usage}";
            return false;
        }

        if (milliseconds.Value >= TimeSpan.MaxValue.TotalMilliseconds)
        {
            error = $"The stop timeout '{text}' is too large for a TimeSpan; use \"none\" to wait without limit.";
            return false;
        }

        timeout = TimeSpan.FromMilliseconds(milliseconds.Value);
        return true;
    }
}
