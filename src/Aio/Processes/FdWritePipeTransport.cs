using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using static Aio.Processes.ProcessNative;

namespace Aio.Processes;

/// <summary>
/// The stdin pipe on the epoll backend: writes go straight to the non-blocking descriptor; what the
/// kernel does not take is buffered and written by the loop's writer callback. Loop thread only.
/// </summary>
internal sealed unsafe class FdWritePipeTransport : WritePipeTransport
{
    private readonly SafeFileHandle _handle;
    private readonly Action _onWritable;
    private bool _writerInstalled;

    public FdWritePipeTransport(IPipeOwner owner, SafeFileHandle handle)
        : base(owner)
    {
        _handle = handle;
        _onWritable = OnWritable;
    }

    protected override object PipeObject => _handle;

    protected override void WriteCore(ReadOnlySpan<byte> data)
    {
        int written = 0;
        if (Buffer.IsEmpty)
        {
            written = TryWrite(data);
            if (written < 0)
            {
                return; // ended
            }
        }

        if (written < data.Length)
        {
            Buffer.Append(data[written..]);
            if (!_writerInstalled)
            {
                _writerInstalled = true;
                Loop.AddWriter(_handle, _onWritable);
            }
        }
    }

    protected override void ReleasePipe()
    {
        if (_writerInstalled && !_handle.IsClosed)
        {
            Loop.RemoveWriter(_handle);
        }

        _writerInstalled = false;
        _handle.Dispose();
    }

    private void OnWritable()
    {
        if (IsLost)
        {
            return;
        }

        while (!Buffer.IsEmpty)
        {
            int written = TryWrite(Buffer.Head);
            if (written < 0)
            {
                return; // ended
            }

            if (written == 0)
            {
                break;
            }

            Buffer.Consume(written);
        }

        if (Buffer.IsEmpty && _writerInstalled)
        {
            _writerInstalled = false;
            Loop.RemoveWriter(_handle);
        }

        AfterProgress();
    }

    /// <summary>Writes what the pipe takes: the count (0 when it is full), or -1 after ending the pipe on an error.</summary>
    private int TryWrite(ReadOnlySpan<byte> data)
    {
        while (true)
        {
            nint n;
            fixed (byte* pointer = data)
            {
                n = ProcessNative.Write((int)_handle.DangerousGetHandle(), pointer, data.Length);
            }

            if (n >= 0)
            {
                return (int)n;
            }

            int error = Marshal.GetLastPInvokeError();
            if (error == EIntr)
            {
                continue;
            }

            if (error == EAgain)
            {
                return 0;
            }

            End(error == 32 ? BrokenPipe() : new IOException($"write to the child's stdin failed: {Marshal.GetPInvokeErrorMessage(error)}", error));
            return -1;
        }
    }
}
