// The event loop runner under the Generic Host (Aio.Extensions.Hosting's AddEventLoopRunner): the
// host's ConsoleLifetime owns SIGINT/SIGTERM, and the runner's shutdown steps follow the host's stop.
// Logging goes through a synchronous standard-error provider so the runner's step lines and the
// scenario's own lines arrive in the order they happened (the console logger writes from a queue).
using Aio;
using Aio.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

internal static class GenericHostScenarios
{
    public static async Task<int> RunAsync(string scenario)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder([]);
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new StandardErrorLoggerProvider());
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(20));
        switch (scenario)
        {
            case "host-clean":
                // Configuration-bound options (as appsettings or environment variables would give them).
                builder.Configuration["Aio:Runner:TaskShutdownTimeout"] = "5s";
                builder.Services.AddEventLoopRunner(builder.Configuration, WaitsForMain);
                break;
            case "host-main-fails":
                builder.Services.AddEventLoopRunner(
                    async _ =>
                    {
                        await LoopTask.Yield();
                        throw new InvalidOperationException("main failed on purpose");
                    },
                    options => options.StopWhenMainCompletes = true);
                break;
            default:
                Console.Error.WriteLine($"unknown scenario {scenario}");
                return 2;
        }

        using IHost host = builder.Build();
        await host.RunAsync();
        Console.Error.WriteLine("host returned");
        return Environment.ExitCode;
    }

    // Main under the host: protected work that shutdown waits for, and a cancellable wait.
    private static async Task WaitsForMain(IServiceProvider services)
    {
        ILoopTask main = LoopTask.Current!;
        try
        {
            Console.Error.WriteLine("ready");
            await Runner.ShutdownWaitsFor(async () =>
            {
                while (!main.IsDone)
                {
                    await LoopTask.Sleep(TimeSpan.FromMilliseconds(20));
                }

                await LoopTask.Sleep(TimeSpan.FromMilliseconds(300));
                Console.Error.WriteLine("protected work done");
            });
        }
        catch (CancelledError)
        {
            Console.Error.WriteLine("caller cancelled");
            throw;
        }
    }

    private sealed class StandardErrorLoggerProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new StandardErrorLogger(categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class StandardErrorLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Console.Error.WriteLine($"{logLevel}: {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
            }
        }
    }
}
