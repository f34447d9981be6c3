namespace Aio;

/// <summary>
/// The task of <see cref="LoopTask.WaitFor{T}(Future{T}, TimeSpan?)"/>: its result is the waited
/// future's, so a give-back (its awaiting task was cancelled before it resumed) goes to that future.
/// </summary>
internal sealed class WaitForTask<T>(Future<T> inner) : LoopTask<T>(inner.Loop, "WaitFor")
{
    internal override bool CanGiveBack => !inner.IsCompletedSuccessfully || inner.CanGiveBack;

    internal override void GiveBack()
    {
        if (inner.IsCompletedSuccessfully)
        {
            inner.GiveBack();
        }
    }
}

/// <summary>The task of <see cref="LoopTask.WaitFor(Future, TimeSpan?)"/>; as <see cref="WaitForTask{T}"/>, for a future without a value.</summary>
internal sealed class WaitForTask(Future inner) : LoopTask(inner.Loop, "WaitFor")
{
    internal override bool CanGiveBack => !inner.IsCompletedSuccessfully || inner.CanGiveBack;

    internal override void GiveBack()
    {
        if (inner.IsCompletedSuccessfully)
        {
            inner.GiveBack();
        }
    }
}
