using Aio;
using Aio.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Aio.Extensions.Hosting.Tests;

/// <summary>
/// The shared loop inside a real Generic Host: the hosted service holds a token from start to stop,
/// the loop's pending tasks are waited for on stop within HostOptions.ShutdownTimeout, and the
/// container closes the loop when the host is disposed.
/// </summary>
public sealed class HostedServiceTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(LoopBackend.Epoll)]
    [InlineData(LoopBackend.Portable)]
    public async Task Host_StartAndStop_LoopRunsExactlyWhileTheHostRuns(LoopBackend backend)
    {
        SharedEventLoop shared;
        using (IHost host = BuildHost(new() { ["Aio:SharedLoop:Backend"] = backend.ToString(), ["Aio:SharedLoop:StopTimeout"] = "0" }))
        {
            shared = host.Services.GetRequiredService<SharedEventLoop>();
            Assert.False(shared.Loop.IsRunning);

            await host.StartAsync();

            Assert.True(shared.Loop.IsRunning);
            Assert.Equal(1, shared.TokenCount);
            Assert.Equal(backend, shared.Loop.Backend);
            Assert.Equal(TimeSpan.Zero, shared.StopTimeout);
            Assert.Equal(7, await shared.AwaitAsync(() => Task.FromResult(7)));

            await host.StopAsync();

            Assert.False(shared.Loop.IsRunning);
            Assert.Equal(0, shared.TokenCount);
            Assert.False(shared.Loop.IsClosed);
        }

        Assert.True(shared.Loop.IsClosed);
    }

    [Fact]
    public async Task Host_Stop_WaitsForPendingTasksWithoutCancellingThem()
    {
        using IHost host = BuildHost(new() { ["Aio:SharedLoop:StopTimeout"] = "none" });
        SharedEventLoop shared = host.Services.GetRequiredService<SharedEventLoop>();
        await host.StartAsync();
        (LoopTask<int> task, Future<int> gate) = StartGatedTask(shared);

        Task stopping = host.StopAsync();
        // Posted after the stop began: a stop that did not wait for the task would leave it pending.
        shared.Loop.CallSoonThreadSafe(() => gate.SetResult(4));
        await stopping.WaitAsync(Patience);

        Assert.False(shared.Loop.IsRunning);
        Assert.True(task.IsCompletedSuccessfully);
        Assert.Equal(4, task.Result);
    }

    [Fact]
    public async Task Host_StopTokenAlreadyCancelled_StopsTheLoopAtOnceLeavingTheTaskPending()
    {
        using IHost host = BuildHost(new() { ["Aio:SharedLoop:StopTimeout"] = "none" });
        SharedEventLoop shared = host.Services.GetRequiredService<SharedEventLoop>();
        await host.StartAsync();
        (LoopTask<int> task, _) = StartGatedTask(shared);

        await host.StopAsync(new CancellationToken(canceled: true)).WaitAsync(Patience);

        Assert.False(shared.Loop.IsRunning);
        Assert.False(task.IsDone);
        Assert.Equal(0, shared.TokenCount);
    }

    [Fact]
    public async Task Host_ShutdownTimeoutExpires_TheReleaseStopsTheLoopWithoutWaitingLonger()
    {
        // allow-real-time: HostOptions.ShutdownTimeout is real time; 100 ms against a stop timeout without limit.
        using IHost host = BuildHost(
            new() { ["Aio:SharedLoop:StopTimeout"] = "none" },
            services => services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromMilliseconds(100)));
        SharedEventLoop shared = host.Services.GetRequiredService<SharedEventLoop>();
        await host.StartAsync();
        (LoopTask<int> task, _) = StartGatedTask(shared);

        await host.StopAsync().WaitAsync(Patience);

        Assert.False(shared.Loop.IsRunning);
        Assert.False(task.IsDone);
    }

    [Fact]
    public async Task Host_ServiceRegisteredAfter_UsesTheRunningLoopInItsStartAndStop()
    {
        var user = new LoopUser();
        using IHost host = BuildHost([], services => services.AddSingleton<IHostedService>(provider =>
        {
            user.Shared = provider.GetRequiredService<SharedEventLoop>();
            return user;
        }));

        await host.StartAsync();
        await host.StopAsync();

        Assert.Equal(["start on loop", "stop on loop"], user.Log);
        Assert.False(user.Shared!.Loop.IsRunning);
    }

    [Fact]
    public void AddSharedEventLoop_CalledTwice_OneLoopAndOneHostedService()
    {
        var services = new ServiceCollection();
        services.AddSharedEventLoop();
        services.AddSharedEventLoop(new ConfigurationBuilder().Build());
        using ServiceProvider provider = services.BuildServiceProvider();

        Assert.Single(provider.GetServices<SharedEventLoop>());
        Assert.Single(provider.GetServices<IHostedService>().OfType<SharedEventLoopHostedService>());
    }

    [Fact]
    public async Task Host_BadConfigurationValue_StartFailsNamingTheKey()
    {
        using IHost host = BuildHost(new() { ["Aio:SharedLoop:StopTimeout"] = "whenever" });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("Aio:SharedLoop:StopTimeout", error.Message, StringComparison.Ordinal);
    }

    private static IHost BuildHost(Dictionary<string, string?> settings, Action<IServiceCollection>? more = null)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSharedEventLoop(builder.Configuration);
        more?.Invoke(builder.Services);
        return builder.Build();
    }

    private static (LoopTask<int> Task, Future<int> Gate) StartGatedTask(SharedEventLoop shared) =>
        shared.Await(() =>
        {
            Future<int> gate = shared.Loop.CreateFuture<int>();
            return Task.FromResult((shared.Loop.CreateTask(async () => await gate, "gated"), gate));
        });

    private sealed class LoopUser : IHostedService
    {
        public SharedEventLoop? Shared { get; set; }

        public List<string> Log { get; } = [];

        public async Task StartAsync(CancellationToken cancellationToken) =>
            Log.Add(await Shared!.AwaitAsync(() => Task.FromResult(Shared.IsLoopThread && Shared.TokenCount == 2 ? "start on loop" : "start elsewhere"), cancellationToken));

        public async Task StopAsync(CancellationToken cancellationToken) =>
            Log.Add(await Shared!.AwaitAsync(() => Task.FromResult(Shared.IsLoopThread && Shared.TokenCount == 2 ? "stop on loop" : "stop elsewhere"), cancellationToken));
    }
}
