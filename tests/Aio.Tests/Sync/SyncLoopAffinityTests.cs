using Aio.Sync;

namespace Aio.Tests.Sync;

/// <summary>Every primitive is bound to the loop it is first used on, and is used on that loop's thread only.</summary>
public abstract class SyncLoopAffinityTests : LoopTestBase
{
    public static TheoryData<string> Primitives => ["lock", "event", "condition", "semaphore", "bounded", "barrier"];

    /// <summary>Starts a wait on the primitive (binding it) and returns it; null when it completed at once.</summary>
    private static Future Wait(object primitive) => primitive switch
    {
        AsyncLock gate => gate.TryAcquireAsync(TimeSpan.Zero),
        AsyncEvent signal => signal.WaitAsync(TimeSpan.Zero),
        AsyncCondition condition => condition.TryAcquireAsync(TimeSpan.Zero),
        AsyncSemaphore gate => gate.TryAcquireAsync(TimeSpan.Zero),
        AsyncBarrier barrier => barrier.WaitAsync(),
        _ => throw new ArgumentException("unknown primitive", nameof(primitive)),
    };

    /// <summary>An operation that does not wait.</summary>
    private static void Touch(object primitive)
    {
        switch (primitive)
        {
            case AsyncLock gate:
                gate.TryAcquire();
                break;
            case AsyncEvent signal:
                signal.Clear();
                break;
            case AsyncCondition condition:
                condition.TryAcquire();
                break;
            case AsyncSemaphore gate:
                gate.TryAcquire();
                break;
            case AsyncBarrier barrier:
                barrier.Reset();
                break;
        }
    }

    private static object Create(string kind) => kind switch
    {
        "lock" => new AsyncLock(),
        "event" => new AsyncEvent(),
        "condition" => new AsyncCondition(),
        "semaphore" => new AsyncSemaphore(1),
        "bounded" => new BoundedAsyncSemaphore(1),
        _ => new AsyncBarrier(1),
    };

    [Theory]
    [MemberData(nameof(Primitives))]
    public void Use_OnSecondLoop_ThrowsBoundToDifferentLoop(string kind)
    {
        object primitive = Create(kind);
        EventLoop first = NewLoop();
        EventLoop second = NewLoop();
        first.RunUntilComplete(async () => await Wait(primitive));

        second.RunUntilComplete(async () =>
        {
            await LoopTask.Yield();
            var error = Assert.Throws<InvalidOperationException>(() => Wait(primitive));
            Assert.Contains("bound to a different event loop", error.Message, StringComparison.Ordinal);
            Assert.Throws<InvalidOperationException>(() => Touch(primitive));
        });
    }

    [Theory]
    [MemberData(nameof(Primitives))]
    public void Use_FromAnotherThreadWhileItsLoopRuns_Throws(string kind)
    {
        object primitive = Create(kind);
        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            await Wait(primitive);
            Exception? error = await loop.WrapTask(Task.Run(() => Record.Exception(() => Touch(primitive))));
            Assert.IsType<InvalidOperationException>(error);
            Assert.Contains("running on another thread", error.Message, StringComparison.Ordinal);
        });
    }

    [Theory]
    [MemberData(nameof(Primitives))]
    public void Wait_WithNoRunningLoop_Throws_ButNonWaitingUseIsAllowed(string kind)
    {
        object primitive = Create(kind);
        var error = Assert.Throws<InvalidOperationException>(() => Wait(primitive));
        Assert.Contains("no loop is running", error.Message, StringComparison.Ordinal);
        Touch(primitive);                          // setup code outside any loop

        EventLoop loop = NewLoop();
        loop.RunUntilComplete(async () =>
        {
            await LoopTask.Yield();
            Touch(primitive);
        });
        Touch(primitive);                          // between runs of its loop
    }

    [Fact]
    public void Message_GenericPrimitive_NamesItsTypeAsCSharpDoes()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new AsyncQueue<int>().GetAsync());
        Assert.StartsWith("This AsyncQueue<Int32> can be waited on only", error.Message, StringComparison.Ordinal);

        error = Assert.Throws<InvalidOperationException>(() => new AsyncPriorityQueue<KeyValuePair<int, string>>().GetAsync());
        Assert.StartsWith("This AsyncPriorityQueue<KeyValuePair<Int32, String>> can", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("`", error.Message, StringComparison.Ordinal);
    }
}

public sealed class SyncLoopAffinityEpollTests : SyncLoopAffinityTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class SyncLoopAffinityPortableTests : SyncLoopAffinityTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
