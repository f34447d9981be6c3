using System.Runtime.ExceptionServices;

namespace Aio.Hosting;

/// <summary>
/// How one call of <see cref="SharedEventLoop.AwaitMultiple{T}(IEnumerable{Func{Task{T}}}, CancellationToken)"/>
/// ended [an entry of score.asyncio's await_multiple result]: its result, or the exception its
/// task failed with (a cancelled task: its <see cref="CancelledError"/>). Immutable; thread-safe.
/// </summary>
/// <typeparam name="T">The call's result type.</typeparam>
public sealed class CallOutcome<T>
{
    private readonly T _result;

    internal CallOutcome(T result)
    {
        _result = result;
    }

    internal CallOutcome(Exception exception)
    {
        Exception = exception;
        _result = default!;
    }

    /// <summary>Whether the call completed with a result.</summary>
    public bool Succeeded => Exception is null;

    /// <summary>The exception the call failed with, unchanged; null when it succeeded.</summary>
    public Exception? Exception { get; }

    /// <summary>The call's result.</summary>
    /// <exception cref="InvalidOperationException">The call failed (the exception is the inner one); use <see cref="GetResult"/> to rethrow it as is.</exception>
    public T Result => Exception is null
        ? _result
        : throw new InvalidOperationException("The call failed, so it has no result; read Exception, or call GetResult() to rethrow the call's own exception.", Exception);

    /// <summary>Returns the result, or rethrows the call's exception unchanged (its original stack trace kept).</summary>
    public T GetResult()
    {
        if (Exception is not null)
        {
            ExceptionDispatchInfo.Throw(Exception);
        }

        return _result;
    }

    /// <inheritdoc />
    public override string ToString() => Exception is null ? $"<CallOutcome succeeded: {_result}>" : $"<CallOutcome failed: {Exception.GetType().Name}: {Exception.Message}>";
}
