namespace Aio.Tests.Loop;

/// <summary>
/// asyncio has one FIFO for call_soon and call_soon_threadsafe, and refuses a nested
/// run_until_complete before it starts anything. These tests pin both rules on every backend.
/// </summary>
public abstract class PostOrderAndNestedRunTests : LoopTestBase
{
    [Fact]
    public void CallSoonThreadSafe_OnRunningLoopThreadThenCallSoon_RunInCallOrder()
    {
        EventLoop loop = NewLoop();
        var order = new List<int>();
        loop.CallSoon(() =>
        {
            for (int i = 0; i < 20; i += 2)
            {
                int threadSafe = i;
                int plain = i + 1;
                loop.CallSoonThreadSafe(() => order.Add(threadSafe));
                loop.CallSoon(() => order.Add(plain));
            }

            loop.CallSoon(loop.Stop);
        });

        loop.RunForever();

        Assert.Equal(Enumerable.Range(0, 20), order);
    }

    [Fact]
    public void CallSoonThreadSafe_StateOverloadsOnLoopThreadMixedWithCallSoon_RunInCallOrder()
    {
        EventLoop loop = NewLoop();
        var order = new List<int>();
        Action<object?> record = state => order.Add((int)state!);
        loop.CallSoon(() =>
        {
            loop.CallSoon(record, 0);
            Assert.True(loop.TryCallSoonThreadSafe(record, 1));
            loop.CallSoon(() => order.Add(2));
            loop.CallSoonThreadSafe(record, 3);
            Assert.True(loop.TryCallSoonThreadSafe(() => order.Add(4)));
            loop.CallSoon(record, 5);
            loop.CallSoon(loop.Stop);
        });

        loop.RunForever();

        Assert.Equal([0, 1, 2, 3, 4, 5], order);
    }

    [Fact]
    public void CallSoonThreadSafe_BeforeTheLoopRunsThenCallSoon_RunInCallOrder()
    {
        EventLoop loop = NewLoop();
        var order = new List<int>();
        for (int i = 0; i < 20; i += 2)
        {
            int threadSafe = i;
            int plain = i + 1;
            loop.CallSoonThreadSafe(() => order.Add(threadSafe));
            loop.CallSoon(() => order.Add(plain));
        }

        loop.CallSoon(loop.Stop);
        loop.RunForever();

        Assert.Equal(Enumerable.Range(0, 20), order);
    }

    [Fact]
    public void CallSoonThreadSafe_OtherThreadsRaceLoopThreadPosts_EachThreadKeepsItsOrder()
    {
        const int PerSource = 20_000;
        const int OtherThreads = 2;
        EventLoop loop = NewLoop();
        var seen = new List<(int Source, int Seq)>();
        using var go = new ManualResetEventSlim();
        var posters = new List<Thread>();
        for (int source = 1; source <= OtherThreads; source++)
        {
            int id = source;
            var poster = new Thread(() =>
            {
                go.Wait();
                for (int seq = 0; seq < PerSource; seq++)
                {
                    int s = seq;
                    loop.CallSoonThreadSafe(() => seen.Add((id, s)));
                }
            })
            { IsBackground = true };
            poster.Start();
            posters.Add(poster);
        }

        int finished = 0;
        loop.CallSoon(() =>
        {
            go.Set();
            for (int seq = 0; seq < PerSource; seq++)
            {
                int s = seq;
                if (seq % 2 == 0)
                {
                    loop.CallSoonThreadSafe(() => seen.Add((0, s)));
                }
                else
                {
                    loop.CallSoon(() => seen.Add((0, s)));
                }
            }
        });
        Action? checkDone = null;
        checkDone = () =>
        {
            if (seen.Count == PerSource * (OtherThreads + 1))
            {
                finished = 1;
                loop.Stop();
            }
            else
            {
                loop.CallSoon(checkDone!);
            }
        };
        loop.CallSoon(checkDone);

        using (new Timer(_ => loop.TryCallSoonThreadSafe(loop.Stop), null, Patience * 3, Timeout.InfiniteTimeSpan))
        {
            loop.RunForever();
        }

        foreach (Thread poster in posters)
        {
            Assert.True(poster.Join(Patience));
        }

        Assert.Equal(1, finished);
        for (int source = 0; source <= OtherThreads; source++)
        {
            int id = source;
            Assert.Equal(Enumerable.Range(0, PerSource), seen.Where(item => item.Source == id).Select(item => item.Seq));
        }
    }

    [Fact]
    public void RunUntilComplete_AsyncBodyOnTheRunningLoop_ThrowsAndNeverStartsTheBody()
    {
        EventLoop loop = NewLoop();
        bool started = false;
        int tasksBefore = -1;
        int tasksAfter = -1;

        Exception? error = loop.RunUntilComplete(async () =>
        {
            tasksBefore = LoopTask.AllTasks(loop).Count;
            Exception? nested = Record.Exception(() => loop.RunUntilComplete(async () =>
            {
                started = true;
                await LoopTask.Yield();
            }));
            tasksAfter = LoopTask.AllTasks(loop).Count;
            for (int i = 0; i < 3; i++)
            {
                await LoopTask.Yield();
            }

            return nested;
        });

        InvalidOperationException thrown = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("already running", thrown.Message, StringComparison.Ordinal);
        Assert.False(started, "the nested body ran on the outer loop");
        Assert.Equal(tasksBefore, tasksAfter);
    }

    [Fact]
    public void RunUntilComplete_ResultBodyOnTheRunningLoop_ThrowsAndNeverStartsTheBody()
    {
        EventLoop loop = NewLoop();
        bool started = false;

        Exception? error = loop.RunUntilComplete(async () =>
        {
            Exception? nested = Record.Exception(() => loop.RunUntilComplete(async () =>
            {
                started = true;
                await LoopTask.Yield();
                return 1;
            }));
            await LoopTask.Yield();
            await LoopTask.Yield();
            return nested;
        });

        Assert.Contains("already running", Assert.IsType<InvalidOperationException>(error).Message, StringComparison.Ordinal);
        Assert.False(started);
    }

    [Fact]
    public void RunUntilComplete_AlreadyDoneWorkOnTheRunningLoop_StillThrows()
    {
        EventLoop loop = NewLoop();
        var done = new Future<int>(loop);
        done.SetResult(5);
        var errors = new List<Exception?>();

        loop.CallSoon(() =>
        {
            errors.Add(Record.Exception(() => loop.RunUntilComplete(done)));
            errors.Add(Record.Exception(() => loop.RunUntilComplete((Future)done)));
            errors.Add(Record.Exception(() => loop.RunUntilComplete(Task.CompletedTask)));
            errors.Add(Record.Exception(() => loop.RunUntilComplete(Task.FromResult(3))));
            loop.Stop();
        });
        loop.RunForever();

        Assert.Equal(4, errors.Count);
        Assert.All(errors, error => Assert.Contains("already running", Assert.IsType<InvalidOperationException>(error).Message, StringComparison.Ordinal));
    }

    [Fact]
    public void RunUntilComplete_AnotherLoopRunsOnThisThread_ThrowsAndNeverStartsTheBody()
    {
        EventLoop outer = NewLoop();
        EventLoop inner = NewLoop();
        bool started = false;
        Exception? error = null;
        outer.CallSoon(() =>
        {
            error = Record.Exception(() => inner.RunUntilComplete(async () =>
            {
                started = true;
                await LoopTask.Yield();
            }));
            outer.Stop();
        });

        outer.RunForever();
        inner.CallSoon(inner.Stop);
        inner.RunForever();

        Assert.Contains("another loop", Assert.IsType<InvalidOperationException>(error).Message, StringComparison.Ordinal);
        Assert.False(started);
        Assert.Empty(LoopTask.AllTasks(inner));
    }

    [Fact]
    public void RunUntilComplete_ClosedLoop_ThrowsBeforeCreatingTheTask()
    {
        EventLoop loop = NewLoop();
        loop.Close();
        bool started = false;

        var error = Assert.Throws<InvalidOperationException>(() => loop.RunUntilComplete(async () =>
        {
            started = true;
            await LoopTask.Yield();
        }));

        Assert.Contains("closed", error.Message, StringComparison.Ordinal);
        Assert.False(started);
    }
}

public sealed class PostOrderAndNestedRunEpollTests : PostOrderAndNestedRunTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class PostOrderAndNestedRunPortableTests : PostOrderAndNestedRunTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
