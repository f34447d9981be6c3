using System.Collections.Concurrent;
using Aio.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aio.Tests.Hosting;

/// <summary>
/// Base of the shared-loop contract tests, one sealed subclass per backend. Shared loops made
/// through <see cref="NewShared"/> record what reaches their loop's exception handler (and log
/// nowhere); teardown fails when a test left a token held, the loop running, or an exception-handler
/// report it did not take with <see cref="TakeErrors"/>, and disposes every shared loop.
/// </summary>
public abstract class SharedLoopTestBase : IDisposable
{
    /// <summary>How long a test waits for something that should happen at once (generous: CI is noisy).</summary>
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly List<SharedEventLoop> _shared = [];
    private readonly ConcurrentQueue<ExceptionContext> _errors = new();

    /// <summary>The backend under test.</summary>
    protected abstract LoopBackend Backend { get; }

    /// <summary>A shared loop on the backend under test; the loop is not started.</summary>
    protected SharedEventLoop NewShared(TimeSpan? stopTimeout = null, bool useGlobalLoop = false)
    {
        var shared = new SharedEventLoop(
            new SharedEventLoopOptions { Backend = Backend, StopTimeout = stopTimeout, UseGlobalLoop = useGlobalLoop },
            NullLoggerFactory.Instance);
        shared.Loop.SetExceptionHandler((_, context) => _errors.Enqueue(context));
        _shared.Add(shared);
        return shared;
    }

    /// <summary>Takes the exception-handler reports so far; teardown then finds none left.</summary>
    protected List<ExceptionContext> TakeErrors()
    {
        var taken = new List<ExceptionContext>();
        while (_errors.TryDequeue(out ExceptionContext? context))
        {
            taken.Add(context);
        }

        return taken;
    }

    /// <summary>Runs <paramref name="body"/> on a new thread; returns a task for its end (wait on it with <see cref="Patience"/>).</summary>
    protected static Task OnThread(Action body, string name = "test caller")
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                body();
                done.SetResult();
            }
            catch (Exception exception)
            {
                done.SetException(exception);
            }
        })
        { IsBackground = true, Name = name };
        thread.Start();
        return done.Task;
    }

    /// <summary>Waits for <paramref name="task"/> within <see cref="Patience"/> and rethrows its failure.</summary>
    protected static void Finish(Task task)
    {
        bool finished = task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).Wait(Patience);
        Assert.True(finished, "the operation did not finish in time");
        task.GetAwaiter().GetResult();
    }

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds: it is polled, nothing sleeps.</summary>
    protected static void WaitUntil(Func<bool> condition, string what) =>
        Assert.True(SpinWait.SpinUntil(condition, Patience), $"timed out waiting until {what}");

    public void Dispose()
    {
        var leaks = new List<string>();
        foreach (SharedEventLoop shared in _shared)
        {
            if (shared.TokenCount != 0)
            {
                leaks.Add($"{shared} still has {shared.TokenCount} token(s) held");
            }
            else if (shared.Loop.IsRunning)
            {
                leaks.Add($"{shared} is still running");
            }

            shared.Dispose();
        }

        List<ExceptionContext> unexpected = TakeErrors();
        Assert.True(leaks.Count == 0, "a test leaked: " + string.Join("; ", leaks));
        Assert.True(unexpected.Count == 0, "unexpected exception-handler reports:\n" + string.Join("\n", unexpected));
        GC.SuppressFinalize(this);
    }
}
