// Running the loop: one iteration is asyncio's _run_once (docs/design.md, "The loop contract"):
//   1. timeout = 0 if callbacks are ready or a stop is pending, else until the earliest timer
//      (rounded up to whole milliseconds so we never wake early and spin; clamped to 24 h), else
//      infinite;
//   2. wait for I/O or a wake-up (announcing the sleep to the inbox so posts wake us);
//   3. move due timers to the ready queue, earliest first, FIFO among equal deadlines;
//   4. move the inbox to the ready queue in post order;
//   5. run exactly the callbacks that were ready when this step began.
// With a TimeProvider other than the system clock, step 2 waits without a timeout and the
// provider's own timer wakes the loop at the earliest deadline (EventLoop.Clock.cs). With a
// VirtualClock whose auto-jump is on, step 2 waits only up to the auto-jump threshold and, when
// nothing at all happened, advances virtual time to the clock's earliest timer.
using System.Diagnostics;
using Aio.Backends;
using Microsoft.Extensions.Logging;

namespace Aio;

public sealed partial class EventLoop
{
    private const double MaxTimeoutSeconds = 24 * 60 * 60;

    [ThreadStatic]
    private static EventLoop? t_running;

    /// <summary>
    /// Runs the loop until <see cref="Stop"/> is called [loop.run_forever]. While it runs,
    /// <see cref="SynchronizationContext.Current"/> is the loop's context and
    /// <see cref="GetRunningLoop"/> returns this loop.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The loop is closed, already running, or another loop runs on this thread.
    /// </exception>
    public void RunForever()
    {
        CheckCanRun();

        SynchronizationContext? previousContext = SynchronizationContext.Current;
        _threadId = Environment.CurrentManagedThreadId;
        t_running = this;
        SynchronizationContext.SetSynchronizationContext(SynchronizationContext);
        try
        {
            while (true)
            {
                RunOnce();
                if (_stopping)
                {
                    break;
                }
            }
        }
        finally
        {
            _stopping = false;
            SynchronizationContext.SetSynchronizationContext(previousContext);
            t_running = null;
            _threadId = 0;
        }
    }

    /// <summary>
    /// Asks the loop to stop [loop.stop]: the current iteration finishes, and callbacks already
    /// scheduled for it run. Called before <see cref="RunForever"/>, the next run does exactly one
    /// iteration with a zero-timeout poll and returns. Not thread-safe: from another thread post it,
    /// <c>loop.CallSoonThreadSafe(loop.Stop)</c>.
    /// </summary>
    public void Stop()
    {
        CheckThread(nameof(Stop));
        _stopping = true;
    }

    /// <summary>
    /// Runs the loop until <paramref name="task"/> completes and returns its outcome
    /// [loop.run_until_complete]. The task may come from anywhere; code that awaits on the loop
    /// resumes on it.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The loop stopped before the task completed, or the loop cannot run (see <see cref="RunForever"/>).
    /// </exception>
    /// <remarks>The task's own exception is rethrown as is (not wrapped).</remarks>
    public void RunUntilComplete(Task task)
    {
        ArgumentNullException.ThrowIfNull(task);
        RunUntilDone(task);
        task.GetAwaiter().GetResult();
    }

    /// <inheritdoc cref="RunUntilComplete(Task)"/>
    /// <returns>The task's result.</returns>
    public T RunUntilComplete<T>(Task<T> task)
    {
        ArgumentNullException.ThrowIfNull(task);
        RunUntilDone(task);
        return task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Runs the loop until <paramref name="future"/> (a future or a loop task) is done and returns
    /// its outcome [loop.run_until_complete(future)].
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The loop stopped before the future completed, or the loop cannot run (see <see cref="RunForever"/>).
    /// </exception>
    /// <exception cref="CancelledError">The future was cancelled.</exception>
    public void RunUntilComplete(Future future)
    {
        ArgumentNullException.ThrowIfNull(future);
        RunUntilDone(future);
        future.ThrowIfNotSucceeded();
    }

    /// <inheritdoc cref="RunUntilComplete(Future)"/>
    /// <returns>The future's result.</returns>
    public T RunUntilComplete<T>(Future<T> future)
    {
        ArgumentNullException.ThrowIfNull(future);
        RunUntilDone(future);
        return future.Result;
    }

    /// <summary>
    /// Runs <paramref name="main"/> as a <see cref="LoopTask"/> (first step in the next iteration)
    /// and the loop until it completes [run_until_complete(coro)]: inside, <see cref="LoopTask.Current"/>
    /// is that task, so cancellation, timeouts and task groups work as in any task.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop stopped before the task completed, or cannot run.</exception>
    public void RunUntilComplete(Func<Task> main)
    {
        ArgumentNullException.ThrowIfNull(main);
        CheckCanRun();
        RunUntilComplete(CreateTask(main, "main"));
    }

    /// <inheritdoc cref="RunUntilComplete(Func{Task})"/>
    /// <returns>The task's result.</returns>
    public T RunUntilComplete<T>(Func<Task<T>> main)
    {
        ArgumentNullException.ThrowIfNull(main);
        CheckCanRun();
        return RunUntilComplete(CreateTask(main, "main"));
    }

    /// <summary>
    /// Throws unless this thread may run the loop now [asyncio's _check_closed + _check_running]:
    /// every run entry point calls it before doing anything else, so a refused nested run never
    /// creates or starts a task, and refuses even when the awaited task is already done.
    /// </summary>
    private void CheckCanRun()
    {
        CheckClosed();
        if (IsRunning)
        {
            throw new InvalidOperationException("This event loop is already running; a loop cannot be run re-entrantly (await the work instead, or schedule it with CreateTask).");
        }

        if (t_running is not null)
        {
            throw new InvalidOperationException("Cannot run the event loop while another loop is running on this thread; run each loop on its own thread.");
        }
    }

    private void RunUntilDone(Future future)
    {
        CheckCanRun();
        if (!ReferenceEquals(future.Loop, this))
        {
            throw new ArgumentException("The future belongs to another loop; run that loop instead.", nameof(future));
        }

        if (!future.IsDone)
        {
            // Done callbacks run on the loop thread, so stopping needs no post; the flag keeps a
            // callback already queued when this run ends from stopping a later run.
            bool active = true;
            Action<Future> stop = _ =>
            {
                if (active)
                {
                    _stopping = true;
                }
            };
            future.AddDoneCallback(stop);
            try
            {
                RunForever();
            }
            finally
            {
                active = false;
                future.RemoveDoneCallback(stop);
            }
        }

        ThrowIfStoppedEarly(future.IsDone);
    }

    private void RunUntilDone(Task task)
    {
        CheckCanRun();
        if (!task.IsCompleted)
        {
            var stopper = new RunStopper(this);
            _ = task.ContinueWith(
                static (_, state) => ((RunStopper)state!).OnCompleted(),
                stopper,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                System.Threading.Tasks.TaskScheduler.Default);
            try
            {
                RunForever();
            }
            finally
            {
                stopper.Active = false;
            }
        }

        ThrowIfStoppedEarly(task.IsCompleted);
    }

    private static void ThrowIfStoppedEarly(bool done)
    {
        if (!done)
        {
            throw new InvalidOperationException("Event loop stopped before the task completed.");
        }
    }

    /// <summary>Stops the loop when a .NET task run until complete finishes (on any thread), unless that run is over.</summary>
    private sealed class RunStopper
    {
        private static readonly Action<object?> StopIfActive = static state =>
        {
            var stopper = (RunStopper)state!;
            if (stopper.Active)
            {
                stopper.Active = false;
                stopper._loop._stopping = true;
            }
        };

        private readonly EventLoop _loop;

        public RunStopper(EventLoop loop) => _loop = loop;

        public volatile bool Active = true;

        public void OnCompleted() => _loop.TryPost(StopIfActive, this);
    }

    private void RunOnce()
    {
        int timeoutMs = ComputeTimeout(out double nextTimer);
        bool jumpArmed = false;
        if (timeoutMs != 0 && _providerTimers)
        {
            timeoutMs = PlanProviderWait(nextTimer, out jumpArmed);
        }

        if (timeoutMs != 0 && _inbox.TryEnterSleep())
        {
            _backend.Poll(timeoutMs, this);
            _inbox.LeaveSleep();
        }
        else
        {
            _backend.Poll(0, this);
        }

        if (jumpArmed && _ready.Count == 0 && _inbox.IsEmpty)
        {
            JumpVirtualClock();
        }

        if (_timers.Count > 0)
        {
            double end = Time() + ClockResolution;
            while (_timers.PopDue(end) is { } timer)
            {
                _ready.Enqueue(timer, null);
            }
        }

        if (!_inbox.IsEmpty)
        {
            _inbox.DrainInto(_ready);
        }

        int count = _ready.Count;
        if (_debug)
        {
            for (int i = 0; i < count; i++)
            {
                RunDebug(_ready.Dequeue());
            }

            return;
        }

        for (int i = 0; i < count; i++)
        {
            ReadyItem item = _ready.Dequeue();
            try
            {
                item.Run();
            }
            catch (Exception exception)
            {
                ReportCallbackException(item, exception);
            }
        }
    }

    private int ComputeTimeout(out double nextTimer)
    {
        nextTimer = double.PositiveInfinity;
        if (_ready.Count > 0 || _stopping)
        {
            return 0;
        }

        if (!_timers.TryPeekWhen(out nextTimer) || double.IsPositiveInfinity(nextTimer))
        {
            nextTimer = double.PositiveInfinity; // no timer (TryPeekWhen leaves 0 when the heap is empty)
            return -1;
        }

        double delay = nextTimer - Time();
        if (delay <= 0)
        {
            return 0;
        }

        return delay >= MaxTimeoutSeconds ? (int)(MaxTimeoutSeconds * 1000) : (int)Math.Ceiling(delay * 1000);
    }

    void IIoReadySink.OnIoReady(IoRegistration registration, bool readable, bool writable)
    {
        if (readable && registration.Reader is { IsCancelled: false } reader)
        {
            _ready.Enqueue(reader, null);
        }

        if (writable && registration.Writer is { IsCancelled: false } writer)
        {
            _ready.Enqueue(writer, null);
        }
    }

    private void RunDebug(ReadyItem item)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            item.Run();
        }
        catch (Exception exception)
        {
            ReportCallbackException(item, exception);
        }

        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        if (elapsed >= _slowCallbackDuration && _slowCallbackDuration != Timeout.InfiniteTimeSpan)
        {
            LogSlowCallback(Logger, DescribeItem(item), elapsed.TotalSeconds, null);
        }
    }

    private static readonly Action<ILogger, string, double, Exception?> LogSlowCallback =
        LoggerMessage.Define<string, double>(LogLevel.Warning, new EventId(2, "SlowCallback"), "Executing {Callback} took {Seconds:F3} seconds");

    private void ReportCallbackException(ReadyItem item, Exception exception)
    {
        var context = item.Callback is Handle handle
            ? new ExceptionContext($"Exception in callback {handle}", exception) { Handle = handle }
            : new ExceptionContext($"Exception in callback {DescribeItem(item)}", exception) { Callback = item.Callback };
        CallExceptionHandler(context);
    }

    private static string DescribeItem(ReadyItem item) => item.Callback switch
    {
        Handle handle => handle.ToString(),
        Delegate callback => Handle.DescribeCallback(callback),
        _ => item.Callback.ToString() ?? item.Callback.GetType().Name,
    };
}
