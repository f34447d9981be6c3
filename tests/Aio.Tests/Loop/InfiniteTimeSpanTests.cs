using System.Reflection;
using Aio.Hosting;
using Aio.Net;
using Aio.Sync;
using Aio.Tests.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aio.Tests.Loop;

/// <summary>
/// .NET's meaning of time: <see cref="Timeout.InfiniteTimeSpan"/> means "no limit" in every public
/// API that takes a span, while other negative spans keep asyncio's "as soon as possible". Reflection
/// finds every public member with a <see cref="TimeSpan"/> parameter (or a settable span property),
/// and <see cref="Scenarios"/> must hold one scenario for each: a new member without one fails
/// <see cref="EveryPublicSpanMember_HasAnInfiniteTimeSpanScenario"/>.
/// </summary>
public abstract class InfiniteTimeSpanTests : LoopTestBase
{
    private static readonly TimeSpan Infinite = Timeout.InfiniteTimeSpan;
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    /// <summary>One scenario per public span member, keyed as <see cref="KeyOf(MemberInfo, ParameterInfo[])"/> writes it.</summary>
    private static readonly Dictionary<string, Action<InfiniteTimeSpanTests>> Scenarios = new()
    {
        ["EventLoop.CallLater(TimeSpan,Action)"] = t => t.CallLater_NeverFires(withState: false),
        ["EventLoop.CallLater(TimeSpan,Action<Object>,Object)"] = t => t.CallLater_NeverFires(withState: true),
        ["EventLoop.SlowCallbackDuration"] = t => t.SlowCallbackDuration_LogsNone(throughOptions: false),
        ["EventLoopOptions.SlowCallbackDuration"] = t => t.SlowCallbackDuration_LogsNone(throughOptions: true),
        ["EventLoop.ShutdownDefaultExecutorAsync(TimeSpan?)"] = t => t.ShutdownDefaultExecutor_WaitsForTheWork(),
        ["Executor.ShutdownAsync(TimeSpan?)"] = _ => ExecutorShutdown_WaitsForTheWork(),
        ["VirtualClock.AutoJumpThreshold"] = t => t.AutoJumpThreshold_TurnsAutoJumpOff(),
        ["VirtualClock.Advance(TimeSpan)"] = _ => VirtualClockAdvance_Refused(),
        ["VirtualClock.CreateTimer(TimerCallback,Object,TimeSpan,TimeSpan)"] = _ => VirtualClockTimer_NeverFiresOrFiresOnce(),
        ["LoopTask.Sleep(TimeSpan)"] = t => t.Sleep_LastsUntilCancelled(),
        ["LoopTask.Timeout(TimeSpan?)"] = t => t.InVirtualTask(_ =>
        {
            Assert.Null(LoopTask.Timeout(Infinite).When);
            return Task.CompletedTask;
        }),
        ["LoopTask.TimeoutAsync(TimeSpan?,Func<Task>)"] = t => t.InVirtualTask(_ => LoopTask.TimeoutAsync(Infinite, () => SleepHour())),
        ["LoopTask.TimeoutAsync(TimeSpan?,Func<TimeoutScope,Task>)"] = t => t.InVirtualTask(_ => LoopTask.TimeoutAsync(Infinite, async (TimeoutScope scope) =>
        {
            Assert.Null(scope.When);
            await SleepHour();
        })),
        ["LoopTask.TimeoutAsync(TimeSpan?,Func<Task<T>>)"] = t => t.InVirtualTask(async _ =>
            Assert.Equal(7, await LoopTask.TimeoutAsync(Infinite, async () => await SleepHour(7)))),
        ["LoopTask.TimeoutAsync(TimeSpan?,Func<TimeoutScope,Task<T>>)"] = t => t.InVirtualTask(async _ =>
            Assert.Equal(7, await LoopTask.TimeoutAsync(Infinite, async (TimeoutScope _) => await SleepHour(7)))),
        ["LoopTask.MoveOnAfterAsync(TimeSpan?,Func<Task>)"] = t => t.InVirtualTask(async _ =>
            Assert.True(await LoopTask.MoveOnAfterAsync(Infinite, () => SleepHour()))),
        ["LoopTask.MoveOnAfterAsync(TimeSpan?,Func<TimeoutScope,Task>)"] = t => t.InVirtualTask(async _ =>
            Assert.True(await LoopTask.MoveOnAfterAsync(Infinite, (TimeoutScope _) => SleepHour()))),
        ["LoopTask.MoveOnAfterAsync(TimeSpan?,Func<Task<T>>)"] = t => t.InVirtualTask(async _ =>
            Assert.Equal((true, 7), await LoopTask.MoveOnAfterAsync(Infinite, () => SleepHour(7)))),
        ["LoopTask.MoveOnAfterAsync(TimeSpan?,Func<TimeoutScope,Task<T>>)"] = t => t.InVirtualTask(async _ =>
            Assert.Equal((true, 7), await LoopTask.MoveOnAfterAsync(Infinite, (TimeoutScope _) => SleepHour(7)))),
        ["LoopTask.Wait(IEnumerable<Future>,TimeSpan?,ReturnWhen)"] = t => t.InVirtualTask(async loop =>
        {
            WaitResult result = await LoopTask.Wait([ResultInAnHour(loop)], Infinite);
            _ = Assert.Single(result.Done);
        }),
        ["LoopTask.WaitFor(Future<T>,TimeSpan?)"] = t => t.InVirtualTask(async loop =>
            Assert.Equal(7, await LoopTask.WaitFor(ResultInAnHour(loop), Infinite))),
        ["LoopTask.WaitFor(Future,TimeSpan?)"] = t => t.InVirtualTask(async loop =>
            await LoopTask.WaitFor((Future)ResultInAnHour(loop), Infinite)),
        ["LoopTask.AsCompleted(IEnumerable<TFuture>,TimeSpan?)"] = t => t.InVirtualTask(async loop =>
        {
            int count = 0;
            await foreach (Future<int> done in LoopTask.AsCompleted([ResultInAnHour(loop)], Infinite))
            {
                Assert.Equal(7, done.Result);
                count++;
            }

            Assert.Equal(1, count);
        }),
        ["AsyncBarrier.WaitAsync(TimeSpan,CancellationToken)"] = t => t.InVirtualTask(async loop =>
        {
            var barrier = new AsyncBarrier(2);
            loop.CallLater(Hour, () => _ = barrier.WaitAsync());
            await barrier.WaitAsync(Infinite);
        }),
        ["AsyncLock.TryAcquireAsync(TimeSpan,CancellationToken)"] = t => t.InVirtualTask(async loop =>
        {
            var gate = new AsyncLock();
            LoopTask holder = HoldForAnHour(loop, () => gate.AcquireAsync(), gate.Release);
            await LoopTask.Yield();
            Assert.True(await gate.TryAcquireAsync(Infinite));
            gate.Release();
            await holder;
        }),
        ["AsyncSemaphore.TryAcquireAsync(TimeSpan,CancellationToken)"] = t => t.InVirtualTask(async loop =>
        {
            var semaphore = new AsyncSemaphore(0);
            loop.CallLater(Hour, semaphore.Release);
            Assert.True(await semaphore.TryAcquireAsync(Infinite));
        }),
        ["AsyncEvent.WaitAsync(TimeSpan,CancellationToken)"] = t => t.InVirtualTask(async loop =>
        {
            var signal = new AsyncEvent();
            loop.CallLater(Hour, signal.Set);
            Assert.True(await signal.WaitAsync(Infinite));
        }),
        ["AsyncCondition.TryAcquireAsync(TimeSpan,CancellationToken)"] = t => t.InVirtualTask(async loop =>
        {
            var condition = new AsyncCondition();
            LoopTask holder = HoldForAnHour(loop, () => condition.AcquireAsync(), condition.Release);
            await LoopTask.Yield();
            Assert.True(await condition.TryAcquireAsync(Infinite));
            condition.Release();
            await holder;
        }),
        ["AsyncCondition.WaitAsync(TimeSpan,CancellationToken)"] = t => t.InVirtualTask(async loop =>
        {
            var condition = new AsyncCondition();
            Assert.True(condition.TryAcquire());
            loop.CallLater(Hour, () => loop.CreateTask(async () =>
            {
                await condition.AcquireAsync();
                condition.NotifyAll();
                condition.Release();
            }));
            Assert.True(await condition.WaitAsync(Infinite));
            condition.Release();
        }),
        ["AsyncCondition.WaitForAsync(Func<Boolean>,TimeSpan,CancellationToken)"] = t => t.InVirtualTask(async loop =>
        {
            var condition = new AsyncCondition();
            bool ready = false;
            Assert.True(condition.TryAcquire());
            loop.CallLater(Hour, () => loop.CreateTask(async () =>
            {
                await condition.AcquireAsync();
                ready = true;
                condition.NotifyAll();
                condition.Release();
            }));
            Assert.True(await condition.WaitForAsync(() => ready, Infinite));
            condition.Release();
        }),
        ["TlsClientOptions.HandshakeTimeout"] = _ => Assert.Equal(Infinite, new TlsClientOptions { HandshakeTimeout = Infinite }.HandshakeTimeout),
        ["TlsClientOptions.ShutdownTimeout"] = _ => Assert.Equal(Infinite, new TlsClientOptions { ShutdownTimeout = Infinite }.ShutdownTimeout),
        ["TlsServerOptions.HandshakeTimeout"] = _ => Assert.Equal(Infinite, TlsTestCertificates.ServerOptions(handshakeTimeout: Infinite).HandshakeTimeout),
        ["TlsServerOptions.ShutdownTimeout"] = _ => Assert.Equal(Infinite, TlsTestCertificates.ServerOptions(shutdownTimeout: Infinite).ShutdownTimeout),
        ["SharedEventLoopOptions.StopTimeout"] = _ =>
        {
            var options = new SharedEventLoopOptions { StopTimeout = TimeSpan.FromSeconds(1) };
            options.StopTimeout = Infinite;
            Assert.Null(options.StopTimeout); // null is the option's "wait without limit"
        },
        ["RunnerOptions.TaskShutdownTimeout"] = t => t.Runner_WaitsForCancelledTasksWithoutLimit(),
        ["LoopTask.WaitFor(AsyncStreamReadAwaitable,TimeSpan?)"] = t => t.InVirtualTask(async loop =>
        {
            var reader = new AsyncStreamReader();
            loop.CallLater(Hour, () => reader.FeedData("late\n"u8));
            Assert.Equal("late\n"u8.ToArray(), await LoopTask.WaitFor(reader.ReadLineAsync(), Infinite));
        }),
        ["LoopTask.WaitFor(QueueGetAwaitable<T>,TimeSpan?)"] = t => t.InVirtualTask(async loop =>
        {
            var queue = new AsyncQueue<int>();
            loop.CallLater(Hour, () => queue.PutNoWait(7));
            Assert.Equal(7, await LoopTask.WaitFor(queue.GetAsync(), Infinite));
        }),
        ["ConnectionOptions.HappyEyeballsDelay"] = t => t.HappyEyeballs_InfiniteDelay_OneAttemptAtATime(),
    };

    public static TheoryData<string> ScenarioKeys() => [.. Scenarios.Keys.Order(StringComparer.Ordinal)];

    [Fact]
    public void EveryPublicSpanMember_HasAnInfiniteTimeSpanScenario()
    {
        string[] found = [.. PublicSpanMembers().Order(StringComparer.Ordinal)];
        Assert.NotEmpty(found);
        string[] missing = [.. found.Except(Scenarios.Keys)];
        string[] stale = [.. Scenarios.Keys.Except(found)];
        Assert.True(missing.Length == 0, "public members taking a TimeSpan without an InfiniteTimeSpan scenario:\n" + string.Join("\n", missing));
        Assert.True(stale.Length == 0, "scenarios for members that no longer exist:\n" + string.Join("\n", stale));
    }

    [Theory]
    [MemberData(nameof(ScenarioKeys))]
    public void InfiniteTimeSpan_MeansNoLimit(string member) => Scenarios[member](this);

    [Fact]
    public void CallLater_OtherNegativeSpan_RunsAsSoonAsPossible()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        var order = new List<string>();
        loop.CallSoon(() => order.Add("soon"));
        loop.CallLater(TimeSpan.FromSeconds(-2), () => order.Add("negative"));
        loop.CallLater(TimeSpan.FromMilliseconds(-5), () =>
        {
            order.Add("minus-5-ms");
            loop.Stop();
        });
        loop.RunForever();
        Assert.Equal(["soon", "negative", "minus-5-ms"], order);
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }

    [Fact]
    public void SleepAndTimeout_OtherNegativeSpan_AsSoonAsPossible()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        loop.RunUntilComplete(async () =>
        {
            await LoopTask.Sleep(TimeSpan.FromSeconds(-1)); // one iteration
            await Assert.ThrowsAsync<TimeoutException>(() => LoopTask.TimeoutAsync(TimeSpan.FromMilliseconds(-5), () => SleepHour()));
            await Assert.ThrowsAsync<TimeoutException>(async () => await LoopTask.WaitFor(loop.CreateFuture<int>(), TimeSpan.FromMilliseconds(-5)));
        });
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }

    [Fact]
    public void NegativeSpansOtherThanInfinite_RefusedWhereTheyMeanNothing()
    {
        TimeSpan minusTwo = TimeSpan.FromSeconds(-2);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EventLoop(new EventLoopOptions { Backend = Backend, SlowCallbackDuration = minusTwo }));
        EventLoop loop = NewLoop();
        Assert.Throws<ArgumentOutOfRangeException>(() => loop.SlowCallbackDuration = minusTwo);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SharedEventLoopOptions { StopTimeout = minusTwo });
        using var executor = new WorkerThreadExecutor(1);
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => executor.ShutdownAsync(minusTwo)).GetAwaiter().GetResult();
    }

    private void CallLater_NeverFires(bool withState)
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        bool fired = false;
        TimerHandle never = withState
            ? loop.CallLater(Infinite, _ => fired = true, null)
            : loop.CallLater(Infinite, () => fired = true);
        Assert.True(double.IsPositiveInfinity(never.When));
        loop.CallLater(Hour, loop.Stop);
        loop.RunForever();
        Assert.False(fired);
        Assert.Equal(Hour, clock.Elapsed); // auto-jump went to the finite timer, never towards infinity
        never.Cancel();
        Assert.True(never.IsCancelled);
    }

    private void SlowCallbackDuration_LogsNone(bool throughOptions)
    {
        using var recorder = new LoopLogRecorder();
        using ILoggerFactory factory = recorder.CreateFactory();
        using var loop = new EventLoop(new EventLoopOptions
        {
            Backend = Backend,
            LoggerFactory = factory,
            Debug = true,
            SlowCallbackDuration = throughOptions ? Infinite : TimeSpan.Zero,
        });
        if (!throughOptions)
        {
            loop.SlowCallbackDuration = Infinite;
        }

        Assert.Equal(Infinite, loop.SlowCallbackDuration);
        loop.CallSoon(() => { });
        loop.Stop();
        loop.RunForever();
        Assert.DoesNotContain(recorder.Entries, entry => entry.Message.Contains("Executing", StringComparison.Ordinal));
    }

    private void ShutdownDefaultExecutor_WaitsForTheWork()
    {
        EventLoop loop = NewLoop();
        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        loop.RunUntilComplete(async () =>
        {
            Task work = loop.RunInExecutor(() =>
            {
                started.Set();
                release.Wait();
            });
            started.Wait(Patience);
            Task<bool> shutdown = loop.ShutdownDefaultExecutorAsync(Infinite);
            Assert.False(shutdown.IsCompleted);
            release.Set();
            Assert.True(await shutdown);
            await work;
        });
    }

    private static void ExecutorShutdown_WaitsForTheWork()
    {
        using var executor = new WorkerThreadExecutor(1);
        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Task<int> work = executor.Submit(() =>
        {
            started.Set();
            release.Wait();
            return 1;
        });
        Assert.True(started.Wait(Patience));
        Task<bool> shutdown = executor.ShutdownAsync(Infinite);
        Assert.False(shutdown.IsCompleted);
        release.Set();
        Assert.True(shutdown.GetAwaiter().GetResult());
        Assert.Equal(1, work.GetAwaiter().GetResult());
    }

    private void AutoJumpThreshold_TurnsAutoJumpOff()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        clock.AutoJumpThreshold = Infinite;
        bool fired = false;
        loop.RunUntilComplete(async () =>
        {
            loop.CallLater(TimeSpan.FromSeconds(1), () => fired = true);

            // Real work elsewhere keeps the loop idle for a while; with auto-jump on, time would jump.
            await loop.WrapTask(Task.Run(() => { }));
            await LoopTask.Yield();
            Assert.False(fired);
            Assert.Equal(TimeSpan.Zero, clock.Elapsed);
            clock.Advance(TimeSpan.FromSeconds(1));
            await LoopTask.Yield();
            await LoopTask.Yield();
            Assert.True(fired);
        });
    }

    private static void VirtualClockAdvance_Refused()
    {
        var clock = new VirtualClock();
        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(() => clock.Advance(Infinite));
        Assert.Contains("InfiniteTimeSpan", error.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }

    private static void VirtualClockTimer_NeverFiresOrFiresOnce()
    {
        var clock = new VirtualClock(autoJump: false);
        int never = 0;
        int once = 0;
        using ITimer neverTimer = clock.CreateTimer(_ => never++, null, Infinite, TimeSpan.FromSeconds(1));
        using ITimer onceTimer = clock.CreateTimer(_ => once++, null, TimeSpan.FromSeconds(1), Infinite);
        clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(0, never);
        Assert.Equal(1, once);
    }

    private void Sleep_LastsUntilCancelled()
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        loop.RunUntilComplete(async () =>
        {
            LoopTask sleeper = loop.CreateTask(async () => await LoopTask.Sleep(Infinite));
            loop.CallLater(Hour, () => sleeper.Cancel());
            await Assert.ThrowsAsync<CancelledError>(async () => await sleeper);
            Assert.Equal(Hour, clock.Elapsed);
        });
    }

    private void Runner_WaitsForCancelledTasksWithoutLimit()
    {
        bool finished = false;
        int exitCode = Runner.Run(
            async () =>
            {
                EventLoop loop = EventLoop.GetRunningLoop();
                _ = loop.CreateTask(async () =>
                {
                    try
                    {
                        await LoopTask.Sleep(Infinite);
                    }
                    catch (CancelledError)
                    {
                        // Shutdown cancelled it: a long clean-up follows, which the runner waits for.
                        await LoopTask.Sleep(TimeSpan.FromDays(30));
                        finished = true;
                    }
                });
                await LoopTask.Yield();
                loop.Stop();
            },
            new RunnerOptions
            {
                Backend = Backend,
                TaskShutdownTimeout = Infinite,
                StopSignals = [],
                TimeProvider = new VirtualClock(),
                LoggerFactory = NullLoggerFactory.Instance,
            });
        Assert.Equal(0, exitCode);
        Assert.True(finished);
    }

    private void HappyEyeballs_InfiniteDelay_OneAttemptAtATime()
    {
        EventLoop loop = NewLoop();
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(4);
        int port = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
        loop.RunUntilComplete(async () =>
        {
            (ITransport transport, _) = await Network.CreateConnectionAsync(
                () => new Recorder(loop), "127.0.0.1", port, new ConnectionOptions { HappyEyeballsDelay = Infinite });
            transport.Abort();
            await LoopTask.Yield();
        });
    }

    /// <summary>Runs <paramref name="body"/> as the main task of a virtual-time loop.</summary>
    private void InVirtualTask(Func<EventLoop, Task> body)
    {
        EventLoop loop = NewVirtualLoop(out VirtualClock clock);
        loop.RunUntilComplete(() => body(loop));
        Assert.True(clock.Elapsed < TimeSpan.FromDays(1), "time jumped towards infinity");
    }

    private static async Task SleepHour() => await LoopTask.Sleep(Hour);

    private static async Task<int> SleepHour(int result)
    {
        await LoopTask.Sleep(Hour);
        return result;
    }

    /// <summary>A task that takes a lock, holds it for an hour of loop time, then releases it.</summary>
    private static LoopTask HoldForAnHour(EventLoop loop, Func<Future<Releaser>> acquire, Action release) => loop.CreateTask(async () =>
    {
        await acquire();
        await LoopTask.Sleep(Hour);
        release();
    });

    private static Future<int> ResultInAnHour(EventLoop loop)
    {
        Future<int> future = loop.CreateFuture<int>();
        loop.CallLater(Hour, () => future.SetResult(7));
        return future;
    }

    /// <summary>Every public member of Aio with a TimeSpan parameter, or a settable TimeSpan property.</summary>
    private static IEnumerable<string> PublicSpanMembers()
    {
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (Type type in typeof(EventLoop).Assembly.GetExportedTypes())
        {
            foreach (MethodBase method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors()))
            {
                if (method.IsSpecialName && method is MethodInfo)
                {
                    continue; // property accessors: the properties below
                }

                ParameterInfo[] parameters = method.GetParameters();
                if (parameters.Any(p => !p.ParameterType.IsByRef && IsSpan(p.ParameterType)))
                {
                    yield return KeyOf(method, parameters);
                }
            }

            foreach (PropertyInfo property in type.GetProperties(Declared))
            {
                if (IsSpan(property.PropertyType) && property.SetMethod is { IsPublic: true })
                {
                    yield return $"{type.Name}.{property.Name}";
                }
            }
        }
    }

    private static bool IsSpan(Type type) => (Nullable.GetUnderlyingType(type) ?? type) == typeof(TimeSpan);

    private static string KeyOf(MemberInfo member, ParameterInfo[] parameters) =>
        $"{member.DeclaringType!.Name}.{(member is ConstructorInfo ? "ctor" : member.Name)}({string.Join(",", parameters.Select(p => TypeName(p.ParameterType)))})";

    private static string TypeName(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return TypeName(underlying) + "?";
        }

        if (type.IsGenericType)
        {
            string name = type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)];
            return $"{name}<{string.Join(",", type.GetGenericArguments().Select(TypeName))}>";
        }

        return type.Name;
    }
}

public sealed class InfiniteTimeSpanEpollTests : InfiniteTimeSpanTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class InfiniteTimeSpanPortableTests : InfiniteTimeSpanTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
