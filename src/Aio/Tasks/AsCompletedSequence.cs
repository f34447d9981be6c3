// AsCompleted as an async sequence. The enumerator keeps a queue of futures in completion order
// (filled by done callbacks) and, when the consumer must wait, a fresh signal future that the next
// completion (or the timeout) completes. MoveNextAsync hands that wait to the consumer as a
// ValueTask backed by this enumerator (IValueTaskSource), and reports the signal future to the
// current loop task as what it waits on, so cancelling the consumer's task cancels the wait and
// MoveNextAsync throws CancelledError, as an Aio await would.
using System.Threading.Tasks.Sources;

namespace Aio;

/// <summary>The sequence behind <see cref="LoopTask.AsCompleted{TFuture}"/>.</summary>
internal sealed class AsCompletedSequence<TFuture> : IAsyncEnumerable<TFuture>
    where TFuture : Future
{
    private readonly EventLoop? _loop;
    private readonly TFuture[] _futures;
    private readonly TimeSpan? _timeout;

    public AsCompletedSequence(EventLoop? loop, TFuture[] futures, TimeSpan? timeout)
    {
        _loop = loop;
        _futures = futures;
        _timeout = timeout;
        foreach (TFuture future in futures)
        {
            ArgumentNullException.ThrowIfNull(future, nameof(futures));
            if (!ReferenceEquals(future.Loop, loop))
            {
                throw new ArgumentException("Every future passed to AsCompleted must belong to the same loop.", nameof(futures));
            }
        }
    }

    public IAsyncEnumerator<TFuture> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        new Enumerator(_loop, _futures, _timeout, cancellationToken);

    private sealed class Enumerator : IAsyncEnumerator<TFuture>, IValueTaskSource<bool>
    {
        private readonly Queue<TFuture> _completed = new();
        private readonly TFuture[] _futures;
        private readonly Action<Future> _onDone;
        private readonly TimerHandle? _timer;
        private readonly CancellationTokenRegistration _registration;
        private ManualResetValueTaskSourceCore<bool> _source;
        private ValuelessFuture? _signal;
        private int _remaining;
        private bool _timedOut;
        private TFuture? _current;

        public Enumerator(EventLoop? loop, TFuture[] futures, TimeSpan? timeout, CancellationToken cancellationToken)
        {
            _futures = futures;
            _remaining = futures.Length;
            _onDone = OnDone;
            foreach (TFuture future in futures)
            {
                future.AddDoneCallback(_onDone);
            }

            if (loop is not null && timeout is { } delay)
            {
                _timer = loop.CallLater(delay, () =>
                {
                    _timedOut = true;
                    _signal?.TrySucceed();
                });
            }

            if (cancellationToken.CanBeCanceled && loop is not null)
            {
                _registration = cancellationToken.Register(() => loop.TryCallSoonThreadSafe(() => _signal?.Cancel()));
            }
        }

        public TFuture Current => _current ?? throw new InvalidOperationException("MoveNextAsync has not returned true.");

        public ValueTask<bool> MoveNextAsync()
        {
            if (_completed.TryDequeue(out TFuture? next))
            {
                _current = next;
                _remaining--;
                return new ValueTask<bool>(true);
            }

            if (_remaining == 0)
            {
                return new ValueTask<bool>(false);
            }

            if (_timedOut)
            {
                return ValueTask.FromException<bool>(new TimeoutException("AsCompleted timed out before every future was done."));
            }

            Future loopFuture = _futures[0];
            _signal = new ValuelessFuture(loopFuture.Loop);
            _source.Reset();
            RunningTask.Current?.WaitOn(_signal);
            _signal.AddDoneCallback(OnSignal);
            return new ValueTask<bool>(this, _source.Version);
        }

        public ValueTask DisposeAsync()
        {
            _timer?.Cancel();
            _registration.Dispose();
            foreach (TFuture future in _futures)
            {
                future.RemoveDoneCallback(_onDone);
            }

            return ValueTask.CompletedTask;
        }

        bool IValueTaskSource<bool>.GetResult(short token)
        {
            // The yielded future is already taken off the queue: a cancel that reached the wake-up after
            // it completed is left for the task's next await rather than losing that future.
            if (_signal is { } signal)
            {
                RunningTask.Current?.ResumeDeferringCancel(signal);
            }

            return _source.GetResult(token);
        }

        ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _source.GetStatus(token);

        void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _source.OnCompleted(continuation, state, token, flags);

        private void OnDone(Future future)
        {
            _completed.Enqueue((TFuture)future);
            _signal?.TrySucceed();
        }

        private void OnSignal(Future signal)
        {
            if (signal.IsCancelled)
            {
                _source.SetException(new CancelledError(signal.CancelMessage));
            }
            else if (_completed.TryDequeue(out TFuture? next))
            {
                _current = next;
                _remaining--;
                _source.SetResult(true);
            }
            else
            {
                _source.SetException(new TimeoutException("AsCompleted timed out before every future was done."));
            }
        }
    }
}
