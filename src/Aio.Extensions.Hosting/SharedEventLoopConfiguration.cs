using System.Globalization;
using Aio.Hosting;
using Microsoft.Extensions.Configuration;

namespace Aio.Extensions.Hosting;

/// <summary>
/// Reads <see cref="SharedEventLoopOptions"/> from configuration [score.asyncio's configuration
/// section], for example <c>appsettings.json</c>:
/// <code>
/// { "Aio": { "SharedLoop": { "Backend": "Epoll", "UseGlobalLoop": true, "StopTimeout": "5s" } } }
/// </code>
/// or environment variables <c>Aio__SharedLoop__StopTimeout=500ms</c>. Keys are case-insensitive;
/// a key that is absent or empty keeps the option's default. A value that does not parse, or an
/// unknown key (a typo would otherwise be ignored silently), throws an
/// <see cref="InvalidOperationException"/> naming the full key, such as
/// <c>Aio:SharedLoop:StopTimeout</c>, and what it accepts. Thread-safe (it only reads).
/// </summary>
public static class SharedEventLoopConfiguration
{
    /// <summary>The section <see cref="SharedEventLoopServiceCollectionExtensions.AddSharedEventLoop(Microsoft.Extensions.DependencyInjection.IServiceCollection, IConfiguration, string)"/> reads by default.</summary>
    public const string DefaultSectionName = "Aio:SharedLoop";

    private const string BackendKey = "Backend";
    private const string UseGlobalLoopKey = "UseGlobalLoop";
    private const string StopTimeoutKey = "StopTimeout";

    /// <summary>
    /// Sets the options that <paramref name="section"/> names: <c>Backend</c> (<c>Default</c>,
    /// <c>Epoll</c>, <c>Portable</c>), <c>UseGlobalLoop</c> (<c>true</c>/<c>false</c>, <c>1</c>/<c>0</c>)
    /// and <c>StopTimeout</c> (see <see cref="SharedEventLoopOptions.ParseStopTimeout"/>: <c>"0"</c>,
    /// <c>"500ms"</c>, <c>"1s"</c>, <c>"00:00:01"</c>, <c>"none"</c>). A missing section changes nothing.
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="InvalidOperationException">A value is invalid, or a key is unknown; the message names the key.</exception>
    public static void Bind(IConfiguration section, SharedEventLoopOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        foreach (IConfigurationSection entry in section.GetChildren())
        {
            if (entry.Value is null && entry.GetChildren().Any())
            {
                throw new InvalidOperationException(
                    $"Configuration key '{entry.Path}' has nested keys, but the shared loop expects a single value there.");
            }

            if (string.IsNullOrWhiteSpace(entry.Value))
            {
                if (!IsKnown(entry.Key))
                {
                    throw UnknownKey(section, entry);
                }

                continue;
            }

            string value = entry.Value.Trim();
            if (entry.Key.Equals(BackendKey, StringComparison.OrdinalIgnoreCase))
            {
                options.Backend = ParseBackend(value, entry.Path);
            }
            else if (entry.Key.Equals(UseGlobalLoopKey, StringComparison.OrdinalIgnoreCase))
            {
                options.UseGlobalLoop = ParseBoolean(value, entry.Path);
            }
            else if (entry.Key.Equals(StopTimeoutKey, StringComparison.OrdinalIgnoreCase))
            {
                try
                {
                    options.StopTimeout = SharedEventLoopOptions.ParseStopTimeout(value);
                }
                catch (FormatException error)
                {
                    throw new InvalidOperationException($"Invalid configuration value at '{entry.Path}': {error.Message}", error);
                }
            }
            else
            {
                throw UnknownKey(section, entry);
            }
        }
    }

    private static bool IsKnown(string key) =>
        key.Equals(BackendKey, StringComparison.OrdinalIgnoreCase) ||
        key.Equals(UseGlobalLoopKey, StringComparison.OrdinalIgnoreCase) ||
        key.Equals(StopTimeoutKey, StringComparison.OrdinalIgnoreCase);

    private static InvalidOperationException UnknownKey(IConfiguration section, IConfigurationSection entry)
    {
        string prefix = section is IConfigurationSection named ? named.Path + ":" : string.Empty;
        return new InvalidOperationException(
            $"Unknown configuration key '{entry.Path}': the shared loop reads {prefix}{BackendKey}, {prefix}{UseGlobalLoopKey} and {prefix}{StopTimeoutKey}. Check its spelling.");
    }

    private static LoopBackend ParseBackend(string value, string path)
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

    private static bool ParseBoolean(string value, string path)
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
}
