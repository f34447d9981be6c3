using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using static Aio.Processes.ProcessNative;

namespace Aio.Processes;

/// <summary>
/// A stdout/stderr pipe on the epoll backend: a non-blocking descriptor watched with the loop's
/// level-triggered reader; one read per readiness callback into a pooled buffer. Loop thread only.
/// </summary>
internal sealed unsafe class FdReadPipeTransport : ReadPipeTransport
{
    private readonly SafeFileHandle _handle;
    private readonly Action _onReadable;

    public FdReadPipeTransport(IPipeOwner owner, int fd, SafeFileHandle handle)
        : base(owner, fd)
    {
        _handle = handle;
        _onReadable = OnReadable;
    }

    protected override object PipeObject => _handle;

    protected override void StartReading() => Loop.AddReader(_handle, _onReadable);

    protected override void StopReading()
    {
        if (!_handle.IsClosed)
        {
            Loop.RemoveReader(_handle);
        }
    }

    protected override void ReleasePipe() => _handle.Dispose();

    private void OnReadable()
    {
        if (IsClosing)
        {
            return;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxReadSize);
        try
        {
            nint n;
            fixed (byte* pointer = buffer)
            {
                n = Read((int)_handle.DangerousGetHandle(), pointer, MaxReadSize);
            }

            if (n > 0)
            {
                Deliver(buffer.AsSpan(0, (int)n));
            }
            else if (n == 0)
            {
                End(null);
            }
            else
            {
                int error = Marshal.GetLastPInvokeError();
                if (error is not (EAgain or EIntr))
                {
                    End(new IOException($"read from the child's fd {Fd} failed: {Marshal.GetPInvokeErrorMessage(error)}", error));
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
