// A System.IO.Stream over a stream pair (Streams.AsStream), so .NET code that speaks Stream —
// SslStream, System.IO.StreamReader, PipeReader.Create, parsers — can use an Aio connection.
//
// The stream is loop-affine like the pair. ReadAsync copies straight out of the reader's buffer when
// it holds bytes (a synchronously completed ValueTask, no allocation) and otherwise waits for data
// with an Aio await, so the wait belongs to the calling LoopTask and its cancellation reaches it.
// WriteAsync writes to the transport and drains; FlushAsync drains. Both complete synchronously
// unless the transport paused writing. Because every completion happens on the loop thread, code
// that awaits these with ConfigureAwait(false) (as SslStream and the pipelines do) resumes on the
// loop thread too — inline, as the awaited ValueTask completes — so it keeps using the stream from
// the right thread.
//
// Errors: a SocketException (a reset, a lost connection) becomes an IOException wrapping it, as
// NetworkStream does, since Stream consumers catch IOException. A read or drain cancelled through
// the CancellationToken passed to it throws an OperationCanceledException carrying that token.
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>A <see cref="Stream"/> over an <see cref="AsyncStreamReader"/> and an <see cref="AsyncStreamWriter"/>; see <see cref="Streams.AsStream"/>.</summary>
internal sealed class AsyncStreamAdapter(AsyncStreamReader? reader, AsyncStreamWriter? writer, bool leaveOpen) : Stream
{
    private const string SynchronousMessage =
        "This stream wraps an Aio connection: synchronous reads and writes would block the event loop. " +
        "Use ReadAsync/WriteAsync/FlushAsync from code running on the loop's thread.";

    private static readonly Action<object?> CancelFuture = static state => ((Future)state!).Cancel();

    private bool _disposed;

    /// <inheritdoc />
    public override bool CanRead => reader is not null && !_disposed;

    /// <inheritdoc />
    public override bool CanWrite => writer is not null && !_disposed;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException("A connection has no length.");

    /// <inheritdoc />
    public override long Position
    {
        get => throw new NotSupportedException("A connection has no position.");
        set => throw new NotSupportedException("A connection has no position.");
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException(SynchronousMessage);

    /// <inheritdoc />
    public override int Read(Span<byte> buffer) => throw new NotSupportedException(SynchronousMessage);

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException(SynchronousMessage);

    /// <inheritdoc />
    public override void Write(ReadOnlySpan<byte> buffer) => throw new NotSupportedException(SynchronousMessage);

    /// <summary>Does nothing: written bytes are with the transport already. FlushAsync waits for them to drain.</summary>
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A connection cannot seek.");

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException("A connection has no length.");

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>
    /// Reads what is buffered, up to <paramref name="buffer"/>'s length, or waits until something is;
    /// 0 at the end of the stream. A zero-length read waits for data without consuming it.
    /// </summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        AsyncStreamReader source = reader ?? throw new NotSupportedException("This stream was created without a reader: it is write-only.");
        CheckThread();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        if (source.Exception is { } failure)
        {
            return ValueTask.FromException<int>(Translate(failure));
        }

        if (source.BufferedCount > 0)
        {
            return new ValueTask<int>(source.ReadBuffered(buffer.Span));
        }

        return source.AtEof ? new ValueTask<int>(0) : WaitThenReadAsync(source, buffer, cancellationToken);
    }

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>Writes <paramref name="buffer"/> to the transport, then drains (<see cref="AsyncStreamWriter.DrainAsync"/>).</summary>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        AsyncStreamWriter target = writer ?? throw new NotSupportedException("This stream was created without a writer: it is read-only.");
        CheckThread();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        target.Write(buffer.Span);
        return DrainAsync(target, cancellationToken);
    }

    /// <summary>Waits for the transport's write buffer to drain below its high-water mark (<see cref="AsyncStreamWriter.DrainAsync"/>).</summary>
    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (writer is null)
        {
            return Task.CompletedTask;
        }

        CheckThread();
        return cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : DrainAsync(writer, cancellationToken).AsTask();
    }

    /// <summary>Closes the writer unless the stream was created to leave it open; does not wait for the close.</summary>
    protected override void Dispose(bool disposing)
    {
        if (!_disposed)
        {
            _disposed = true;
            if (disposing && !leaveOpen)
            {
                writer?.Close();
            }
        }

        base.Dispose(disposing);
    }

    private static ValueTask DrainAsync(AsyncStreamWriter target, CancellationToken cancellationToken)
    {
        Future drain = target.DrainAsync();
        return drain.IsCompletedSuccessfully ? ValueTask.CompletedTask : AwaitDrainAsync(target.Loop, drain, cancellationToken);
    }

    private static async ValueTask AwaitDrainAsync(EventLoop loop, Future drain, CancellationToken cancellationToken)
    {
        CancellationTokenRegistration registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(state => CancelOnLoop(loop, (Future)state!), drain)
            : default;
        try
        {
            await drain;
        }
        catch (CancelledError cancelled) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancelled.Message, cancelled, cancellationToken);
        }
        catch (SocketException failure)
        {
            throw Translate(failure);
        }
        finally
        {
            registration.Unregister();
        }
    }

    private static async ValueTask<int> WaitThenReadAsync(AsyncStreamReader source, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await source.WaitForDataAsync(cancellationToken);
        }
        catch (CancelledError cancelled) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancelled.Message, cancelled, cancellationToken);
        }
        catch (SocketException failure)
        {
            throw Translate(failure);
        }

        return source.ReadBuffered(buffer.Span);
    }

    private static void CancelOnLoop(EventLoop loop, Future future)
    {
        if (loop.IsOnLoopThread)
        {
            future.Cancel();
        }
        else
        {
            loop.TryCallSoonThreadSafe(CancelFuture, future);
        }
    }

    private static Exception Translate(Exception failure) =>
        failure is SocketException socketError ? new IOException(socketError.Message, socketError) : failure;

    /// <summary>The connection's loop is running on another thread: using the stream here would race it.</summary>
    private void CheckThread()
    {
        if (writer?.Loop is { IsRunning: true } loop && !loop.IsOnLoopThread)
        {
            throw new InvalidOperationException(
                "This stream belongs to an event loop running on another thread; use it from code running on that loop, or hand the call over with CallSoonThreadSafe.");
        }
    }
}
