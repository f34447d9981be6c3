using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Aio.Extensions.Hosting;

/// <summary>
/// Parsing of the values the hosting package reads from configuration, with errors that name the
/// full configuration key (such as <c>Aio:Runner:TaskShutdownTimeout</c>) and what it accepts.
/// </summary>
internal static class ConfigurationValues
{
    /// <summary>
    /// The section's entries with a value, after checking that every key is one of <paramref name="keys"/>
    /// and none has nested keys; entries whose value is empty keep the option's default and are skipped.
    /// </summary>
    /// <exception cref="InvalidOperationException">A key is unknown or has nested keys.</exception>
    public static IEnumerable<(string Key, string Path, string Value)> Entries(IConfiguration section, string what, params string[] keys)
    {
        foreach (IConfigurationSection entry in section.GetChildren())
        {
            if (entry.Value is null && entry.GetChildren().Any())
            {
                throw new InvalidOperationException(
                    $"Configuration key '{entry.Path}' has nested keys, but {what} expects a single value there.");
            }

            string? key = Array.Find(keys, known => known.Equals(entry.Key, StringComparison.OrdinalIgnoreCase));
            if (key is null)
            {
                string prefix = section is IConfigurationSection named ? named.Path + ":" : string.Empty;
                throw new InvalidOperationException(
                    $"Unknown configuration key '{entry.Path}': {what} reads {string.Join(", ", keys.Select(known => prefix + known))}. Check its spelling.");
            }

            if (!string.IsNullOrWhiteSpace(entry.Value))
            {
                yield return (key, entry.Path, entry.Value.Trim());
            }
        }
    }

    public static LoopBackend ParseBackend(string value, string path)
    {
        foreach (LoopBackend backend in Enum.GetValues<LoopBackend>())
        {
            if (value.Equals(backend.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                return backend;
            }
        }

        throw new InvalidOperationException(
            $"Invalid configuration value '{value}' at '{path}': not a loop backend; use Default (epoll on Linux, portable elsewhere), Epoll or Portable.");
    }

    public static bool ParseBoolean(string value, string path)
    {
        if (bool.TryParse(value, out bool parsed))
        {
            return parsed;
        }

        return value switch
        {
            "1" => true,
            "0" => false,
            _ => throw new InvalidOperationException(
                string.Create(CultureInfo.InvariantCulture, $"Invalid configuration value '{value}' at '{path}': use true or false (or 1 or 0).")),
        };
    }

    public static int ParsePositiveInt32(string value, string path)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) && parsed >= 1)
        {
            return parsed;
        }

        throw new InvalidOperationException($"Invalid configuration value '{value}' at '{path}': use a whole number of at least 1.");
    }

    /// <summary>A non-negative duration: seconds (<c>"2.5"</c>), a number with a unit (<c>"500ms"</c>, <c>"1s"</c>, <c>"2m"</c>, <c>"1h"</c>) or a time span (<c>"00:00:01"</c>).</summary>
    public static TimeSpan ParseDuration(string value, string path)
    {
        string usage = "use a number of seconds (\"0\", \"2.5\"), a number with a unit (\"500ms\", \"1s\", \"2m\", \"1h\") or a time span (\"00:00:01\"); it must not be negative.";
        if (value.Contains(':', StringComparison.Ordinal))
        {
            if (TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out TimeSpan span) && span >= TimeSpan.Zero)
            {
                return span;
            }

            throw new InvalidOperationException($"Invalid configuration value '{value}' at '{path}': {usage}");
        }

        int end = 0;
        while (end < value.Length && (char.IsAsciiDigit(value[end]) || value[end] == '.'))
        {
            end++;
        }

        double? seconds = null;
        if (end > 0 && double.TryParse(value.AsSpan(0, end), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number))
        {
            seconds = value[end..].Trim().ToLowerInvariant() switch
            {
                "" or "s" => number,
                "ms" => number / 1000,
                "m" or "min" => number * 60,
                "h" => number * 3600,
                _ => null,
            };
        }

        if (seconds is { } valid && valid <= TimeSpan.MaxValue.TotalSeconds)
        {
            return TimeSpan.FromSeconds(valid);
        }

        throw new InvalidOperationException($"Invalid configuration value '{value}' at '{path}': {usage}");
    }
}
