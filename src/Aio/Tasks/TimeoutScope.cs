// Timeout scopes [asyncio.timeout, asyncio.timeout_at, asyncio.Timeout; trio.move_on_after].
//
// Why the scope runs the body. asyncio's Timeout is an async context manager: its __aexit__ sees
// the exception leaving the block and replaces the CancelledError it caused with TimeoutError. A
// C# using block cannot do that. Dispose never sees the exception in flight, and an exception
// thrown from Dispose replaces whatever was leaving the block — a failure of the body, or a
// normal end the body reached after catching the cancellation. A disposable scope could only
// guess, and would guess wrong in exactly the cases that matter. So the scope takes the body as
// a delegate: RunAsync(body) invokes it inline in the current task (no new task, no extra loop
// step: its awaits are the task's awaits, so cancelling the task reaches them), awaits it, sees
// exactly how it ended, and applies asyncio's exit rule. MoveOnAsync is the same with trio's
// silent ending.
//
// The rule (asyncio 3.12+). On entry the scope records the task's Cancelling() count and arms a
// timer at When (a plain CallSoon when When has already passed, so the expiry precedes the body's
// first await as it does in asyncio). When it fires, the scope becomes "expiring" and cancels the
// task [TaskState.Cancel]: the task's pending Aio await throws CancelledError. On exit the timer is
// disarmed; an expired scope always withdraws its request (Uncancel), and if the count is then
// back to (or below) what it was on entry and the body ended with a cancellation, that
// cancellation was the scope's own: RunAsync throws TimeoutException (inner: the cancellation),
// MoveOnAsync reports "not completed". If the count is still above (someone else cancelled the
// task too) the cancellation propagates unchanged. That is what makes nested scopes and outside
// cancellation compose: each scope converts only the request it made. A body that caught the
// cancellation and ended normally, or ended with another exception, keeps its outcome.
//
// Any OperationCanceledException counts as the cancellation, not only CancelledError: a foreign
// await that honours the task's CancellationToken ends with TaskCanceledException when the scope
// cancels the task, and that is the scope's expiry too (TaskState treats it the same way).
using System.Globalization;

namespace Aio;

/// <summary>
/// A deadline for a block of code running in the current <see cref="LoopTask"/> [asyncio.Timeout]:
/// when loop time reaches <see cref="When"/> while the body runs, the task is cancelled, and the
/// resulting <see cref="CancelledError"/> leaves <see cref="RunAsync(Func{Task})"/> as a
/// <see cref="TimeoutException"/> (or makes <see cref="MoveOnAsync(Func{Task})"/> return false).
/// Create one with <see cref="LoopTask.Timeout"/> or <see cref="LoopTask.TimeoutAt"/>, or let
/// <see cref="LoopTask.TimeoutAsync(TimeSpan?, Func{TimeoutScope, Task})"/> and its siblings create
/// and run it in one call. A scope runs one body. Loop thread only.
/// </summary>
/// <remarks>
/// The scope is not <see cref="IDisposable"/> on purpose: a <c>using</c> block cannot see or replace
/// the exception that leaves it, so the conversion of the scope's own cancellation into
/// <see cref="TimeoutException"/> needs the body as a delegate.
/// </remarks>
public sealed class TimeoutScope
{
    private EventLoop? _loop;
    private ITaskInternals? _task;
    private Handle? _timer;
    private Action? _onTimeout;
    private double? _when;
    private int _cancelling;
    private State _state;

    internal TimeoutScope(EventLoop? loop, double? when)
    {
        ThrowIfNaN(when);
        _loop = loop;
        _when = when;
    }

    private enum State : byte
    {
        Created,
        Entered,
        Expiring,
        Expired,
        Exited,
    }

    /// <summary>
    /// The deadline in loop time (<see cref="EventLoop.Time"/>), or null for none [Timeout.when()].
    /// </summary>
    public double? When => _when;

    /// <summary>
    /// Whether the deadline passed while the body ran, so the scope cancelled the task
    /// [Timeout.expired()]. Stays true after the body ended.
    /// </summary>
    public bool Expired => _state is State.Expiring or State.Expired;

    /// <summary>
    /// Moves the deadline to <paramref name="when"/> (loop time), or removes it with null
    /// [Timeout.reschedule(when)]. Before the body runs this only records the new deadline; while
    /// it runs it re-arms the timer, and a deadline that has already passed expires the scope on
    /// the next loop iteration. Loop thread only.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="when"/> is NaN.</exception>
    /// <exception cref="InvalidOperationException">The scope has expired or its body has ended.</exception>
    public void Reschedule(double? when)
    {
        ThrowIfNaN(when);
        switch (_state)
        {
            case State.Created:
                _when = when;
                return;
            case State.Entered:
                _when = when;
                Arm();
                return;
            default:
                throw new InvalidOperationException(
                    $"This timeout scope is {StateText()}: its deadline can be changed only before or while its body runs.");
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> in the current task under this scope's deadline [async with
    /// timeout]. The body is invoked at once, inline: it is not a new task. When the deadline
    /// passes while it runs, the task is cancelled; if the body then ends with that cancellation,
    /// the returned task fails with <see cref="TimeoutException"/> whose inner exception is the
    /// <see cref="CancelledError"/>. A cancellation of the task from elsewhere propagates as
    /// <see cref="CancelledError"/>; any other outcome of the body (a result, another exception)
    /// is passed through unchanged. Loop thread, inside a running <see cref="LoopTask"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// Thrown synchronously: no <see cref="LoopTask"/> is running here, or this scope already ran a body.
    /// </exception>
    public Task RunAsync(Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Enter();
        return RunEnteredAsync(body);
    }

    /// <summary>As <see cref="RunAsync(Func{Task})"/>, for a body with a result, which it returns.</summary>
    /// <exception cref="InvalidOperationException">
    /// Thrown synchronously: no <see cref="LoopTask"/> is running here, or this scope already ran a body.
    /// </exception>
    public Task<T> RunAsync<T>(Func<Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Enter();
        return RunEnteredAsync(body);
    }

    /// <summary>
    /// Runs <paramref name="body"/> as <see cref="RunAsync(Func{Task})"/> does, but the scope's own
    /// expiry ends it silently [trio.move_on_after]: the returned task yields false when the
    /// deadline cut the body short, true when the body ended by itself (even if it caught the
    /// cancellation). A cancellation from elsewhere and any other exception propagate unchanged.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// Thrown synchronously: no <see cref="LoopTask"/> is running here, or this scope already ran a body.
    /// </exception>
    public Task<bool> MoveOnAsync(Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Enter();
        return MoveOnEnteredAsync(body);
    }

    /// <summary>
    /// As <see cref="MoveOnAsync(Func{Task})"/>, for a body with a result: yields
    /// <c>(true, result)</c> when the body returned, <c>(false, default)</c> when the deadline cut it short.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// Thrown synchronously: no <see cref="LoopTask"/> is running here, or this scope already ran a body.
    /// </exception>
    public Task<(bool Completed, T? Result)> MoveOnAsync<T>(Func<Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Enter();
        return MoveOnEnteredAsync(body);
    }

    /// <inheritdoc />
    public override string ToString() => _when is double when
        ? $"<TimeoutScope {StateText()} when={when.ToString("0.######", CultureInfo.InvariantCulture)}>"
        : $"<TimeoutScope {StateText()} when=none>";

    private async Task RunEnteredAsync(Func<Task> body)
    {
        try
        {
            await body();
        }
        catch (Exception error)
        {
            if (Exit(error))
            {
                throw NewTimeoutException(error);
            }

            throw;
        }

        Exit(null);
    }

    private async Task<T> RunEnteredAsync<T>(Func<Task<T>> body)
    {
        T result;
        try
        {
            result = await body();
        }
        catch (Exception error)
        {
            if (Exit(error))
            {
                throw NewTimeoutException(error);
            }

            throw;
        }

        Exit(null);
        return result;
    }

    private async Task<bool> MoveOnEnteredAsync(Func<Task> body)
    {
        try
        {
            await body();
        }
        catch (Exception error)
        {
            if (Exit(error))
            {
                return false;
            }

            throw;
        }

        Exit(null);
        return true;
    }

    private async Task<(bool Completed, T? Result)> MoveOnEnteredAsync<T>(Func<Task<T>> body)
    {
        T result;
        try
        {
            result = await body();
        }
        catch (Exception error)
        {
            if (Exit(error))
            {
                return (false, default);
            }

            throw;
        }

        Exit(null);
        return (true, result);
    }

    private void Enter()
    {
        if (_state != State.Created)
        {
            throw new InvalidOperationException(
                "This timeout scope has already run a body; a scope runs one. Create a new one with LoopTask.Timeout or LoopTask.TimeoutAt.");
        }

        ITaskInternals task = RunningTask.Current ?? throw new InvalidOperationException(
            "A timeout scope must run inside a LoopTask, which it cancels when the deadline passes; start the code with loop.CreateTask(...) (code run by RunUntilComplete(Func<Task>) alone is not a task).");
        if (!task.Loop.IsOnLoopThread)
        {
            throw new InvalidOperationException(
                "A timeout scope must run on its task's loop thread; do not use it after ConfigureAwait(false).");
        }

        if (_loop is not null && !ReferenceEquals(_loop, task.Loop))
        {
            throw new InvalidOperationException(
                "This timeout scope was created on another event loop than the one running the current task.");
        }

        _loop = task.Loop;
        _task = task;
        _cancelling = task.Cancelling();
        _state = State.Entered;
        Arm();
    }

    /// <summary>(Re)arms the timer for <see cref="_when"/> while the scope is entered.</summary>
    private void Arm()
    {
        _timer?.Cancel();
        _timer = null;
        if (_when is not double when)
        {
            return;
        }

        EventLoop loop = _loop!;
        _onTimeout ??= OnTimeout;
        _timer = when <= loop.Time() ? loop.CallSoon(_onTimeout) : loop.CallAt(when, _onTimeout);
    }

    private void OnTimeout()
    {
        _timer = null;
        if (_state != State.Entered)
        {
            return;
        }

        // The state changes first: cancelling the task's token may run foreign continuations
        // inline, and one of them may end the body (and reach Exit) before Cancel returns.
        _state = State.Expiring;
        _task!.Cancel(null);
    }

    /// <summary>
    /// Leaves the scope after the body ended with <paramref name="error"/> (null: normally).
    /// Returns true when the error is this scope's own cancellation, to be converted.
    /// </summary>
    private bool Exit(Exception? error)
    {
        _timer?.Cancel();
        _timer = null;
        ITaskInternals task = _task!;
        _task = null;
        if (_state == State.Expiring)
        {
            _state = State.Expired;
            return task.Uncancel() <= _cancelling && error is OperationCanceledException;
        }

        _state = State.Exited;
        return false;
    }

    private static TimeoutException NewTimeoutException(Exception cancellation) =>
        new("The operation timed out: the deadline of its timeout scope passed.", cancellation);

    private string StateText() => _state switch
    {
        State.Created => "created",
        State.Entered => "active",
        State.Expiring => "expiring",
        State.Expired => "expired",
        _ => "finished",
    };

    private static void ThrowIfNaN(double? when)
    {
        if (when is double value && double.IsNaN(value))
        {
            throw new ArgumentException("The deadline is NaN; pass a loop time (see EventLoop.Time()) or null for none.", nameof(when));
        }
    }
}
