namespace Aio;

// The timeout entry points [asyncio.timeout, asyncio.timeout_at; trio.move_on_after/move_on_at].
// Each creates a TimeoutScope and runs the body under it in the current task; see TimeoutScope
// for why the body is a delegate rather than the block of a using statement.
public partial class LoopTask
{
    /// <summary>
    /// Creates a timeout scope whose deadline is <paramref name="delay"/> of loop time from now, or
    /// none when null or <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> [asyncio.timeout(delay)].
    /// A zero or other negative delay expires the scope as soon as its body starts. The deadline is
    /// fixed now, not when the body starts. Run a body under it with <see cref="TimeoutScope.RunAsync(Func{Task})"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static TimeoutScope Timeout(TimeSpan? delay)
    {
        EventLoop loop = EventLoop.GetRunningLoop();
        return new TimeoutScope(loop, delay is TimeSpan span && span != System.Threading.Timeout.InfiniteTimeSpan ? loop.Time() + span.TotalSeconds : null);
    }

    /// <summary>
    /// Creates a timeout scope whose deadline is the loop time <paramref name="when"/> (see
    /// <see cref="EventLoop.Time"/>), or none when null [asyncio.timeout_at(when)]. A deadline in
    /// the past expires the scope on the first loop iteration after its body starts.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="when"/> is NaN.</exception>
    public static TimeoutScope TimeoutAt(double? when) => new(null, when);

    /// <summary>
    /// Runs <paramref name="body"/> in the current task with a deadline <paramref name="delay"/>
    /// from now [async with asyncio.timeout(delay)]: if the deadline cuts it short, the returned
    /// task fails with <see cref="TimeoutException"/> (inner: the <see cref="CancelledError"/>).
    /// See <see cref="TimeoutScope.RunAsync(Func{Task})"/> for the full contract.
    /// </summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task TimeoutAsync(TimeSpan? delay, Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Timeout(delay).RunAsync(body);
    }

    /// <summary>
    /// As <see cref="TimeoutAsync(TimeSpan?, Func{Task})"/>; the body receives its scope, to read
    /// <see cref="TimeoutScope.When"/> and <see cref="TimeoutScope.Expired"/> or to
    /// <see cref="TimeoutScope.Reschedule"/> the deadline.
    /// </summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task TimeoutAsync(TimeSpan? delay, Func<TimeoutScope, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TimeoutScope scope = Timeout(delay);
        return scope.RunAsync(() => body(scope));
    }

    /// <summary>As <see cref="TimeoutAsync(TimeSpan?, Func{Task})"/>, for a body with a result, which it returns.</summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<T> TimeoutAsync<T>(TimeSpan? delay, Func<Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Timeout(delay).RunAsync(body);
    }

    /// <summary>As <see cref="TimeoutAsync(TimeSpan?, Func{TimeoutScope, Task})"/>, for a body with a result, which it returns.</summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<T> TimeoutAsync<T>(TimeSpan? delay, Func<TimeoutScope, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TimeoutScope scope = Timeout(delay);
        return scope.RunAsync(() => body(scope));
    }

    /// <summary>
    /// As <see cref="TimeoutAsync(TimeSpan?, Func{TimeoutScope, Task})"/>, with the deadline given
    /// as the loop time <paramref name="when"/> [async with asyncio.timeout_at(when)].
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="when"/> is NaN.</exception>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task TimeoutAtAsync(double? when, Func<TimeoutScope, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TimeoutScope scope = TimeoutAt(when);
        return scope.RunAsync(() => body(scope));
    }

    /// <summary>As <see cref="TimeoutAtAsync(double?, Func{TimeoutScope, Task})"/>, for a body with a result, which it returns.</summary>
    /// <exception cref="ArgumentException"><paramref name="when"/> is NaN.</exception>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<T> TimeoutAtAsync<T>(double? when, Func<TimeoutScope, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TimeoutScope scope = TimeoutAt(when);
        return scope.RunAsync(() => body(scope));
    }

    /// <summary>
    /// Runs <paramref name="body"/> in the current task with a deadline <paramref name="delay"/>
    /// from now, and ends it silently if the deadline passes [trio.move_on_after]: yields false when
    /// the deadline cut the body short, true when it ended by itself. A cancellation from elsewhere
    /// and the body's own exceptions propagate. See <see cref="TimeoutScope.MoveOnAsync(Func{Task})"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<bool> MoveOnAfterAsync(TimeSpan? delay, Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Timeout(delay).MoveOnAsync(body);
    }

    /// <summary>As <see cref="MoveOnAfterAsync(TimeSpan?, Func{Task})"/>; the body receives its scope.</summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<bool> MoveOnAfterAsync(TimeSpan? delay, Func<TimeoutScope, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TimeoutScope scope = Timeout(delay);
        return scope.MoveOnAsync(() => body(scope));
    }

    /// <summary>
    /// As <see cref="MoveOnAfterAsync(TimeSpan?, Func{Task})"/>, for a body with a result: yields
    /// <c>(true, result)</c> when it returned, <c>(false, default)</c> when the deadline cut it short.
    /// </summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<(bool Completed, T? Result)> MoveOnAfterAsync<T>(TimeSpan? delay, Func<Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Timeout(delay).MoveOnAsync(body);
    }

    /// <summary>As <see cref="MoveOnAfterAsync{T}(TimeSpan?, Func{Task{T}})"/>; the body receives its scope.</summary>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<(bool Completed, T? Result)> MoveOnAfterAsync<T>(TimeSpan? delay, Func<TimeoutScope, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TimeoutScope scope = Timeout(delay);
        return scope.MoveOnAsync(() => body(scope));
    }

    /// <summary>
    /// As <see cref="MoveOnAfterAsync(TimeSpan?, Func{TimeoutScope, Task})"/>, with the deadline
    /// given as the loop time <paramref name="when"/> [trio.move_on_at].
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="when"/> is NaN.</exception>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<bool> MoveOnAtAsync(double? when, Func<TimeoutScope, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TimeoutScope scope = TimeoutAt(when);
        return scope.MoveOnAsync(() => body(scope));
    }

    /// <summary>As <see cref="MoveOnAtAsync(double?, Func{TimeoutScope, Task})"/>, for a body with a result.</summary>
    /// <exception cref="ArgumentException"><paramref name="when"/> is NaN.</exception>
    /// <exception cref="InvalidOperationException">Thrown synchronously: no <see cref="LoopTask"/> is running here.</exception>
    public static Task<(bool Completed, T? Result)> MoveOnAtAsync<T>(double? when, Func<TimeoutScope, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TimeoutScope scope = TimeoutAt(when);
        return scope.MoveOnAsync(() => body(scope));
    }
}
