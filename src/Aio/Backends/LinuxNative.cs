using System.Runtime.InteropServices;

namespace Aio.Backends;

/// <summary>
/// The Linux system calls the epoll backend uses. Signatures are blittable. Short calls that
/// never block on descriptors we own as non-blocking skip the GC transition; epoll_wait blocks
/// and must not.
/// </summary>
internal static partial class LinuxNative
{
    public const int EpollCloexec = 0x80000;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const int EpollCtlMod = 3;
    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const int EfdCloexec = 0x80000;
    public const int EfdNonblock = 0x800;
    public const int EIntr = 4;
    public const int EBadF = 9;
    public const int EExist = 17;
    public const int ENoEnt = 2;
    public const int EAgain = 11;

    private const string Libc = "libc";

    /// <summary>Size of <c>struct epoll_event</c>: packed to 12 bytes on x86-64, 16 elsewhere.</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>Offset of <c>epoll_event.data</c>.</summary>
    public static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [LibraryImport(Libc, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport(Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
    [SuppressGCTransition]
    public static unsafe partial int EpollCtl(int epfd, int op, int fd, byte* epollEvent);

    [LibraryImport(Libc, EntryPoint = "epoll_wait", SetLastError = true)]
    public static unsafe partial int EpollWait(int epfd, byte* events, int maxEvents, int timeout);

    /// <summary>epoll_wait with a zero timeout: never blocks, so it may skip the GC transition.</summary>
    [LibraryImport(Libc, EntryPoint = "epoll_wait", SetLastError = true)]
    [SuppressGCTransition]
    public static unsafe partial int EpollWaitNoWait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport(Libc, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initval, int flags);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    [SuppressGCTransition]
    public static unsafe partial nint Read(int fd, void* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    [SuppressGCTransition]
    public static unsafe partial nint Write(int fd, void* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
