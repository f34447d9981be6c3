namespace Aio.Hosting;

/// <summary>
/// A claim on a <see cref="SharedEventLoop"/>'s loop [score.asyncio's LoopToken]: while any token
/// is held, the loop runs in its thread. Get one from <see cref="SharedEventLoop.StartLoop"/>;
/// release it once with <see cref="Release"/>, <see cref="SharedEventLoop.ReleaseLoop"/>,
/// <c>using</c> (<see cref="Dispose"/>) or <c>await using</c> (<see cref="DisposeAsync"/>) — the
/// four are the same. Releasing again does nothing (score.asyncio's own token throws there).
/// Thread-safe: any thread may release it, and concurrent releases count once. A token that is
/// garbage-collected while still held is released then, with a warning (release it yourself: when
/// the collector runs is unpredictable).
/// </summary>
public sealed class LoopToken : IDisposable, IAsyncDisposable
{
    private int _released;

    internal LoopToken(SharedEventLoop sharedLoop) => SharedLoop = sharedLoop;

    /// <summary>
    /// A token collected without being released is released now, with a warning naming the leak
    /// [score.asyncio's token releases in its finalizer]: otherwise the loop would run forever. The
    /// release is handed to the thread pool, so the finalizer thread never waits for the loop.
    /// </summary>
    ~LoopToken() => SharedLoop.ReleaseCollectedToken(this);

    /// <summary>The shared loop this token keeps running.</summary>
    public SharedEventLoop SharedLoop { get; }

    /// <summary>Whether the token was released. Thread-safe.</summary>
    public bool IsReleased => Volatile.Read(ref _released) != 0;

    /// <summary>
    /// Releases the token [LoopToken.release]; if it was the last one held, waits for pending tasks
    /// (up to <see cref="SharedEventLoop.StopTimeout"/>) and returns once the loop has stopped.
    /// See <see cref="SharedEventLoop.ReleaseLoop"/> for the whole contract. Idempotent.
    /// </summary>
    public void Release() => SharedLoop.ReleaseLoop(this);

    /// <summary>
    /// Releases the token without blocking; see <see cref="SharedEventLoop.ReleaseLoopAsync"/>.
    /// Cancelling <paramref name="cancellationToken"/> cuts the wait for pending tasks short. Idempotent; never faults.
    /// </summary>
    public Task ReleaseAsync(CancellationToken cancellationToken = default) => SharedLoop.ReleaseLoopAsync(this, cancellationToken);

    /// <summary>Same as <see cref="Release"/> (for <c>using</c>).</summary>
    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>Same as <see cref="ReleaseAsync"/> (for <c>await using</c>).</summary>
    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return new(ReleaseAsync());
    }

    /// <inheritdoc />
    public override string ToString() => $"<LoopToken {(IsReleased ? "released" : "held")}>";

    /// <summary>Marks the token released; true only for the first caller.</summary>
    internal bool TryMarkReleased() => Interlocked.Exchange(ref _released, 1) == 0;
}
