// The event loop runner under the Generic Host: aiorun's run() with the host's lifetime as the
// stop signal.
//
// Runner.Run owns a loop for its whole life on the thread that calls it, so the service gives it a
// thread of its own ("Aio.Runner") and asks it to install no signal handlers: under the host,
// ConsoleLifetime owns SIGINT/SIGTERM and turns them into IHostApplicationLifetime.StopApplication,
// which makes the host call StopAsync. StopAsync is therefore this runner's stop signal: it posts
// "Stopping the loop" + Stop to the loop, and Runner.Run then performs aiorun's shutdown steps
// (shutdown callback, cancel pending tasks except ShutdownWaitsFor's, wait up to the task shutdown
// timeout, executor shutdown, dispose registered resources, close the loop) and returns its exit
// code. StopAsync waits for that, within the host's shutdown timeout.
//
// The other direction: when the loop ends by itself (main completed with StopWhenMainCompletes, an
// unhandled error with StopOnUnhandledErrors), the service asks the host to stop. Either way a
// non-zero exit code goes to Environment.ExitCode, which is the process's exit code when Main
// returns without one (and which Main can return: `await host.RunAsync(); return Environment.ExitCode;`).
using Aio.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Aio.Extensions.Hosting;

/// <summary>Runs the registered main task on an Aio loop for the host's lifetime; one start, then one stop, as the host calls them.</summary>
internal sealed partial class EventLoopRunnerService(
    EventLoopRunnerMain main,
    IServiceProvider services,
    IOptions<EventLoopRunnerOptions> options,
    IHostApplicationLifetime lifetime,
    ILoggerFactory? loggerFactory = null) : IHostedService
{
    private readonly ILogger _logger = (ILogger?)loggerFactory?.CreateLogger("Aio.Hosting.Runner") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    private readonly TaskCompletionSource<int> _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile EventLoop? _loop;
    private Thread? _thread;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        EventLoopRunnerOptions settings = options.Value;
        var runnerOptions = new RunnerOptions
        {
            Backend = settings.Backend,
            StopWhenMainCompletes = settings.StopWhenMainCompletes,
            StopOnUnhandledErrors = settings.StopOnUnhandledErrors,
            TaskShutdownTimeout = settings.TaskShutdownTimeout,
            ExecutorWorkers = settings.ExecutorWorkers,
            ShutdownCallback = settings.ShutdownCallback,
            StopSignals = [],             // the host's lifetime owns the signals
            LoggerFactory = loggerFactory,
        };

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _thread = new Thread(() => Run(runnerOptions, started))
        {
            Name = "Aio.Runner",
            IsBackground = true,          // the host decides when the process ends
        };
        _thread.Start();
        try
        {
            await started.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (started.Task.IsCompletedSuccessfully)
        {
            // The host links its start token to ApplicationStopping: a main that completes at once
            // (StopWhenMainCompletes) stops the host, which may cancel this wait after the loop had
            // started. The loop did start; the host stops it through StopAsync as usual.
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is { } loop && !_completed.Task.IsCompleted)
        {
            // False when the loop has closed meanwhile: it is shutting down already.
            _ = loop.TryCallSoonThreadSafe(() =>
            {
                LogStopping(_logger, null);
                loop.Stop();
            });
        }

        if (_thread is null)
        {
            return;
        }

        try
        {
            await _completed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogHostTimeout(_logger, null);
        }
    }

    private void Run(RunnerOptions runnerOptions, TaskCompletionSource started)
    {
        int code;
        try
        {
            code = Runner.Run(
                () =>
                {
                    _loop = EventLoop.GetRunningLoop();
                    started.TrySetResult();
                    return main.Body(services);
                },
                runnerOptions);
        }
        catch (Exception error)
        {
            LogRunnerFailed(_logger, error);
            started.TrySetException(error);
            code = 1;
        }

        if (code != 0)
        {
            Environment.ExitCode = code;
        }

        _completed.TrySetResult(code);
        // The loop ended by itself (main completed, an unhandled error) or because the host stops;
        // in both cases the host should be stopping (a second request is ignored).
        lifetime.StopApplication();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping the loop")]
    private static partial void LogStopping(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The host's shutdown timeout expired before the event loop finished its shutdown; raise HostOptions.ShutdownTimeout above twice the runner's TaskShutdownTimeout.")]
    private static partial void LogHostTimeout(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The event loop runner failed to run; exit code 1.")]
    private static partial void LogRunnerFailed(ILogger logger, Exception error);
}

/// <summary>The main task's body, as registered with <c>AddEventLoopRunner</c>.</summary>
internal sealed class EventLoopRunnerMain(Func<IServiceProvider, Task> body)
{
    public Func<IServiceProvider, Task> Body { get; } = body;
}
