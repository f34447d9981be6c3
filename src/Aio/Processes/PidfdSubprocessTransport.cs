// A child on the epoll backend: started with posix_spawn, its exit watched through a pidfd in the
// loop's own epoll set. No thread per child and no SIGCHLD handler: the pidfd becomes readable when
// the child terminates, and waitid(P_PIDFD, ..., WEXITED | WNOHANG) then reaps exactly that child.
//
// Spawning. Each piped stream gets a pipe2(O_CLOEXEC); our end is made non-blocking (the child's end
// stays blocking, as programs expect). posix_spawn's file actions change directory
// (posix_spawn_file_actions_addchdir_np, glibc 2.29+), dup2 the child's ends onto 0/1/2 (dup2
// clears close-on-exec on the copy only), open /dev/null for Null, and dup2 1 onto 2 for
// Stdout. Every descriptor of ours is close-on-exec, so neither this child nor any other child
// started meanwhile (by another thread, by .NET's Process) inherits them. The attributes reset the
// signal mask and every signal's disposition to the default: .NET ignores SIGPIPE, and an ignored
// disposition would survive exec (Python's restore_signals does the same). glibc's posix_spawn
// reports exec failures (ENOENT, EACCES) as its return value, so a failed start throws here.
//
// Reaping and .NET's own SIGCHLD handling. System.Diagnostics.Process installs a SIGCHLD handler
// that reaps the children it started by pid; it reaps every child (waitpid(-1)) only when SIGCHLD
// was ignored at startup, and with SIGCHLD ignored the kernel reaps children by itself anyway. In
// those setups waitid reports ECHILD: the status is lost, and we report 255 with a warning, as
// asyncio does for an unknown child. A signal is sent through pidfd_send_signal, which cannot hit
// another process that reused the number, and never after the child was reaped.
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using static Aio.Processes.ProcessNative;

namespace Aio.Processes;

/// <summary>A subprocess spawned with posix_spawn and watched through a pidfd. Epoll backend, loop thread only.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The pidfd is released when the child is reaped; the transport's Close is its end of life.")]
internal sealed unsafe class PidfdSubprocessTransport : SubprocessTransport
{
    private readonly SafeFileHandle _pidfd;
    private bool _watching;

    public PidfdSubprocessTransport(EventLoop loop, SubprocessProtocol protocol, SpawnRequest request)
        : base(loop, protocol)
    {
        var parentEnds = new SafeFileHandle?[3];
        var childEnds = new int[] { -1, -1, -1 };
        try
        {
            SubprocessOptions options = request.Options;
            if (options.Stdin == SubprocessStdio.Pipe)
            {
                (childEnds[0], parentEnds[0]) = MakePipe(childReads: true);
            }

            if (options.Stdout == SubprocessStdio.Pipe)
            {
                (childEnds[1], parentEnds[1]) = MakePipe(childReads: false);
            }

            if (options.Stderr == SubprocessStdio.Pipe)
            {
                (childEnds[2], parentEnds[2]) = MakePipe(childReads: false);
            }

            Pid = Spawn(request, childEnds);
        }
        catch
        {
            foreach (SafeFileHandle? end in parentEnds)
            {
                end?.Dispose();
            }

            throw;
        }
        finally
        {
            foreach (int end in childEnds)
            {
                if (end >= 0)
                {
                    _ = ProcessNative.Close(end);
                }
            }
        }

        int pidfd = PidfdOpen(Pid);
        if (pidfd < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            _ = ProcessNative.Kill(Pid, 9);
            byte* info = stackalloc byte[OpaqueSize];
            _ = WaitId(1 /* P_PID */, Pid, info, WExited);
            foreach (SafeFileHandle? end in parentEnds)
            {
                end?.Dispose();
            }

            throw new PlatformNotSupportedException(
                $"pidfd_open failed ({Marshal.GetPInvokeErrorMessage(error)}): the epoll backend watches children through pidfds (Linux 5.4 or later); use LoopBackend.Portable.");
        }

        _pidfd = new SafeFileHandle(pidfd, ownsHandle: true);
        Begin(
            parentEnds[0] is { } stdin ? new FdWritePipeTransport(this, stdin) : null,
            parentEnds[1] is { } stdout ? new FdReadPipeTransport(this, 1, stdout) : null,
            parentEnds[2] is { } stderr ? new FdReadPipeTransport(this, 2, stderr) : null);
    }

    /// <inheritdoc/>
    public override object? GetExtraInfo(string name) => name == "pidfd" && !_pidfd.IsClosed ? _pidfd : null;

    protected override void StartExitWatch()
    {
        if (_watching || _pidfd.IsClosed)
        {
            return;
        }

        _watching = true;
        Loop.AddReader(_pidfd, OnPidfdReadable);
    }

    protected override void SignalCore(int signal)
    {
        if (_pidfd.IsClosed)
        {
            return;
        }

        if (PidfdSendSignal((int)_pidfd.DangerousGetHandle(), signal) < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error != ESrch)
            {
                throw new ArgumentException($"Cannot send signal {signal} to pid {Pid}: {Marshal.GetPInvokeErrorMessage(error)}.", nameof(signal));
            }
        }
    }

    private void OnPidfdReadable()
    {
        byte* info = stackalloc byte[OpaqueSize];
        new Span<byte>(info, OpaqueSize).Clear();
        int result;
        do
        {
            result = WaitId(PPidfd, (int)_pidfd.DangerousGetHandle(), info, WExited | WNoHang);
        }
        while (result < 0 && Marshal.GetLastPInvokeError() == EIntr);

        int returnCode;
        if (result < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error != EChild)
            {
                throw new InvalidOperationException($"waitid on pid {Pid} failed: {Marshal.GetPInvokeErrorMessage(error)} (errno {error}).");
            }

            Loop.Logger.LogUnknownChildStatus(Pid);
            returnCode = 255;
        }
        else
        {
            // siginfo_t: si_signo, si_errno, si_code (ints), then the union, 8-byte aligned: si_pid, si_uid, si_status.
            int code = *(int*)(info + 8);
            int pid = *(int*)(info + 16);
            int status = *(int*)(info + 24);
            if (pid == 0)
            {
                return; // not terminated after all (cannot happen for a readable pidfd); keep watching
            }

            returnCode = code == CldExited ? status : -status;
        }

        Loop.RemoveReader(_pidfd);
        _watching = false;
        _pidfd.Dispose();
        OnExited(returnCode);
    }

    private static (int ChildEnd, SafeFileHandle ParentEnd) MakePipe(bool childReads)
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, OCloexec) < 0)
        {
            throw Failure("pipe2", Marshal.GetLastPInvokeError());
        }

        int childEnd = childReads ? fds[0] : fds[1];
        int parentEnd = childReads ? fds[1] : fds[0];
        var parent = new SafeFileHandle(parentEnd, ownsHandle: true);
        try
        {
            int flags = Fcntl(parentEnd, FGetfl, 0);
            if (flags < 0 || Fcntl(parentEnd, FSetfl, flags | ONonblock) < 0)
            {
                throw Failure("fcntl(O_NONBLOCK)", Marshal.GetLastPInvokeError());
            }

            if (childEnd < 3)
            {
                // Our own 0/1/2 were closed: dup2 onto the same number would keep close-on-exec.
                int moved = Fcntl(childEnd, 1030 /* F_DUPFD_CLOEXEC */, 3);
                int error = Marshal.GetLastPInvokeError();
                _ = ProcessNative.Close(childEnd);
                childEnd = moved >= 0 ? moved : throw Failure("fcntl(F_DUPFD_CLOEXEC)", error);
            }
        }
        catch
        {
            _ = ProcessNative.Close(childEnd);
            parent.Dispose();
            throw;
        }

        return (childEnd, parent);
    }

    private static int Spawn(SpawnRequest request, int[] childEnds)
    {
        var allocations = new List<nint>();
        byte* actions = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
        byte* attributes = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
        byte* signals = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
        bool actionsReady = false;
        bool attributesReady = false;
        try
        {
            Check(FileActionsInit(actions), "posix_spawn_file_actions_init");
            actionsReady = true;
            Check(AttrInit(attributes), "posix_spawnattr_init");
            attributesReady = true;

            if (request.WorkingDirectory is { } directory)
            {
                Check(FileActionsAddChdir(actions, Utf8(directory, allocations)), "posix_spawn_file_actions_addchdir_np");
            }

            byte* devNull = Utf8("/dev/null", allocations);
            SubprocessOptions options = request.Options;
            AddStream(actions, options.Stdin, 0, childEnds[0], devNull);
            AddStream(actions, options.Stdout, 1, childEnds[1], devNull);
            if (options.Stderr == SubprocessStdio.Stdout)
            {
                Check(FileActionsAddDup2(actions, 1, 2), "posix_spawn_file_actions_adddup2");
            }
            else
            {
                AddStream(actions, options.Stderr, 2, childEnds[2], devNull);
            }

            Check(SigEmptySet(signals), "sigemptyset");
            Check(AttrSetSigmask(attributes, signals), "posix_spawnattr_setsigmask");
            Check(SigFillSet(signals), "sigfillset");
            Check(AttrSetSigdefault(attributes, signals), "posix_spawnattr_setsigdefault");
            Check(AttrSetFlags(attributes, PosixSpawnSetSigmask | PosixSpawnSetSigdef), "posix_spawnattr_setflags");

            byte** argv = StringArray(request.Argv, allocations);
            string[] environment = [.. request.Environment.Select(pair => pair.Key + "=" + pair.Value)];
            byte** envp = StringArray(environment, allocations);

            int pid;
            int error = PosixSpawn(&pid, Utf8(request.Path, allocations), actions, attributes, argv, envp);
            if (error != 0)
            {
                throw StartFailure(request.Argv[0], error);
            }

            return pid;
        }
        finally
        {
            if (actionsReady)
            {
                _ = FileActionsDestroy(actions);
            }

            if (attributesReady)
            {
                _ = AttrDestroy(attributes);
            }

            NativeMemory.Free(actions);
            NativeMemory.Free(attributes);
            NativeMemory.Free(signals);
            foreach (nint allocation in allocations)
            {
                NativeMemory.Free((void*)allocation);
            }
        }
    }

    private static void AddStream(byte* actions, SubprocessStdio stdio, int target, int childEnd, byte* devNull)
    {
        switch (stdio)
        {
            case SubprocessStdio.Pipe:
                Check(FileActionsAddDup2(actions, childEnd, target), "posix_spawn_file_actions_adddup2");
                break;
            case SubprocessStdio.Null:
                Check(FileActionsAddOpen(actions, target, devNull, ORdwr, 0), "posix_spawn_file_actions_addopen");
                break;
            default:
                break; // Inherit: the child keeps our descriptor
        }
    }

    private static byte* Utf8(string text, List<nint> allocations)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        byte* memory = (byte*)NativeMemory.Alloc((nuint)length + 1);
        allocations.Add((nint)memory);
        Encoding.UTF8.GetBytes(text, new Span<byte>(memory, length));
        memory[length] = 0;
        return memory;
    }

    private static byte** StringArray(string[] items, List<nint> allocations)
    {
        byte** array = (byte**)NativeMemory.Alloc((nuint)(items.Length + 1), (nuint)sizeof(byte*));
        allocations.Add((nint)array);
        for (int i = 0; i < items.Length; i++)
        {
            array[i] = Utf8(items[i], allocations);
        }

        array[items.Length] = null;
        return array;
    }

    private static void Check(int error, string call)
    {
        if (error != 0)
        {
            throw Failure(call, error);
        }
    }

    private static InvalidOperationException Failure(string call, int error) =>
        new($"{call} failed: {Marshal.GetPInvokeErrorMessage(error)} (errno {error}).");

    /// <summary>The exception for a failed start: the same types the portable backend throws.</summary>
    internal static Exception StartFailure(string program, int error) => error switch
    {
        ENoEnt => new FileNotFoundException($"Cannot start '{program}': {Marshal.GetPInvokeErrorMessage(error)}.", program),
        EAcces => new UnauthorizedAccessException($"Cannot start '{program}': {Marshal.GetPInvokeErrorMessage(error)}."),
        _ => new IOException($"Cannot start '{program}': {Marshal.GetPInvokeErrorMessage(error)} (errno {error}).", error),
    };
}
