using Microsoft.Extensions.Logging;

namespace Aio.Hosting;

// The release of a loop token that was garbage-collected while still held (LoopToken's finalizer).
public sealed partial class SharedEventLoop
{
    private static readonly Action<ILogger, Exception?> LogTokenCollected =
        LoggerMessage.Define(
            LogLevel.Warning,
            new EventId(21, "SharedLoopTokenCollected"),
            "A LoopToken was garbage-collected without being released; releasing it now. Release every token (Release, using or await using) when you are done with the loop.");

    /// <summary>Called by a collected token's finalizer: warns and releases it on the thread pool.</summary>
    internal void ReleaseCollectedToken(LoopToken token)
    {
        if (token.IsReleased)
        {
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(
            static state =>
            {
                (SharedEventLoop shared, LoopToken collected) = state;
                try
                {
                    LogTokenCollected(shared.Loop.Logger, null);
                    _ = shared.ReleaseLoopAsync(collected, CancellationToken.None);
                }
                catch (Exception error) when (error is ObjectDisposedException or InvalidOperationException)
                {
                    // The shared loop was disposed meanwhile: nothing is left to release.
                }
            },
            (this, token),
            preferLocal: false);
    }
}
