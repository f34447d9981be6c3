// The Linux calls the epoll backend's subprocesses use: pipes, posix_spawn with file actions, the
// pidfd family (pidfd_open, pidfd_send_signal, waitid(P_PIDFD)), and kill for the portable backend
// on Unix. posix_spawn and its helpers return an error number instead of setting errno. The opaque
// glibc structures (file actions 80 bytes, attributes 336, sigset_t 128, siginfo_t 128) are given
// generously sized native blocks, so a larger libc layout still fits.
using System.Runtime.InteropServices;

namespace Aio.Processes;

/// <summary>P/Invoke declarations for spawning and watching children on Linux. Blittable signatures only.</summary>
internal static unsafe partial class ProcessNative
{
    public const int OCloexec = 0x80000;
    public const int ONonblock = 0x800;
    public const int ORdwr = 2;
    public const int FGetfl = 3;
    public const int FSetfl = 4;
    public const int EIntr = 4;
    public const int EAgain = 11;
    public const int EChild = 10;
    public const int ESrch = 3;
    public const int ENoEnt = 2;
    public const int EAcces = 13;
    public const int ENoSys = 38;
    public const int PPidfd = 3;
    public const int WExited = 4;
    public const int WNoHang = 1;
    public const int CldExited = 1;
    public const int CldKilled = 2;
    public const int CldDumped = 3;
    public const short PosixSpawnSetSigdef = 0x04;
    public const short PosixSpawnSetSigmask = 0x08;

    /// <summary>Bytes reserved for posix_spawn_file_actions_t, posix_spawnattr_t, sigset_t, siginfo_t.</summary>
    public const int OpaqueSize = 512;

    private const string Libc = "libc";
    private const long SysPidfdSendSignal = 424;
    private const long SysPidfdOpen = 434;

    [LibraryImport(Libc, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    [SuppressGCTransition]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    [SuppressGCTransition]
    public static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "posix_spawn")]
    public static partial int PosixSpawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int FileActionsInit(void* fileActions);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int FileActionsDestroy(void* fileActions);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int FileActionsAddDup2(void* fileActions, int fd, int newFd);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_addopen")]
    public static partial int FileActionsAddOpen(void* fileActions, int fd, byte* path, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_addchdir_np")]
    public static partial int FileActionsAddChdir(void* fileActions, byte* path);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_init")]
    public static partial int AttrInit(void* attributes);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_destroy")]
    public static partial int AttrDestroy(void* attributes);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setflags")]
    public static partial int AttrSetFlags(void* attributes, short flags);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setsigmask")]
    public static partial int AttrSetSigmask(void* attributes, void* sigset);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setsigdefault")]
    public static partial int AttrSetSigdefault(void* attributes, void* sigset);

    [LibraryImport(Libc, EntryPoint = "sigemptyset")]
    public static partial int SigEmptySet(void* sigset);

    [LibraryImport(Libc, EntryPoint = "sigfillset")]
    public static partial int SigFillSet(void* sigset);

    [LibraryImport(Libc, EntryPoint = "waitid", SetLastError = true)]
    public static partial int WaitId(int idType, int id, byte* info, int options);

    [LibraryImport(Libc, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    private static partial long SyscallPidfdOpen(long number, int pid, uint flags);

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    private static partial long SyscallPidfdSendSignal(long number, int pidfd, int signal, void* info, uint flags);

    /// <summary>pidfd_open(2): a descriptor (close-on-exec) that becomes readable when the process exits; -1 and errno on failure.</summary>
    public static int PidfdOpen(int pid) => (int)SyscallPidfdOpen(SysPidfdOpen, pid, 0);

    /// <summary>pidfd_send_signal(2): signals exactly the process the descriptor refers to, even if its number was reused.</summary>
    public static int PidfdSendSignal(int pidfd, int signal) => (int)SyscallPidfdSendSignal(SysPidfdSendSignal, pidfd, signal, null, 0);
}
