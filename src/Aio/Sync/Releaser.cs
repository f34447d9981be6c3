namespace Aio.Sync;

/// <summary>
/// Releases what one <c>AcquireAsync</c> of an <see cref="AsyncLock"/>, <see cref="AsyncCondition"/>
/// or <see cref="AsyncSemaphore"/> took, so that <c>await using (await gate.AcquireAsync()) { ... }</c>
/// (or a plain <c>using</c>) releases it however the block ends [async with lock]. Loop thread only,
/// like the primitive.
/// </summary>
/// <remarks>
/// Releasing is idempotent per acquisition: a second <see cref="Dispose"/> (of this value or a copy)
/// does nothing. For a lock it also does nothing when the lock was already released by
/// <c>Release()</c> (then perhaps taken by someone else): it never releases a hold other than its
/// own. A semaphore's permits are interchangeable, so do not both dispose the releaser and call
/// <c>Release()</c> for the same acquisition. <c>default(Releaser)</c> releases nothing.
/// </remarks>
public readonly struct Releaser : IDisposable, IAsyncDisposable, IEquatable<Releaser>
{
    private readonly AcquireWaiter? _grant;

    internal Releaser(AcquireWaiter grant) => _grant = grant;

    /// <summary>
    /// Releases the acquisition [lock.release()] the first time it is called; later calls do nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// Called from another thread than the primitive's loop while it runs, or the release itself is
    /// invalid (a <see cref="BoundedAsyncSemaphore"/> already released to its maximum by <c>Release()</c>).
    /// </exception>
    public void Dispose() => _grant?.Release();

    /// <summary>As <see cref="Dispose"/>; completes synchronously (releasing never waits).</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Whether both values release the same acquisition.</summary>
    public bool Equals(Releaser other) => ReferenceEquals(_grant, other._grant);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Releaser other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _grant is null ? 0 : System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(_grant);

    /// <summary>Whether both values release the same acquisition.</summary>
    public static bool operator ==(Releaser left, Releaser right) => left.Equals(right);

    /// <summary>Whether the values release different acquisitions.</summary>
    public static bool operator !=(Releaser left, Releaser right) => !left.Equals(right);
}
