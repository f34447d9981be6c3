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
    /// <summary>The section <see cref="Microsoft.Extensions.DependencyInjection.SharedEventLoopServiceCollectionExtensions.AddSharedEventLoop(Microsoft.Extensions.DependencyInjection.IServiceCollection, IConfiguration, string)"/> reads by default.</summary>
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
        foreach ((string key, string path, string value) in ConfigurationValues.Entries(section, "the shared loop", BackendKey, UseGlobalLoopKey, StopTimeoutKey))
        {
            switch (key)
            {
                case BackendKey:
                    options.Backend = ConfigurationValues.ParseBackend(value, path);
                    break;
                case UseGlobalLoopKey:
                    options.UseGlobalLoop = ConfigurationValues.ParseBoolean(value, path);
                    break;
                default:
                    try
                    {
                        options.StopTimeout = SharedEventLoopOptions.ParseStopTimeout(value);
                    }
                    catch (FormatException error)
                    {
                        throw new InvalidOperationException($"Invalid configuration value at '{path}': {error.Message}", error);
                    }

                    break;
            }
        }
    }
}
