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
// the reader, so a later read can wait, and disarms the cancellation token. It is also the source of
// the ValueTask<int> that ReadAsync(Memory<byte>) returns (IValueTaskSource<int>), with the same rules.
//
// Reuse. A reader serves one waiter at a time, so it keeps one operation and starts each waiting read
// on it again (Begin), as ManualResetValueTaskSourceCore does: a version, bumped at each start, is in
// every awaitable handed out, so a stale awaitable is refused rather than confused with the next read.
// An operation is reused only when nothing can still reach it for its previous read (CanReuse): its
// outcome was taken by the awaiter (GetResult), which also releases the task that suspended on it (a
// task remembers the future it waits on to cancel it; it must never cancel the next read by mistake);
// no step is queued; no token callback may still be on its way from another thread; and it was never
// handed out as a Future (AsFuture: a future is observable forever, so it escapes and the reader
// makes a new operation next time). Any other case just costs a new operation.
using System.Threading.Tasks.Sources;

namespace Aio.Net;

/// <summary>A waiting read, as a future, as the reader's waiter and as a ValueTask source. Loop thread only.</summary>
internal sealed class AsyncStreamReadOperation : Future<byte[]>, ILoopWorkItem, IValueTaskSource<int>
{
    /// <summary>The cancel message of a read ended by its <see cref="CancellationToken"/>.</summary>
    internal const string TokenCancelMessage = "The read was cancelled through its CancellationToken.";

    private const string StaleMessage =
        "This stream read was already awaited and the reader has moved on to another read; await each read once.";

    private static readonly Action<object?> TokenCallback = static state => ((AsyncStreamReadOperation)state!).OnTokenCallback();
    private static readonly Action<object?> TokenCancelled = static state => ((AsyncStreamReadOperation)state!).Cancel(TokenCancelMessage);
    private static readonly Action<object?> InvokeAction = static state => ((Action)state!)();
    private static readonly ContextCallback InvokeStoredCallback = static state => ((AsyncStreamReadOperation)state!).InvokeStored();

    /// <summary>The state a queued resume (not a step) is posted with.</summary>
    private static readonly object ResumeMarker = new();

    private readonly AsyncStreamReader _reader;
    private AsyncStreamReader.ReadRequest _request;
    private Action<object?>? _continuation;
    private object? _continuationState;
    private ExecutionContext? _executionContext;
    private SynchronizationContext? _foreignContext;
    private ITaskInternals? _suspendedTask;
    private Exception? _wokenBy;
    private CancellationTokenRegistration _registration;
    private int _count;
    private short _version;
    private bool _woken;
    private bool _consumed;
    private bool _escaped;
    private bool _tokenCallbackMayRun;
    private bool _cancellingFromToken;

    public AsyncStreamReadOperation(EventLoop loop, AsyncStreamReader reader)
        : base(loop)
    {
        _reader = reader;
    }

    /// <summary>The current read's version, which its awaitables carry.</summary>
    public short Version => _version;

    /// <summary>Whether the operation can start another read: nothing can still reach it for its last one.</summary>
    public bool CanReuse => IsDone && _consumed && !_woken && !_escaped && !_tokenCallbackMayRun && _continuation is null;

    /// <summary>Starts a waiting read on this operation (fresh, or reusable: see <see cref="CanReuse"/>).</summary>
    public void Begin(AsyncStreamReader.ReadRequest request)
    {
        if (IsDone)
        {
            ResetToPending();
            StoreResult(null!);
            _version++;
        }

        _request = request;
        _count = 0;
        _consumed = false;
    }

    /// <summary>Registers <paramref name="cancellationToken"/> to cancel the read (after the reader made it its waiter).</summary>
    public void Arm(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _tokenCallbackMayRun = true;
            _registration = cancellationToken.UnsafeRegister(TokenCallback, this);
        }
    }

    /// <summary>The operation is handed out as a <see cref="Future{T}"/>: it is never reused.</summary>
    public Future<byte[]> Escape(short version)
    {
        CheckVersion(version);
        if (!_escaped)
        {
            _escaped = true;
            _reader.Forget(this);
        }

        return this;
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

    /// <summary>Whether the read with <paramref name="version"/> is done (a stale version counts as done, so that GetResult refuses it).</summary>
    public bool IsDoneFor(short version) => version != _version || IsDone;

    /// <summary>The compiler's continuation for a direct await (see AsyncStreamReadAwaitable).</summary>
    public void OnSuspend(short version, Action continuation) => Suspend(version, InvokeAction, continuation, flowContext: false, useSchedulingContext: false);

    /// <summary>The end of a direct await of a byte-returning read: the bytes, or the failure thrown.</summary>
    public byte[] GetBytes(short version)
    {
        Consume(version);
        return GetResultForAwait();
    }

    /// <inheritdoc />
    public int GetResult(short token)
    {
        Consume(token);
        EndAwait();
        return _count;
    }

    /// <inheritdoc />
    public ValueTaskSourceStatus GetStatus(short token)
    {
        CheckVersion(token);
        return !IsDone ? ValueTaskSourceStatus.Pending
            : IsCancelled ? ValueTaskSourceStatus.Canceled
            : IsFaulted ? ValueTaskSourceStatus.Faulted
            : ValueTaskSourceStatus.Succeeded;
    }

    /// <inheritdoc />
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        Suspend(
            token,
            continuation,
            state,
            (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0,
            (flags & ValueTaskSourceOnCompletedFlags.UseSchedulingContext) != 0);
    }

    /// <summary>Ends the waiting read with <see cref="CancelledError"/>; the buffer keeps its data.</summary>
    public override bool Cancel(string? message = null)
    {
        if (!TryCancel(message))
        {
            return false;
        }

        if (_continuation is not null)
        {
            Loop.TryPost(this, ResumeMarker);
        }

        return true;
    }

    /// <inheritdoc />
    public override string ToString() => $"<read of {_reader} {LoopTask.StateText(this)}>";

    /// <summary>The step (where the read coroutine would resume after its waiter), or a queued resume.</summary>
    void ILoopWorkItem.Execute(object? state)
    {
        if (ReferenceEquals(state, ResumeMarker))
        {
            InvokeContinuation();
            return;
        }

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
                    _count = _request.Transferred;
                    SetResult(result!);
                    break;
                case AsyncStreamReader.Outcome.Failed:
                    SetException(failure!);
                    break;
                default:
                    return;
            }
        }

        InvokeContinuation();
    }

    private protected override void OnCompleted()
    {
        _request = default;
        _reader.Detach(this);
        if (_tokenCallbackMayRun)
        {
            // Unregister fails when the callback ran or is running: off the loop thread it may still
            // post a cancel, which must not reach a later read; inline, in our own callback, it cannot.
            _tokenCallbackMayRun = !_registration.Unregister() && !_cancellingFromToken;
            _registration = default;
        }
    }

    private void Suspend(short version, Action<object?> continuation, object? state, bool flowContext, bool useSchedulingContext)
    {
        CheckVersion(version);
        if (_continuation is not null)
        {
            throw new InvalidOperationException("A stream read can be awaited once.");
        }

        bool wasDone = IsDone;
        _continuation = continuation;
        _continuationState = state;
        _executionContext = flowContext ? ExecutionContext.Capture() : null;
        _foreignContext = useSchedulingContext && SynchronizationContext.Current is { } context && context != Loop.SynchronizationContext
            && context.GetType() != typeof(SynchronizationContext)
            ? context
            : null;

        // Reported after the continuation is stored: a pending cancel of the task cancels the read
        // now, and Cancel posts the resume. A read already done posts it here (Cancel then does nothing).
        if (RunningTask.Current is { } task)
        {
            _suspendedTask = task;
            task.WaitOn(this);
        }

        if (wasDone)
        {
            Loop.TryPost(this, ResumeMarker);
        }
    }

    /// <summary>The awaiter takes the outcome: the task that suspended here no longer waits on it, and the operation may be reused.</summary>
    private void Consume(short version)
    {
        CheckVersion(version);
        if (_suspendedTask is { } task)
        {
            _suspendedTask = null;
            task.ResumeDeferringCancel(this);
        }

        if (IsDone)
        {
            _consumed = true;
        }
    }

    private void CheckVersion(short version)
    {
        if (version != _version)
        {
            throw new InvalidOperationException(StaleMessage);
        }
    }

    private void InvokeContinuation()
    {
        if (_continuation is null)
        {
            return;
        }

        if (_foreignContext is { } context)
        {
            // Awaited under some other synchronization context on the loop thread: resume through it.
            (Action<object?> continuation, object? state) = (_continuation, _continuationState);
            ClearContinuation();
            context.Post(
                static pair =>
                {
                    (Action<object?> invoke, object? argument) = ((Action<object?>, object?))pair!;
                    invoke(argument);
                },
                (continuation, state));
            return;
        }

        if (_executionContext is { } executionContext)
        {
            _executionContext = null;
            ExecutionContext.Run(executionContext, InvokeStoredCallback, this);
            return;
        }

        InvokeStored();
    }

    private void InvokeStored()
    {
        Action<object?> continuation = _continuation!;
        object? state = _continuationState;
        ClearContinuation();
        continuation(state);
    }

    private void ClearContinuation()
    {
        _continuation = null;
        _continuationState = null;
        _executionContext = null;
        _foreignContext = null;
    }

    private void OnTokenCallback()
    {
        if (Loop.IsOnLoopThread)
        {
            _cancellingFromToken = true;
            try
            {
                Cancel(TokenCancelMessage);
            }
            finally
            {
                _cancellingFromToken = false;
            }
        }
        else
        {
            Loop.TryCallSoonThreadSafe(TokenCancelled, this);
        }
    }
}
