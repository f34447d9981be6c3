// The state every task carries (asyncio's Task fields, in .NET terms), embedded in LoopTask and
// LoopTask<T> so that a task is one object: whatever runs its body (DelegateTaskRunner for a
// Func<Task> body, MethodSteps for an async LoopTask method) and every Aio await ask it what to do.
//
// Awaits. A task is ordinary .NET async code, so it may have several Aio awaits pending at once: a
// body that runs Task.WhenAll(A(), B()) of two helpers has one await suspended in each. Every Aio
// awaiter reports its suspension to the current task (WaitOn) and its resumption (Resume), so the
// task knows the set of awaits pending on its behalf. The set costs nothing extra in the common case:
// one field holds the single pending await; it becomes a small list only when a second await is
// pending at the same time, and stays one. An entry is the awaited Future, or the Yield marker for
// a suspension with no future (Sleep(0), Yield).
//
// Cancellation, as asyncio defines it, for every pending await. Cancel() reaches each await in the
// set: a pending future is cancelled, so its await throws CancelledError when the code resumes on
// the next iteration; an await whose future already completed (or a Yield) is marked to throw when
// it resumes (CancelAtResume), as asyncio's Task.__step throws a pending _must_cancel into the
// coroutine instead of sending it the result. So each await pending at the time of a request sees
// exactly one CancelledError for it, and a second request before the code resumed does not produce
// a second error for the cleanup code in the catch block. If nothing is pending (the task runs, or
// awaits only foreign tasks) the request is remembered (MustCancel) and delivered at the task's next
// Aio await; it stays armed for the further awaits the same step starts (the other helpers of a
// WhenAll started after a self-cancel) until one of the task's awaits resumes. An await that resumes
// to throw at resume first undoes what its completion granted (Future.GiveBack: a lock released, a
// queue item given back), so no work is lost. The task's CancellationToken is cancelled too, for
// foreign awaits (last, since its callbacks may run continuations inline), and replaced by a fresh
// one once Uncancel withdraws the last request (a timeout scope or task group undoing its own
// cancel), which also withdraws the request from awaits it has not reached yet. A body that ends
// with CancelledError (or with any OperationCanceledException while a cancel is requested) leaves
// the task cancelled; one that catches it and returns leaves it succeeded. A request that arrives
// before the first step, or after the last await, still ends the task cancelled.
//
// Size. Most tasks are never cancelled and never read their token, so everything about cancellation
// lives in a CancelRequests object made on the first Cancel or token read: a task that is never
// cancelled carries one null reference for it.
using System.Diagnostics;

namespace Aio;

/// <summary>How an await of the current task ends (see <see cref="TaskState.Resume"/>).</summary>
internal enum AwaitEnd : byte
{
    /// <summary>The await did not suspend the task (it completed at once): nothing to do.</summary>
    NotSuspended,

    /// <summary>The task resumes normally.</summary>
    Resumed,

    /// <summary>A cancel reached the await after its future completed: the await throws CancelledError.</summary>
    CancelHere,
}

/// <summary>A task's pending awaits, cancellation requests, name and registry slot, with the rules above. Loop thread only.</summary>
internal struct TaskState
{
    /// <summary>The entry of a suspension with no future (Sleep(0), Yield); every such suspension uses it.</summary>
    public static readonly object YieldMarker = new();

    private static int s_counter;

    private object? _awaits;
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

    /// <summary>The futures the task is suspended on, for diagnostics (Yield suspensions are not futures).</summary>
    public readonly IEnumerable<Future> PendingAwaits => _awaits switch
    {
        null => [],
        List<object> list => list.OfType<Future>().ToArray(),
        Future future => [future],
        _ => [],
    };

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
        switch (_awaits)
        {
            case null:
            case List<object> { Count: 0 }:
                cancel.MustCancel = true;
                break;
            case List<object> list:
                // A copy: cancelling a future never runs the task's code, but it may run other code.
                foreach (object entry in list.ToArray())
                {
                    Deliver(self.Loop, cancel, entry);
                }

                break;
            default:
                Deliver(self.Loop, cancel, _awaits!);
                break;
        }

        AssertInvariants((Future)self);

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
            cancel.WithdrawUndelivered();

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

    /// <summary>The task suspends on <paramref name="entry"/> (a future, or <see cref="YieldMarker"/>).</summary>
    public void WaitOn(Future self, object entry)
    {
        Debug.Assert(entry is Future || entry == YieldMarker, "An await entry is a future or the yield marker.");
        if (self.IsDone)
        {
            return;   // a helper the finished body left behind: its awaits are no longer the task's
        }

        switch (_awaits)
        {
            case null:
                _awaits = entry;
                break;
            case List<object> list:
                list.Add(entry);
                break;
            default:
                _awaits = new List<object>(4) { _awaits, entry };
                break;
        }

        if (_cancel is { } cancel && (cancel.MustCancel || cancel.ArmedUntilResume))
        {
            cancel.MustCancel = false;
            cancel.ArmedUntilResume = true;
            Deliver(self.Loop, cancel, entry);
        }

        AssertInvariants(self);
    }

    /// <summary>
    /// The task's code resumes from awaiting <paramref name="entry"/>: whether it had suspended on it,
    /// and whether a cancel reached it after it completed (the await must then throw <see cref="CancelledError"/>
    /// with <paramref name="cancelMessage"/>).
    /// </summary>
    public AwaitEnd Resume(Future self, object entry, out string? cancelMessage)
    {
        cancelMessage = null;
        if (!RemoveAwait(entry))
        {
            return AwaitEnd.NotSuspended;
        }

        AwaitEnd end = AwaitEnd.Resumed;
        if (_cancel is { } cancel)
        {
            cancel.ArmedUntilResume = false;
            if (cancel.TakeCancelAtResume(entry))
            {
                cancelMessage = cancel.Message;
                end = AwaitEnd.CancelHere;
            }
        }

        AssertInvariants(self);
        return end;
    }

    /// <summary>
    /// As <see cref="Resume"/> for an await that cannot throw at resume without losing what it got (a
    /// stream read): a cancel that reached it after it completed waits for the task's next await.
    /// </summary>
    public void ResumeDeferringCancel(Future self, object entry)
    {
        if (Resume(self, entry, out _) == AwaitEnd.CancelHere)
        {
            CancelAtNextAwait(self);
        }
    }

    /// <summary>A cancel that a resuming await took (<see cref="AwaitEnd.CancelHere"/>) but could not throw goes to the next await.</summary>
    public void CancelAtNextAwait(Future self)
    {
        Debug.Assert(_cancel is { Count: > 0 }, "Only a pending request can be deferred.");
        _cancel!.MustCancel = true;
        AssertInvariants(self);
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
        Finish(self, _cancel?.Message, cancelled: true, failure: null);
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

    /// <summary>Disposes the token source (the loop closed under the task).</summary>
    public readonly void DisposeToken() => _cancel?.Source?.Dispose();

    /// <summary>Checks the task's invariants (Debug builds).</summary>
    [Conditional("DEBUG")]
    public readonly void AssertInvariants(Future self)
    {
        if (self.IsDone)
        {
            Debug.Assert(_awaits is null or List<object> { Count: 0 }, "A finished task has no pending await.");
            Debug.Assert(_registrySlot == 0, "A finished task is no longer registered as pending.");
            Debug.Assert(_cancel is null || (!_cancel.MustCancel && !_cancel.ArmedUntilResume && _cancel.CancelAtResume is null or { Count: 0 }),
                "A finished task has no cancel waiting for an await.");
        }

        if (_cancel is { } cancel)
        {
            Debug.Assert(cancel.Count >= 0, "The count of cancel requests is never negative.");
            Debug.Assert(!cancel.MustCancel || cancel.Count > 0, "A cancel waits for an await only while a request is pending.");
            Debug.Assert(!cancel.ArmedUntilResume || cancel.Count > 0, "A cancel stays armed only while a request is pending.");
            Debug.Assert(!(cancel.MustCancel && cancel.ArmedUntilResume), "A cancel is either waiting for its first await or already delivered.");
            if (cancel.CancelAtResume is { } atResume)
            {
                Debug.Assert(atResume.Count == 0 || cancel.Count > 0, "An await throws at resume only while a request is pending.");
                foreach (object entry in atResume)
                {
                    Debug.Assert(CountAwaits(entry) >= CountIn(atResume, entry), "Only a pending await can be marked to throw at resume.");
                }
            }
        }
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
            self.FailAsDone(failure);
        }

        _cancel?.Source?.Dispose();
    }

    private void Release(Future self)
    {
        // A body may end while helpers it did not wait for are still suspended (WhenAny): those
        // awaits are no longer the task's, and no cancel waits for them.
        _awaits = _awaits is List<object> list ? ClearedList(list) : null;
        _cancel?.ClearDelivery();
        if (_registrySlot > 0)
        {
            self.Loop.UnregisterTask(_registrySlot - 1);
            _registrySlot = 0;
#pragma warning disable CA1816 // Not a Dispose: a finished task has nothing left to report.
            GC.SuppressFinalize(self);
#pragma warning restore CA1816
        }
    }

    private static List<object> ClearedList(List<object> list)
    {
        list.Clear();
        return list;
    }

    /// <summary>
    /// Delivers the current request to a pending await: cancels its future, or marks it to throw at
    /// resume — once: an await already marked (a second request before it resumed) is not marked again.
    /// </summary>
    private readonly void Deliver(EventLoop loop, CancelRequests cancel, object entry)
    {
        // A future of another loop is not ours to cancel (its await throws the cross-loop error).
        if (entry is Future future && ReferenceEquals(future.Loop, loop) && future.Cancel(cancel.Message))
        {
            return;
        }

        List<object> atResume = cancel.CancelAtResume ??= new List<object>(2);
        if (CountIn(atResume, entry) < CountAwaits(entry))
        {
            atResume.Add(entry);
        }
    }

    private bool RemoveAwait(object entry)
    {
        if (ReferenceEquals(_awaits, entry))
        {
            _awaits = null;
            return true;
        }

        if (_awaits is List<object> list)
        {
            for (int i = list.Count - 1; i >= 0; i--)
            {
                if (ReferenceEquals(list[i], entry))
                {
                    list[i] = list[^1];
                    list.RemoveAt(list.Count - 1);
                    return true;
                }
            }
        }

        return false;
    }

    private readonly int CountAwaits(object entry) => _awaits switch
    {
        null => 0,
        List<object> list => CountIn(list, entry),
        _ => ReferenceEquals(_awaits, entry) ? 1 : 0,
    };

    private static int CountIn(List<object> list, object entry)
    {
        int count = 0;
        foreach (object item in list)
        {
            if (ReferenceEquals(item, entry))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>A task's cancellation requests and token, made on the first Cancel or token read.</summary>
    private sealed class CancelRequests
    {
        public CancellationTokenSource? Source;
        public string? Message;

        /// <summary>Pending awaits whose future had completed when a request reached them: each throws as it resumes.</summary>
        public List<object>? CancelAtResume;
        public int Count;

        /// <summary>A request found no pending await: the next await takes it.</summary>
        public bool MustCancel;

        /// <summary>A request taken by an await stays armed for the further awaits of the same step.</summary>
        public bool ArmedUntilResume;

        public CancellationTokenSource NewSource()
        {
            var source = new CancellationTokenSource();
            if (Count > 0)
            {
                source.Cancel();
            }

            return source;
        }

        public bool TakeCancelAtResume(object entry)
        {
            if (CancelAtResume is not { Count: > 0 } list)
            {
                return false;
            }

            for (int i = list.Count - 1; i >= 0; i--)
            {
                if (ReferenceEquals(list[i], entry))
                {
                    list.RemoveAt(i);
                    return true;
                }
            }

            return false;
        }

        /// <summary>The last request was withdrawn: awaits it has not reached yet no longer throw.</summary>
        public void WithdrawUndelivered()
        {
            ClearDelivery();
        }

        public void ClearDelivery()
        {
            MustCancel = false;
            ArmedUntilResume = false;
            CancelAtResume?.Clear();
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
