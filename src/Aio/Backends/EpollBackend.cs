// The epoll backend: the loop thread itself blocks in epoll_wait, and every readiness event,
// timer and post is handled on that thread with no hand-off (uvloop's design, on our own
// reactor). Level-triggered, as asyncio's selectors are.
//
// Wake-up: an eventfd registered for EPOLLIN. The loop's Inbox calls Wake only when the loop has
// announced it is asleep, so the write is paid at most once per sleep; the counter stays readable
// until Poll reads it, so a wake that lands before epoll_wait starts is not lost. The eventfd is
// held by a SafeHandle: a thread posting while another closes the loop takes a reference around
// its write, so it can never write into a descriptor number the OS has already reused.
//
// Registrations are keyed by descriptor in epoll_event.data. A descriptor closed while still
// registered leaves epoll by itself; later calls that shrink its interest and fail with EBADF or
// ENOENT are therefore expected and ignored. When interest grows, a MOD that finds the descriptor
// gone becomes an ADD (its number was reused), and an ADD that finds it present becomes a MOD.
// Any other failure is the OS refusing (EBADF for a descriptor that is not open, EPERM for a
// regular file): it surfaces as a Win32Exception carrying the errno, asyncio's OSError, and the
// registration is left as it was, so the loop can roll its own bookkeeping back.
//
// Lifetime without Close. Both descriptors are held by SafeHandles and the event array is managed
// (pinned) memory, so a loop dropped without Close() releases everything when it is collected:
// the handles' finalizers close the epoll instance and the eventfd.
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using static Aio.Backends.LinuxNative;

namespace Aio.Backends;

/// <summary>The Linux epoll + eventfd multiplexer. Poll/Update on the loop thread; Wake from any thread.</summary>
internal sealed unsafe class EpollBackend : IoBackend
{
    private readonly int _epoll;
    private readonly SafeFileHandle _epollHandle;
    private readonly SafeFileHandle _wakeHandle;
    private readonly int _wakeFd;
    private readonly Dictionary<int, IoRegistration> _registrations = new();
    private byte[] _events;
    private int _capacity;
    private bool _disposed;

    private EpollBackend(SafeFileHandle epoll, SafeFileHandle wake)
    {
        _epollHandle = epoll;
        _epoll = (int)epoll.DangerousGetHandle();
        _wakeHandle = wake;
        _wakeFd = (int)wake.DangerousGetHandle();
        _capacity = 64;
        _events = GC.AllocateUninitializedArray<byte>(_capacity * EpollEventSize, pinned: true);
        Control(EpollCtlAdd, _wakeFd, EpollIn, adding: true);
    }

    /// <summary>The epoll instance's descriptor (tests check that a dropped loop releases it).</summary>
    internal SafeHandle EpollHandle => _epollHandle;

    /// <summary>Creates the epoll instance and its wake-up eventfd.</summary>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static EpollBackend Create()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The epoll backend needs Linux; use LoopBackend.Portable on this system.");
        }

        int epoll = EpollCreate1(EpollCloexec);
        if (epoll < 0)
        {
            throw Failure("epoll_create1");
        }

        var epollHandle = new SafeFileHandle(epoll, ownsHandle: true);
        int wake = EventFd(0, EfdCloexec | EfdNonblock);
        if (wake < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            epollHandle.Dispose();
            throw Failure("eventfd", error);
        }

        var wakeHandle = new SafeFileHandle(wake, ownsHandle: true);
        try
        {
            return new EpollBackend(epollHandle, wakeHandle);
        }
        catch
        {
            wakeHandle.Dispose();
            epollHandle.Dispose();
            throw;
        }
    }

    public override string Name => "epoll";

    public override bool SupportsRawDescriptors => true;

    public override void Poll(int timeoutMs, IIoReadySink sink)
    {
        if (timeoutMs == 0 && _registrations.Count == 0)
        {
            // Only the wake-up eventfd could be reported, and it carries no messages (the loop
            // drains its inbox every iteration): a zero-timeout poll would be a wasted syscall.
            return;
        }

        byte* buffer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_events)); // pinned array
        int count = timeoutMs == 0
            ? EpollWaitNoWait(_epoll, buffer, _capacity, 0)
            : EpollWait(_epoll, buffer, _capacity, timeoutMs);
        if (count < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error == EIntr)
            {
                return;
            }

            throw Failure("epoll_wait", error);
        }

        for (int i = 0; i < count; i++)
        {
            byte* entry = buffer + (i * EpollEventSize);
            uint events = Unsafe.ReadUnaligned<uint>(entry);
            int fd = (int)Unsafe.ReadUnaligned<ulong>(entry + EpollDataOffset);
            if (fd == _wakeFd)
            {
                DrainWake();
                continue;
            }

            if (_registrations.TryGetValue(fd, out IoRegistration? registration))
            {
                bool failed = (events & (EpollErr | EpollHup)) != 0;
                sink.OnIoReady(
                    registration,
                    readable: failed || (events & (EpollIn | EpollRdHup)) != 0,
                    writable: failed || (events & EpollOut) != 0);
            }
        }

        if (count == _capacity)
        {
            GrowEvents();
        }
    }

    public override void Wake()
    {
        bool added = false;
        try
        {
            _wakeHandle.DangerousAddRef(ref added);
            ulong one = 1;
            _ = Write(_wakeFd, &one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // The loop closed while we posted: nobody is left to wake.
        }
        finally
        {
            if (added)
            {
                _wakeHandle.DangerousRelease();
            }
        }
    }

    public override void Update(IoRegistration registration)
    {
        uint wanted = (registration.WantsRead ? EpollIn : 0) | (registration.WantsWrite ? EpollOut : 0);
        if ((int)wanted == registration.AppliedEvents)
        {
            return;
        }

        if (wanted == 0)
        {
            Control(EpollCtlDel, registration.Fd, 0, adding: false);
            _registrations.Remove(registration.Fd);
        }
        else
        {
            bool adding = (wanted & ~(uint)registration.AppliedEvents) != 0;
            Control(registration.AppliedEvents == 0 ? EpollCtlAdd : EpollCtlMod, registration.Fd, wanted, adding);
            _registrations[registration.Fd] = registration;
        }

        registration.AppliedEvents = (int)wanted;
    }

    public override void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _registrations.Clear();
        _wakeHandle.Dispose();
        _epollHandle.Dispose();
    }

    // adding: whether interest grows; only then may a descriptor epoll forgot be added back.
    private void Control(int operation, int fd, uint events, bool adding)
    {
        byte* entry = stackalloc byte[16];
        Unsafe.WriteUnaligned(entry, events);
        Unsafe.WriteUnaligned(entry + EpollDataOffset, (ulong)(uint)fd);
        if (EpollCtl(_epoll, operation, fd, entry) == 0)
        {
            return;
        }

        int error = Marshal.GetLastPInvokeError();
        switch (operation)
        {
            case EpollCtlDel or EpollCtlMod when !adding && error is EBadF or ENoEnt:
                // The descriptor was closed while registered; epoll already forgot it.
                return;
            case EpollCtlMod when error == ENoEnt:
                Control(EpollCtlAdd, fd, events, adding);
                return;
            case EpollCtlAdd when error == EExist:
                Control(EpollCtlMod, fd, events, adding);
                return;
            default:
                throw Failure($"epoll_ctl({OperationName(operation)}) on descriptor {fd}", error);
        }
    }

    private static string OperationName(int operation) => operation switch
    {
        EpollCtlAdd => "ADD",
        EpollCtlMod => "MOD",
        _ => "DEL",
    };

    private void DrainWake()
    {
        ulong value;
        _ = Read(_wakeFd, &value, sizeof(ulong));
    }

    private void GrowEvents()
    {
        int capacity = _capacity * 2;
        _events = GC.AllocateUninitializedArray<byte>(capacity * EpollEventSize, pinned: true);
        _capacity = capacity;
    }

    /// <summary>An OS error as .NET reports one from a system call: a Win32Exception whose NativeErrorCode is the errno.</summary>
    private static Win32Exception Failure(string call, int? error = null)
    {
        int code = error ?? Marshal.GetLastPInvokeError();
        return new Win32Exception(code, $"{call} failed: {Marshal.GetPInvokeErrorMessage(code)} (errno {code}).");
    }
}
