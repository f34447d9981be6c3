// The state every task carries (asyncio's Task fields, in .NET terms), embedded in LoopTask and
// LoopTask<T> so that a task is one object: whatever runs its body (DelegateTaskRunner for a
// Func<Task> body, the task itself for an async LoopTask method) asks it what to do.
//
// Cancellation, as asyncio defines it. When the task suspends on an Aio awaitable, the awaiter
// reports the future to the current task (WaitOn). Cancel() cancels that future, so the pending
// await throws CancelledError when the task resumes on the next iteration. If the task waits on
// nothing of Aio's (it runs, or awaits a foreign task) the request is remembered (MustCancel) and
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
//
// Size. Most tasks are never cancelled and never read their token, so everything about cancellation
// lives in a CancelRequests object made on the first Cancel or token read: a task that is never
// cancelled carries one null reference for it.
namespace Aio;

/// <summary>A task's cancellation requests, name and registry slot, with the rules above. Loop thread only.</summary>
internal struct TaskState
{
    private static int s_counter;

    private Future? _waitingOn;
    private string? _name;
    private CancelRequests? _cancel;
    private uint _number;
    private int _registrySlot;

    public TaskState(string? name)
    {
        _name = name;
        if (name is null)
        {
            _number = (uint)Interlocked.Increment(ref s_counter);   // 4 bytes: wraps after 4.29 billion default names
        }
    }

    /// <summary>The task's name; "Task-N" (made when first read) unless one was given.</summary>
    public string Name
    {
        get => _name ??= "Task-" + _number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        set => _name = value;
    }

    public readonly Future? WaitingOn => _waitingOn;

    public readonly int Cancelling => _cancel?.Count ?? 0;

    /// <summary>Whether a cancel waits for the task's next await (or its first step).</summary>
    public readonly bool MustCancel => _cancel is { MustCancel: true };

    public CancellationToken Token
    {
        get
        {
            CancelRequests cancel = _cancel ??= new CancelRequests();
            return (cancel.Source ??= cancel.NewSource()).Token;
        }
    }

    /// <summary>Adds the task to its loop's pending tasks; from now on a collected task is reported.</summary>
    public void Register(ITaskInternals task) => _registrySlot = task.Loop.RegisterTask(task) + 1;

    public bool Cancel(ITaskInternals self, string? message)
    {
        self.Loop.CheckThread(nameof(Cancel));
        if (self.IsDone)
        {
            return false;
        }

        CancelRequests cancel = _cancel ??= new CancelRequests();
        cancel.Count++;
        cancel.Message = message;
        if (_waitingOn is not { } future || !future.Cancel(message))
        {
            cancel.MustCancel = true;
        }

        // Last: token callbacks may run foreign continuations inline, even this task's body (which
        // may then suspend on a new future, or Uncancel); the request must be recorded before that.
        cancel.CancelToken(self);
        return true;
    }

    public int Uncancel()
    {
        if (_cancel is not { } cancel)
        {
            return 0;
        }

        if (cancel.Count > 0 && --cancel.Count == 0)
        {
            cancel.MustCancel = false;

            // No request is left: the next Token read makes a fresh token, so a cancellation that
            // was handled (a timeout that expired, a task group's own abort) does not poison later
            // foreign awaits. Code holding the old token keeps seeing it cancelled.
            if (cancel.Source is { IsCancellationRequested: true } cancelled)
            {
                cancel.Source = null;
                cancelled.Dispose();
            }
        }

        return cancel.Count;
    }

    public void WaitOn(Future future)
    {
        _waitingOn = future;
        if (_cancel is { MustCancel: true } cancel && future.Cancel(cancel.Message))
        {
            cancel.MustCancel = false;
        }
    }

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

    public bool TakeCancelRequest(out string? message)
    {
        if (_cancel is not { MustCancel: true } cancel)
        {
            message = null;
            return false;
        }

        cancel.MustCancel = false;
        message = cancel.Message;
        return true;
    }

    /// <summary>Ends the task by how its body failed: cancelled, or failed with the exception.</summary>
    public void FinishWith(Future self, Exception exception)
    {
        switch (exception)
        {
            case CancelledError error:
                Finish(self, _cancel is { Count: > 0 } cancel ? cancel.Message : error.Message, cancelled: true, failure: null);
                break;
            case OperationCanceledException when _cancel is { Count: > 0 }:
                Finish(self, _cancel.Message, cancelled: true, failure: null);
                break;
            default:
                Finish(self, null, cancelled: false, failure: exception);
                break;
        }
    }

    /// <summary>Ends the task cancelled by a request no await took.</summary>
    public void FinishCancelled(Future self)
    {
        string? message = null;
        if (_cancel is { } cancel)
        {
            cancel.MustCancel = false;
            message = cancel.Message;
        }

        Finish(self, message, cancelled: true, failure: null);
    }

    /// <summary>
    /// The body returned: true when the caller is to complete the future with the result; false when
    /// a cancel came right before the return with no Aio await left to deliver it to, and the task
    /// ended cancelled, as asyncio's does.
    /// </summary>
    public bool TrySucceed(Future self)
    {
        if (MustCancel)
        {
            FinishCancelled(self);
            return false;
        }

        Release(self);
        _cancel?.Source?.Dispose();
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

        _cancel?.Source?.Dispose();
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
    public readonly void DisposeToken() => _cancel?.Source?.Dispose();

    /// <summary>A task's cancellation requests and token, made on the first Cancel or token read.</summary>
    private sealed class CancelRequests
    {
        public CancellationTokenSource? Source;
        public string? Message;
        public int Count;
        public bool MustCancel;

        public CancellationTokenSource NewSource()
        {
            var source = new CancellationTokenSource();
            if (Count > 0)
            {
                source.Cancel();
            }

            return source;
        }

        public void CancelToken(ITaskInternals self)
        {
            if (Source is null || Source.IsCancellationRequested)
            {
                return;
            }

            try
            {
                Source.Cancel();
            }
            catch (AggregateException error)
            {
                self.Loop.CallExceptionHandler(new ExceptionContext($"A cancellation callback of {self.Name} failed", error));
            }
        }
    }
}
