using Aio.Extensions.Hosting;
using Aio.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// In the namespace of IServiceCollection, as .NET's own Add* extensions are, so that
// `services.AddSharedEventLoop(...)` compiles with the usings every host application has.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Aio's <see cref="SharedEventLoop"/> with dependency injection and the Generic Host.</summary>
public static class SharedEventLoopServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="SharedEventLoop"/> configured from the
    /// <paramref name="sectionName"/> section of <paramref name="configuration"/> (through
    /// <c>IOptions&lt;SharedEventLoopOptions&gt;</c>, so further <c>services.Configure&lt;SharedEventLoopOptions&gt;</c>
    /// calls apply after it), and a hosted service that takes a loop token when the host starts and
    /// releases it when the host stops, within <c>HostOptions.ShutdownTimeout</c> (see
    /// <see cref="AddSharedEventLoop(IServiceCollection, Action{SharedEventLoopOptions}?)"/>).
    /// The configuration is read and validated when the host starts (<c>ValidateOnStart</c>), or
    /// earlier if the shared loop is resolved before; a bad value then throws an
    /// <see cref="InvalidOperationException"/> naming its key, such as <c>Aio:SharedLoop:StopTimeout</c>. Calling this more than once registers one loop
    /// and one hosted service, with every configuration applied in order.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The application's configuration root (for example <c>builder.Configuration</c>).</param>
    /// <param name="sectionName">The section holding the options; default <c>Aio:SharedLoop</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="sectionName"/> is empty.</exception>
    public static IServiceCollection AddSharedEventLoop(
        this IServiceCollection services,
        IConfiguration configuration,
        string sectionName = SharedEventLoopConfiguration.DefaultSectionName)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentException.ThrowIfNullOrWhiteSpace(sectionName);
        services.AddOptions<SharedEventLoopOptions>()
            .Configure(options => SharedEventLoopConfiguration.Bind(configuration.GetSection(sectionName), options));
        return services.AddSharedEventLoop();
    }

    /// <summary>
    /// Registers a singleton <see cref="SharedEventLoop"/> built from
    /// <c>IOptions&lt;SharedEventLoopOptions&gt;</c> (with <paramref name="configure"/> applied) and the
    /// container's <see cref="ILoggerFactory"/>, and a hosted service that holds a loop token for the
    /// host's lifetime: the loop is running once the host has started (hosted services registered
    /// after this one can use it in their own start), and the token is released when the host stops —
    /// after hosted services registered later have stopped — waiting for the loop's pending tasks up
    /// to <see cref="SharedEventLoopOptions.StopTimeout"/> but never past <c>HostOptions.ShutdownTimeout</c>
    /// (the host cancels the stop token then, and the loop stops at once). The container disposes the
    /// shared loop (closing its loop) when it is disposed. Calling this more than once registers one
    /// loop and one hosted service.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets options in code; null: leave them as configured elsewhere.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static IServiceCollection AddSharedEventLoop(this IServiceCollection services, Action<SharedEventLoopOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<SharedEventLoopOptions> options = services.AddOptions<SharedEventLoopOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(provider => new SharedEventLoop(
            provider.GetRequiredService<IOptions<SharedEventLoopOptions>>().Value,
            provider.GetService<ILoggerFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SharedEventLoopHostedService>());
        return services;
    }
}
