namespace Aio.Tests.Tasks;

/// <summary>Timeout scopes [asyncio.timeout, timeout_at, Timeout] and move-on-after [trio].</summary>
public abstract class TimeoutTests : LoopTestBase
{
    private static readonly TimeSpan OneHour = TimeSpan.FromHours(1);

    [Fact]
    public void Timeout_DeadlinePasses_ThrowsTimeoutExceptionWithCancelledInner()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            ILoopTask self = LoopTask.Current!;
            TimeoutException error = await Assert.ThrowsAsync<TimeoutException>(
                () => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async () => await LoopTask.Sleep(OneHour)));

            Assert.IsType<CancelledError>(error.InnerException);
            Assert.Equal(1.0, loop.Time(), 6);
            Assert.Equal(0, self.Cancelling());
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
        });
    }

    [Fact]
    public void Timeout_BodyEndsInTime_ReturnsResultAndDoesNotExpire()
    {
        EventLoop loop = NewVirtualLoop(out _);
        TimeoutScope? seen = null;
        int result = RunInTask(loop, () => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async scope =>
        {
            seen = scope;
            await LoopTask.Sleep(TimeSpan.FromSeconds(0.5));
            return 42;
        }));

        Assert.Equal(42, result);
        Assert.False(seen!.Expired);
        Assert.Equal(1.0, seen.When!.Value, 6);
    }

    [Fact]
    public void Timeout_CancelledFromOutside_PropagatesCancelledError()
    {
        EventLoop loop = NewVirtualLoop(out _);
        Exception? caught = null;
        LoopTask? task = null;
        loop.RunUntilComplete(async () =>
        {
            task = loop.CreateTask(async () =>
            {
                try
                {
                    await LoopTask.TimeoutAsync(TimeSpan.FromSeconds(10), async () => await LoopTask.Sleep(OneHour));
                }
                catch (Exception error)
                {
                    caught = error;
                    throw;
                }
            });
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            task.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });

        Assert.IsType<CancelledError>(caught);
        Assert.True(task!.IsCancelled);
        Assert.Equal(1.0, loop.Time(), 6);
    }

    [Fact]
    public void Timeout_ExpiryAndOutsideCancelInOneIteration_PropagatesCancelledError()
    {
        EventLoop loop = NewVirtualLoop(out _);
        Future<int> never = loop.CreateFuture<int>();
        Exception? caught = null;
        LoopTask? task = null;
        loop.RunUntilComplete(async () =>
        {
            task = loop.CreateTask(async () =>
            {
                try
                {
                    await LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async () => await never);
                }
                catch (Exception error)
                {
                    caught = error;
                    throw;
                }
            });
            await LoopTask.Yield();

            // Armed after the scope's timer, at the same time: the scope fires first, then this.
            loop.CallAt(1.0, () => task.Cancel());
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
        });

        Assert.IsType<CancelledError>(caught);
    }

    [Fact]
    public void Timeout_NestedInnerExpiresFirst_InnerThrowsAndOuterGoesOn()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        TimeoutScope? outer = null;
        RunInTask(loop, () => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(10), async scope =>
        {
            outer = scope;
            try
            {
                await LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async () => await LoopTask.Sleep(OneHour));
            }
            catch (TimeoutException)
            {
                log.Add($"inner timed out at {loop.Time():0.0}");
            }

            await LoopTask.Sleep(TimeSpan.FromSeconds(2));
            log.Add($"outer body done at {loop.Time():0.0}");
        }));

        Assert.Equal(["inner timed out at 1.0", "outer body done at 3.0"], log);
        Assert.False(outer!.Expired);
    }

    [Fact]
    public void Timeout_NestedOuterExpiresFirst_OuterConvertsAndInnerPropagatesCancellation()
    {
        EventLoop loop = NewVirtualLoop(out _);
        Exception? leftInner = null;
        TimeoutScope? outer = null;
        TimeoutScope? inner = null;
        RunInTask(loop, async () =>
        {
            await Assert.ThrowsAsync<TimeoutException>(() => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async outerScope =>
            {
                outer = outerScope;
                try
                {
                    await LoopTask.TimeoutAsync(TimeSpan.FromSeconds(10), async innerScope =>
                    {
                        inner = innerScope;
                        await LoopTask.Sleep(OneHour);
                    });
                }
                catch (Exception error)
                {
                    leftInner = error;
                    throw;
                }
            }));
            Assert.Equal(0, LoopTask.Current!.Cancelling());
        });

        Assert.IsType<CancelledError>(leftInner);
        Assert.True(outer!.Expired);
        Assert.False(inner!.Expired);
        Assert.Equal(1.0, loop.Time(), 6);
    }

    [Fact]
    public void Timeout_NestedSameDeadline_OuterConverts()
    {
        EventLoop loop = NewVirtualLoop(out _);
        Exception? leftInner = null;
        RunInTask(loop, async () =>
        {
            double deadline = loop.Time() + 1;
            await Assert.ThrowsAsync<TimeoutException>(() => LoopTask.TimeoutAtAsync(deadline, async _ =>
            {
                try
                {
                    await LoopTask.TimeoutAtAsync(deadline, async _ => await LoopTask.Sleep(OneHour));
                }
                catch (Exception error)
                {
                    leftInner = error;
                    throw;
                }
            }));
        });

        // Both expired; the inner's request was not the last one standing, so it let it through.
        Assert.IsType<CancelledError>(leftInner);
    }

    [Fact]
    public void Reschedule_LaterDeadline_ExtendsTheTimeout()
    {
        EventLoop loop = NewVirtualLoop(out _);
        string result = RunInTask(loop, () => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async scope =>
        {
            await LoopTask.Sleep(TimeSpan.FromSeconds(0.5));
            scope.Reschedule(loop.Time() + 5);
            await LoopTask.Sleep(TimeSpan.FromSeconds(3));
            return "done";
        }));

        Assert.Equal("done", result);
        Assert.Equal(3.5, loop.Time(), 6);
    }

    [Fact]
    public void Reschedule_EarlierDeadline_ShortensTheTimeout()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            await Assert.ThrowsAsync<TimeoutException>(() => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(10), async scope =>
            {
                await LoopTask.Sleep(TimeSpan.FromSeconds(0.5));
                scope.Reschedule(loop.Time() + 1);
                Assert.Equal(1.5, scope.When!.Value, 6);
                await LoopTask.Sleep(OneHour);
            }));
        });

        Assert.Equal(1.5, loop.Time(), 6);
    }

    [Fact]
    public void Reschedule_ToNullDuringBody_RemovesTheDeadline()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, () => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async scope =>
        {
            scope.Reschedule(null);
            await LoopTask.Sleep(TimeSpan.FromSeconds(5));
            Assert.Null(scope.When);
            Assert.False(scope.Expired);
        }));

        Assert.Equal(5.0, loop.Time(), 6);
    }

    [Fact]
    public void Reschedule_BeforeTheBody_TakesEffectWhenItRuns()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            TimeoutScope scope = LoopTask.Timeout(null);
            scope.Reschedule(loop.Time() + 2);
            await Assert.ThrowsAsync<TimeoutException>(() => scope.RunAsync(async () => await LoopTask.Sleep(OneHour)));
            Assert.True(scope.Expired);
        });

        Assert.Equal(2.0, loop.Time(), 6);
    }

    [Fact]
    public void Reschedule_AfterTheBody_ThrowsInvalidOperation()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            TimeoutScope scope = LoopTask.Timeout(TimeSpan.FromSeconds(1));
            await scope.RunAsync(async () => await LoopTask.Yield());
            Assert.Throws<InvalidOperationException>(() => scope.Reschedule(loop.Time() + 1));
            Assert.Throws<InvalidOperationException>(() => { _ = scope.RunAsync(() => Task.CompletedTask); });
        });
    }

    [Fact]
    public void Timeout_NullDelay_NeverExpires()
    {
        EventLoop loop = NewVirtualLoop(out _);
        bool expired = RunInTask(loop, () => LoopTask.TimeoutAsync(null, async scope =>
        {
            await LoopTask.Sleep(OneHour);
            return scope.Expired;
        }));

        Assert.False(expired);
        Assert.Equal(3600.0, loop.Time(), 6);
    }

    [Fact]
    public void TimeoutAt_DeadlineAlreadyPassed_CancelsAtTheNextAwait()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var log = new List<string>();
        RunInTask(loop, async () =>
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            await Assert.ThrowsAsync<TimeoutException>(() => LoopTask.TimeoutAtAsync(1.0, async _ =>
            {
                log.Add("before the first await");
                await LoopTask.Yield();
                log.Add("after the first await");
            }));
        });

        Assert.Equal(["before the first await"], log);
    }

    [Fact]
    public void Timeout_BodyCatchesExpiryAndReturns_ReturnsNormally()
    {
        EventLoop loop = NewVirtualLoop(out _);
        TimeoutScope? seen = null;
        (string result, int cancelling) = RunInTask(loop, async () =>
        {
            string value = await LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async scope =>
            {
                seen = scope;
                try
                {
                    await LoopTask.Sleep(OneHour);
                    return "slept";
                }
                catch (CancelledError)
                {
                    return "caught";
                }
            });
            return (value, LoopTask.Current!.Cancelling());
        });

        Assert.Equal("caught", result);
        Assert.Equal(0, cancelling);
        Assert.True(seen!.Expired);
    }

    [Fact]
    public void Timeout_BodyFailsAfterExpiry_FailurePropagatesUnchanged()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            await Assert.ThrowsAsync<FormatException>(() => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async () =>
            {
                try
                {
                    await LoopTask.Sleep(OneHour);
                }
                catch (CancelledError)
                {
                    throw new FormatException("cleanup failed");
                }
            }));
            Assert.Equal(0, LoopTask.Current!.Cancelling());
        });
    }

    [Fact]
    public void Timeout_ForeignAwaitHonouringTheToken_ThrowsTimeoutException()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            CancellationToken token = LoopTask.Current!.CancellationToken;
            var never = new TaskCompletionSource();
            TimeoutException error = await Assert.ThrowsAsync<TimeoutException>(
                () => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async () => await never.Task.WaitAsync(token)));
            Assert.IsAssignableFrom<OperationCanceledException>(error.InnerException);
            Assert.Equal(0, LoopTask.Current!.Cancelling());
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
        });
    }

    [Fact]
    public void Timeout_AfterExpiry_TaskTokenIsFreshAgain()
    {
        EventLoop loop = NewVirtualLoop(out _);
        RunInTask(loop, async () =>
        {
            ILoopTask self = LoopTask.Current!;
            CancellationToken during = default;
            await Assert.ThrowsAsync<TimeoutException>(() => LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), async () =>
            {
                during = self.CancellationToken;
                await LoopTask.Sleep(OneHour);
            }));

            Assert.True(during.IsCancellationRequested);
            Assert.False(self.CancellationToken.IsCancellationRequested);
            var slow = new TaskCompletionSource();
            loop.CallLater(TimeSpan.FromSeconds(1), () => slow.SetResult());
            await slow.Task.WaitAsync(self.CancellationToken);
        });
    }

    [Fact]
    public void Timeout_OutsideATask_ThrowsInvalidOperation()
    {
        EventLoop loop = NewVirtualLoop(out _);
        Exception? error = null;

        // A plain callback: the loop runs, but no task does.
        loop.CallSoon(() => error = Record.Exception(
            () => { _ = LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1), () => Task.CompletedTask); }));
        loop.CallSoon(loop.Stop);
        loop.RunForever();

        Assert.Contains("LoopTask", Assert.IsType<InvalidOperationException>(error).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MoveOnAfter_DeadlinePasses_ReturnsFalseSilently()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var log = new List<string>();
        RunInTask(loop, async () =>
        {
            bool completed = await LoopTask.MoveOnAfterAsync(TimeSpan.FromSeconds(1), async () =>
            {
                await LoopTask.Sleep(OneHour);
                log.Add("never");
            });
            log.Add($"moved on at {loop.Time():0.0}, completed={completed}");
            Assert.Equal(0, LoopTask.Current!.Cancelling());
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            log.Add("still running");
        });

        Assert.Equal(["moved on at 1.0, completed=False", "still running"], log);
    }

    [Fact]
    public void MoveOnAfter_BodyEndsInTime_ReturnsTrueAndTheResult()
    {
        EventLoop loop = NewVirtualLoop(out _);
        (bool completed, int result) = RunInTask(loop, () => LoopTask.MoveOnAfterAsync(TimeSpan.FromSeconds(1), async () =>
        {
            await LoopTask.Sleep(TimeSpan.FromSeconds(0.5));
            return 7;
        }));

        Assert.True(completed);
        Assert.Equal(7, result);
    }

    [Fact]
    public void MoveOnAt_DeadlinePasses_ReturnsFalseAndDefaultAndScopeExpired()
    {
        EventLoop loop = NewVirtualLoop(out _);
        TimeoutScope? seen = null;
        (bool completed, string? result) = RunInTask(loop, () => LoopTask.MoveOnAtAsync(2.0, async scope =>
        {
            seen = scope;
            await LoopTask.Sleep(OneHour);
            return "never";
        }));

        Assert.False(completed);
        Assert.Null(result);
        Assert.True(seen!.Expired);
        Assert.Equal(2.0, loop.Time(), 6);
    }

    [Fact]
    public void MoveOnAfter_CancelledFromOutside_PropagatesCancelledError()
    {
        EventLoop loop = NewVirtualLoop(out _);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<bool> task = loop.CreateTask(
                () => LoopTask.MoveOnAfterAsync(TimeSpan.FromSeconds(10), async () => await LoopTask.Sleep(OneHour)));
            await LoopTask.Sleep(TimeSpan.FromSeconds(1));
            task.Cancel();
            await Assert.ThrowsAsync<CancelledError>(async () => await task);
            Assert.True(task.IsCancelled);
        });
    }

    private static void RunInTask(EventLoop loop, Func<Task> body) =>
        loop.RunUntilComplete(async () => await loop.CreateTask(body));

    private static T RunInTask<T>(EventLoop loop, Func<Task<T>> body) =>
        loop.RunUntilComplete(async () => await loop.CreateTask(body));
}

public sealed class TimeoutEpollTests : TimeoutTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class TimeoutPortableTests : TimeoutTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
