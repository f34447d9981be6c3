using System.Runtime.CompilerServices;
using Aio.Tests.Net;

namespace Aio.Tests.Loop;

/// <summary>
/// A loop dropped without Close() releases its OS resources when it is collected (the epoll
/// backend's epoll instance and eventfd are held by SafeHandles). Runs in the "net" collection,
/// alone, so the process's descriptor count is exact.
/// </summary>
public abstract class DroppedLoopTests : LoopTestBase
{
    private const int Loops = 50;

    [Fact]
    public void DroppedLoops_NeverClosed_ReleaseTheirDescriptorsWhenCollected()
    {
        int before = Descriptors.Count();

        List<WeakReference> dropped = CreateAndDrop(Backend, Loops, out int whileAlive);
        for (int i = 0; i < 5 && dropped.Exists(reference => reference.IsAlive); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        int after = Descriptors.Count();
        Assert.DoesNotContain(dropped, reference => reference.IsAlive);
        if (Backend == LoopBackend.Epoll)
        {
            Assert.True(whileAlive >= before + (2 * Loops), $"expected an epoll and an eventfd per loop while they lived: {before} before, {whileAlive} with the loops");
        }

        Assert.True(after <= before, $"{after - before} descriptors leaked by {Loops} dropped loops ({before} before, {after} after)\n{Descriptors.Describe()}");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<WeakReference> CreateAndDrop(LoopBackend backend, int count, out int whileAlive)
    {
        var loops = new List<EventLoop>();
        for (int i = 0; i < count; i++)
        {
            var loop = new EventLoop(new EventLoopOptions { Backend = backend });
            loop.CallSoon(loop.Stop);
            loop.RunForever(); // used once, then dropped without Close()
            loops.Add(loop);
        }

        whileAlive = Descriptors.Count();
        return loops.ConvertAll(loop => new WeakReference(loop));
    }
}

[Collection("net")]
public sealed class DroppedLoopEpollTests : DroppedLoopTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class DroppedLoopPortableTests : DroppedLoopTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
