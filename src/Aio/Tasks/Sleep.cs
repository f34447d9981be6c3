using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>
/// The awaitable of <see cref="LoopTask.Sleep(TimeSpan)"/>: a zero or negative delay yields one loop
/// iteration without allocating; a positive delay awaits a timer-backed future in loop time (so
/// virtual time applies). Both honour task cancellation.
/// </summary>
public readonly struct SleepAwaitable
{
    private readonly EventLoop _loop;
    private readonly SleepFuture? _future;

    internal SleepAwaitable(EventLoop loop, SleepFuture? future)
    {
        _loop = loop;
        _future = future;
    }

    /// <summary>Gets the awaiter.</summary>
    public Awaiter GetAwaiter() => new(_loop, _future);

    /// <summary>Awaits a sleep; the compiler uses it, user code need not.</summary>
    public readonly struct Awaiter : ICriticalNotifyCompletion, IMethodTaskAwaiter
    {
        private readonly EventLoop _loop;
        private readonly SleepFuture? _future;

        internal Awaiter(EventLoop loop, SleepFuture? future)
        {
            _loop = loop;
            _future = future;
        }

        /// <summary>Always false: a sleep, even of zero, suspends for at least one iteration.</summary>
        public bool IsCompleted => _future is { IsDone: true };

        /// <summary>Returns when the sleep ended; throws <see cref="CancelledError"/> when the task was cancelled.</summary>
        public void GetResult()
        {
            if (_future is not null)
            {
                _future.EndAwait();
            }
            else if (RunningTask.Current is { } task && task.Resume(TaskState.YieldMarker, out string? cancelMessage) == AwaitEnd.CancelHere)
            {
                throw new CancelledError(cancelMessage);
            }
        }

        /// <summary>Schedules the continuation, flowing the execution context.</summary>
        public void OnCompleted(Action continuation) => UnsafeOnCompleted(FlowingContinuation.Wrap(continuation));

        void IMethodTaskAwaiter.OnCompleted(IMethodTask task)
        {
            if (_future is null)
            {
                task.WaitOn(TaskState.YieldMarker);
                _loop.TryPost(task, null);
            }
            else
            {
                _future.OnAwait(task, task);
            }
        }

        /// <summary>Schedules the continuation.</summary>
        public void UnsafeOnCompleted(Action continuation)
        {
            if (_future is null)
            {
                RunningTask.Current?.WaitOn(TaskState.YieldMarker);
                _loop.TryPost(continuation, null);
            }
            else
            {
                _future.OnAwait(continuation);
            }
        }
    }
}

/// <summary>A future completed by a timer; cancelling it cancels the timer.</summary>
internal sealed class SleepFuture : Future
{
    private static readonly Action<object?> Fire = static state => ((SleepFuture)state!).Elapse();
    private readonly TimerHandle _timer;

    public SleepFuture(EventLoop loop, TimeSpan delay)
        : base(loop)
    {
        _timer = loop.CallLater(delay, Fire, this);
    }

    public override bool Cancel(string? message = null)
    {
        if (!TryCancel(message))
        {
            return false;
        }

        _timer.Cancel();
        return true;
    }

    private void Elapse()
    {
        if (!IsDone)
        {
            CompleteSucceeded();
        }
    }
}
