// The writing end of a child's stdin [asyncio's _UnixWritePipeTransport], shared by both backends.
// Write hands bytes to the subclass (the epoll one writes at once and buffers the rest; the
// portable one buffers and keeps one asynchronous write in flight); the buffer's size drives
// asyncio's flow control: the owner's PauseWriting above the high mark, ResumeWriting at or below
// the low mark. For a pipe, WriteEof and Close are the same thing: the descriptor is closed once the
// buffer is flushed, and the child reads end of file. Errors (EPIPE once the child stopped reading)
// end the pipe with an IOException; the owner hears the end once, from its own callback.
using Aio.Net;

namespace Aio.Processes;

/// <summary>A child's stdin pipe as an <see cref="IWriteTransport"/>. Loop thread only.</summary>
internal abstract class WritePipeTransport : IWriteTransport
{
    private const int IgnoredWritesWarningThreshold = 5;

    private WriteFlowControl _flow = new();
    private bool _closing;
    private bool _eof;
    private bool _lost;
    private int _ignoredWrites;

    protected WritePipeTransport(IPipeOwner owner)
    {
        Owner = owner;
    }

    /// <summary>Whether the end was reported (or scheduled).</summary>
    public bool IsLost => _lost;

    /// <inheritdoc/>
    public bool IsClosing => _closing;

    /// <inheritdoc/>
    public bool CanWriteEof => true;

    /// <inheritdoc/>
    public int WriteBufferSize => Buffer.Size;

    protected IPipeOwner Owner { get; }

    protected EventLoop Loop => Owner.Loop;

    /// <summary>Bytes accepted and not yet written to the pipe (a portable write in flight included).</summary>
    protected WriteBuffer Buffer { get; set; } = new();

    /// <summary>Whether bytes are still on their way to the pipe.</summary>
    protected virtual bool IsFlushing => !Buffer.IsEmpty;

    /// <inheritdoc/>
    public object? GetExtraInfo(string name) => name == "pipe" ? PipeObject : null;

    /// <inheritdoc/>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (_eof)
        {
            throw new InvalidOperationException("Cannot write to the child's stdin after WriteEof (the pipe is closed).");
        }

        if (data.IsEmpty)
        {
            return;
        }

        if (_closing)
        {
            if (++_ignoredWrites == IgnoredWritesWarningThreshold)
            {
                Loop.Logger.LogIgnoredPipeWrites(ToString());
            }

            return;
        }

        WriteCore(data);
        MaybePause();
    }

    /// <inheritdoc/>
    public void WriteEof()
    {
        if (_eof)
        {
            return;
        }

        _eof = true;
        Close();
    }

    /// <inheritdoc/>
    public void SetWriteBufferLimits(int? high = null, int? low = null)
    {
        _flow.SetLimits(high, low);
        MaybePause();
    }

    /// <inheritdoc/>
    public (int Low, int High) GetWriteBufferLimits() => _flow.Limits;

    /// <inheritdoc/>
    /// <remarks>Buffered bytes are written first; then the pipe is closed and the child reads end of file.</remarks>
    public void Close()
    {
        if (_closing)
        {
            return;
        }

        _closing = true;
        if (!IsFlushing)
        {
            End(null);
        }
    }

    /// <inheritdoc/>
    public void Abort() => End(null);

    /// <summary>
    /// The child exited: nobody will read what is left. Closes an idle pipe; a pipe still holding
    /// bytes ends with a broken-pipe error, as a write would have.
    /// </summary>
    public void OnChildExited()
    {
        if (_lost)
        {
            return;
        }

        if (IsFlushing)
        {
            End(BrokenPipe());
        }
        else
        {
            _closing = true;
            End(null);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"<{GetType().Name} fd=0 buffered={Buffer.Size}{(_closing ? " closing" : "")}>";

    /// <summary>The error of a write to a pipe nobody reads [BrokenPipeError].</summary>
    protected static IOException BrokenPipe() => new("Broken pipe: the child no longer reads its stdin.", 32);

    /// <summary>What GetExtraInfo("pipe") returns.</summary>
    protected abstract object PipeObject { get; }

    /// <summary>Writes or buffers <paramref name="data"/> (not empty; the pipe is open).</summary>
    protected abstract void WriteCore(ReadOnlySpan<byte> data);

    /// <summary>Releases the descriptor or stream (and any writer registration).</summary>
    protected abstract void ReleasePipe();

    /// <summary>Drops the buffered bytes.</summary>
    protected virtual void DropBuffer() => Buffer.Clear();

    /// <summary>After bytes left the buffer: resumes the protocol, finishes a pending close.</summary>
    protected void AfterProgress()
    {
        if (_lost)
        {
            return;
        }

        if (_flow.ShouldResume(Buffer.Size))
        {
            Owner.OnStdinResume();
        }

        if (_closing && !IsFlushing)
        {
            End(null);
        }
    }

    /// <summary>Ends the pipe, dropping what is buffered. Idempotent.</summary>
    protected void End(Exception? exception)
    {
        if (_lost)
        {
            return;
        }

        _lost = true;
        _closing = true;
        DropBuffer();
        ReleasePipe();
        Owner.SchedulePipeLost(0, exception);
    }

    private void MaybePause()
    {
        if (!_lost && _flow.ShouldPause(Buffer.Size))
        {
            Owner.OnStdinPause();
        }
    }
}
