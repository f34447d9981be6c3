// The in-memory stream an SslStream reads ciphertext from and writes ciphertext to (asyncio's
// MemoryBIO pair in SSLProtocol).
//
// Incoming: the socket transport's bytes are fed in (Feed) on the loop thread. A read that finds
// bytes buffered completes synchronously; one that finds none becomes the pending read, the source
// of the ValueTask it returned, and the next Feed copies into its buffer and completes it. That
// completion runs with no synchronization context current (as AsyncStreamAdapter does, for the same
// reason): SslStream awaits its inner stream with ConfigureAwait(false), and .NET runs such a
// continuation inline only when no non-default context is current — otherwise it would send
// SslStream's decryption, and everything after it, to the thread pool. So every step of the
// SslStream runs on the loop thread, inline, when its bytes arrive.
//
// Outgoing: a write hands the bytes to the TLS transport (WriteCiphertext), which writes them to
// the socket transport; it never waits (the socket transport buffers, and flow control is the TLS
// transport's business), so SslStream's writes complete synchronously.
//
// End: FeedEof makes reads return 0 once the buffer is empty; Fail makes them throw IOException.
// Loop thread only.
using System.Threading.Tasks.Sources;

namespace Aio.Net;

/// <summary>The ciphertext side of a <see cref="TlsTransport"/>: what its SslStream reads and writes. Loop thread only.</summary>
internal sealed class TlsWireStream(TlsTransport owner) : Stream, IValueTaskSource<int>
{
    private const string SynchronousMessage = "The TLS wire stream is asynchronous: it belongs to an event loop.";

    private readonly WriteBuffer _incoming = new();
    private ManualResetValueTaskSourceCore<int> _core;
    private Memory<byte> _pendingBuffer;
    private bool _readPending;
    private bool _eof;
    private Exception? _error;

    /// <summary>Ciphertext received and not yet read by the SslStream.</summary>
    public int BufferedCount => _incoming.Size;

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanWrite => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Adds received ciphertext; completes the pending read, if any (inline, see the file's comment).</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || _eof || _error is not null)
        {
            return;
        }

        if (!_readPending)
        {
            _incoming.Append(data);
            return;
        }

        int count = data.Length;
        if (!_pendingBuffer.IsEmpty)
        {
            count = Math.Min(_pendingBuffer.Length, data.Length);
            data[..count].CopyTo(_pendingBuffer.Span);
        }
        else
        {
            count = 0; // a zero-byte read only waits for data; it takes none
        }

        _incoming.Append(data[count..]);
        Complete(count, null);
    }

    /// <summary>The socket reached EOF: reads return 0 once the buffer is empty.</summary>
    public void FeedEof()
    {
        _eof = true;
        if (_readPending)
        {
            Complete(0, null);
        }
    }

    /// <summary>The connection is gone: drops the buffer; reads throw <see cref="IOException"/> from now on.</summary>
    public void Fail(Exception? exception)
    {
        _error ??= exception is IOException ? exception : new IOException(exception?.Message ?? "The connection was closed.", exception);
        _incoming.Clear();
        if (_readPending)
        {
            Complete(0, _error);
        }
    }

    /// <inheritdoc/>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_readPending)
        {
            return ValueTask.FromException<int>(new InvalidOperationException("Only one read at a time."));
        }

        if (!_incoming.IsEmpty)
        {
            int copied = 0;
            while (copied < buffer.Length && !_incoming.IsEmpty)
            {
                ReadOnlySpan<byte> head = _incoming.Head;
                int n = Math.Min(head.Length, buffer.Length - copied);
                head[..n].CopyTo(buffer.Span[copied..]);
                _incoming.Consume(n);
                copied += n;
            }

            owner.OnCiphertextConsumed();
            return new ValueTask<int>(copied);
        }

        if (_error is not null)
        {
            return ValueTask.FromException<int>(_error);
        }

        if (_eof)
        {
            return new ValueTask<int>(0);
        }

        _core.Reset();
        _readPending = true;
        _pendingBuffer = buffer;
        return new ValueTask<int>(this, _core.Version);
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            owner.WriteCiphertext(buffer.Span);
            return ValueTask.CompletedTask;
        }
        catch (IOException exception)
        {
            return ValueTask.FromException(exception);
        }
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException(SynchronousMessage);

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException(SynchronousMessage);

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        _incoming.Clear();
        base.Dispose(disposing);
    }

    /// <summary>Completes the pending read with no synchronization context current (see the file's comment).</summary>
    private void Complete(int count, Exception? failure)
    {
        _readPending = false;
        _pendingBuffer = default;
        SynchronizationContext? context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            if (failure is null)
            {
                _core.SetResult(count);
            }
            else
            {
                _core.SetException(failure);
            }
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }
}
