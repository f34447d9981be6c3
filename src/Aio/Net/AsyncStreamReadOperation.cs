// A read of an AsyncStreamReader that had to wait: the reader's single waiter, asyncio's _waiter and
// the suspended read coroutine in one object.
//
// It is a Future<byte[]>, so awaiting it from a LoopTask makes task cancellation reach it (the
// awaiter reports it to the task, TaskState's rule), and it can be handed to Gather or WaitFor through
// AsyncStreamReadAwaitable.AsFuture. The reader wakes it (data, EOF, error); a wake queues one step
// on the loop, and the step re-runs the read's rules (AsyncStreamReader.Resume). When the step
// completes the read it also resumes the code awaiting it, inline: the step is already a loop
// callback of its own, so this is the one iteration a coroutine woken by its waiter would take, not
// the two that completing a future and then running its continuation would.
//
// The continuation of a direct await is therefore held here, not among the future's callbacks; every
// completion path hands it on: the step runs it inline, a cancel (which may come from any code on the
// loop, such as another task's Cancel) posts it. Completing in any way detaches the operation from
// the reader, so a later read can wait, and disarms the cancellation token.
namespace Aio.Net;

/// <summary>A waiting read, as a future and as the reader's waiter. Loop thread only.</summary>
internal sealed class AsyncStreamReadOperation : Future<byte[]>, ILoopWorkItem
{
    /// <summary>The cancel message of a read ended by its <see cref="CancellationToken"/>.</summary>
    internal const string TokenCancelMessage = "The read was cancelled through its CancellationToken.";

    private static readonly Action<object?> TokenCallback = static state => ((AsyncStreamReadOperation)state!).OnTokenCallback();
    private static readonly Action<object?> TokenCancelled = static state => ((AsyncStreamReadOperation)state!).Cancel(TokenCancelMessage);

    private readonly AsyncStreamReader _reader;
    private AsyncStreamReader.ReadRequest _request;
    private Action? _continuation;
    private Exception? _wokenBy;
    private bool _woken;
    private CancellationTokenRegistration _registration;

    public AsyncStreamReadOperation(EventLoop loop, AsyncStreamReader reader, AsyncStreamReader.ReadRequest request)
        : base(loop)
    {
        _reader = reader;
        _request = request;
    }

    /// <summary>Registers <paramref name="cancellationToken"/> to cancel the read.</summary>
    public void Arm(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(TokenCallback, this);
        }
    }

    /// <summary>
    /// The reader got data, EOF (<paramref name="error"/> null) or an error: queue one step. Later wakes
    /// before the step runs change nothing, as asyncio's waiter is woken once.
    /// </summary>
    public void Wake(Exception? error)
    {
        Loop.CheckThread("AsyncStreamReader.FeedData/FeedEof/SetException");
        if (_woken || IsDone)
        {
            return;
        }

        _woken = true;
        _wokenBy = error;
        Loop.TryPost(this, null);
    }

    /// <summary>The compiler's continuation for a direct await (see AsyncStreamReadAwaitable).</summary>
    public void OnSuspend(Action continuation)
    {
        TaskCore.Current?.WaitOn(this);
        if (IsDone)
        {
            Loop.TryPost(continuation, null);
        }
        else if (_continuation is null)
        {
            _continuation = continuation;
        }
        else
        {
            throw new InvalidOperationException("A stream read can be awaited once.");
        }
    }

    /// <summary>Ends the waiting read with <see cref="CancelledError"/>; the buffer keeps its data.</summary>
    public override bool Cancel(string? message = null)
    {
        if (!TryCancel(message))
        {
            return false;
        }

        if (_continuation is { } continuation)
        {
            _continuation = null;
            Loop.TryPost(continuation, null);
        }

        return true;
    }

    /// <inheritdoc />
    public override string ToString() => $"<read of {_reader} {LoopTask.StateText(this)}>";

    /// <summary>The step: where the read coroutine would resume after its waiter.</summary>
    void ILoopWorkItem.Execute(object? state)
    {
        _woken = false;
        if (IsDone)
        {
            return;
        }

        if (_wokenBy is { } error)
        {
            _wokenBy = null;
            _request.DropCollected();
            SetException(error);
        }
        else
        {
            switch (_reader.Resume(ref _request, out byte[]? result, out Exception? failure))
            {
                case AsyncStreamReader.Outcome.Done:
                    SetResult(result!);
                    break;
                case AsyncStreamReader.Outcome.Failed:
                    SetException(failure!);
                    break;
                default:
                    return;
            }
        }

        Action? continuation = _continuation;
        _continuation = null;
        continuation?.Invoke();
    }

    private protected override void OnCompleted()
    {
        _reader.Detach(this);
        _registration.Unregister();
        _registration = default;
    }

    private void OnTokenCallback()
    {
        if (Loop.IsOnLoopThread)
        {
            Cancel(TokenCancelMessage);
        }
        else
        {
            Loop.TryCallSoonThreadSafe(TokenCancelled, this);
        }
    }
}
