using Aio;
using Aio.Extensions.Hosting;
using Aio.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

// In the namespace of IServiceCollection, as .NET's own Add* extensions are.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Runs an Aio event loop with aiorun's shutdown steps for the Generic Host's lifetime.</summary>
public static class EventLoopRunnerServiceCollectionExtensions
{
    /// <summary>
    /// Registers a hosted service that runs <paramref name="main"/> as the task "main" on a new event
    /// loop in a thread of its own, for the host's lifetime [aiorun.run(main()) under the host]:
    /// <list type="bullet">
    /// <item>The loop is running, and main has started, when the host's start reaches this service.
    /// Inside main everything of <see cref="Runner"/> works: <see cref="Runner.ShutdownWaitsFor(Func{Task})"/>,
    /// <see cref="Runner.DisposeAtShutdown(IAsyncDisposable)"/>, <see cref="EventLoop.GetRunningLoop"/>.</item>
    /// <item>When the host stops (<c>StopApplication</c>, or SIGINT/SIGTERM through <c>ConsoleLifetime</c>),
    /// the loop stops and shuts down in aiorun's steps, each logged under the category
    /// <c>Aio.Hosting.Runner</c>: shutdown callback, cancel every pending task except those
    /// <c>ShutdownWaitsFor</c> protects (main first), wait for them up to
    /// <see cref="EventLoopRunnerOptions.TaskShutdownTimeout"/>, shut the executor down, dispose
    /// registered resources, close the loop. The host's stop waits for this, within
    /// <c>HostOptions.ShutdownTimeout</c>.</item>
    /// <item>When the loop ends by itself (main completed with <see cref="EventLoopRunnerOptions.StopWhenMainCompletes"/>,
    /// an unhandled error with <see cref="EventLoopRunnerOptions.StopOnUnhandledErrors"/>), the host is stopped.</item>
    /// <item>The exit code (1 when main failed, an unhandled error stopped the loop or the shutdown
    /// callback failed) is set as <see cref="Environment.ExitCode"/>, the process's exit code when
    /// Main returns none; 0 leaves it unchanged.</item>
    /// </list>
    /// Options come from <c>IOptions&lt;EventLoopRunnerOptions&gt;</c> with <paramref name="configure"/>
    /// applied, and are validated when the host starts. Register it once per host.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="main">The application's main task; it receives the host's services.</param>
    /// <param name="configure">Sets options in code; null: leave them as configured elsewhere.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="main"/> is null.</exception>
    /// <exception cref="InvalidOperationException">An event loop runner is registered already.</exception>
    public static IServiceCollection AddEventLoopRunner(
        this IServiceCollection services,
        Func<IServiceProvider, Task> main,
        Action<EventLoopRunnerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(main);
        return services.AddRunner(main, configure: configure, configuration: null, EventLoopRunnerConfiguration.DefaultSectionName);
    }

    /// <summary>
    /// As <see cref="AddEventLoopRunner(IServiceCollection, Func{IServiceProvider, Task}, Action{EventLoopRunnerOptions}?)"/>,
    /// with the options read from the <paramref name="sectionName"/> section of <paramref name="configuration"/>
    /// (see <see cref="EventLoopRunnerConfiguration.Bind"/>) when the host starts; an invalid value or
    /// an unknown key then fails the start with an exception naming the key, such as
    /// <c>Aio:Runner:TaskShutdownTimeout</c>. Later <c>services.Configure&lt;EventLoopRunnerOptions&gt;</c>
    /// calls apply after the configuration.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The application's configuration root (for example <c>builder.Configuration</c>).</param>
    /// <param name="main">The application's main task; it receives the host's services.</param>
    /// <param name="sectionName">The section holding the options; default <c>Aio:Runner</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="sectionName"/> is empty.</exception>
    /// <exception cref="InvalidOperationException">An event loop runner is registered already.</exception>
    public static IServiceCollection AddEventLoopRunner(
        this IServiceCollection services,
        IConfiguration configuration,
        Func<IServiceProvider, Task> main,
        string sectionName = EventLoopRunnerConfiguration.DefaultSectionName)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(main);
        ArgumentException.ThrowIfNullOrWhiteSpace(sectionName);
        return services.AddRunner(main, configure: null, configuration, sectionName);
    }

    private static IServiceCollection AddRunner(
        this IServiceCollection services,
        Func<IServiceProvider, Task> main,
        Action<EventLoopRunnerOptions>? configure,
        IConfiguration? configuration,
        string sectionName)
    {
        if (services.Any(descriptor => descriptor.ServiceType == typeof(EventLoopRunnerMain)))
        {
            throw new InvalidOperationException("An event loop runner is registered already: a host runs one; start further work as tasks from its main.");
        }

        OptionsBuilder<EventLoopRunnerOptions> options = services.AddOptions<EventLoopRunnerOptions>();
        if (configuration is not null)
        {
            options.Configure(settings => EventLoopRunnerConfiguration.Bind(configuration.GetSection(sectionName), settings));
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EventLoopRunnerOptions>>(new EventLoopRunnerOptionsValidator(sectionName)));
        services.AddSingleton(new EventLoopRunnerMain(main));
        services.AddHostedService<EventLoopRunnerService>();
        return services;
    }
}
