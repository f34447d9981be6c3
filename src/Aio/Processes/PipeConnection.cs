// A pipe as a connection [loop.connect_read_pipe / connect_write_pipe]: one read or write pipe
// transport (the same ones a subprocess uses for its stdout and stdin) and the Protocol it feeds.
//
// Order, as asyncio's _UnixReadPipeTransport / _UnixWritePipeTransport: the constructor schedules
// ConnectionMade; then reading starts (a read pipe) and the creator's waiter completes. A read
// pipe's EOF calls EofReceived and then ConnectionLost(null); a Close calls only ConnectionLost.
// A write pipe hears PauseWriting/ResumeWriting from its buffer marks, and ConnectionLost once its
// pipe ended (after a close flushed, an abort, or a broken pipe: IOException).
//
// The protocol's ConnectionMade takes an ITransport, so the connection is one: the pipe's own
// direction forwards to the pipe transport, the other throws NotSupportedException (asyncio hands
// a ReadTransport or WriteTransport and Python's duck typing fails the same calls).
using Aio.Net;

namespace Aio.Processes;

/// <summary>A read or write pipe bound to a <see cref="Protocol"/>. Loop thread only.</summary>
internal sealed class PipeConnection : IPipeOwner, ITransport
{
    private static readonly Action<object?> StartCallback = static state => ((PipeConnection)state!).Start();

    private readonly Protocol _protocol;
    private readonly Future<bool> _made;
    private ReadPipeTransport? _read;
    private WritePipeTransport? _write;
    private bool _closeRequested;
    private bool _lost;

    private PipeConnection(EventLoop loop, Protocol protocol)
    {
        Loop = loop;
        _protocol = protocol;
        _made = new Future<bool>(loop);
    }

    /// <inheritdoc/>
    public EventLoop Loop { get; }

    /// <summary>Completes once ConnectionMade ran (fails with its exception).</summary>
    public Future<bool> Made => _made;

    /// <inheritdoc/>
    public bool IsClosing => _read?.IsClosing ?? _write!.IsClosing;

    /// <inheritdoc/>
    public bool IsReading => _read?.IsReading ?? false;

    /// <inheritdoc/>
    public bool CanWriteEof => _write is not null;

    /// <inheritdoc/>
    public int WriteBufferSize => _write?.WriteBufferSize ?? 0;

    /// <summary>Makes the connection of a read pipe; <paramref name="makePipe"/> builds its transport for this owner.</summary>
    public static PipeConnection ForRead(EventLoop loop, Protocol protocol, Func<IPipeOwner, ReadPipeTransport> makePipe)
    {
        var connection = new PipeConnection(loop, protocol);
        connection._read = makePipe(connection);
        loop.CallSoon(StartCallback, connection);
        return connection;
    }

    /// <summary>Makes the connection of a write pipe.</summary>
    public static PipeConnection ForWrite(EventLoop loop, Protocol protocol, Func<IPipeOwner, WritePipeTransport> makePipe)
    {
        var connection = new PipeConnection(loop, protocol);
        connection._write = makePipe(connection);
        loop.CallSoon(StartCallback, connection);
        return connection;
    }

    /// <inheritdoc/>
    public object? GetExtraInfo(string name) => _read?.GetExtraInfo(name) ?? _write!.GetExtraInfo(name);

    /// <inheritdoc/>
    public void PauseReading() => ReadSide().PauseReading();

    /// <inheritdoc/>
    public void ResumeReading() => ReadSide().ResumeReading();

    /// <inheritdoc/>
    public void Write(ReadOnlySpan<byte> data) => WriteSide().Write(data);

    /// <inheritdoc/>
    public void WriteEof() => WriteSide().WriteEof();

    /// <inheritdoc/>
    public void SetWriteBufferLimits(int? high = null, int? low = null) => WriteSide().SetWriteBufferLimits(high, low);

    /// <inheritdoc/>
    public (int Low, int High) GetWriteBufferLimits() => WriteSide().GetWriteBufferLimits();

    /// <inheritdoc/>
    public void Close()
    {
        _closeRequested = true;
        _read?.Close();
        _write?.Close();
    }

    /// <inheritdoc/>
    public void Abort()
    {
        _closeRequested = true;
        _read?.Close();
        _write?.Abort();
    }

    /// <summary>The pipe transport itself (what the creator's task returns).</summary>
    public IBaseTransport Pipe => (IBaseTransport?)_read ?? _write!;

    /// <inheritdoc/>
    public override string ToString() => $"<PipeConnection {Pipe}>";

    void IPipeOwner.OnPipeData(int fd, ReadOnlySpan<byte> data)
    {
        try
        {
            _protocol.DataReceived(data);
        }
        catch (Exception exception)
        {
            Report("Exception in protocol.DataReceived() of a read pipe", exception);
            _read?.Close();
        }
    }

    void IPipeOwner.SchedulePipeLost(int fd, Exception? exception) =>
        Loop.CallSoon(() =>
        {
            if (_lost)
            {
                return;
            }

            _lost = true;
            if (!_made.IsDone)
            {
                _made.SetException(exception ?? new IOException("The pipe was closed before the connection was made."));
                return; // the protocol never heard of it
            }

            if (_read is not null && exception is null && !_closeRequested)
            {
                Guard(static (protocol, _) => protocol.EofReceived(), "EofReceived");
            }

            try
            {
                _protocol.ConnectionLost(exception);
            }
            catch (Exception error)
            {
                Report("Exception in protocol.ConnectionLost() of a pipe", error);
            }
        });

    void IPipeOwner.OnStdinPause() => Guard(static (protocol, _) => protocol.PauseWriting(), "PauseWriting");

    void IPipeOwner.OnStdinResume() => Guard(static (protocol, _) => protocol.ResumeWriting(), "ResumeWriting");

    private void Start()
    {
        if (_lost || _made.IsCancelled)
        {
            return; // abandoned (closed or cancelled) before it started
        }

        try
        {
            _protocol.ConnectionMade(this);
        }
        catch (Exception exception)
        {
            if (!_made.IsDone)
            {
                _made.SetException(exception);
            }

            _lost = true; // the creator sees the exception; the protocol hears nothing more
            Close();
            return;
        }

        _read?.Start();
        _made.TrySetResult(true);
    }

    private ReadPipeTransport ReadSide() =>
        _read ?? throw new NotSupportedException("This is a write pipe: it cannot read (connect the other end with ConnectReadPipeAsync).");

    private WritePipeTransport WriteSide() =>
        _write ?? throw new NotSupportedException("This is a read pipe: it cannot be written (connect the other end with ConnectWritePipeAsync).");

    private void Guard(Action<Protocol, int> call, string name)
    {
        try
        {
            call(_protocol, 0);
        }
        catch (Exception exception)
        {
            Report($"Exception in protocol.{name}() of a pipe", exception);
        }
    }

    private void Report(string message, Exception exception) =>
        Loop.CallExceptionHandler(new ExceptionContext(message, exception) { Callback = this });
}
