using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Aio.Tests.Loop;

/// <summary>Signals are process-wide: these tests run alone, never alongside another collection.</summary>
[CollectionDefinition("signals", DisableParallelization = true)]
public sealed class SignalTestGroup
{
}

/// <summary>A fact that runs on Linux only (real signals are sent with kill(2)).</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Signal delivery is tested on Linux only.";
        }
    }
}

/// <summary>A theory that runs on Linux only.</summary>
public sealed class LinuxTheoryAttribute : TheoryAttribute
{
    public LinuxTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Signal delivery is tested on Linux only.";
        }
    }
}

/// <summary>
/// Signal handlers [loop.add_signal_handler / remove_signal_handler], with real signals delivered
/// to this process by kill(2). SIGUSR1 terminates a process that does not handle it, so it is sent
/// only while a handler is installed; SIGWINCH (ignored by default) is used wherever a handler
/// may be absent.
/// </summary>
[SupportedOSPlatform("linux")]
public abstract partial class SignalTests : LoopTestBase
{
    private const int SigUsr1 = 10;
    private const int SigWinch = 28;
    private static readonly PosixSignal Usr1 = (PosixSignal)SigUsr1;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private static void SendToSelf(int signal)
    {
        Assert.True(Kill(Environment.ProcessId, signal) == 0, $"kill failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Runs the loop until stopped; a watchdog outside the loop fails the test after <see cref="LoopTestBase.Patience"/>.</summary>
    private static void RunBounded(EventLoop loop)
    {
        bool timedOut = false;
        using (new Timer(_ => loop.TryCallSoonThreadSafe(() =>
               {
                   timedOut = true;
                   loop.Stop();
               }), null, Patience, Timeout.InfiniteTimeSpan))
        {
            loop.RunForever();
        }

        Assert.False(timedOut, $"the loop was not stopped within {Patience}");
    }

    public static TheoryData<int> CatchableSignals => new() { SigUsr1, SigWinch };

    private static PosixSignal ToPosixSignal(int number) => number == SigWinch ? PosixSignal.SIGWINCH : (PosixSignal)number;

    [LinuxTheory]
    [MemberData(nameof(CatchableSignals))]
    public void AddSignalHandler_SignalDelivered_HandlerRunsOnLoopThread(int number)
    {
        EventLoop loop = NewLoop();
        int loopThread = 0;
        int handlerThread = 0;
        int runs = 0;
        loop.AddSignalHandler(ToPosixSignal(number), () =>
        {
            runs++;
            handlerThread = Environment.CurrentManagedThreadId;
            loop.Stop();
        });
        loop.CallSoon(() =>
        {
            loopThread = Environment.CurrentManagedThreadId;
            SendToSelf(number);
        });

        RunBounded(loop);

        Assert.Equal(1, runs);
        Assert.NotEqual(0, loopThread);
        Assert.Equal(loopThread, handlerThread);
        Assert.True(loop.RemoveSignalHandler(ToPosixSignal(number)));
    }

    [LinuxFact]
    public void AddSignalHandler_LoopOnOtherThread_HandlerRunsOnThatThread()
    {
        EventLoop loop = NewLoop();
        int loopThread = 0;
        int handlerThread = 0;
        using var handled = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        loop.AddSignalHandler(Usr1, () =>
        {
            handlerThread = Environment.CurrentManagedThreadId;
            loop.Stop();
            handled.Set();
        });
        loop.CallSoon(() => loopThread = Environment.CurrentManagedThreadId);
        Thread thread = RunOnThread(loop, started);
        Assert.True(started.Wait(Patience));

        SendToSelf(SigUsr1);

        bool ran = handled.Wait(Patience);
        if (!ran)
        {
            loop.CallSoonThreadSafe(loop.Stop);
        }

        Assert.True(thread.Join(Patience));
        Assert.True(ran, "the handler did not run");
        Assert.NotEqual(Environment.CurrentManagedThreadId, handlerThread);
        Assert.Equal(loopThread, handlerThread);
        Assert.True(loop.RemoveSignalHandler(Usr1));
    }

    [LinuxFact]
    public void AddSignalHandler_SignalBeforeLoopRuns_HandlerRunsOnceLoopRuns()
    {
        EventLoop loop = NewLoop();
        int runs = 0;
        loop.AddSignalHandler(PosixSignal.SIGWINCH, () =>
        {
            runs++;
            loop.Stop();
        });

        SendToSelf(SigWinch);
        RunBounded(loop);

        Assert.Equal(1, runs);
        Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGWINCH));
    }

    [LinuxFact]
    public void AddSignalHandler_SignalSentTwice_HandlerRunsForEach()
    {
        EventLoop loop = NewLoop();
        int runs = 0;
        loop.AddSignalHandler(Usr1, () =>
        {
            if (++runs == 1)
            {
                SendToSelf(SigUsr1);
            }
            else
            {
                loop.Stop();
            }
        });
        loop.CallSoon(() => SendToSelf(SigUsr1));

        RunBounded(loop);

        Assert.Equal(2, runs);
        Assert.True(loop.RemoveSignalHandler(Usr1));
    }

    [LinuxFact]
    public void RemoveSignalHandler_Installed_ReturnsTrueThenFalse()
    {
        EventLoop loop = NewLoop();
        Assert.False(loop.RemoveSignalHandler(PosixSignal.SIGWINCH));
        loop.AddSignalHandler(PosixSignal.SIGWINCH, () => { });

        Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGWINCH));
        Assert.False(loop.RemoveSignalHandler(PosixSignal.SIGWINCH));
    }

    [LinuxFact]
    public void RemoveSignalHandler_ThenSignal_HandlerDoesNotRun()
    {
        EventLoop loop = NewLoop();
        int winchRuns = 0;
        int winchRunsWhenUsr1Ran = -1;
        loop.AddSignalHandler(PosixSignal.SIGWINCH, () => winchRuns++);
        loop.AddSignalHandler(Usr1, () =>
        {
            winchRunsWhenUsr1Ran = winchRuns;
            loop.Stop();
        });
        Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGWINCH));

        // kill(2) on our own process runs the native handler before it returns, and .NET dispatches
        // signals in arrival order: SIGWINCH (now unhandled, so ignored) is processed before SIGUSR1.
        loop.CallSoon(() =>
        {
            SendToSelf(SigWinch);
            SendToSelf(SigUsr1);
        });
        RunBounded(loop);

        Assert.Equal(0, winchRunsWhenUsr1Ran);
        Assert.Equal(0, winchRuns);
        Assert.True(loop.RemoveSignalHandler(Usr1));
    }

    [LinuxFact]
    public void RemoveSignalHandler_Installed_LoopNoLongerReferencesHandler()
    {
        EventLoop loop = NewLoop();
        WeakReference handler = AddCapturingHandler(loop, PosixSignal.SIGWINCH);

        Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGWINCH));

        Assert.False(IsAliveAfterCollection(handler), "the removed handler is still referenced");
    }

    [LinuxFact]
    public void AddSignalHandler_Replaced_OnlyNewHandlerRuns()
    {
        EventLoop loop = NewLoop();
        int oldRuns = 0;
        int newRuns = 0;
        loop.AddSignalHandler(Usr1, () => oldRuns++);
        loop.AddSignalHandler(Usr1, () =>
        {
            // Each signal is sent only after the previous one was handled, so a replaced
            // registration left active would have posted the old handler by the last one.
            if (++newRuns < 3)
            {
                SendToSelf(SigUsr1);
            }
            else
            {
                loop.Stop();
            }
        });
        loop.CallSoon(() => SendToSelf(SigUsr1));

        RunBounded(loop);

        Assert.Equal(3, newRuns);
        Assert.Equal(0, oldRuns);
        Assert.True(loop.RemoveSignalHandler(Usr1));
        Assert.False(loop.RemoveSignalHandler(Usr1));
    }

    [LinuxFact]
    public void AddSignalHandler_Replaced_LoopNoLongerReferencesOldHandler()
    {
        EventLoop loop = NewLoop();
        WeakReference old = AddCapturingHandler(loop, PosixSignal.SIGWINCH);

        loop.AddSignalHandler(PosixSignal.SIGWINCH, () => { });

        Assert.False(IsAliveAfterCollection(old), "the replaced handler is still referenced");
        Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGWINCH));
    }

    [LinuxFact]
    public void Close_WithHandlersInstalled_RemovesThem()
    {
        EventLoop loop = NewLoop();
        WeakReference winch = AddCapturingHandler(loop, PosixSignal.SIGWINCH);
        WeakReference usr1 = AddCapturingHandler(loop, Usr1);

        loop.Close();

        Assert.False(IsAliveAfterCollection(winch), "Close left the SIGWINCH handler registered");
        Assert.False(IsAliveAfterCollection(usr1), "Close left the SIGUSR1 handler registered");
        Assert.False(loop.RemoveSignalHandler(PosixSignal.SIGWINCH));
        Assert.False(loop.RemoveSignalHandler(Usr1));
    }

    [LinuxFact]
    public void AddSignalHandler_ClosedLoop_ThrowsInvalidOperation()
    {
        EventLoop loop = NewLoop();
        loop.Close();

        Assert.Throws<InvalidOperationException>(() => loop.AddSignalHandler(PosixSignal.SIGWINCH, () => { }));
    }

    [LinuxTheory]
    [InlineData(0)]
    [InlineData(65)]
    [InlineData(-100)]         // no PosixSignal member
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    public void AddSignalHandler_NotASignalNumber_ThrowsArgumentException(int number)
    {
        EventLoop loop = NewLoop();

        var error = Assert.Throws<ArgumentException>(() => loop.AddSignalHandler((PosixSignal)number, () => { }));

        Assert.Equal("signal", error.ParamName);
        Assert.Throws<ArgumentException>(() => loop.RemoveSignalHandler((PosixSignal)number));
        Assert.False(loop.RemoveSignalHandler(PosixSignal.SIGWINCH));
    }

    [LinuxTheory]
    [InlineData(9, "SIGKILL")]
    [InlineData(19, "SIGSTOP")]
    public void AddSignalHandler_Uncatchable_ThrowsInvalidOperationAndRemoveReturnsFalse(int number, string name)
    {
        EventLoop loop = NewLoop();

        var error = Assert.Throws<InvalidOperationException>(() => loop.AddSignalHandler((PosixSignal)number, () => { }));

        Assert.Contains($"sig {number}", error.Message, StringComparison.Ordinal);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be caught", error.Message, StringComparison.Ordinal);
        Assert.False(loop.RemoveSignalHandler((PosixSignal)number));
    }

    [LibraryImport("libc", EntryPoint = "sigaction", SetLastError = true)]
    private static partial int SigAction(int signal, IntPtr action, IntPtr previous);

    [LinuxFact]
    public void AddSignalHandler_SigintInheritedAsIgnored_HandlerRunsAndTheIgnoreComesBackOnRemove()
    {
        const int SigInt = 2;
        const int ActionSize = 256;
        IntPtr saved = Marshal.AllocHGlobal(ActionSize);
        IntPtr scratch = Marshal.AllocHGlobal(ActionSize);
        Assert.Equal(0, SigAction(SigInt, IntPtr.Zero, saved));
        try
        {
            // As a shell without job control starts a background job: SIGINT ignored.
            Marshal.Copy(new byte[ActionSize], 0, scratch, ActionSize);
            Marshal.WriteIntPtr(scratch, 1); // SIG_IGN
            Assert.Equal(0, SigAction(SigInt, scratch, IntPtr.Zero));

            EventLoop loop = NewLoop();
            int runs = 0;
            loop.AddSignalHandler(PosixSignal.SIGINT, () =>
            {
                runs++;
                loop.Stop();
            });
            IntPtr during = DispositionOf(SigInt, scratch);
            Assert.True(during != 0 && during != 1, "SIGINT is still ignored (or defaulted) with a handler installed");
            loop.CallSoon(() => SendToSelf(SigInt));

            RunBounded(loop);

            Assert.Equal(1, runs);
            Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGINT));
            Assert.Equal(1, DispositionOf(SigInt, scratch)); // ignored again, as inherited
        }
        finally
        {
            _ = SigAction(SigInt, saved, IntPtr.Zero);
            Marshal.FreeHGlobal(saved);
            Marshal.FreeHGlobal(scratch);
        }
    }

    private static IntPtr DispositionOf(int signal, IntPtr buffer)
    {
        Assert.Equal(0, SigAction(signal, IntPtr.Zero, buffer));
        return Marshal.ReadIntPtr(buffer);
    }

    [LinuxFact]
    public void AddSignalHandler_FromABackgroundThreadRunningTheLoop_IsAcceptedAndHandlerRuns()
    {
        // Decided difference from asyncio (main thread only): .NET dispatches signals on its own
        // thread whichever thread registered, so a loop in a background thread may handle them.
        EventLoop loop = NewLoop();
        using var handled = new ManualResetEventSlim();
        Exception? registrationError = null;
        bool registeredOnMainThread = true;
        loop.CallSoon(() =>
        {
            registeredOnMainThread = Thread.CurrentThread.IsBackground is false && Environment.CurrentManagedThreadId == 1;
            registrationError = Record.Exception(() => loop.AddSignalHandler(Usr1, () =>
            {
                handled.Set();
                loop.Stop();
            }));
            if (registrationError is null)
            {
                SendToSelf(SigUsr1);
            }
            else
            {
                loop.Stop();
            }
        });
        Thread thread = RunOnThread(loop);

        bool ran = handled.Wait(Patience);
        if (!ran)
        {
            loop.TryCallSoonThreadSafe(loop.Stop);
        }

        Assert.True(thread.Join(Patience));
        Assert.Null(registrationError);
        Assert.False(registeredOnMainThread);
        Assert.True(ran, "the handler registered from a background thread did not run");
        Assert.True(loop.RemoveSignalHandler(Usr1));
    }

    [LinuxFact]
    public void AddSignalHandler_NullHandler_ThrowsArgumentNull()
    {
        EventLoop loop = NewLoop();

        Assert.Throws<ArgumentNullException>(() => loop.AddSignalHandler(PosixSignal.SIGWINCH, null!));
    }

    /// <summary>Installs a handler that is a fresh closure, and returns a weak reference to it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference AddCapturingHandler(EventLoop loop, PosixSignal signal)
    {
        var captured = new object();
        Action handler = () => GC.KeepAlive(captured);
        loop.AddSignalHandler(signal, handler);
        return new WeakReference(handler);
    }

    private static bool IsAliveAfterCollection(WeakReference reference)
    {
        for (int i = 0; i < 3 && reference.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return reference.IsAlive;
    }
}

[Collection("signals")]
public sealed class SignalEpollTests : SignalTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("signals")]
public sealed class SignalPortableTests : SignalTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
