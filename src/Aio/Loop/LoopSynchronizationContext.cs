using Microsoft.Extensions.Logging;

namespace Aio;

/// <summary>
/// The loop's <see cref="SynchronizationContext"/>: <see cref="Post"/> from the loop thread is a plain
/// call-soon; from any other thread it is a thread-safe post. Installed as
/// <see cref="SynchronizationContext.Current"/> while the loop runs, so <c>await</c> resumes on the loop.
/// </summary>
internal sealed class LoopSynchronizationContext : SynchronizationContext
{
    private static readonly Action<ILogger, Exception?> LogDropped = LoggerMessage.Define(
        LogLevel.Warning, new EventId(3, "ContinuationDropped"),
        "A continuation was posted to a closed event loop and will never run; close the loop only after its work is done.");

    private readonly EventLoop _loop;

    public LoopSynchronizationContext(EventLoop loop) => _loop = loop;

    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);

        // Throwing here would surface on whatever thread completed the awaited task (often the
        // thread pool, where it would crash the process), so a closed loop drops and logs instead.
        if (!_loop.TryPost(d, state))
        {
            LogDropped(_loop.Logger, null);
        }
    }

    public override void Send(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (_loop.IsOnLoopThread)
        {
            d(state);
            return;
        }

        Exception? failure = null;
        using var done = new ManualResetEventSlim();
        _loop.CallSoonThreadSafe(() =>
        {
            try
            {
                d(state);
            }
            catch (Exception exception)
            {
                failure = exception;
            }
            finally
            {
                done.Set();
            }
        });
        done.Wait();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    public override SynchronizationContext CreateCopy() => this;
}
