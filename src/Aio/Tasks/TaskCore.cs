// The machinery shared by LoopTask and LoopTask<T> (asyncio's Task.__step, in .NET terms).
//
// A task wraps an async delegate. Its first step runs as a loop callback (or synchronously, for an
// eager task): it makes the task "current" through an AsyncLocal, calls the delegate, and watches
// the .NET Task the delegate returns. The async method's builder captures the execution context at
// each await and restores it when the method resumes, so the task stays current in every later
// step, whichever awaitable resumed it: Aio awaiters, foreign tasks (through the loop's
// SynchronizationContext), anything.
//
// Cancellation, as asyncio defines it. When the task suspends on an Aio awaitable, the awaiter
// reports the future to the current task (WaitOn). Cancel() cancels that future, so the pending
// await throws CancelledError when the task resumes on the next iteration. If the task waits on
// nothing of Aio's (it runs, or awaits a foreign task) the request is remembered (_mustCancel) and
// delivered at its next Aio await: the future it then suspends on is cancelled at once, and a
// Sleep(0) or Yield throws. An await whose future completed just before the request (a lock wait
// already granted) may instead take the request as it resumes (TakeCancelRequest) and throw it
// there, after undoing what it was granted: that is how Aio.Sync passes a lock or permit on. The task's CancellationToken is cancelled too, for foreign awaits
// (last, since its callbacks may run continuations inline), and replaced by a fresh one once
// Uncancel withdraws the last request (a timeout scope or task group undoing its own cancel). A
// body that ends with CancelledError (or with any OperationCanceledException while a cancel is
// requested) leaves the task cancelled; one that catches it and returns leaves it succeeded.
using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>What a task's owner (the public task class) does for the shared machinery.</summary>
internal interface ITaskOwner
{
    /// <summary>The task as a future.</summary>
    Future Future { get; }

    /// <summary>The shared machinery of the task.</summary>
    TaskCore Core { get; }

    /// <summary>Invokes the body delegate (passing the task's token if it takes one).</summary>
    Task StartBody();

    /// <summary>Completes the future from the finished body: its result, or rethrows its failure.</summary>
    void CompleteFrom(Task body);

    /// <summary>Cancels the future itself (no task semantics).</summary>
    void CancelFuture(string? message);

    /// <summary>Fails the future.</summary>
    void FailFuture(Exception exception);
}

/// <summary>Shared task state and stepping. Loop thread only.</summary>
internal sealed class TaskCore : ILoopWorkItem
{
    private static readonly AsyncLocal<TaskCore?> CurrentTask = new();
    private static long s_counter;

    private readonly ITaskOwner _owner;
    private CancellationTokenSource? _cancellation;
    private Task? _body;
    private Future? _waitingOn;
    private readonly long _number;
    private string? _name;
    private int _registrySlot = -1;
    private string? _cancelMessage;
    private int _cancelRequests;
    private bool _mustCancel;

    public TaskCore(ITaskOwner owner, string? name)
    {
        _owner = owner;
        _name = name;
        if (name is null)
        {
            _number = Interlocked.Increment(ref s_counter);
        }
    }

    /// <summary>
    /// A task collected while still pending ["Task was destroyed but it is pending!"] awaited
    /// something that nothing referenced any more, so it could never resume. The finalizer is
    /// suppressed when the task finishes; until it is scheduled, there is nothing to report.
    /// </summary>
    ~TaskCore()
    {
        if (_registrySlot < 0)
        {
            return;
        }

        EventLoop loop = Loop;
        loop.UnregisterTask(_registrySlot);
        UnobservedErrorReporter.ReportFromFinalizer(
            loop, new ExceptionContext("Task was destroyed but it is pending!") { Future = $"<LoopTask {Name} pending>" });
    }

    /// <summary>The task whose code is running now (flows across awaits), or null.</summary>
    public static TaskCore? Current => CurrentTask.Value;

    /// <summary>The task's name; "Task-N" (made when first read) unless one was given.</summary>
    public string Name
    {
        get => _name ??= "Task-" + _number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        set => _name = value;
    }

    public ILoopTask Task => (ILoopTask)_owner;

    public EventLoop Loop => _owner.Future.Loop;

    public CancellationToken Token => (_cancellation ??= NewSource()).Token;

    /// <summary>The future the task is suspended on, if any (for diagnostics).</summary>
    public Future? WaitingOn => _waitingOn;

    /// <summary>Schedules the first step, or runs it now when eager and the loop is running here.</summary>
    public void Schedule(bool eager)
    {
        _registrySlot = Loop.RegisterTask(Task);
        if (eager && Loop.IsOnLoopThread)
        {
            Step();
        }
        else
        {
            Loop.CheckClosed();
            Loop.TryPost(this, null);
        }
    }

    void ILoopWorkItem.Execute(object? state) => Step();

    public bool Cancel(string? message)
    {
        Loop.CheckThread(nameof(Cancel));
        if (_owner.Future.IsDone)
        {
            return false;
        }

        _cancelRequests++;
        _cancelMessage = message;
        if (_waitingOn is not { } future || !future.Cancel(message))
        {
            _mustCancel = true;
        }

        // Last: token callbacks may run foreign continuations inline, even this task's body (which
        // may then suspend on a new future, or Uncancel); the request must be recorded before that.
        CancelToken();
        return true;
    }

    public int Cancelling() => _cancelRequests;

    public int Uncancel()
    {
        if (_cancelRequests > 0 && --_cancelRequests == 0)
        {
            _mustCancel = false;

            // No request is left: the next Token read makes a fresh token, so a cancellation that
            // was handled (a timeout that expired, a task group's own abort) does not poison later
            // foreign awaits. Code holding the old token keeps seeing it cancelled.
            if (_cancellation is { IsCancellationRequested: true } cancelled)
            {
                _cancellation = null;
                cancelled.Dispose();
            }
        }

        return _cancelRequests;
    }

    /// <summary>The awaiter of <paramref name="future"/> suspends this task on it.</summary>
    public void WaitOn(Future future)
    {
        _waitingOn = future;
        if (_mustCancel && future.Cancel(_cancelMessage))
        {
            _mustCancel = false;
        }
    }

    /// <summary>The task resumed from awaiting <paramref name="future"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Resumed(Future future)
    {
        if (ReferenceEquals(_waitingOn, future))
        {
            _waitingOn = null;
        }
    }

    /// <summary>At a suspension with no future (Sleep(0), Yield): throws a pending cancellation.</summary>
    public void ThrowIfCancelRequested()
    {
        if (TakeCancelRequest(out string? message))
        {
            throw new CancelledError(message);
        }
    }

    /// <summary>
    /// Takes a cancellation that is waiting for the task's next await (requested while the task
    /// waited on nothing, or after the future it waits on was already done), so the caller can
    /// deliver it now: true, with the request's message, when there was one. For an awaitable that
    /// must undo something before it throws (a lock wait giving the lock back).
    /// </summary>
    public bool TakeCancelRequest(out string? message)
    {
        if (!_mustCancel)
        {
            message = null;
            return false;
        }

        _mustCancel = false;
        message = _cancelMessage;
        return true;
    }

    private void Step()
    {
        if (_owner.Future.IsDone)
        {
            return;
        }

        if (_mustCancel)
        {
            _mustCancel = false;
            Finish(_cancelMessage, cancelled: true, failure: null);
            return;
        }

        TaskCore? previous = CurrentTask.Value;
        CurrentTask.Value = this;
        try
        {
            _body = _owner.StartBody();
        }
        catch (Exception exception)
        {
            // A delegate that is not async threw before returning a task.
            FinishWith(exception);
            return;
        }
        finally
        {
            CurrentTask.Value = previous;
        }

        if (_body.IsCompleted)
        {
            Complete();
        }
        else
        {
            // ExecuteSynchronously: when the body completes on the loop thread, finish the task right
            // there. (An awaiter continuation would be sent to the thread pool: .NET refuses to inline
            // continuations while a SynchronizationContext such as the loop's is current.)
            _body.ContinueWith(OnBodyCompleted, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private static void OnBodyCompleted(Task body, object? state)
    {
        var core = (TaskCore)state!;
        if (core.Loop.IsOnLoopThread)
        {
            core.Complete();
        }
        else if (!core.Loop.TryPost((Action)core.Complete, null))
        {
            // The loop closed under a body that finished elsewhere: nobody can observe the task.
            core._cancellation?.Dispose();
        }
    }

    private void Complete()
    {
        if (_mustCancel && _body!.IsCompletedSuccessfully)
        {
            // Cancelled right before the body returned, with no Aio await left to deliver it to:
            // the task still ends cancelled, as asyncio's does.
            _mustCancel = false;
            Finish(_cancelMessage, cancelled: true, failure: null);
            return;
        }

        try
        {
            _owner.CompleteFrom(_body!);
        }
        catch (Exception exception)
        {
            FinishWith(exception);
            return;
        }

        Finish(null, cancelled: false, failure: null);
    }

    /// <summary>Ends the task by how its body failed: cancelled, or failed with the exception.</summary>
    private void FinishWith(Exception exception)
    {
        switch (exception)
        {
            case CancelledError error:
                Finish(_cancelRequests > 0 ? _cancelMessage : error.Message, cancelled: true, failure: null);
                break;
            case OperationCanceledException when _cancelRequests > 0:
                Finish(_cancelMessage, cancelled: true, failure: null);
                break;
            default:
                Finish(null, cancelled: false, failure: exception);
                break;
        }
    }

    private void Finish(string? cancelMessage, bool cancelled, Exception? failure)
    {
        _waitingOn = null;
        _body = null;
        if (_registrySlot >= 0)
        {
            Loop.UnregisterTask(_registrySlot);
            _registrySlot = -1;
#pragma warning disable CA1816 // Not a Dispose: a finished task has nothing left to report.
            GC.SuppressFinalize(this);
#pragma warning restore CA1816
        }
        if (cancelled)
        {
            _owner.CancelFuture(cancelMessage);
        }
        else if (failure is not null)
        {
            _owner.FailFuture(failure);
        }

        _cancellation?.Dispose();
    }

    private CancellationTokenSource NewSource()
    {
        var source = new CancellationTokenSource();
        if (_cancelRequests > 0)
        {
            source.Cancel();
        }

        return source;
    }

    private void CancelToken()
    {
        if (_cancellation is null || _cancellation.IsCancellationRequested)
        {
            return;
        }

        try
        {
            _cancellation.Cancel();
        }
        catch (AggregateException error)
        {
            Loop.CallExceptionHandler(new ExceptionContext($"A cancellation callback of {Name} failed", error));
        }
    }
}
