using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace Aio.Net;

/// <summary>
/// The awaitable of an <see cref="AsyncStreamReader"/> read: either the read's outcome, when the
/// buffer could answer at once (the await then completes without suspending and allocates nothing
/// beyond the returned bytes), or the read waiting for data. A waiting read is an Aio await:
/// cancelling the task that awaits it throws <see cref="CancelledError"/>, and the reader stays
/// usable. Await it once; to combine it with other futures (Gather, Wait, WaitFor) turn it into a
/// future with <see cref="AsFuture"/> or the implicit conversion. Loop thread only.
/// </summary>
public readonly struct AsyncStreamReadAwaitable
{
    // byte[]: the result; Exception: the failure; AsyncStreamReadOperation: the waiting read.
    private readonly object _state;

    internal AsyncStreamReadAwaitable(byte[] result) => _state = result;

    internal AsyncStreamReadAwaitable(Exception error) => _state = error;

    internal AsyncStreamReadAwaitable(AsyncStreamReadOperation operation) => _state = operation;

    /// <summary>Whether the read is done: it was answered at once, or its wait ended.</summary>
    public bool IsCompleted => _state is not AsyncStreamReadOperation operation || operation.IsDone;

    /// <summary>Converts a read to a future; see <see cref="AsFuture"/>.</summary>
    /// <param name="awaitable">The read to convert.</param>
    public static implicit operator Future<byte[]>(AsyncStreamReadAwaitable awaitable) => awaitable.AsFuture();

    /// <summary>Gets the awaiter; the compiler uses it.</summary>
    public Awaiter GetAwaiter() => new(_state);

    /// <summary>
    /// The read as a <see cref="Future{T}"/>: the waiting read itself (cancelling the future cancels
    /// the read), or a future completed with the outcome when the read was answered at once
    /// (allocated here). A read completed through the future resumes its awaiter one iteration later
    /// than a direct await.
    /// </summary>
    /// <exception cref="InvalidOperationException">The read was answered at once and no loop is running on this thread.</exception>
    public Future<byte[]> AsFuture()
    {
        if (_state is AsyncStreamReadOperation operation)
        {
            return operation;
        }

        var done = new Future<byte[]>(EventLoop.GetRunningLoop());
        if (_state is byte[] result)
        {
            done.SetResult(result);
        }
        else if (_state is CancelledError cancelled)
        {
            done.Cancel(cancelled.Message);
        }
        else
        {
            done.SetException((Exception)_state);
        }

        return done;
    }

    /// <summary>Awaits a read; the compiler uses it, user code need not.</summary>
    public readonly struct Awaiter : ICriticalNotifyCompletion
    {
        private readonly object _state;

        internal Awaiter(object state) => _state = state;

        /// <summary>Whether the read is done (then the await continues without suspending).</summary>
        public bool IsCompleted => _state is not AsyncStreamReadOperation operation || operation.IsDone;

        /// <summary>
        /// The bytes read; or throws what the read failed with (see each read method),
        /// <see cref="CancelledError"/> when it was cancelled.
        /// </summary>
        public byte[] GetResult()
        {
            switch (_state)
            {
                case byte[] result:
                    return result;
                case AsyncStreamReadOperation operation:
                    TaskCore.Current?.Resumed(operation);
                    return operation.GetResultForAwait();
                default:
                    ExceptionDispatchInfo.Throw((Exception)_state);
                    return null!;
            }
        }

        /// <summary>Schedules the continuation for when the read is done, flowing the execution context.</summary>
        public void OnCompleted(Action continuation) => UnsafeOnCompleted(FlowingContinuation.Wrap(continuation));

        /// <summary>Schedules the continuation for when the read is done.</summary>
        public void UnsafeOnCompleted(Action continuation)
        {
            ArgumentNullException.ThrowIfNull(continuation);
            if (_state is AsyncStreamReadOperation operation)
            {
                operation.OnSuspend(continuation);
            }
            else
            {
                EventLoop.GetRunningLoop().TryPost(continuation, null);
            }
        }
    }
}
