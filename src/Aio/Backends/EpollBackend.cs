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
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using static Aio.Backends.LinuxNative;

namespace Aio.Backends;

/// <summary>The Linux epoll + eventfd multiplexer. Poll/Update on the loop thread; Wake from any thread.</summary>
internal sealed unsafe class EpollBackend : IoBackend
{
    private readonly int _epoll;
    private readonly SafeFileHandle _wakeHandle;
    private readonly int _wakeFd;
    private readonly Dictionary<int, IoRegistration> _registrations = new();
    private byte* _events;
    private int _capacity;
    private bool _disposed;

    private EpollBackend(int epoll, int wakeFd)
    {
        _epoll = epoll;
        _wakeFd = wakeFd;
        _wakeHandle = new SafeFileHandle(wakeFd, ownsHandle: true);
        _capacity = 64;
        _events = (byte*)NativeMemory.Alloc((nuint)(_capacity * EpollEventSize));
        Control(EpollCtlAdd, wakeFd, EpollIn, adding: true);
    }

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

        int wake = EventFd(0, EfdCloexec | EfdNonblock);
        if (wake < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            _ = LinuxNative.Close(epoll);
            throw Failure("eventfd", error);
        }

        return new EpollBackend(epoll, wake);
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

        int count = timeoutMs == 0
            ? EpollWaitNoWait(_epoll, _events, _capacity, 0)
            : EpollWait(_epoll, _events, _capacity, timeoutMs);
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
            byte* entry = _events + (i * EpollEventSize);
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
        _ = LinuxNative.Close(_epoll);
        NativeMemory.Free(_events);
        _events = null;
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
                throw Failure("epoll_ctl", error);
        }
    }

    private void DrainWake()
    {
        ulong value;
        _ = Read(_wakeFd, &value, sizeof(ulong));
    }

    private void GrowEvents()
    {
        int capacity = _capacity * 2;
        byte* events = (byte*)NativeMemory.Alloc((nuint)(capacity * EpollEventSize));
        NativeMemory.Free(_events);
        _events = events;
        _capacity = capacity;
    }

    private static InvalidOperationException Failure(string call, int? error = null)
    {
        int code = error ?? Marshal.GetLastPInvokeError();
        return new InvalidOperationException($"{call} failed: {Marshal.GetPInvokeErrorMessage(code)} (errno {code}).");
    }
}
