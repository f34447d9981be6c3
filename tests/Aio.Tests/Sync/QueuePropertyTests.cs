// The property test of issue 4: random interleavings of put, get and cancel on bounded queues.
//
// FsCheck generates a script of steps; a driver task plays it on a fresh virtual-time loop.
// Producer and consumer tasks each put or get one item (some start eagerly, some carry a token);
// the driver also puts and gets directly, cancels tasks and tokens, and yields. Several steps
// often land in the same loop iteration, which is where the races are: a put and a cancel of the
// getter it was handed to, a get and a cancel of the putter whose item moved in.
//
// See QueueScript.cs for how a script is played and what is checked.
using Aio.Sync;
using FsCheck;
using FsCheck.Fluent;

namespace Aio.Tests.Sync;

public abstract class QueuePropertyTests : LoopTestBase
{
    private static readonly Gen<(int Kind, int Arg)> StepGen =
        from kind in Gen.Choose(0, 9)
        from arg in Gen.Choose(0, 1000)
        select (kind, arg);

    private static readonly Gen<QueueScript> ScriptGen =
        from queueKind in Gen.Choose(0, 2)
        from maxSize in Gen.Choose(1, 4)
        from steps in Gen.ArrayOf(StepGen)
        select new QueueScript(queueKind, maxSize, steps);

    [Fact]
    public void RandomPutGetCancel_BoundedQueues_NoItemLostOrDuplicatedAndOrderHolds()
    {
        Prop.ForAll(Arb.From(ScriptGen, Shrink), script =>
        {
            EventLoop loop = NewVirtualLoop(out _);
            try
            {
                loop.RunUntilComplete(() => new QueueScriptPlayer(loop, script).RunAsync());
            }
            finally
            {
                loop.Close();
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(500).WithEndSize(120));
    }

    /// <summary>Smaller scripts for FsCheck to try after a failure: each with one step left out.</summary>
    private static IEnumerable<QueueScript> Shrink(QueueScript script)
    {
        for (int i = script.Steps.Length - 1; i >= 0; i--)
        {
            yield return script with { Steps = [.. script.Steps[..i], .. script.Steps[(i + 1)..]] };
        }
    }
}

public sealed class QueuePropertyEpollTests : QueuePropertyTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class QueuePropertyPortableTests : QueuePropertyTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
