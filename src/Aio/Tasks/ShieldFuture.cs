namespace Aio;

/// <summary>
/// The outer future of <see cref="LoopTask.Shield{T}(Future{T})"/>: it mirrors the shielded future,
/// whose result it carries, so a give-back (its awaiting task was cancelled before it resumed) goes
/// to the shielded future.
/// </summary>
internal sealed class ShieldFuture<T>(Future inner) : Future<T>(inner.Loop)
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
