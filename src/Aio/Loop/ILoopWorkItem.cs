namespace Aio;

/// <summary>
/// An object the loop can run from its ready queue without a delegate allocation: futures,
/// tasks and handles enqueue themselves. Runs on the loop thread.
/// </summary>
internal interface ILoopWorkItem
{
    /// <summary>Runs the item with the state it was queued with.</summary>
    void Execute(object? state);
}
