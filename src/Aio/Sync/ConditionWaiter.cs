// A wait on an AsyncCondition: one future from WaitAsync until the lock is the caller's again.
//
// Wait morphing. The waiter first sits in the condition's list. Notify moves it, unfinished, to
// the lock's list (or grants it the lock when free); the lock completes it when it hands the lock
// over, restoring the hold the wait released. So the future completes only with the lock re-taken,
// whatever ended the wait: a notify (result true), the timeout (false), or a cancellation — which
// must therefore not complete the future at once. Cancel() records the request and, if the waiter
// is still waiting for a notify, moves it to the lock's list too; the lock then completes it as
// cancelled. Cancel() returns true at once, as asyncio's Task.cancel() does for a request that
// will be delivered. This is asyncio's "a cancelled Condition.wait re-acquires the lock before it
// raises", with no second await for the cancellation to interrupt.
//
// A waiter notified and then cancelled before it got the lock back would swallow the notify:
// like asyncio 3.13 (which notifies one more waiter whenever wait() raises), it passes the
// notification on to the next condition waiter. So does a waiter whose task is cancelled after
// it had the lock back but before it resumed: its await throws CancelledError (see SyncWaiter),
// still holding the lock, and GiveBack passes the notification on.
namespace Aio.Sync;

/// <summary>A condition wait, from release of the lock to its re-acquisition. Loop thread only.</summary>
internal sealed class ConditionWaiter(EventLoop loop, ITaskInternals? task, AsyncCondition condition, AsyncLock lockToRetake, object? hold)
    : SyncWaiter<bool>(loop, task, condition)
{
    private readonly AsyncCondition _condition = condition;
    private readonly AsyncLock _lock = lockToRetake;
    private readonly object? _hold = hold;
    private bool _notified;
    private bool _cancelRequested;
    private string? _cancelMessage;

    /// <summary>The hold the wait released: re-taking the lock restores it, for the caller's releaser.</summary>
    public override object? HoldToken => _hold;

    /// <summary>The lock is the waiter's again: the wait ends (cancelled if that was requested).</summary>
    public override bool Grant()
    {
        if (IsDone)
        {
            return false;
        }

        if (_cancelRequested)
        {
            CancelNow(_cancelMessage);
        }
        else
        {
            SetResult(_notified);
        }

        return true;
    }

    /// <summary>Called by the condition after it took the waiter off its list: now wait for the lock.</summary>
    public void Notify()
    {
        _notified = true;
        CancelTimer();
        _lock.GrantOrEnqueue(this);
    }

    /// <summary>A wait whose token was cancelled before it started: ends at once, the lock never released.</summary>
    public void CancelUnstarted(string message) => CancelNow(message);

    protected override bool OnCancelRequested(string? message)
    {
        bool first = !_cancelRequested;
        if (first)
        {
            _cancelRequested = true;
            _cancelMessage = message;
        }

        if (_condition.Unlist(this))
        {
            _lock.GrantOrEnqueue(this);
        }
        else if (first && _notified)
        {
            _condition.NotifyListed(1);
        }

        return true;
    }

    /// <summary>Notified, lock re-taken, then cancelled before resuming: the lock stays, the notification goes on.</summary>
    internal override void GiveBack()
    {
        if (_notified)
        {
            _condition.NotifyListed(1);
        }
    }

    protected override void OnTimeout()
    {
        if (_condition.Unlist(this))
        {
            _lock.GrantOrEnqueue(this);
        }
    }
}
