using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Aio.Hosting;

internal sealed partial class RunSession
{
    /// <summary>The shutdown sequence, after the loop has stopped (see Runner's design essay).</summary>
    private void Shutdown()
    {
        _shuttingDown = true;
        LogEnteringShutdown(_logger, null);
        RunShutdownCallback();

        LogCancelling(_logger, null);
        ShutdownRegistry registry = Runner.RegistryOf(_loop);
        // Main first, as aiorun cancels it first; then every other pending task.
        List<ILoopTask> pending = [.. LoopTask.AllTasks(_loop).OrderBy(task => ReferenceEquals(task, _main) ? 0 : 1)];
        foreach (ILoopTask task in pending)
        {
            if (!registry.Protected.Contains((Future)task))
            {
                LogCancellingTask(_logger, task, null);
                task.Cancel();
            }
        }

        LogRunningPending(_logger, null);
        WaitForTasks(pending);

        LogWaitingForExecutor(_logger, null);
        bool executorDone = _loop.RunUntilComplete(_loop.ShutdownDefaultExecutorAsync(_options.TaskShutdownTimeout));
        if (!executorDone)
        {
            LogExecutorTimeout(_logger, _options.TaskShutdownTimeout.TotalSeconds, null);
        }

        DisposeResources(registry);
        LogClosing(_logger, null);
        ReleaseSignals();
        _loop.Close();
        LogBye(_logger, null);
    }

    private void RunShutdownCallback()
    {
        if (_options.ShutdownCallback is not { } callback)
        {
            return;
        }

        try
        {
            _loop.RunUntilComplete(() => callback(_loop));
        }
        catch (Exception error)
        {
            LogCallbackFailed(_logger, error);
            _failure ??= error;
        }
    }

    private void WaitForTasks(List<ILoopTask> pending)
    {
        Future[] futures = [.. pending.Cast<Future>()];
        if (futures.Length == 0)
        {
            return;
        }

        WaitResult result = _loop.RunUntilComplete(LoopTask.Wait(futures, _options.TaskShutdownTimeout));
        foreach (Future done in result.Done)
        {
            // Shutdown retrieves every outcome, so nothing is reported as "never retrieved" later.
            // Main's failure is the run's own (exit code 1, logged); any other task's goes to the
            // loop's exception handler, as asyncio.run's _cancel_all_tasks reports it.
            if (done.IsFaulted && done.GetException() is { } error and not OperationCanceledException && !ReferenceEquals(done, _main))
            {
                _loop.CallExceptionHandler(new ExceptionContext("unhandled exception during Runner.Run() shutdown", error) { Future = done });
            }
        }

        foreach (Future stuck in result.Pending)
        {
            var task = (ILoopTask)stuck;
            LogRefused(_logger, task.Name, _options.TaskShutdownTimeout.TotalSeconds, LoopTask.DescribeWait(task), null);
        }
    }

    private void DisposeResources(ShutdownRegistry registry)
    {
        for (int i = registry.Resources.Count - 1; i >= 0; i--)
        {
            IAsyncDisposable resource = registry.Resources[i];
            try
            {
                _loop.RunUntilComplete(async () => await resource.DisposeAsync());
            }
            catch (Exception error)
            {
                LogDisposeFailed(_logger, resource.ToString() ?? resource.GetType().Name, error);
            }
        }

        registry.Resources.Clear();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Entering shutdown phase.")]
    private static partial void LogEnteringShutdown(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cancelling pending tasks.")]
    private static partial void LogCancelling(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cancelling task: {Task}")]
    private static partial void LogCancellingTask(ILogger logger, ILoopTask task, Exception? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Running pending tasks till complete")]
    private static partial void LogRunningPending(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting for executor shutdown.")]
    private static partial void LogWaitingForExecutor(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Closing the loop.")]
    private static partial void LogClosing(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Leaving. Bye!")]
    private static partial void LogBye(ILogger logger, Exception? error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The shutdown callback failed.")]
    private static partial void LogCallbackFailed(ILogger logger, Exception error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {Name} did not exit within {Seconds} s of shutdown; it waits on {Waiting}.")]
    private static partial void LogRefused(ILogger logger, string name, double seconds, string waiting, Exception? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The executor did not finish within {Seconds} s of shutdown.")]
    private static partial void LogExecutorTimeout(ILogger logger, double seconds, Exception? error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Disposing {Resource} at shutdown failed.")]
    private static partial void LogDisposeFailed(ILogger logger, string resource, Exception error);
}
