// Task groups [asyncio.TaskGroup]: structured concurrency for loop tasks.
//
// A group belongs to the task that creates it (the parent). Children are ordinary loop tasks the
// group tracks with a done callback. The end of the group waits until every child is done. The
// first child that fails (any exception but a cancellation) aborts the group: every other child
// is cancelled, and so is the parent, so that a body still awaiting something stops at once with
// CancelledError. At the end the group withdraws that request of its own (Uncancel), so it never
// leaks into the parent's later code, and throws AggregateException with every child failure
// (asyncio's ExceptionGroup; AggregateException is the .NET idiom for "several errors at once").
// This file follows CPython's taskgroups.py step for step, including its cancellation-count
// bookkeeping: a cancellation of the parent from outside cancels the children and propagates
// once they are done; child errors take priority over it, in which case the outside request is
// re-armed (Uncancel + Cancel) so that the parent's next await still sees it.
//
// How the end sees the body's exception. asyncio's __aexit__ receives the exception leaving the
// block: a body that fails or is cancelled aborts the children before waiting for them, and a
// body failure joins the AggregateException. C# gives DisposeAsync no such argument. So there are
// two ways in:
//   * RunAsync(group => ...), the primary API: it awaits the body itself, sees how it ended, and
//     then runs exactly asyncio's exit.
//   * await using var group = new TaskGroup(), the convenience: DisposeAsync runs asyncio's exit
//     for a body that ended normally, plus one inference: when the parent has a cancellation
//     request newer than the group (the block is leaving with that CancelledError, typically), the
//     children are cancelled before the wait, as asyncio does. A body that throws anything else
//     is not seen: its children are awaited, not cancelled, and the body's exception escapes
//     alone unless a child failed (then the AggregateException replaces it, as C# lets an
//     exception thrown by DisposeAsync replace the one in flight). Use RunAsync for bodies that
//     can throw.
using System.Runtime.ExceptionServices;

namespace Aio;

/// <summary>
/// Runs child tasks whose lifetime is bounded by a block of the current task [asyncio.TaskGroup]:
/// the block does not end before every child is done; the first child failure cancels the other
/// children and the block itself; the failures then surface together as an
/// <see cref="AggregateException"/>. Use <see cref="RunAsync(Func{TaskGroup, Task})"/>, or
/// <c>await using var group = new TaskGroup();</c> for a block that does not throw. Loop thread
/// only, inside a running <see cref="LoopTask"/>.
/// </summary>
public sealed class TaskGroup : IAsyncDisposable
{
    private const string ErrorsMessage = "Unhandled errors in a TaskGroup.";
    private readonly EventLoop _loop;
    private readonly ITaskInternals _parent;
    private readonly int _parentCancellingAtEntry;
    private readonly HashSet<Future> _tasks = [];
    private readonly List<Exception> _errors = [];
    private readonly Action<Future> _onTaskDone;
    private Future<bool>? _onCompleted;
    private bool _exiting;
    private bool _aborting;
    private bool _parentCancelRequested;

    /// <summary>
    /// Creates a group whose parent is the current task [async with asyncio.TaskGroup()]. End it with
    /// <see cref="DisposeAsync"/> in the same task, or use <see cref="RunAsync(Func{TaskGroup, Task})"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No <see cref="LoopTask"/> is running here.</exception>
    public TaskGroup()
    {
        _parent = RunningTask.Current ?? throw new InvalidOperationException(
            "A TaskGroup must be created inside a running LoopTask (its parent); start the code with loop.CreateTask(...) (code run by RunUntilComplete(Func<Task>) alone is not a task).");
        _loop = _parent.Loop;
        if (!_loop.IsOnLoopThread)
        {
            throw new InvalidOperationException("A TaskGroup must be used on its loop's thread; do not use it after ConfigureAwait(false).");
        }

        _parentCancellingAtEntry = _parent.Cancelling();
        _onTaskDone = OnTaskDone;
    }

    /// <summary>
    /// Runs <paramref name="body"/> with a new group whose parent is the current task, then waits
    /// for every child [async with asyncio.TaskGroup() as group]. The body is invoked at once,
    /// inline in the current task. If the body fails or is cancelled, the children are cancelled
    /// before the wait. The returned task then: fails with <see cref="AggregateException"/> holding
    /// every child failure and the body's own failure (cancellations excluded), if there is any;
    /// else ends with <see cref="CancelledError"/> if the current task is being cancelled from
    /// outside the group; else succeeds.
    /// </summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task RunAsync(Func<TaskGroup, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return new TaskGroup().RunBodyAsync(body);
    }

    /// <summary>As <see cref="RunAsync(Func{TaskGroup, Task})"/>, for a body with a result, which it returns.</summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<T> RunAsync<T>(Func<TaskGroup, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return new TaskGroup().RunBodyAsync(body);
    }

    /// <summary>
    /// Starts <paramref name="body"/> as a child task of the group [TaskGroup.create_task] (see
    /// <see cref="EventLoop.CreateTask(Func{Task}, string?, bool)"/>). Callable from the parent while
    /// the group runs, and from children while the group waits for them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The group has finished, or is shutting down after a failure or cancellation.</exception>
    public LoopTask CreateTask(Func<Task> body, string? name = null, bool eager = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        CheckAcceptsTasks();
        return Track(_loop.CreateTask(body, name, eager));
    }

    /// <summary>As <see cref="CreateTask(Func{Task}, string?, bool)"/>; the body receives the child's <see cref="ILoopTask.CancellationToken"/>.</summary>
    /// <exception cref="InvalidOperationException">The group has finished, or is shutting down after a failure or cancellation.</exception>
    public LoopTask CreateTask(Func<CancellationToken, Task> body, string? name = null, bool eager = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        CheckAcceptsTasks();
        return Track(_loop.CreateTask(body, name, eager));
    }

    /// <summary>As <see cref="CreateTask(Func{Task}, string?, bool)"/>, for a child with a result.</summary>
    /// <exception cref="InvalidOperationException">The group has finished, or is shutting down after a failure or cancellation.</exception>
    public LoopTask<T> CreateTask<T>(Func<Task<T>> body, string? name = null, bool eager = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        CheckAcceptsTasks();
        return Track(_loop.CreateTask(body, name, eager));
    }

    /// <summary>As <see cref="CreateTask{T}(Func{Task{T}}, string?, bool)"/>; the body receives the child's token.</summary>
    /// <exception cref="InvalidOperationException">The group has finished, or is shutting down after a failure or cancellation.</exception>
    public LoopTask<T> CreateTask<T>(Func<CancellationToken, Task<T>> body, string? name = null, bool eager = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        CheckAcceptsTasks();
        return Track(_loop.CreateTask(body, name, eager));
    }

    /// <summary>
    /// Ends the group: waits until every child is done, then throws <see cref="AggregateException"/>
    /// with the child failures if there are any [TaskGroup.__aexit__ for a block that ended
    /// normally]. If the parent task has a cancellation request newer than the group (the block is
    /// presumably leaving with <see cref="CancelledError"/>), the children are cancelled first. It
    /// cannot see an exception leaving the <c>await using</c> block, so it neither cancels the
    /// children for it nor reports it: use <see cref="RunAsync(Func{TaskGroup, Task})"/> for a
    /// block that can throw. Must run in the parent task; later calls do nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from another task than the parent.</exception>
    public ValueTask DisposeAsync()
    {
        if (_exiting)
        {
            return ValueTask.CompletedTask;
        }

        return new ValueTask(ExitAsync(null, bodyOutcomeKnown: false));
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"<TaskGroup tasks={_tasks.Count} errors={_errors.Count}{(_aborting ? " cancelling" : _exiting ? " exiting" : " entered")}>";

    private async Task RunBodyAsync(Func<TaskGroup, Task> body)
    {
        Exception? failure = null;
        try
        {
            await body(this);
        }
        catch (Exception error)
        {
            failure = error;
        }

        await ExitAsync(failure, bodyOutcomeKnown: true);
    }

    private async Task<T> RunBodyAsync<T>(Func<TaskGroup, Task<T>> body)
    {
        T result = default!;
        Exception? failure = null;
        try
        {
            result = await body(this);
        }
        catch (Exception error)
        {
            failure = error;
        }

        await ExitAsync(failure, bodyOutcomeKnown: true);
        return result;
    }

    /// <summary>asyncio's TaskGroup._aexit; <paramref name="bodyError"/> is null for a normal end (or an unknown one).</summary>
    private async Task ExitAsync(Exception? bodyError, bool bodyOutcomeKnown)
    {
        if (!ReferenceEquals(RunningTask.Current, _parent))
        {
            throw new InvalidOperationException("A TaskGroup must be ended by the task that created it (its parent).");
        }

        _exiting = true;
        bool bodyCancelled = bodyError is not null && IsCancellation(bodyError);
        Exception? propagateCancellation = bodyCancelled ? bodyError : null;
        bool cancellationInferred = false;
        if (bodyError is not null && !_aborting)
        {
            Abort();
        }
        else if (!bodyOutcomeKnown && !_aborting && OutsideCancellationRequested())
        {
            cancellationInferred = true;
            Abort();
        }

        // A loop: the wait can be cancelled several times (the parent cancelled repeatedly, or once
        // while the group's own abort is already under way).
        Exception? pendingCancellation = null;
        while (_tasks.Count > 0)
        {
            _onCompleted ??= new Future<bool>(_loop);
            try
            {
                await _onCompleted;
            }
            catch (CancelledError error)
            {
                pendingCancellation = error;
                if (!_aborting)
                {
                    propagateCancellation = error;
                    Abort();
                }
                else if (cancellationInferred)
                {
                    // DisposeAsync assumed a CancelledError in flight; this one is real: keep it.
                    propagateCancellation ??= error;
                }
            }

            _onCompleted = null;
        }

        if (_parentCancelRequested)
        {
            // The group cancelled the parent: that request must be withdrawn.
            if (_parent.Uncancel() == 0)
            {
                propagateCancellation = null;
            }
            else
            {
                // The remaining requests are not ours: don't drop them.
                propagateCancellation ??= pendingCancellation;
            }
        }

        if (propagateCancellation is not null && _errors.Count == 0)
        {
            ExceptionDispatchInfo.Throw(propagateCancellation);
        }

        if (bodyError is not null && !bodyCancelled)
        {
            _errors.Add(bodyError);
        }

        if (_errors.Count > 0)
        {
            // Errors win over a cancellation from outside; re-arm it so the parent's next await sees it.
            if (_parent.Cancelling() > 0)
            {
                _parent.Uncancel();
                _parent.Cancel(null);
            }

            throw new AggregateException(ErrorsMessage, _errors);
        }

        if (bodyError is not null)
        {
            // Unreachable while only child failures make the group cancel its parent (they are in
            // _errors): kept so that a body failure is never swallowed.
            ExceptionDispatchInfo.Throw(bodyError);
        }
    }

    private void CheckAcceptsTasks()
    {
        if (_exiting && _tasks.Count == 0)
        {
            throw new InvalidOperationException(
                "This TaskGroup has finished: create tasks while its body runs (or from children it still waits for), or use a new group.");
        }

        if (_aborting)
        {
            throw new InvalidOperationException(
                "This TaskGroup is shutting down (a child failed, or the group's block failed or was cancelled); it takes no new tasks.");
        }
    }

    private T Track<T>(T task)
        where T : Future
    {
        // The done callback is always scheduled, even for an eager task that is already done, so a
        // failure cancels the parent only after CreateTask returned (CPython gh-128550).
        _tasks.Add(task);
        task.AddDoneCallback(_onTaskDone);
        if (_aborting && !task.IsDone)
        {
            // An eager child that failed at once may have aborted the group already (CPython gh-155418).
            task.Cancel();
        }

        return task;
    }

    private void Abort()
    {
        _aborting = true;
        foreach (Future task in _tasks)
        {
            if (!task.IsDone)
            {
                task.Cancel();
            }
        }
    }

    private void OnTaskDone(Future task)
    {
        _tasks.Remove(task);
        if (_tasks.Count == 0 && _onCompleted is { IsDone: false } completed)
        {
            completed.SetResult(true);
        }

        if (task.IsCancelled || task.GetException() is not Exception error)
        {
            return;
        }

        _errors.Add(error);
        if (_parent.IsDone)
        {
            _loop.CallExceptionHandler(new ExceptionContext(
                $"Task {task} failed but the parent task of its TaskGroup, {_parent}, is already done", error)
            { Future = task });
            return;
        }

        if (!_aborting && !_parentCancelRequested)
        {
            // Stop whatever the parent runs in the group's block; the request is withdrawn at the end.
            Abort();
            _parentCancelRequested = true;
            _parent.Cancel(null);
        }
    }

    /// <summary>Whether the body's exception is a cancellation (TaskState's rule: any OCE while a cancel is requested).</summary>
    private bool IsCancellation(Exception error) =>
        error is CancelledError || (error is OperationCanceledException && _parent.Cancelling() > 0);

    /// <summary>Whether the parent has a cancellation request that is neither older than the group nor the group's own.</summary>
    private bool OutsideCancellationRequested() =>
        _parent.Cancelling() - (_parentCancelRequested ? 1 : 0) > _parentCancellingAtEntry;
}
