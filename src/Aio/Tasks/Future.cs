// Futures [asyncio.Future]: a result that a loop callback will set later.
//
// A future belongs to one loop and is used on its thread only (as in asyncio; debug mode checks).
// Completion never runs anything inline: every done callback and every awaiting continuation is
// queued on the loop and runs in a later callback, so setting a result can never re-enter the
// code that set it.
//
// Awaiting. GetAwaiter returns a struct awaiter; the continuation the compiler hands it is stored
// in a single slot (a list only when several wait), so awaiting a pending future allocates
// nothing beyond what the async method itself allocates. When the awaiting code runs inside a
// LoopTask, the awaiter also tells that task it waits on this future (and, in EndAwait, that it
// resumed): cancelling the task cancels every future it waits on, which is how asyncio delivers
// CancelledError into the task's pending await without the user passing a token. A cancel that
// reached the await after the future completed is thrown by EndAwait, after GiveBack undid what the
// completion granted (TaskState has the rules). A task of another loop suspending here is resumed on
// its own loop, and EndAwait throws the cross-loop error.
//
// Outcome. One field holds what the state needs: the cancel message (cancelled), the armed reporter
// (failed, exception not yet retrieved: it holds the exception) or the exception (retrieved).
//
// Lost errors. When a future fails, a small finalizable reporter is allocated (the future itself
// is never finalizable, so successful futures cost the GC nothing). Reading the exception (through
// await, Result, or GetException) disarms it; if the future is collected with its exception never
// read, the reporter's finalizer posts "exception was never retrieved" to the loop's handler.
using System.Runtime.ExceptionServices;

namespace Aio;

/// <summary>
/// The common base of <see cref="Future{T}"/> and the loop's tasks [asyncio.Future]: done,
/// cancelled, failed, done callbacks, await. Loop thread only unless a member says otherwise.
/// </summary>
public abstract class Future
{
    private State _state;
    private object? _outcome;
    private object? _callbacks;

    private protected Future(EventLoop loop)
    {
        ArgumentNullException.ThrowIfNull(loop);
        Loop = loop;
    }

    private enum State : byte
    {
        Pending,
        Succeeded,
        Failed,
        Cancelled,
    }

    /// <summary>The loop the future belongs to [future.get_loop()].</summary>
    public EventLoop Loop { get; }

    /// <summary>Whether the future has a result, an exception, or was cancelled [future.done()].</summary>
    public bool IsDone => _state != State.Pending;

    /// <summary>Whether the future was cancelled [future.cancelled()].</summary>
    public bool IsCancelled => _state == State.Cancelled;

    /// <summary>Whether the future completed with a result (not an exception, not cancelled).</summary>
    public bool IsCompletedSuccessfully => _state == State.Succeeded;

    /// <summary>Whether the future completed with an exception (without retrieving it).</summary>
    public bool IsFaulted => _state == State.Failed;

    /// <summary>The message given to <see cref="Cancel"/>, if any.</summary>
    public string? CancelMessage => _state == State.Cancelled ? (string?)_outcome : null;

    /// <summary>
    /// Cancels the future [future.cancel(msg)]: if it is pending it becomes cancelled, its callbacks
    /// are scheduled, and awaiting it throws <see cref="CancelledError"/> with <paramref name="message"/>.
    /// </summary>
    /// <returns>False when the future was already done.</returns>
    public virtual bool Cancel(string? message = null) => TryCancel(message);

    /// <summary>
    /// Completes the future with <paramref name="exception"/> [future.set_exception]; awaiting it
    /// rethrows that exception with its original stack trace.
    /// </summary>
    /// <exception cref="InvalidStateError">The future is already done.</exception>
    /// <exception cref="InvalidOperationException">The future is a <see cref="LoopTask"/>: its body sets its outcome.</exception>
    public void SetException(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ThrowIfTask(nameof(SetException));
        ThrowIfDone();
        FailAsDone(exception);
    }

    /// <summary>
    /// The exception the future failed with, or null if it succeeded [future.exception()]. Reading
    /// it counts as retrieving it.
    /// </summary>
    /// <exception cref="InvalidStateError">The future is not done.</exception>
    /// <exception cref="CancelledError">The future was cancelled.</exception>
    public Exception? GetException()
    {
        switch (_state)
        {
            case State.Pending:
                throw new InvalidStateError("The exception is not set yet: the future is still pending.");
            case State.Cancelled:
                throw NewCancelledError();
            default:
                MarkObserved();
                return _state == State.Failed ? (Exception)_outcome! : null;
        }
    }

    /// <summary>
    /// Runs <paramref name="callback"/>(this future) on the loop once the future is done
    /// [future.add_done_callback]; if it is already done, the callback is scheduled at once. Never
    /// runs inline.
    /// </summary>
    public void AddDoneCallback(Action<Future> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        Loop.CheckThread(nameof(AddDoneCallback));
        if (IsDone)
        {
            Schedule(callback);
        }
        else
        {
            AddCallback(callback);
        }
    }

    /// <summary>Removes every registration of <paramref name="callback"/> [future.remove_done_callback].</summary>
    /// <returns>How many were removed.</returns>
    public int RemoveDoneCallback(Action<Future> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        switch (_callbacks)
        {
            case Action<Future> single when single == callback:
                _callbacks = null;
                return 1;
            case List<object> list:
                return list.RemoveAll(item => item is Action<Future> registered && registered == callback);
            default:
                return 0;
        }
    }

    /// <summary>Gets an awaiter; awaiting completes when the future is done and rethrows its failure.</summary>
    public FutureAwaiter GetAwaiter() => new(this);

    /// <summary>Completes a .NET task when this future is done, for code that is not on the loop.</summary>
    public Task AsTask()
    {
        var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        AddDoneCallback(future =>
        {
            switch (future._state)
            {
                case State.Succeeded:
                    completion.SetResult();
                    break;
                case State.Cancelled:
                    completion.SetCanceled();
                    break;
                default:
                    future.MarkObserved();
                    completion.SetException((Exception)future._outcome!);
                    break;
            }
        });
        return completion.Task;
    }

    /// <inheritdoc />
    public override string ToString() => $"<{DisplayName(GetType())} {_state.ToString().ToLowerInvariant()}>";

    /// <summary>A type's name without the generic arity suffix: "Future" for Future`1.</summary>
    private static string DisplayName(Type type) => type.Name.IndexOf('`', StringComparison.Ordinal) is int tick and >= 0 ? type.Name[..tick] : type.Name;

    /// <summary>
    /// Returns when the future succeeded [future.result() for a future without a value]; otherwise
    /// rethrows its exception (original stack trace kept) or throws <see cref="CancelledError"/>.
    /// </summary>
    /// <exception cref="InvalidStateError">The future is still pending.</exception>
    public void ThrowIfNotSucceeded()
    {
        switch (_state)
        {
            case State.Succeeded:
                return;
            case State.Pending:
                throw new InvalidStateError("The result is not set yet: the future is still pending.");
            case State.Cancelled:
                throw NewCancelledError();
            default:
                MarkObserved();
                ExceptionDispatchInfo.Throw((Exception)_outcome!);
                return;
        }
    }

    /// <summary>
    /// Makes a done future pending again, for an internal operation that is reused (a stream reader's
    /// waiting read). Only for a future nobody else can still observe: no callbacks, outcome consumed.
    /// </summary>
    private protected void ResetToPending()
    {
        _state = State.Pending;
        _outcome = null;
        _callbacks = null;
    }

    /// <summary>Marks the future succeeded and schedules its callbacks; the caller stored the result first.</summary>
    private protected void CompleteSucceeded() => Complete(State.Succeeded);

    /// <summary>Refuses to complete a task from outside its body [asyncio: "Task does not support set_result()"].</summary>
    private protected void ThrowIfTask(string operation)
    {
        if (this is ILoopTask task)
        {
            throw new InvalidOperationException(
                $"{operation} cannot complete task {task.Name}: a task's outcome is what its body returns or throws. " +
                "Cancel it with Cancel(), or complete a Future<T> from loop.CreateFuture<T>() instead.");
        }
    }

    /// <summary>Throws <see cref="InvalidStateError"/> when the future is done.</summary>
    private protected void ThrowIfDone()
    {
        Loop.CheckThread("SetResult/SetException");
        if (IsDone)
        {
            throw new InvalidStateError($"The future is already done ({_state.ToString().ToLowerInvariant()}); a result or exception can be set once.");
        }
    }

    /// <summary>Cancels without task semantics (tasks override <see cref="Cancel"/>).</summary>
    private protected bool TryCancel(string? message)
    {
        Loop.CheckThread(nameof(Cancel));
        if (IsDone)
        {
            return false;
        }

        _outcome = message;
        Complete(State.Cancelled);
        return true;
    }

    /// <summary>A fresh error for awaiting a cancelled future.</summary>
    private protected CancelledError NewCancelledError() => new(CancelMessage);

    /// <summary>
    /// The end of an await of this future (the awaiters' GetResult): tells the current task it
    /// resumed, then returns when the future succeeded or throws its failure. Synchronization
    /// waiters override it to give back what they were granted when the task was cancelled after
    /// the grant (see Aio.Sync.SyncWaiter).
    /// </summary>
    internal virtual void EndAwait()
    {
        if (RunningTask.Current is { } task)
        {
            AwaitEnd end = task.Resume(this, out string? cancelMessage);
            if (end != AwaitEnd.NotSuspended)
            {
                if (!ReferenceEquals(task.Loop, Loop))
                {
                    throw new InvalidOperationException(
                        $"Task {task.Name} runs on {task.Loop} and awaited {this}, which belongs to another loop, {Loop}: a future can be " +
                        "awaited only by code of its own loop [asyncio: \"attached to a different loop\"]. Hand work between loops with " +
                        "loop.RunCoroutineThreadSafe or loop.CallSoonThreadSafe, or await future.AsTask() with its own synchronization.");
                }

                if (end == AwaitEnd.CancelHere)
                {
                    ThrowCancelledAtResume(task, cancelMessage);
                }
            }
        }

        ThrowIfNotSucceeded();
    }

    /// <summary>
    /// Whether <see cref="GiveBack"/> can undo this future's success. False for a success that others
    /// may already have acted on (a queue put whose item may have been taken): then the await that a
    /// cancel reached at resume completes normally, and the cancel waits for the task's next await.
    /// </summary>
    internal virtual bool CanGiveBack => true;

    /// <summary>
    /// The task that awaited this future was cancelled after the future succeeded and before the task
    /// resumed, so the await throws <see cref="CancelledError"/> instead of taking the result: undo
    /// what the success granted so that nothing is lost (a queue item goes back, a lock or permit is
    /// released). By default there is nothing to undo. Called only when <see cref="CanGiveBack"/>. Loop thread only.
    /// </summary>
    internal virtual void GiveBack()
    {
    }

    /// <summary>
    /// A cancel reached the await of this done future before the task resumed: asyncio throws it at
    /// this very await. A success is given back first (or, if it cannot be, the await completes and
    /// the cancel goes to the task's next await); a failure becomes the inner exception of the
    /// <see cref="CancelledError"/>, so it is neither lost nor reported as never retrieved.
    /// </summary>
    private void ThrowCancelledAtResume(ITaskInternals task, string? cancelMessage)
    {
        switch (_state)
        {
            case State.Succeeded when !CanGiveBack:
                task.CancelAtNextAwait();
                return;
            case State.Succeeded:
                GiveBack();
                throw new CancelledError(cancelMessage);
            case State.Failed:
                MarkObserved();
                throw new CancelledError(cancelMessage, (Exception)_outcome!);
            default:
                throw new CancelledError(cancelMessage);
        }
    }

    /// <summary>Cancels without task semantics, for a task ending cancelled.</summary>
    internal bool CancelAsDone(string? message) => TryCancel(message);

    /// <summary>
    /// Fails the future with <paramref name="exception"/>: a task ending with its body's failure, or
    /// <see cref="SetException"/>. The "never retrieved" report shows the future as it is then: failed.
    /// </summary>
    internal void FailAsDone(Exception exception)
    {
        _outcome = exception;
        Complete(State.Failed);
        if (ReferenceEquals(_outcome, exception))
        {
            _outcome = new UnobservedErrorReporter(Loop, this is ILoopTask ? "Task exception was never retrieved" : "Future exception was never retrieved", exception, ToString());
        }
    }

    /// <summary>Called by the awaiter when code suspends on this future.</summary>
    internal void OnAwait(Action continuation) => OnAwait(continuation, RunningTask.Current);

    /// <summary>
    /// Called when code suspends on this future: <paramref name="continuation"/> is an
    /// <see cref="Action"/> or a loop work item (an async LoopTask method's task), and
    /// <paramref name="task"/> the task the code runs for, if any. A task of another loop is resumed
    /// on its own loop at once, and its await throws the cross-loop error (<see cref="EndAwait"/>).
    /// </summary>
    internal void OnAwait(object continuation, ITaskInternals? task)
    {
        if (task is not null)
        {
            task.WaitOn(this);
            if (!ReferenceEquals(task.Loop, Loop))
            {
                task.Loop.TryPost(continuation, null);
                return;
            }
        }

        if (IsDone)
        {
            Loop.TryPost(continuation, null);
        }
        else
        {
            AddCallback(continuation);
        }
    }

    /// <summary>Records that the failure was delivered to someone.</summary>
    private protected void MarkObserved()
    {
        if (_outcome is UnobservedErrorReporter reporter)
        {
            reporter.Disarm();
            _outcome = reporter.Exception;
        }
    }

    /// <summary>For diagnostics (task stacks): the failure, without counting as retrieving it; null unless failed.</summary>
    internal Exception? PeekException() =>
        _state != State.Failed ? null : _outcome is UnobservedErrorReporter reporter ? reporter.Exception : (Exception?)_outcome;

    /// <summary>For diagnostics (task stacks): what waits for this future — one callback, a list of them, or null.</summary>
    internal object? PeekCallbacks() => _callbacks;

    private void AddCallback(object callback)
    {
        switch (_callbacks)
        {
            case null:
                _callbacks = callback;
                break;
            case List<object> list:
                list.Add(callback);
                break;
            default:
                _callbacks = new List<object>(4) { _callbacks, callback };
                break;
        }
    }

    private void Complete(State state)
    {
        _state = state;
        object? callbacks = _callbacks;
        _callbacks = null;
        if (callbacks is List<object> list)
        {
            foreach (object callback in list)
            {
                Schedule(callback);
            }
        }
        else if (callbacks is not null)
        {
            Schedule(callbacks);
        }

        OnCompleted();
    }

    /// <summary>Runs after the state changed and callbacks were scheduled (tasks clean up here).</summary>
    private protected virtual void OnCompleted()
    {
    }

    private void Schedule(object callback) => Loop.TryPost(callback, callback is Action<Future> ? this : null);
}
