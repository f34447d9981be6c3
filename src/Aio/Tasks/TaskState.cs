// The state every task carries (asyncio's Task fields, in .NET terms), embedded in LoopTask and
// LoopTask<T> so that a task is one object: whatever runs its body (DelegateTaskRunner for a
// Func<Task> body, the task itself for an async LoopTask method) asks it what to do.
//
// Cancellation, as asyncio defines it. When the task suspends on an Aio awaitable, the awaiter
// reports the future to the current task (WaitOn). Cancel() cancels that future, so the pending
// await throws CancelledError when the task resumes on the next iteration. If the task waits on
// nothing of Aio's (it runs, or awaits a foreign task) the request is remembered (_mustCancel) and
// delivered at its next Aio await: the future it then suspends on is cancelled at once, and a
// Sleep(0) or Yield throws. An await whose future completed just before the request (a lock wait
// already granted) may instead take the request as it resumes (TakeCancelRequest) and throw it
// there, after undoing what it was granted: that is how Aio.Sync passes a lock or permit on. The
// task's CancellationToken is cancelled too, for foreign awaits (last, since its callbacks may run
// continuations inline), and replaced by a fresh one once Uncancel withdraws the last request (a
// timeout scope or task group undoing its own cancel). A body that ends with CancelledError (or
// with any OperationCanceledException while a cancel is requested) leaves the task cancelled; one
// that catches it and returns leaves it succeeded. A request that arrives before the first step, or
// after the last await, still ends the task cancelled.
namespace Aio;

/// <summary>A task's cancellation requests, name and registry slot, with the rules above. Loop thread only.</summary>
internal struct TaskState
{
    private static long s_counter;

    private CancellationTokenSource? _cancellation;
    private Future? _waitingOn;
    private string? _name;
    private string? _cancelMessage;
    private long _number;
    private int _registrySlot;
    private int _cancelRequests;
    private bool _mustCancel;

    public TaskState(string? name)
    {
        _name = name;
        if (name is null)
        {
            _number = Interlocked.Increment(ref s_counter);
        }
    }

    /// <summary>The task's name; "Task-N" (made when first read) unless one was given.</summary>
    public string Name
    {
        get => _name ??= "Task-" + _number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        set => _name = value;
    }

    public readonly Future? WaitingOn => _waitingOn;

    public readonly int Cancelling => _cancelRequests;

    /// <summary>Whether a cancel waits for the task's next await (or its first step).</summary>
    public readonly bool MustCancel => _mustCancel;

    public CancellationToken Token => (_cancellation ??= NewSource()).Token;

    /// <summary>Adds the task to its loop's pending tasks; from now on a collected task is reported.</summary>
    public void Register(ITaskCore task) => _registrySlot = task.Loop.RegisterTask(task) + 1;

    public bool Cancel(ITaskCore self, string? message)
    {
        self.Loop.CheckThread(nameof(Cancel));
        if (self.IsDone)
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
        CancelToken(self);
        return true;
    }

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

    public void WaitOn(Future future)
    {
        _waitingOn = future;
        if (_mustCancel && future.Cancel(_cancelMessage))
        {
            _mustCancel = false;
        }
    }

    public void Resumed(Future future)
    {
        if (ReferenceEquals(_waitingOn, future))
        {
            _waitingOn = null;
        }
    }

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

    /// <summary>Ends the task by how its body failed: cancelled, or failed with the exception.</summary>
    public void FinishWith(Future self, Exception exception)
    {
        switch (exception)
        {
            case CancelledError error:
                Finish(self, _cancelRequests > 0 ? _cancelMessage : error.Message, cancelled: true, failure: null);
                break;
            case OperationCanceledException when _cancelRequests > 0:
                Finish(self, _cancelMessage, cancelled: true, failure: null);
                break;
            default:
                Finish(self, null, cancelled: false, failure: exception);
                break;
        }
    }

    /// <summary>Ends the task cancelled by a request no await took.</summary>
    public void FinishCancelled(Future self)
    {
        _mustCancel = false;
        Finish(self, _cancelMessage, cancelled: true, failure: null);
    }

    /// <summary>
    /// The body returned: true when the caller is to complete the future with the result; false when
    /// a cancel came right before the return with no Aio await left to deliver it to, and the task
    /// ended cancelled, as asyncio's does.
    /// </summary>
    public bool TrySucceed(Future self)
    {
        if (_mustCancel)
        {
            FinishCancelled(self);
            return false;
        }

        Release(self);
        _cancellation?.Dispose();
        return true;
    }

    /// <summary>
    /// From the task's finalizer. A task collected while still pending ["Task was destroyed but it
    /// is pending!"] awaited something that nothing referenced any more, so it could never resume.
    /// The finalizer is suppressed when the task finishes; until it is scheduled, there is nothing to report.
    /// </summary>
    public readonly void ReportDestroyed(Future self, string name)
    {
        if (_registrySlot <= 0)
        {
            return;
        }

        EventLoop loop = self.Loop;
        loop.UnregisterTask(_registrySlot - 1);
        UnobservedErrorReporter.ReportFromFinalizer(
            loop, new ExceptionContext("Task was destroyed but it is pending!") { Future = $"<LoopTask {name} pending>" });
    }

    private void Finish(Future self, string? cancelMessage, bool cancelled, Exception? failure)
    {
        Release(self);
        if (cancelled)
        {
            self.CancelAsDone(cancelMessage);
        }
        else if (failure is not null)
        {
            self.SetException(failure);
        }

        _cancellation?.Dispose();
    }

    private void Release(Future self)
    {
        _waitingOn = null;
        if (_registrySlot > 0)
        {
            self.Loop.UnregisterTask(_registrySlot - 1);
            _registrySlot = 0;
#pragma warning disable CA1816 // Not a Dispose: a finished task has nothing left to report.
            GC.SuppressFinalize(self);
#pragma warning restore CA1816
        }
    }

    /// <summary>Disposes the token source (the loop closed under the task).</summary>
    public readonly void DisposeToken() => _cancellation?.Dispose();

    private readonly CancellationTokenSource NewSource()
    {
        var source = new CancellationTokenSource();
        if (_cancelRequests > 0)
        {
            source.Cancel();
        }

        return source;
    }

    private readonly void CancelToken(ITaskCore self)
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
            self.Loop.CallExceptionHandler(new ExceptionContext($"A cancellation callback of {self.Name} failed", error));
        }
    }
}
