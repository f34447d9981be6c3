using System.Collections.Concurrent;

namespace Aio.Tests;

/// <summary>
/// Base of every contract test: each contract is an abstract class deriving from this one, with
/// one sealed subclass per backend. Loops made through <see cref="NewLoop"/> record what reaches
/// their exception handler; teardown fails on any report the test did not take with
/// <see cref="TakeErrors"/>, and closes every loop (failing if one is still running).
/// </summary>
public abstract class LoopTestBase : IDisposable
{
    private readonly List<EventLoop> _loops = [];
    private readonly ConcurrentQueue<ExceptionContext> _errors = new();

    /// <summary>The backend under test.</summary>
    protected abstract LoopBackend Backend { get; }

    /// <summary>How long a test waits for something that should happen at once (generous: CI is noisy).</summary>
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>A loop on the backend under test whose exception handler records every report.</summary>
    protected EventLoop NewLoop(TimeProvider? clock = null, bool debug = false)
    {
        var loop = new EventLoop(new EventLoopOptions { Backend = Backend, TimeProvider = clock, Debug = debug });
        loop.SetExceptionHandler((_, context) => _errors.Enqueue(context));
        _loops.Add(loop);
        return loop;
    }

    /// <summary>A loop whose timers run in virtual time, with auto-jump.</summary>
    protected EventLoop NewVirtualLoop(out VirtualClock clock, bool debug = false)
    {
        clock = new VirtualClock();
        return NewLoop(clock, debug);
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

    /// <summary>Runs <paramref name="loop"/> on a new thread; returns the thread (join it after stopping the loop).</summary>
    protected static Thread RunOnThread(EventLoop loop, ManualResetEventSlim? started = null)
    {
        var thread = new Thread(() =>
        {
            loop.CallSoon(() => started?.Set());
            loop.RunForever();
        })
        { IsBackground = true, Name = "test loop" };
        thread.Start();
        return thread;
    }

    public void Dispose()
    {
        foreach (EventLoop loop in _loops)
        {
            Assert.False(loop.IsRunning, "a test left its loop running");
            loop.Close();
        }

        List<ExceptionContext> unexpected = TakeErrors();
        Assert.True(unexpected.Count == 0, "unexpected exception-handler reports:\n" + string.Join("\n", unexpected.Select(c => $"{c}\nexception: {c.Exception}")));
        GC.SuppressFinalize(this);
    }
}
