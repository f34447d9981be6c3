// The reading end of a child's stdout or stderr [asyncio's _UnixReadPipeTransport], shared by both
// backends: the epoll subclass reads a non-blocking descriptor when the loop reports it readable;
// the portable subclass keeps one asynchronous read of the pipe's Stream outstanding and has its
// completion posted into the loop. Either way data reaches the owner on the loop thread.
//
// Flow control: PauseReading stops asking for data (the epoll reader is removed; the portable pump
// does not start its next read), so a child that writes faster than its reader consumes blocks in
// write(2) once the kernel's pipe buffer is full, and our memory stays bounded by the stream
// reader's limit. The end (EOF, a close, an error) is reported once, from its own callback, after
// the descriptor was released.
using Aio.Net;

namespace Aio.Processes;

/// <summary>A child's stdout or stderr pipe as an <see cref="IReadTransport"/>. Loop thread only.</summary>
internal abstract class ReadPipeTransport : IReadTransport
{
    /// <summary>The most bytes one read delivers.</summary>
    protected const int MaxReadSize = 64 * 1024;

    private bool _paused;
    private bool _started;
    private bool _closing;
    private bool _lost;

    protected ReadPipeTransport(IPipeOwner owner, int fd)
    {
        Owner = owner;
        Fd = fd;
    }

    /// <summary>The child's descriptor number this pipe is connected to (1 or 2).</summary>
    public int Fd { get; }

    /// <summary>Whether the end was reported (or scheduled).</summary>
    public bool IsLost => _lost;

    /// <inheritdoc/>
    public bool IsClosing => _closing;

    /// <inheritdoc/>
    public bool IsReading => !_paused && !_closing;

    protected IPipeOwner Owner { get; }

    protected EventLoop Loop => Owner.Loop;

    /// <inheritdoc/>
    public object? GetExtraInfo(string name) => name == "pipe" ? PipeObject : null;

    /// <summary>Starts delivering (unless paused); called once the protocol heard ConnectionMade.</summary>
    public void Start()
    {
        _started = true;
        if (!_paused && !_closing)
        {
            StartReading();
        }
    }

    /// <inheritdoc/>
    public void PauseReading()
    {
        if (_closing || _paused)
        {
            return;
        }

        _paused = true;
        if (_started)
        {
            StopReading();
        }
    }

    /// <inheritdoc/>
    public void ResumeReading()
    {
        if (_closing || !_paused)
        {
            return;
        }

        _paused = false;
        if (_started)
        {
            StartReading();
        }
    }

    /// <inheritdoc/>
    /// <remarks>Data not read yet is dropped; the owner hears the pipe's end with null.</remarks>
    public void Close() => End(null);

    /// <inheritdoc/>
    public override string ToString() => $"<{GetType().Name} fd={Fd}{(_closing ? " closing" : "")}{(_paused ? " paused" : "")}>";

    /// <summary>What GetExtraInfo("pipe") returns: the descriptor's handle or the stream.</summary>
    protected abstract object PipeObject { get; }

    /// <summary>Begins (or resumes) reading.</summary>
    protected abstract void StartReading();

    /// <summary>Stops reading; data stays in the kernel's pipe buffer.</summary>
    protected abstract void StopReading();

    /// <summary>Releases the descriptor or stream (reading was stopped first).</summary>
    protected abstract void ReleasePipe();

    /// <summary>Hands bytes to the owner (and so to the protocol).</summary>
    protected void Deliver(ReadOnlySpan<byte> data)
    {
        if (!_closing)
        {
            Owner.OnPipeData(Fd, data);
        }
    }

    /// <summary>Ends the pipe: EOF or a close (null) or a read error. Idempotent.</summary>
    protected void End(Exception? exception)
    {
        if (_lost)
        {
            return;
        }

        _lost = true;
        _closing = true;
        if (_started && !_paused)
        {
            StopReading();
        }

        ReleasePipe();
        Owner.SchedulePipeLost(Fd, exception);
    }
}
