namespace Aio;

/// <summary>A future without a value, completed by Aio's own combinators.</summary>
internal sealed class SignalFuture : Future
{
    public SignalFuture(EventLoop loop)
        : base(loop)
    {
    }

    /// <summary>Completes successfully unless already done.</summary>
    public bool TrySucceed()
    {
        if (IsDone)
        {
            return false;
        }

        CompleteSucceeded();
        return true;
    }
}
