namespace Aio.Tests.Tasks;

/// <summary>Task groups [asyncio.TaskGroup]: structured concurrency and its cancellation rules.</summary>
public abstract class TaskGroupTests : LoopTestBase
{
    private static readonly TimeSpan OneHour = TimeSpan.FromHours(1);

    [Fact]
    public void RunAsync_AllChildrenSucceed_WaitsForEveryChild()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        RunInTask(loop, async () =>
        {
            await TaskGroup.RunAsync(group =>
            {
                for (int i = 1; i <= 3; i++)
                {
                    int seconds = i;
                    group.CreateTask(async () =>
                    {
                        await LoopTask.Sleep(TimeSpan.FromSeconds(seconds));
                        log.Add($"child {seconds}");
                    });
                }

                return Task.CompletedTask;
            });
            log.Add($"group done at {loop.Time():0.0}");
        });

        Assert.Equal(["child 1", "child 2", "child 3", "group done at 3.0"], log);
    }

    [Fact]
    public void AwaitUsing_AllChildrenSucceed_ResultsAvailableAfterTheBlock()
    {
        EventLoop loop = NewVirtualLoop(out _);
        int sum = RunInTask(loop, async () =>
        {
            LoopTask<int> first;
            LoopTask<int> second;
            await using (var group = new TaskGroup())
            {
                first = group.CreateTask(async () =>
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                    return 40;
                }, name: "first");
                second = group.CreateTask(async () =>
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(2));
                    return 2;
                });
                Assert.Equal("first", first.Name);
            }

            Assert.True(first.IsDone && second.IsDone);
            return first.Result + second.Result;
        });

        Assert.Equal(42, sum);
        Assert.Equal(2.0, loop.Time(), 6);
    }

    [Fact]
    public void RunAsync_BodyWithResult_ReturnsItAfterTheChildren()
    {
        EventLoop loop = NewVirtualLoop(out _);
        string result = RunInTask(loop, () => TaskGroup.RunAsync(async group =>
        {
            LoopTask<string> child = group.CreateTask(async () =>
            {
                await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                return "child";
            });
            return "body+" + await child;
        }));

        Assert.Equal("body+child", result);
    }

    [Fact]
    public void RunAsync_OneChildFails_SiblingsCancelledAndFailureSurfaces()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask? sibling = null;
        RunInTask(loop, async () =>
        {
            AggregateException error = await Assert.ThrowsAsync<AggregateException>(() => TaskGroup.RunAsync(group =>
            {
                sibling = group.CreateTask(async () => await LoopTask.Sleep(OneHour));
                group.CreateTask(async () =>
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                    throw new FormatException("child failed");
                });
                return Task.CompletedTask;
            }));

            Assert.IsType<FormatException>(Assert.Single(error.InnerExceptions));
        });

        Assert.True(sibling!.IsCancelled);
        Assert.Equal(1.0, loop.Time(), 6);
    }

    [Fact]
    public void RunAsync_TwoChildrenFail_FailuresSurfaceTogether()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            AggregateException error = await Assert.ThrowsAsync<AggregateException>(() => TaskGroup.RunAsync(group =>
            {
                group.CreateTask(async () =>
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                    throw new FormatException("first");
                });
                group.CreateTask(async () =>
                {
                    try
                    {
                        await LoopTask.Sleep(OneHour);
                    }
                    catch (CancelledError)
                    {
                        throw new InvalidOperationException("second, while cancelled");
                    }
                });
                return Task.CompletedTask;
            }));

            Assert.Collection(
                error.InnerExceptions,
                first => Assert.IsType<FormatException>(first),
                second => Assert.IsType<InvalidOperationException>(second));
        });
    }

    [Fact]
    public void RunAsync_BodyAwaitingWhenChildFails_BodyGetsCancelledErrorThenGroupReportsFailure()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        RunInTask(loop, async () =>
        {
            AggregateException error = await Assert.ThrowsAsync<AggregateException>(() => TaskGroup.RunAsync(async group =>
            {
                _ = group.CreateTask(async () =>
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                    throw new FormatException("child failed");
                });
                try
                {
                    await LoopTask.Sleep(OneHour);
                }
                catch (CancelledError)
                {
                    log.Add($"body cancelled at {loop.Time():0.0}");
                    throw;
                }
            }));

            Assert.IsType<FormatException>(Assert.Single(error.InnerExceptions));
            Assert.Equal(0, LoopTask.Current!.Cancelling());
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            log.Add("parent goes on");
        });

        Assert.Equal(["body cancelled at 1.0", "parent goes on"], log);
    }

    [Fact]
    public void AwaitUsing_BodyAwaitingWhenChildFails_BodyGetsCancelledErrorThenGroupReportsFailure()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        RunInTask(loop, async () =>
        {
            try
            {
                await using var group = new TaskGroup();
                _ = group.CreateTask(async () =>
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                    throw new FormatException("child failed");
                });
                try
                {
                    await LoopTask.Sleep(OneHour);
                }
                catch (CancelledError)
                {
                    log.Add("body cancelled");
                    throw;
                }
            }
            catch (AggregateException error)
            {
                Assert.IsType<FormatException>(Assert.Single(error.InnerExceptions));
                log.Add("group failed");
            }

            Assert.Equal(0, LoopTask.Current!.Cancelling());
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            log.Add("parent goes on");
        });

        Assert.Equal(["body cancelled", "group failed", "parent goes on"], log);
    }

    [Fact]
    public void RunAsync_BodyThrows_ChildrenCancelledAndBodyFailureJoinsTheErrors()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask? child = null;
        RunInTask(loop, async () =>
        {
            AggregateException error = await Assert.ThrowsAsync<AggregateException>(() => TaskGroup.RunAsync(async group =>
            {
                child = group.CreateTask(async () => await LoopTask.Sleep(OneHour));
                await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                throw new FormatException("body failed");
            }));

            Assert.IsType<FormatException>(Assert.Single(error.InnerExceptions));
        });

        Assert.True(child!.IsCancelled);
        Assert.Equal(1.0, loop.Time(), 6);
    }

    [Fact]
    public void RunAsync_ParentCancelledWhileBodyAwaits_CancelsChildrenThenPropagatesCancelledError()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var children = new List<LoopTask>();
        bool childrenDoneWhenCancelSeen = false;
        loop.RunUntilComplete(async () =>
        {
            LoopTask parent = loop.CreateTask(async () =>
            {
                try
                {
                    await TaskGroup.RunAsync(async group =>
                    {
                        children.Add(group.CreateTask(async () => await LoopTask.Sleep(OneHour)));
                        children.Add(group.CreateTask(async () => await LoopTask.Sleep(OneHour)));
                        await LoopTask.Sleep(OneHour);
                    });
                }
                catch (CancelledError)
                {
                    childrenDoneWhenCancelSeen = children.TrueForAll(child => child.IsCancelled);
                    throw;
                }
            });
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            parent.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await parent);
            Assert.True(parent.IsCancelled);
        });

        Assert.True(childrenDoneWhenCancelSeen);
        Assert.Equal(1.0, loop.Time(), 6);
    }

    [Fact]
    public void RunAsync_ParentCancelledWhileWaitingForChildren_CancelsChildrenThenPropagatesCancelledError()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask? child = null;
        loop.RunUntilComplete(async () =>
        {
            LoopTask parent = loop.CreateTask(() => TaskGroup.RunAsync(group =>
            {
                child = group.CreateTask(async () => await LoopTask.Sleep(OneHour));
                return Task.CompletedTask;
            }));
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            parent.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await parent);
        });

        Assert.True(child!.IsCancelled);
    }

    [Fact]
    public void AwaitUsing_ParentCancelledWhileBodyAwaits_CancelsChildrenThenPropagatesCancelledError()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask? child = null;
        loop.RunUntilComplete(async () =>
        {
            LoopTask parent = loop.CreateTask(async () =>
            {
                await using var group = new TaskGroup();
                child = group.CreateTask(async () => await LoopTask.Sleep(OneHour));
                await LoopTask.Sleep(OneHour);
            });
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            parent.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await parent);
        });

        Assert.True(child!.IsCancelled);
        Assert.Equal(1.0, loop.Time(), 6);
    }

    [Fact]
    public void CreateTask_AfterTheGroupEnded_ThrowsInvalidOperation()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            TaskGroup? kept = null;
            await TaskGroup.RunAsync(group =>
            {
                kept = group;
                return Task.CompletedTask;
            });
            InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => kept!.CreateTask(() => Task.CompletedTask));
            Assert.Contains("finished", error.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void CreateTask_WhileShuttingDown_ThrowsInvalidOperation()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            await Assert.ThrowsAsync<AggregateException>(() => TaskGroup.RunAsync(async group =>
            {
                _ = group.CreateTask(() => Task.FromException(new FormatException("at once")));
                try
                {
                    await LoopTask.Sleep(OneHour);
                }
                catch (CancelledError)
                {
                    Assert.Throws<InvalidOperationException>(() => group.CreateTask(() => Task.CompletedTask));
                    throw;
                }
            }));
        });
    }

    [Fact]
    public void CreateTask_FromAChildWhileTheGroupWaits_IsAwaitedToo()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        RunInTask(loop, async () =>
        {
            await TaskGroup.RunAsync(group =>
            {
                group.CreateTask(async () =>
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                    _ = group.CreateTask(async () =>
                    {
                        await LoopTask.Sleep(TimeSpan.FromSeconds(1));
                        log.Add("grandchild");
                    });
                });
                return Task.CompletedTask;
            });
            log.Add("group done");
        });

        Assert.Equal(["grandchild", "group done"], log);
        Assert.Equal(2.0, loop.Time(), 6);
    }

    [Fact]
    public void CreateTask_EagerChildFailsAtOnce_ParentCancelledOnlyAfterCreateReturns()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        RunInTask(loop, async () =>
        {
            await Assert.ThrowsAsync<AggregateException>(() => TaskGroup.RunAsync(async group =>
            {
                LoopTask child = group.CreateTask(() => throw new FormatException("eager failure"), eager: true);
                log.Add($"created, child done={child.IsDone}");
                try
                {
                    await LoopTask.Sleep(OneHour);
                }
                catch (CancelledError)
                {
                    log.Add("body cancelled");
                    throw;
                }
            }));
        });

        Assert.Equal(["created, child done=True", "body cancelled"], log);
    }

    [Fact]
    public void RunAsync_ChildFailure_IsRetrievedAndNotReportedAsLost()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, () => Assert.ThrowsAsync<AggregateException>(() => TaskGroup.RunAsync(group =>
        {
            _ = group.CreateTask(() => Task.FromException(new FormatException("seen by the group")));
            return Task.CompletedTask;
        })));

        GC.Collect();
        GC.WaitForPendingFinalizers();
        loop.Stop();
        loop.RunForever();

        Assert.Empty(TakeErrors());
    }

    [Fact]
    public void TaskGroup_OutsideATask_ThrowsInvalidOperation()
    {
        EventLoop loop = NewVirtualLoop(out _);
        Exception? constructed = null;
        Exception? ran = null;

        // A plain callback: the loop runs, but no task does.
        loop.CallSoon(() =>
        {
            constructed = Record.Exception(() => new TaskGroup());
            ran = Record.Exception(() => { _ = TaskGroup.RunAsync(_ => Task.CompletedTask); });
        });
        loop.CallSoon(loop.Stop);
        loop.RunForever();

        Assert.Contains("LoopTask", Assert.IsType<InvalidOperationException>(constructed).Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(ran);
    }

    [Fact]
    public void TaskGroup_InsideExpiringTimeout_CancelsChildrenAndThrowsTimeoutException()
    {
        EventLoop loop = NewVirtualLoop(out _);
        LoopTask? child = null;
        RunInTask(loop, async () =>
        {
            await Assert.ThrowsAsync<TimeoutException>(() => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async () =>
            {
                await using var group = new TaskGroup();
                child = group.CreateTask(async () => await LoopTask.Sleep(OneHour));
                await LoopTask.Sleep(OneHour);
            }));
            Assert.Equal(0, LoopTask.Current!.Cancelling());
        });

        Assert.True(child!.IsCancelled);
        Assert.Equal(1.0, loop.Time(), 6);
    }

    [Fact]
    public void RunAsync_ChildFailsWhileParentCancelledFromOutside_ErrorsWinAndCancellationIsRearmed()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask parent = loop.CreateTask(async () =>
            {
                try
                {
                    await TaskGroup.RunAsync(group =>
                    {
                        group.CreateTask(async () =>
                        {
                            try
                            {
                                await LoopTask.Sleep(OneHour);
                            }
                            catch (CancelledError)
                            {
                                throw new FormatException("failed while cancelled");
                            }
                        });
                        return Task.CompletedTask;
                    });
                }
                catch (AggregateException)
                {
                    log.Add($"group failed, cancelling={LoopTask.Current!.Cancelling()}");
                }

                await LoopTask.Yield();
                log.Add("never: the outside cancellation was re-armed");
            });
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            parent.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await parent);
        });

        Assert.Equal(["group failed, cancelling=1"], log);
    }

    private static void RunInTask(EventLoop loop, Func<Task> body) =>
        loop.RunUntilComplete(async () => await loop.CreateTask(body));

    private static T RunInTask<T>(EventLoop loop, Func<Task<T>> body) =>
        loop.RunUntilComplete(async () => await loop.CreateTask(body));
}

public sealed class TaskGroupEpollTests : TaskGroupTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class TaskGroupPortableTests : TaskGroupTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
