namespace Aio.Processes;

/// <summary>
/// A stdout/stderr pipe on the portable backend: the pipe's <see cref="Stream"/> (from
/// System.Diagnostics.Process) with one asynchronous read outstanding at a time. Its completion is
/// posted into the loop, which delivers the bytes from the transport's own buffer and starts the
/// next read only if reading is not paused: a paused reader stops the pump, and the child blocks on
/// a full pipe. Loop thread only (the read's completion merely posts).
/// </summary>
internal sealed class StreamReadPipeTransport : ReadPipeTransport
{
    private static readonly Action<object?> ReadDoneCallback = static state => ((StreamReadPipeTransport)state!).OnReadDone();

    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[MaxReadSize]; // not pooled: a read may outlive a close
    private bool _wanted;
    private bool _inFlight;
    private int _count;
    private Exception? _error;

    public StreamReadPipeTransport(IPipeOwner owner, int fd, Stream stream)
        : base(owner, fd)
    {
        _stream = stream;
    }

    protected override object PipeObject => _stream;

    protected override void StartReading()
    {
        _wanted = true;
        if (!_inFlight)
        {
            _inFlight = true;
            _ = ReadOnceAsync();
        }
    }

    protected override void StopReading() => _wanted = false;

    protected override void ReleasePipe() => _stream.Dispose();

    private async Task ReadOnceAsync()
    {
        try
        {
            _count = await _stream.ReadAsync(_buffer).ConfigureAwait(false);
            _error = null;
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or OperationCanceledException)
        {
            _count = 0;
            _error = exception;
        }

        _ = Loop.TryCallSoonThreadSafe(ReadDoneCallback, this);
    }

    private void OnReadDone()
    {
        _inFlight = false;
        if (IsLost)
        {
            return;
        }

        if (_error is { } error)
        {
            End(error as IOException ?? new IOException($"read from the child's fd {Fd} failed: {error.Message}", error));
            return;
        }

        if (_count == 0)
        {
            End(null);
            return;
        }

        Deliver(_buffer.AsSpan(0, _count));
        if (_wanted && !IsLost && !_inFlight)
        {
            _inFlight = true;
            _ = ReadOnceAsync();
        }
    }
}
