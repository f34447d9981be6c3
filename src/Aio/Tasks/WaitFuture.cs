// Wait [asyncio.wait]: waits for a set of futures until the first completes, the first fails, or
// all complete, or until a timeout; never cancels them. The result lists which are done and which
// are still pending. Cancelling the wait itself only stops the waiting.
namespace Aio;

/// <summary>When <see cref="LoopTask.Wait"/> returns [asyncio.FIRST_COMPLETED / FIRST_EXCEPTION / ALL_COMPLETED].</summary>
public enum ReturnWhen
{
    /// <summary>When every future is done (or the timeout expires).</summary>
    AllCompleted,

    /// <summary>When any future is done.</summary>
    FirstCompleted,

    /// <summary>When any future fails (an exception, not a cancellation), or all are done.</summary>
    FirstException,
}

/// <summary>The futures that were done and those still pending when <see cref="LoopTask.Wait"/> returned.</summary>
/// <param name="Done">Done futures, in the order they were given.</param>
/// <param name="Pending">Pending futures, in the order they were given.</param>
public sealed record WaitResult(IReadOnlyList<Future> Done, IReadOnlyList<Future> Pending);

/// <summary>The future behind <see cref="LoopTask.Wait"/>.</summary>
internal sealed class WaitFuture : Future<WaitResult>
{
    private readonly Future[] _futures;
    private readonly ReturnWhen _returnWhen;
    private readonly Action<Future> _onDone;
    private TimerHandle? _timer;
    private int _remaining;

    public WaitFuture(EventLoop loop, Future[] futures, TimeSpan? timeout, ReturnWhen returnWhen)
        : base(loop)
    {
        _futures = futures;
        _returnWhen = returnWhen;
        _onDone = OnDone;
        foreach (Future future in futures)
        {
            if (!future.IsDone)
            {
                _remaining++;
            }
        }

        if (Satisfied(lastDone: null))
        {
            Finish();
            return;
        }

        foreach (Future future in futures)
        {
            future.AddDoneCallback(_onDone);
        }

        if (timeout is { } delay)
        {
            _timer = loop.CallLater(delay, static state => ((WaitFuture)state!).Finish(), this);
        }
    }

    public override bool Cancel(string? message = null)
    {
        if (!TryCancel(message))
        {
            return false;
        }

        Detach();
        return true;
    }

    /// <summary>
    /// The awaiting code resumes: the done/pending split is taken again now, so a future that finished
    /// between the wait's completion and this resumption is listed as done [CPython test_wait_really_done].
    /// </summary>
    internal override void EndAwait()
    {
        base.EndAwait();
        StoreResult(Split());
    }

    private void OnDone(Future future)
    {
        _remaining--;
        if (!IsDone && Satisfied(future))
        {
            Finish();
        }
    }

    private bool Satisfied(Future? lastDone) => _remaining == 0 || _returnWhen switch
    {
        ReturnWhen.FirstCompleted => _remaining < _futures.Length,
        ReturnWhen.FirstException => lastDone is null
            ? Array.Exists(_futures, f => f.IsFaulted)
            : lastDone.IsFaulted,
        _ => false,
    };

    private void Finish()
    {
        if (IsDone)
        {
            return;
        }

        Detach();
        SetResult(Split());
    }

    private WaitResult Split()
    {
        var done = new List<Future>();
        var pending = new List<Future>();
        foreach (Future future in _futures)
        {
            (future.IsDone ? done : pending).Add(future);
        }

        return new WaitResult(done, pending);
    }

    private void Detach()
    {
        _timer?.Cancel();
        foreach (Future future in _futures)
        {
            future.RemoveDoneCallback(_onDone);
        }
    }
}
