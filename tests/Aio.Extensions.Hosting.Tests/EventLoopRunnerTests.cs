using System.Collections.Concurrent;
using Aio;
using Aio.Extensions.Hosting;
using Aio.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Aio.Extensions.Hosting.Tests;

/// <summary>
/// <c>AddEventLoopRunner</c> in a real Generic Host (in process; the SIGTERM-through-ConsoleLifetime
/// path runs in a child process in Aio.Tests' RunnerProcessTests): main runs on the loop from the
/// host's start, the host's stop performs aiorun's steps, the loop ending stops the host, and
/// options bind from configuration with errors naming the key.
/// </summary>
public sealed class EventLoopRunnerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Host_StartThenStop_MainRunsOnTheLoopAndStopRunsAiorunsSteps()
    {
        var log = new ListLoggerProvider();
        var mainThread = new TaskCompletionSource<(int Thread, EventLoop Loop)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using IHost host = BuildHost(log, services => services.AddEventLoopRunner(async _ =>
        {
            mainThread.SetResult((Environment.CurrentManagedThreadId, EventLoop.GetRunningLoop()));
            try
            {
                await LoopTask.Sleep(TimeSpan.FromHours(1));
            }
            catch (CancelledError)
            {
                outcome.SetResult("main cancelled");
                throw;
            }
        }));

        await host.StartAsync().WaitAsync(Patience);
        (int thread, EventLoop loop) = await mainThread.Task.WaitAsync(Patience);
        Assert.NotEqual(Environment.CurrentManagedThreadId, thread);
        Assert.True(loop.IsRunning);

        await host.StopAsync().WaitAsync(Patience);

        Assert.Equal("main cancelled", await outcome.Task.WaitAsync(Patience));
        Assert.True(loop.IsClosed);
        log.AssertInOrder(
            "Running forever.", "Stopping the loop", "Entering shutdown phase.", "Cancelling pending tasks.",
            "Cancelling task: <LoopTask main", "Running pending tasks till complete", "Waiting for executor shutdown.",
            "Closing the loop.", "Leaving. Bye!");
    }

    [Fact]
    public async Task Host_MainCompletesWithStopWhenMainCompletes_HostStopsByItself()
    {
        var log = new ListLoggerProvider();
        using IHost host = BuildHost(log, services => services.AddEventLoopRunner(
            async _ => await LoopTask.Sleep(TimeSpan.FromMilliseconds(10)),
            options => options.StopWhenMainCompletes = true));

        // RunAsync returns only once the host has stopped: here because the loop ended.
        await host.RunAsync().WaitAsync(Patience);

        log.AssertInOrder("Running forever.", "Entering shutdown phase.", "Leaving. Bye!");
        Assert.DoesNotContain(log.Messages, message => message.Contains("failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Host_MainCompletesAtOnce_HostStartSucceedsAndTheHostStops()
    {
        // main ends before the host's start has finished: the host links its start token to
        // ApplicationStopping, which the runner triggers; the start must still count as done.
        for (int i = 0; i < 20; i++)
        {
            var log = new ListLoggerProvider();
            using IHost host = BuildHost(log, services => services.AddEventLoopRunner(
                _ => Task.CompletedTask,
                options => options.StopWhenMainCompletes = true));

            await host.RunAsync().WaitAsync(Patience);

            log.AssertInOrder("Running forever.", "Entering shutdown phase.", "Leaving. Bye!");
        }
    }

    [Fact]
    public async Task Host_ShutdownCallbackAndExecutorWorkers_AreUsed()
    {
        var log = new ListLoggerProvider();
        var executorThread = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var callbackRan = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using IHost host = BuildHost(log, services => services.AddEventLoopRunner(
            async _ =>
            {
                executorThread.SetResult(await EventLoop.GetRunningLoop().RunInExecutor(() => Thread.CurrentThread.Name));
                await LoopTask.Sleep(TimeSpan.FromHours(1));
            },
            options =>
            {
                options.ExecutorWorkers = 2;
                options.TaskShutdownTimeout = TimeSpan.FromSeconds(5);
                options.ShutdownCallback = _ =>
                {
                    callbackRan.SetResult();
                    return Task.CompletedTask;
                };
            }));

        await host.StartAsync().WaitAsync(Patience);
        Assert.StartsWith("Aio.Runner.Worker", await executorThread.Task.WaitAsync(Patience), StringComparison.Ordinal);
        await host.StopAsync().WaitAsync(Patience);

        Assert.True(callbackRan.Task.IsCompleted);
        log.AssertInOrder("Entering shutdown phase.", "Cancelling pending tasks.", "Leaving. Bye!");
    }

    [Fact]
    public void AddEventLoopRunner_Twice_InvalidOperation()
    {
        var services = new ServiceCollection();
        services.AddEventLoopRunner(_ => Task.CompletedTask);

        var error = Assert.Throws<InvalidOperationException>(() => services.AddEventLoopRunner(_ => Task.CompletedTask));

        Assert.Contains("registered already", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_AllKeys_SetsEveryOption()
    {
        EventLoopRunnerOptions options = BindFrom(new()
        {
            ["Aio:Runner:Backend"] = "portable",
            ["Aio:Runner:StopWhenMainCompletes"] = "true",
            ["Aio:Runner:StopOnUnhandledErrors"] = "1",
            ["Aio:Runner:TaskShutdownTimeout"] = "1.5",
            ["Aio:Runner:ExecutorWorkers"] = "3",
        });

        Assert.Equal(LoopBackend.Portable, options.Backend);
        Assert.True(options.StopWhenMainCompletes);
        Assert.True(options.StopOnUnhandledErrors);
        Assert.Equal(TimeSpan.FromSeconds(1.5), options.TaskShutdownTimeout);
        Assert.Equal(3, options.ExecutorWorkers);
    }

    [Theory]
    [InlineData("0", 0.0)]
    [InlineData("10s", 10.0)]
    [InlineData("250ms", 0.25)]
    [InlineData("2m", 120.0)]
    [InlineData("00:00:03", 3.0)]
    public void Bind_TaskShutdownTimeoutForms_AllAccepted(string text, double seconds)
    {
        EventLoopRunnerOptions options = BindFrom(new() { ["Aio:Runner:TaskShutdownTimeout"] = text });

        Assert.Equal(TimeSpan.FromSeconds(seconds), options.TaskShutdownTimeout);
    }

    [Fact]
    public void Bind_MissingSection_KeepsTheDefaults()
    {
        EventLoopRunnerOptions options = BindFrom([]);

        Assert.Equal(LoopBackend.Default, options.Backend);
        Assert.False(options.StopWhenMainCompletes);
        Assert.Equal(TimeSpan.FromSeconds(60), options.TaskShutdownTimeout);
        Assert.Null(options.ExecutorWorkers);
    }

    [Theory]
    [InlineData("Backend", "uvloop", "Epoll")]
    [InlineData("StopWhenMainCompletes", "yes", "true or false")]
    [InlineData("TaskShutdownTimeout", "-1s", "must not be negative")]
    [InlineData("TaskShutdownTimeout", "soon", "a number of seconds")]
    [InlineData("ExecutorWorkers", "0", "at least 1")]
    public void Bind_BadValue_InvalidOperationNamingTheKeyAndWhatItAccepts(string key, string value, string hint)
    {
        var error = Assert.Throws<InvalidOperationException>(() => BindFrom(new() { [$"Aio:Runner:{key}"] = value }));

        Assert.Contains($"'Aio:Runner:{key}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(hint, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_UnknownKey_InvalidOperationNamingItAndTheKnownKeys()
    {
        var error = Assert.Throws<InvalidOperationException>(() => BindFrom(new() { ["Aio:Runner:TaskShutdownTimout"] = "1s" }));

        Assert.Contains("'Aio:Runner:TaskShutdownTimout'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Aio:Runner:TaskShutdownTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_BadConfigurationValue_StartFailsNamingTheKey()
    {
        using IHost host = BuildHost(new ListLoggerProvider(), services => services.AddEventLoopRunner(
            Configuration(new() { ["Aio:Runner:ExecutorWorkers"] = "many" }), _ => Task.CompletedTask));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync().WaitAsync(Patience));

        Assert.Contains("'Aio:Runner:ExecutorWorkers'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_InvalidOptionsInCode_ValidateOnStartFailsNamingTheKey()
    {
        using IHost host = BuildHost(new ListLoggerProvider(), services => services.AddEventLoopRunner(
            _ => Task.CompletedTask,
            options => options.TaskShutdownTimeout = TimeSpan.FromSeconds(-2)));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WaitAsync(Patience));

        Assert.Contains("'Aio:Runner:TaskShutdownTimeout'", error.Message, StringComparison.Ordinal);
        Assert.Contains("must not be negative", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_SharedLoopBadConfigurationValue_StartFailsNamingTheKey()
    {
        using IHost host = BuildHost(new ListLoggerProvider(), services => services.AddSharedEventLoop(
            Configuration(new() { ["Aio:SharedLoop:StopTimeout"] = "-5s" })));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync().WaitAsync(Patience));

        Assert.Contains("'Aio:SharedLoop:StopTimeout'", error.Message, StringComparison.Ordinal);
    }

    private static IHost BuildHost(ListLoggerProvider log, Action<IServiceCollection> configure)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(log);
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = Patience);
        configure(builder.Services);
        return builder.Build();
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static EventLoopRunnerOptions BindFrom(Dictionary<string, string?> values)
    {
        var options = new EventLoopRunnerOptions();
        EventLoopRunnerConfiguration.Bind(Configuration(values).GetSection(EventLoopRunnerConfiguration.DefaultSectionName), options);
        return options;
    }

    /// <summary>Collects every log message, in order, from any thread.</summary>
    private sealed class ListLoggerProvider : ILoggerProvider, ILogger
    {
        private readonly ConcurrentQueue<string> _messages = new();

        public IReadOnlyList<string> Messages => [.. _messages];

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _messages.Enqueue(formatter(state, exception));

        public void AssertInOrder(params string[] expected)
        {
            List<string> lines = [.. _messages];
            int at = 0;
            foreach (string text in expected)
            {
                int found = lines.FindIndex(at, line => line.Contains(text, StringComparison.Ordinal));
                Assert.True(found >= 0, $"'{text}' missing after line {at}; log:\n{string.Join("\n", lines)}");
                at = found + 1;
            }
        }

        public void Dispose()
        {
        }
    }
}
