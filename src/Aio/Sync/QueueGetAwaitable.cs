using System.Runtime.CompilerServices;

namespace Aio.Sync;

/// <summary>
/// The awaitable of <see cref="AsyncQueue{T}.GetAsync"/>: either the item itself, when the queue had
/// one (the await completes at once and allocates nothing), or a pending get that a put completes.
/// A pending get is an Aio await: cancelling the task that awaits it throws
/// <see cref="CancelledError"/> on the next iteration, and the item is never lost. Await it once, as
/// a <see cref="ValueTask{TResult}"/>; to combine it with other futures (Gather, Wait, WaitFor) turn
/// it into a future with <see cref="AsFuture"/> or the implicit conversion. Loop thread only.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
public readonly struct QueueGetAwaitable<T>
{
    private readonly Future<T>? _future;
    private readonly T _item;

    internal QueueGetAwaitable(T item)
    {
        _item = item;
        _future = null;
    }

    internal QueueGetAwaitable(Future<T> future)
    {
        _item = default!;
        _future = future;
    }

    /// <summary>Whether the get is done: it had an item at once, or its wait ended.</summary>
    public bool IsCompleted => _future is null || _future.IsDone;

    /// <summary>
    /// Converts an awaitable to a future: one already completed with the item, or the pending get itself.
    /// </summary>
    /// <param name="awaitable">The get to convert.</param>
    public static implicit operator Future<T>(QueueGetAwaitable<T> awaitable) => awaitable.AsFuture();

    /// <summary>Gets the awaiter; the compiler uses it.</summary>
    public Awaiter GetAwaiter() => new(_future, _item);

    /// <summary>
    /// The get as a <see cref="Future{T}"/>, for <see cref="LoopTask.Gather{T}(Future{T}[])"/>,
    /// <see cref="LoopTask.WaitFor{T}(Future{T}, TimeSpan?)"/> and the like: a future completed with
    /// the item when the get had one (allocated here), or the pending get itself (cancelling it
    /// withdraws the get; an item it was already handed stays its result). Under every wrapper
    /// (an await of the future, WaitFor, Shield, Gather, a timeout) a cancellation that reaches the
    /// awaiting task after the item was handed over but before it resumed gives the item back to the
    /// queue and throws <see cref="CancelledError"/>: the item is received once, or stays queued.
    /// </summary>
    /// <exception cref="InvalidOperationException">The get had an item and no loop is running on this thread.</exception>
    public Future<T> AsFuture()
    {
        if (_future is not null)
        {
            return _future;
        }

        var done = new Future<T>(EventLoop.GetRunningLoop());
        done.SetResult(_item);
        return done;
    }

    /// <summary>Awaits a get; the compiler uses it, user code need not.</summary>
    public readonly struct Awaiter : ICriticalNotifyCompletion
    {
        private readonly Future<T>? _future;
        private readonly T _item;

        internal Awaiter(Future<T>? future, T item)
        {
            _future = future;
            _item = item;
        }

        /// <summary>Whether the get is done (then the await continues without suspending).</summary>
        public bool IsCompleted => _future is null || _future.IsDone;

        /// <summary>
        /// The item; throws <see cref="CancelledError"/> when the get was cancelled (by its task or its
        /// token), <see cref="QueueShutDownError"/> when the queue shut down while it waited.
        /// </summary>
        public T GetResult()
        {
            if (_future is null)
            {
                return _item;
            }

            return _future.GetResultForAwait();
        }

        /// <summary>Schedules the continuation on the loop when the get is done, flowing the execution context.</summary>
        public void OnCompleted(Action continuation) => UnsafeOnCompleted(FlowingContinuation.Wrap(continuation));

        /// <summary>Schedules the continuation on the loop when the get is done.</summary>
        public void UnsafeOnCompleted(Action continuation)
        {
            (_future ?? throw new InvalidOperationException("The get is already complete.")).OnAwait(continuation);
        }
    }
}
