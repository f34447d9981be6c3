using Aio.Hosting;
using Microsoft.Extensions.Hosting;

namespace Aio.Extensions.Hosting;

/// <summary>
/// Holds a loop token of the application's <see cref="SharedEventLoop"/> for the host's lifetime:
/// takes it when the host starts (the loop is running when <see cref="StartAsync"/> returns) and
/// releases it when the host stops. The host cancels <see cref="StopAsync"/>'s token when
/// <c>HostOptions.ShutdownTimeout</c> expires; the release then stops waiting for pending tasks and
/// stops the loop at once, so stopping never outlasts the host's shutdown timeout by more than the
/// loop's current iteration. Called by the host, one start then one stop.
/// </summary>
internal sealed class SharedEventLoopHostedService(SharedEventLoop sharedLoop) : IHostedService
{
    private LoopToken? _token;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _token ??= sharedLoop.StartLoop();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        LoopToken? token = Interlocked.Exchange(ref _token, null);
        return token is null ? Task.CompletedTask : token.ReleaseAsync(cancellationToken);
    }
}
