using Aio.Net;

namespace Aio.Processes;

/// <summary>
/// The stdin pipe on the portable backend: bytes are buffered on the loop thread and written by one
/// asynchronous write of the pipe's <see cref="Stream"/> at a time; its completion is posted into
/// the loop, which consumes the bytes and starts the next. Loop thread only.
/// </summary>
internal sealed class StreamWritePipeTransport : WritePipeTransport
{
    private static readonly Action<object?> WriteDoneCallback = static state => ((StreamWritePipeTransport)state!).OnWriteDone();

    private readonly Stream _stream;
    private bool _inFlight;
    private int _written;
    private Exception? _error;

    public StreamWritePipeTransport(IPipeOwner owner, Stream stream)
        : base(owner)
    {
        _stream = stream;
    }

    protected override object PipeObject => _stream;

    protected override bool IsFlushing => _inFlight || !Buffer.IsEmpty;

    protected override void WriteCore(ReadOnlySpan<byte> data)
    {
        Buffer.Append(data);
        if (!_inFlight)
        {
            StartWrite();
        }
    }

    protected override void ReleasePipe() => _stream.Dispose();

    protected override void DropBuffer()
    {
        if (_inFlight)
        {
            Buffer = new WriteBuffer(); // the write in flight still reads the old segments: let the GC have them
        }
        else
        {
            Buffer.Clear();
        }
    }

    private void StartWrite()
    {
        _inFlight = true;
        _ = WriteOnceAsync(Buffer.HeadMemory);
    }

    private async Task WriteOnceAsync(ReadOnlyMemory<byte> data)
    {
        try
        {
            await _stream.WriteAsync(data).ConfigureAwait(false);
            await _stream.FlushAsync().ConfigureAwait(false);
            _error = null;
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or OperationCanceledException)
        {
            _error = exception;
        }

        _written = data.Length;
        _ = Loop.TryCallSoonThreadSafe(WriteDoneCallback, this);
    }

    private void OnWriteDone()
    {
        _inFlight = false;
        if (IsLost)
        {
            return;
        }

        if (_error is not null)
        {
            End(BrokenPipe());
            return;
        }

        Buffer.Consume(_written);
        if (!Buffer.IsEmpty)
        {
            StartWrite();
        }

        AfterProgress();
    }
}
