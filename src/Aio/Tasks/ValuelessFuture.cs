namespace Aio;

/// <summary>A future without a value that Aio's own combinators complete (Shield of a valueless future, AsCompleted's wake-up).</summary>
internal sealed class ValuelessFuture : Future
{
    public ValuelessFuture(EventLoop loop)
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
