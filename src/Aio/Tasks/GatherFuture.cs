// Gather [asyncio.gather]: one future for many. It completes when every child is done, with their
// results in order; without return-exceptions, the first child failure (a cancelled child counts
// as failing with CancelledError) fails it at once while the other children run on. Cancelling
// the gather cancels every child that is still pending; once they are all done, the gather ends
// cancelled — even if some child ignored the request — exactly as asyncio's _GatheringFuture.
namespace Aio;

/// <summary>The future returned by <see cref="LoopTask.Gather{T}(Future{T}[])"/> and its overloads.</summary>
internal sealed class GatherFuture<TResult> : Future<TResult>
{
    private readonly Future[] _children;
    private readonly Func<Future[], TResult> _results;
    private readonly bool _returnExceptions;
    private int _remaining;
    private bool _cancelRequested;
    private string? _cancelMessage;

    public GatherFuture(EventLoop loop, Future[] children, bool returnExceptions, Func<Future[], TResult> results)
        : base(loop)
    {
        _children = children;
        _results = results;
        _returnExceptions = returnExceptions;
        _remaining = children.Length;
        if (_remaining == 0)
        {
            SetResult(results(children));
            return;
        }

        Action<Future> onChildDone = OnChildDone;
        foreach (Future child in children)
        {
            if (!ReferenceEquals(child.Loop, loop))
            {
                throw new ArgumentException("Every future passed to Gather must belong to the same loop.", nameof(children));
            }

            child.AddDoneCallback(onChildDone);
        }
    }

    public override bool Cancel(string? message = null)
    {
        if (IsDone)
        {
            return false;
        }

        bool any = false;
        foreach (Future child in _children)
        {
            any |= child.Cancel(message);
        }

        if (any)
        {
            _cancelRequested = true;
            _cancelMessage = message;
        }

        return any;
    }

    /// <summary>All or nothing: the results are given back only if every successful child can give its back.</summary>
    internal override bool CanGiveBack => Array.TrueForAll(_children, child => !child.IsCompletedSuccessfully || child.CanGiveBack);

    /// <summary>The awaiting task was cancelled before it took the results: every child gives back what its result holds.</summary>
    internal override void GiveBack()
    {
        foreach (Future child in _children)
        {
            if (child.IsCompletedSuccessfully)
            {
                child.GiveBack();
            }
        }
    }

    private void OnChildDone(Future child)
    {
        _remaining--;
        if (IsDone)
        {
            // Already failed fast: still retrieve the child's exception so it is not reported as lost.
            if (!child.IsCancelled)
            {
                _ = child.GetException();
            }

            return;
        }

        if (!_returnExceptions)
        {
            if (child.IsCancelled)
            {
                // Our own Cancel() caused it: end cancelled. Otherwise a child was cancelled on its own,
                // which fails the gather with CancelledError while it is itself not cancelled (asyncio).
                if (_cancelRequested)
                {
                    TryCancel(_cancelMessage);
                }
                else
                {
                    SetException(new CancelledError(child.CancelMessage));
                }

                return;
            }

            if (child.GetException() is { } failure)
            {
                SetException(failure);
                return;
            }
        }

        if (_remaining > 0)
        {
            return;
        }

        if (_cancelRequested)
        {
            TryCancel(_cancelMessage);
        }
        else
        {
            SetResult(_results(_children));
        }
    }
}
