// One run of Runner.Run: the loop, the signal registrations and the shutdown sequence.
//
// Signals are registered with .NET directly (not through EventLoop.AddSignalHandler) because the
// decision to force an exit must not wait for the loop: the first stop signal posts the shutdown
// handler to the loop; any later one (or one arriving once shutdown has begun) exits the process
// at once from .NET's signal thread, even if a task is hogging the loop thread. A stop signal
// inherited as ignored (a background start without job control) is made to work for the run, as
// Python's add_signal_handler does; InheritedSignalIgnore.cs explains how and why.
//
// Outcomes, as asyncio.run: main's failure is the run's failure (exit code 1); with
// StopWhenMainCompletes, a main cancelled by anything but the shutdown itself is a failure too
// (asyncio.run raises CancelledError); a task that fails while shutdown waits for it goes to the
// loop's exception handler ("unhandled exception during Runner.Run() shutdown", with the task), as
// asyncio.run reports it, so a custom handler sees it.
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Aio.Hosting;

/// <summary>The state of one <see cref="Runner.Run(Func{Task}, RunnerOptions?)"/>.</summary>
internal sealed partial class RunSession : IDisposable
{
    private readonly Func<Task> _body;
    private readonly RunnerOptions _options;
    private readonly ILogger _logger;
    private readonly EventLoop _loop;
    private readonly List<PosixSignalRegistration> _signals = [];
    private List<int> _overriddenIgnores = [];
    private Exception? _failure;
    private LoopTask? _main;
    private int _signalsReceived;
    private volatile bool _shuttingDown;

    public RunSession(Func<Task> main, RunnerOptions options)
    {
        _body = main;
        _options = options;
        _logger = options.LoggerFactory?.CreateLogger("Aio.Hosting.Runner") ?? new StandardErrorLogger(LogLevel.Information);
        _loop = options.Loop ?? new EventLoop(new EventLoopOptions
        {
            Backend = options.Backend,
            TimeProvider = options.TimeProvider,
            LoggerFactory = options.LoggerFactory,
        });
    }

    public int Run()
    {
        EventLoop.SetEventLoop(_loop);
        try
        {
            Start();
            _loop.RunForever();
            Shutdown();
        }
        finally
        {
            EventLoop.SetEventLoop(null);
        }

        if (_failure is not null)
        {
            LogFailure(_logger, _failure);
            return 1;
        }

        return 0;
    }

    public void Dispose()
    {
        ReleaseSignals();
        _loop.Dispose();
    }

    /// <summary>Gives the stop signals back to .NET and puts back an inherited ignore. Idempotent.</summary>
    private void ReleaseSignals()
    {
        foreach (PosixSignalRegistration registration in _signals)
        {
            registration.Dispose();
        }

        _signals.Clear();
        if (OperatingSystem.IsLinux())
        {
            InheritedSignalIgnore.Restore(_overriddenIgnores);
        }
    }

    private void Start()
    {
        Executor? executor = _options.Executor ??
            (_options.ExecutorWorkers is { } workers ? new WorkerThreadExecutor(workers, "Aio.Runner.Worker") : null);
        if (executor is not null)
        {
            _loop.SetDefaultExecutor(executor);
        }

        if (_options.StopOnUnhandledErrors)
        {
            _loop.SetExceptionHandler((loop, context) =>
            {
                loop.DefaultExceptionHandler(context);
                if (_failure is null && !_shuttingDown)
                {
                    _failure = context.Exception ?? new InvalidOperationException(context.Message);
                    LogStopOnError(_logger, null);
                    loop.Stop();
                }
            });
        }

        foreach (PosixSignal signal in _options.StopSignals)
        {
            _signals.Add(PosixSignalRegistration.Create(signal, OnSignal));
        }

        if (OperatingSystem.IsLinux())
        {
            _overriddenIgnores = InheritedSignalIgnore.Override(_options.StopSignals, out string? problem);
            if (problem is not null)
            {
                LogSignalProblem(_logger, problem, null);
            }
        }

        _main = _loop.CreateTask(_body, "main");
        _main.AddDoneCallback(done =>
        {
            if (done.IsFaulted && done.GetException() is { } error)
            {
                LogMainFailed(_logger, error);
                _failure ??= error;
            }
            else if (done.IsCancelled && !_shuttingDown && _options.StopWhenMainCompletes)
            {
                // asyncio.run raises CancelledError: a cancelled main did not complete.
                LogMainCancelled(_logger, null);
                _failure ??= new CancelledError(done.CancelMessage ?? "The main task was cancelled before shutdown.");
            }

            if (!_shuttingDown && (_options.StopWhenMainCompletes || (_options.StopOnUnhandledErrors && done.IsFaulted)))
            {
                _loop.Stop();
            }
        });

        LogRunningForever(_logger, null);
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        if (Interlocked.Increment(ref _signalsReceived) > 1 || _shuttingDown)
        {
            int code = 128 + SignalNumber(context.Signal);
            LogForcedExit(_logger, context.Signal, code, null);
            Environment.Exit(code);
        }

        _loop.TryCallSoonThreadSafe(() =>
        {
            if (_options.ShutdownHandler is { } handler)
            {
                handler(_loop);
            }
            else
            {
                LogStopping(_logger, null);
                _loop.Stop();
            }
        });
    }

    private static int SignalNumber(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGQUIT => 3,
        PosixSignal.SIGTERM => 15,
        _ => (int)signal > 0 ? (int)signal : 1,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Running forever.")]
    private static partial void LogRunningForever(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping the loop")]
    private static partial void LogStopping(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error; stopping the loop (StopOnUnhandledErrors).")]
    private static partial void LogStopOnError(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Received {Signal} again during shutdown: exiting now with code {Code}.")]
    private static partial void LogForcedExit(ILogger logger, PosixSignal signal, int code, Exception? error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The main task failed.")]
    private static partial void LogMainFailed(ILogger logger, Exception error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The main task was cancelled (StopWhenMainCompletes): the application did not complete.")]
    private static partial void LogMainCancelled(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stop signals: {Problem}.")]
    private static partial void LogSignalProblem(ILogger logger, string problem, Exception? error);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The application failed; exit code 1.")]
    private static partial void LogFailure(ILogger logger, Exception error);
}
