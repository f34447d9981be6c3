using System.Runtime.CompilerServices;
using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>
/// Nothing of a closed connection stays reachable from a loop that goes on running: not its
/// protocols, not its transports, not the task that made it, nor a value that task kept in an
/// AsyncLocal (the backend's threads and pending operations must not capture the creating task's
/// ExecutionContext).
/// </summary>
public abstract class ConnectionLifetimeTests : NetTestBase
{
    private static readonly AsyncLocal<object?> Ambient = new();

    [Fact]
    public void ClosedConnection_LoopStillRunning_NothingOfItStaysReachable()
    {
        EventLoop loop = NewLoop();
        List<WeakReference> references = loop.RunUntilComplete(() => ConnectEchoAndCloseAsync(loop));

        bool collected = false;
        for (int attempt = 0; attempt < 200 && !collected; attempt++)
        {
            // allow-real-time: the socket engine delivers the aborted operations' completions on its own threads.
            loop.RunUntilComplete(async () => await LoopTask.Sleep(TimeSpan.FromMilliseconds(10)));
            collected = AllCollected(references);
        }

        Assert.True(collected, "still reachable: " + string.Join(", ", references.Where(r => r.IsAlive).Select(r => r.Target?.GetType().Name)));
        Assert.Equal(0, loop.IoRegistrationCount);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool AllCollected(List<WeakReference> references)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return references.All(reference => !reference.IsAlive);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<List<WeakReference>> ConnectEchoAndCloseAsync(EventLoop loop)
    {
        var references = new List<WeakReference>();
        var marker = new object();
        Ambient.Value = marker; // flows into whatever captures this task's ExecutionContext
        references.Add(new WeakReference(marker));
        references.Add(new WeakReference(LoopTask.Current));

        var serverProtocols = new List<Recorder>();
        Server server = await Network.CreateServerAsync(
            () =>
            {
                var protocol = new Recorder(loop) { OnData = (r, data) => r.Transport!.Write(data) };
                serverProtocols.Add(protocol);
                references.Add(new WeakReference(protocol));
                return protocol;
            },
            "127.0.0.1",
            0);
        Recorder client = await ConnectAsync(loop, PortOf(server));
        references.Add(new WeakReference(client));
        references.Add(new WeakReference(client.Transport));
        client.Transport!.Write("ping"u8);
        await client.WaitForBytesAsync(4);
        Recorder peer = serverProtocols.Single();
        references.Add(new WeakReference(peer.Transport));

        client.Transport.Close();
        await client.WaitLostAsync();
        await peer.WaitLostAsync();
        await server.DisposeAsync();
        references.Add(new WeakReference(server));
        Ambient.Value = null;
        return references;
    }
}

[Collection("net")]
public sealed class ConnectionLifetimeEpollTests : ConnectionLifetimeTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class ConnectionLifetimePortableTests : ConnectionLifetimeTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
