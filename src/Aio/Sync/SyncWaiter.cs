// The future behind every wait of Aio.Sync.
//
// A wait that cannot complete at once creates one of these, puts it in its primitive's waiter list
// and returns it; the caller awaits it. Awaiting it from a LoopTask is an Aio await, so cancelling
// the task cancels this very future (TaskState's rule) — there is no second future in between whose
// cancellation would have to be mirrored one loop iteration later.
//
// Four things can end a wait, and each runs on the loop thread to completion before any other:
//   grant    the primitive dequeues the waiter and completes it (lock handed over, permit given,
//            event set, barrier passed). The primitive's bookkeeping is already done.
//   cancel   Cancel() — from the task, from the caller, or from the CancellationToken (whose
//            callback runs on the loop thread at once, or is posted there from another thread).
//   timeout  a loop timer armed for the timeout form.
//   outside  someone completed the future directly (SetResult/SetException are public on
//            Future<T>): OnCompleted notices the waiter is still listed and unlinks it.
// Whichever comes first wins; the others find the future done and do nothing. That is why a
// timeout or a cancel arriving in the same iteration as a release can never lose what was
// released: either the waiter was still listed (it leaves, and the release goes to the next one)
// or it was already granted (the timer and token are disarmed, and what follows below applies).
//
// Granted, then cancelled. A grant completes the future and the task resumes in a later callback.
// A cancel of the task in between finds the future done. asyncio delivers such a cancel at the very
// await that is resuming (Task.__step throws it into the coroutine), and its Lock and Semaphore
// catch it there to pass on what the waiter was woken for. Aio does the same for every future
// (TaskState marks the await to throw at resume; Future.EndAwait throws): before throwing, EndAwait
// calls GiveBack, which is the primitive's business here: a lock or a permit is released exactly as
// Release() would (to the next waiter, or freed when nobody waits); a condition wait keeps the lock
// (a cancelled condition wait must hold it when it throws) and passes its notification on; an event
// or a barrier has nothing to give back (a barrier cannot un-pass: the other parties go on, and this
// party's index is not reused). The future itself stays succeeded, so a Releaser read from it later
// releases nothing. The same holds when the waiter reached the task through a wrapper that forwards
// the give-back (WaitFor, Shield, Gather). A wait granted at once (no suspension), or a cancel
// withdrawn by Uncancel before the task resumed, leaves the grant where it is. A CancellationToken
// fired after the grant does nothing: the wait is over.
//
// Every completion passes through OnCompleted, which disarms the timer and the token
// registration (Unregister, never Dispose: Dispose would block on a callback running on another
// thread) and unlinks the waiter, so a finished wait leaves nothing behind.
namespace Aio.Sync;

/// <summary>A pending wait on a synchronization primitive, as a future. Loop thread only.</summary>
internal abstract class SyncWaiter<T> : Future<T>, IWaiterNode
{
    /// <summary>The cancel message of a wait ended by its <see cref="CancellationToken"/>.</summary>
    internal const string TokenCancelMessage = "The wait was cancelled through its CancellationToken.";

    private static readonly Action<object?> TimerFired = static state => ((SyncWaiter<T>)state!).OnTimerFired();
    private static readonly Action<object?> TokenCancelled = static state => ((SyncWaiter<T>)state!).OnTokenCancelled();
    private static readonly Action<object?> TokenCallback = static state => ((SyncWaiter<T>)state!).OnTokenCallback();

    private readonly object _primitive;
    private TimerHandle? _timer;
    private CancellationTokenRegistration _registration;

    protected SyncWaiter(EventLoop loop, ITaskInternals? task, object primitive)
        : base(loop)
    {
        Task = task;
        _primitive = primitive;
    }

    public IWaiterNode? Previous { get; set; }

    public IWaiterNode? Next { get; set; }

    public WaiterList? List { get; set; }

    public ITaskInternals? Task { get; }

    public virtual object? HoldToken => null;

    public abstract bool Grant();

    /// <summary>
    /// Arms the timeout (null: none) and the token; call once the waiter is listed. A token that is
    /// already cancelled cancels the waiter here, synchronously.
    /// </summary>
    public void Arm(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (timeout is TimeSpan delay)
        {
            _timer = Loop.CallLater(delay, TimerFired, this);
        }

        if (cancellationToken.CanBeCanceled && !IsDone)
        {
            _registration = cancellationToken.UnsafeRegister(TokenCallback, this);
        }
    }

    /// <summary>Names the primitive, for diagnostics such as what a pending task waits on.</summary>
    public override string ToString() => $"<wait on {_primitive} {LoopTask.StateText(this)}>";

    /// <summary>Ends a pending wait as its timeout would (the zero-timeout form that cannot complete at once).</summary>
    public void ExpireNow() => OnTimeout();

    /// <summary>Cancels the wait unless it is done; what that means is the subclass's <see cref="OnCancelRequested"/>.</summary>
    public override bool Cancel(string? message = null)
    {
        Loop.CheckThread(nameof(Cancel));
        return !IsDone && OnCancelRequested(message);
    }

    /// <summary>A cancel of a pending waiter: by default it leaves its list and ends cancelled at once.</summary>
    protected virtual bool OnCancelRequested(string? message)
    {
        List?.Remove(this);
        return TryCancel(message);
    }

    /// <summary>The timeout expired while the waiter was pending. Only waiters armed with a timeout override it.</summary>
    protected virtual void OnTimeout()
    {
    }


    /// <summary>Ends the wait cancelled now (no list bookkeeping).</summary>
    protected void CancelNow(string? message) => TryCancel(message);

    /// <summary>Stops the timeout timer, leaving the token armed.</summary>
    protected void CancelTimer()
    {
        _timer?.Cancel();
        _timer = null;
    }

    private protected override void OnCompleted()
    {
        CancelTimer();
        _registration.Unregister();
        _registration = default;
        List?.Remove(this);
    }

    private void OnTimerFired()
    {
        _timer = null;
        if (!IsDone)
        {
            OnTimeout();
        }
    }

    private void OnTokenCallback()
    {
        if (Loop.IsOnLoopThread)
        {
            OnTokenCancelled();
        }
        else
        {
            Loop.TryCallSoonThreadSafe(TokenCancelled, this);
        }
    }

    private void OnTokenCancelled()
    {
        if (!IsDone)
        {
            Cancel(TokenCancelMessage);
        }
    }
}

/// <summary>A primitive whose grants can be released through the waiter that received them (lock, semaphore).</summary>
internal interface IGrantOwner
{
    /// <summary>
    /// Releases what <paramref name="grant"/> acquired, as <c>Release()</c> would; the waiter calls
    /// it at most once per grant. A lock does nothing unless that grant is its current hold.
    /// </summary>
    void ReleaseGrant(IWaiterNode grant);
}

/// <summary>An acquisition that yields a <see cref="Releaser"/> (lock, semaphore). No timeout form.</summary>
internal sealed class AcquireWaiter(EventLoop loop, ITaskInternals? task, IGrantOwner owner) : SyncWaiter<Releaser>(loop, task, owner)
{
    private readonly IGrantOwner _owner = owner;
    private bool _released;

    /// <summary>A lock records this waiter itself as its hold, so the releaser releases only this hold.</summary>
    public override object? HoldToken => this;

    public override bool Grant()
    {
        if (IsDone)
        {
            return false;
        }

        SetResult(new Releaser(this));
        return true;
    }

    /// <summary>The releaser's Dispose: releases once, however often it is called.</summary>
    public void Release()
    {
        if (!_released)
        {
            _released = true;
            _owner.ReleaseGrant(this);
        }
    }

    /// <summary>Cancelled before it resumed: releases now, and the releaser (never handed out by the await) releases nothing.</summary>
    internal override void GiveBack() => Release();
}

/// <summary>
/// A wait that yields true when granted and false when its timeout expires (acquire with timeout,
/// event). Given an owner, a true result stands for a lock or permit that a cancel after the grant
/// gives back.
/// </summary>
internal sealed class BoolWaiter(EventLoop loop, ITaskInternals? task, object primitive, IGrantOwner? owner = null)
    : SyncWaiter<bool>(loop, task, primitive)
{
    private readonly IGrantOwner? _owner = owner;

    /// <summary>A lock records the timed acquisition as its hold, so giving back never releases another hold.</summary>
    public override object? HoldToken => _owner is null ? null : this;

    public override bool Grant()
    {
        if (IsDone)
        {
            return false;
        }

        SetResult(true);
        return true;
    }

    protected override void OnTimeout()
    {
        List?.Remove(this);
        SetResult(false);
    }

    internal override void GiveBack()
    {
        if (_owner is not null && Result)
        {
            _owner.ReleaseGrant(this);
        }
    }
}
