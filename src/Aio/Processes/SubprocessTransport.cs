// A child and its pipes, as one transport [asyncio's BaseSubprocessTransport], independent of how
// the child was started and how its exit is noticed (the subclasses: pidfd + epoll, or
// System.Diagnostics.Process).
//
// Lifetime, in asyncio's order. The child is spawned before the constructor returns; one callback
// (Start, scheduled with CallSoon) then calls the protocol's ConnectionMade, starts the pipes and
// the exit watch, and completes the Connected future. Every later event comes from the pipes and the
// exit watch, on the loop thread: PipeDataReceived, one PipeConnectionLost per pipe (each from its
// own callback), one ProcessExited. ConnectionLost(null) follows once the child has exited and every
// pipe has ended; then the transport is finished.
//
// Exit. The return code is the exit status, or minus the signal number when a signal killed the
// child. Waiters (WaitForExit) complete at the exit itself, not when the pipes close (asyncio 3.12:
// a grandchild holding stdout open must not make wait() hang). Since the child can no longer read,
// the stdin pipe is closed at its exit (with a broken-pipe error if bytes were left unwritten).
//
// Close. Closes every pipe and, if the child still runs, kills it (SIGKILL); the exit watch stays,
// so the child is still reaped: no zombie is left, whether the user closes the transport, disposes
// the process object, or a timeout's finally does. Signalling an exited child does nothing
// (Popen.send_signal's rule), which also keeps a kill in a finally block from hitting a reused pid.
using System.Runtime.InteropServices;
using Aio.Net;

namespace Aio.Processes;

/// <summary>The backend-independent part of a subprocess transport. Loop thread only.</summary>
internal abstract class SubprocessTransport : ISubprocessTransport, IPipeOwner
{
    private const int SigTerm = 15;
    private const int SigKill = 9;

    private static readonly Action<object?> StartCallback = static state => ((SubprocessTransport)state!).Start();

    private readonly SubprocessProtocol _protocol;
    private readonly ValuelessFuture _connected;
    private readonly List<ExitWaiter> _exitWaiters = [];
    private WritePipeTransport? _stdin;
    private ReadPipeTransport? _stdout;
    private ReadPipeTransport? _stderr;
    private int? _returnCode;
    private int? _pendingExit;
    private bool _started;
    private bool _closed;
    private bool _finished;

    protected SubprocessTransport(EventLoop loop, SubprocessProtocol protocol)
    {
        Loop = loop;
        _protocol = protocol;
        _connected = new ValuelessFuture(loop);
    }

    public EventLoop Loop { get; }

    /// <inheritdoc/>
    public int Pid { get; protected set; }

    /// <inheritdoc/>
    public int? ReturnCode => _returnCode;

    /// <inheritdoc/>
    public bool IsClosing => _closed;

    /// <summary>Done after ConnectionMade ran (failed with its exception, if it threw).</summary>
    public Future Connected => _connected;

    /// <summary>The protocol the transport reports to.</summary>
    public SubprocessProtocol Protocol => _protocol;

    /// <inheritdoc/>
    public virtual object? GetExtraInfo(string name) => null;

    /// <inheritdoc/>
    public IBaseTransport? GetPipeTransport(int fd) => fd switch
    {
        0 => _stdin,
        1 => _stdout,
        2 => _stderr,
        _ => throw new ArgumentOutOfRangeException(nameof(fd), fd, "A subprocess has pipes 0 (stdin), 1 (stdout) and 2 (stderr)."),
    };

    /// <summary>A future completed with the return code when the child exits; each call gets its own.</summary>
    public Future<int> WaitForExit()
    {
        var waiter = new ExitWaiter(this);
        if (_returnCode is int code)
        {
            waiter.SetResult(code);
        }
        else
        {
            _exitWaiters.Add(waiter);
        }

        return waiter;
    }

    /// <inheritdoc/>
    public void SendSignal(PosixSignal signal) => Signal(ToNumber(signal));

    /// <inheritdoc/>
    public void Terminate() => Signal(SigTerm);

    /// <inheritdoc/>
    public void Kill() => Signal(SigKill);

    /// <inheritdoc/>
    public void Close()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        _stdin?.Close();
        _stdout?.Close();
        _stderr?.Close();
        if (_returnCode is null && _pendingExit is null)
        {
            if (Loop.DebugEnabled)
            {
                ProcessLog.LogKillOnClose(Loop.Logger, ToString());
            }

            SignalCore(SigKill);
        }
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"<{GetType().Name} pid={Pid}{(_closed ? " closed" : "")}{(_returnCode is int code ? $" returncode={code}" : " running")}>";

    /// <summary>Connects the pipes (null where a stream is not piped) and schedules Start. Called once by the subclass constructor.</summary>
    protected void Begin(WritePipeTransport? stdin, ReadPipeTransport? stdout, ReadPipeTransport? stderr)
    {
        _stdin = stdin;
        _stdout = stdout;
        _stderr = stderr;
        Loop.CallSoon(StartCallback, this);
    }

    /// <summary>Starts noticing the child's exit (called after ConnectionMade); the subclass then calls <see cref="OnExited"/>.</summary>
    protected abstract void StartExitWatch();

    /// <summary>Delivers <paramref name="signal"/> to the child, which has not been reaped yet; a child that is already gone is not an error.</summary>
    protected abstract void SignalCore(int signal);

    /// <summary>The child exited with <paramref name="returnCode"/> (negative: killed by that signal) and was reaped.</summary>
    protected void OnExited(int returnCode)
    {
        if (_returnCode is not null)
        {
            return;
        }

        if (!_started)
        {
            _pendingExit = returnCode;
            return;
        }

        _returnCode = returnCode;
        Guard(static (protocol, _) => protocol.ProcessExited(), 0, "process_exited");
        foreach (ExitWaiter waiter in _exitWaiters.ToArray())
        {
            waiter.TrySetResult(returnCode);
        }

        _exitWaiters.Clear();
        _stdin?.OnChildExited();
        TryFinish();
    }

    internal void OnPipeData(int fd, ReadOnlySpan<byte> data)
    {
        try
        {
            _protocol.PipeDataReceived(fd, data);
        }
        catch (Exception exception)
        {
            Loop.CallExceptionHandler(new ExceptionContext($"Exception in {_protocol.GetType().Name}.PipeDataReceived for fd {fd}", exception));
        }
    }

    /// <summary>Reports pipe <paramref name="fd"/>'s end from its own callback.</summary>
    internal void SchedulePipeLost(int fd, Exception? exception) =>
        Loop.CallSoon(() =>
        {
            Guard(static (protocol, state) => protocol.PipeConnectionLost(state.Fd, state.Exception), (Fd: fd, Exception: exception), "pipe_connection_lost");
            TryFinish();
        });

    void IPipeOwner.OnPipeData(int fd, ReadOnlySpan<byte> data) => OnPipeData(fd, data);

    void IPipeOwner.SchedulePipeLost(int fd, Exception? exception) => SchedulePipeLost(fd, exception);

    void IPipeOwner.OnStdinPause() => OnStdinPause();

    void IPipeOwner.OnStdinResume() => OnStdinResume();

    internal void OnStdinPause() => Guard(static (protocol, _) => protocol.PauseWriting(), 0, "pause_writing");

    internal void OnStdinResume() => Guard(static (protocol, _) => protocol.ResumeWriting(), 0, "resume_writing");

    private void Start()
    {
        _started = true;
        try
        {
            _protocol.ConnectionMade(this);
        }
        catch (Exception exception)
        {
            _connected.SetException(exception);
            Close();
            StartExitWatch();
            return;
        }

        _stdout?.Start();
        _stderr?.Start();
        StartExitWatch();
        _connected.TrySucceed();
        if (_pendingExit is int code)
        {
            _pendingExit = null;
            OnExited(code);
        }
    }

    private void Signal(int signal)
    {
        if (_returnCode is null && _pendingExit is null)
        {
            SignalCore(signal);
        }
    }

    private void TryFinish()
    {
        if (_finished || _returnCode is null || !PipeDone(_stdin?.IsLost) || !PipeDone(_stdout?.IsLost) || !PipeDone(_stderr?.IsLost))
        {
            return;
        }

        _finished = true;
        Loop.CallSoon(() => Guard(static (protocol, _) => protocol.ConnectionLost(null), 0, "connection_lost"));

        static bool PipeDone(bool? lost) => lost ?? true;
    }

    private void Guard<TState>(Action<SubprocessProtocol, TState> call, TState state, string name)
    {
        try
        {
            call(_protocol, state);
        }
        catch (Exception exception)
        {
            Loop.CallExceptionHandler(new ExceptionContext($"Exception in {_protocol.GetType().Name} callback {name}", exception));
        }
    }

    /// <summary>Linux signal numbers for .NET's abstract <see cref="PosixSignal"/> values; raw numbers pass through.</summary>
    private static int ToNumber(PosixSignal signal)
    {
        // .NET's portable names are negative placeholders (SIGHUP = -1 ... SIGTSTP = -10).
        int number = (int)signal switch
        {
            -1 => 1,   // SIGHUP
            -2 => 2,   // SIGINT
            -3 => 3,   // SIGQUIT
            -4 => 15,  // SIGTERM
            -5 => 17,  // SIGCHLD
            -6 => 18,  // SIGCONT
            -7 => 28,  // SIGWINCH
            -8 => 21,  // SIGTTIN
            -9 => 22,  // SIGTTOU
            -10 => 20, // SIGTSTP
            int raw => raw,
        };
        if (number is < 1 or > 64)
        {
            throw new ArgumentException($"{signal} is not a signal: use a PosixSignal value or a raw number from 1 to 64, such as (PosixSignal)9.", nameof(signal));
        }

        return number;
    }

    /// <summary>One WaitForExit; cancelling it withdraws it.</summary>
    private sealed class ExitWaiter(SubprocessTransport owner) : Future<int>(owner.Loop)
    {
        private protected override void OnCompleted() => owner._exitWaiters.Remove(this);
    }
}
