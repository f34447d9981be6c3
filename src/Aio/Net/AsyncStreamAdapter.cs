// A System.IO.Stream over a stream pair (Streams.AsStream), so .NET code that speaks Stream —
// SslStream, System.IO.StreamReader, PipeReader.Create, parsers — can use an Aio connection.
//
// The stream is loop-affine like the pair. ReadAsync copies straight out of the reader's buffer when
// it holds bytes (a synchronously completed ValueTask, no allocation) and otherwise waits for data
// with an Aio await, so the wait belongs to the calling LoopTask and its cancellation reaches it.
// WriteAsync writes to the transport and drains; FlushAsync drains. Both complete synchronously
// unless the transport paused writing.
//
// The thread the consumer resumes on is the crux. Library code awaits streams with
// ConfigureAwait(false), through several levels of its own async methods. .NET never runs such a
// continuation inline while a non-default SynchronizationContext is current — and the loop's is,
// in every loop callback — so it would send each one to the thread pool, and the consumer would
// call the stream again from a pool thread. So a wait that did not complete at once is the source
// of the returned ValueTask (ReadCompletion, DrainCompletion: ManualResetValueTaskSourceCore, one
// per stream, reused), and it is completed with the synchronization context cleared for the
// duration of the call: the consumer's whole chain of ConfigureAwait(false) continuations then
// runs inline, on the loop thread, until it reaches its next wait; a continuation that captured the
// loop's context is posted to it as usual. The Task-returning overloads are the same ValueTasks'
// AsTask(), completed the same way.
//
// Errors: a SocketException (a reset, a lost connection) becomes an IOException wrapping it, as
// NetworkStream does, since Stream consumers catch IOException. A read or drain cancelled through
// the CancellationToken passed to it throws an OperationCanceledException carrying that token; one
// cancelled by its task's cancellation throws CancelledError.
using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Aio.Net;

/// <summary>A <see cref="Stream"/> over an <see cref="AsyncStreamReader"/> and an <see cref="AsyncStreamWriter"/>; see <see cref="Streams.AsStream"/>.</summary>
internal sealed class AsyncStreamAdapter(AsyncStreamReader? reader, AsyncStreamWriter? writer, bool leaveOpen) : Stream
{
    private const string SynchronousMessage =
        "This stream wraps an Aio connection: synchronous reads and writes would block the event loop. " +
        "Use ReadAsync/WriteAsync/FlushAsync from code running on the loop's thread.";

    private ReadCompletion? _read;
    private DrainCompletion? _drain;
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

        if (source.AtEof)
        {
            return new ValueTask<int>(0);
        }

        ReadCompletion completion = _read is { IsBusy: false } idle ? idle : _read = new ReadCompletion();
        return completion.Start(source, buffer, cancellationToken);
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

    private ValueTask DrainAsync(AsyncStreamWriter target, CancellationToken cancellationToken)
    {
        Future drain = target.DrainAsync();
        if (drain.IsCompletedSuccessfully)
        {
            return ValueTask.CompletedTask;
        }

        DrainCompletion completion = _drain is { IsBusy: false } idle ? idle : _drain = new DrainCompletion();
        return completion.Start(target.Loop, drain, cancellationToken);
    }

    /// <summary>
    /// Completes a waiting operation's ValueTask with no synchronization context current: the
    /// continuations that do not ask for a context (ConfigureAwait(false), as in SslStream, StreamReader
    /// and the pipelines, at every level of their own async methods) then run inline, on the loop
    /// thread, instead of .NET sending each to the thread pool because the loop's context is current.
    /// Continuations that captured the loop's context are posted to it as usual.
    /// </summary>
    private static void CompleteWithoutContext<T>(ref ManualResetValueTaskSourceCore<T> core, T result, Exception? failure)
    {
        SynchronizationContext? context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            if (failure is null)
            {
                core.SetResult(result);
            }
            else
            {
                core.SetException(failure);
            }
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }

    /// <summary>What a failed wait becomes for Stream consumers.</summary>
    private static Exception TranslateFailure(Exception failure, CancellationToken cancellationToken) => failure switch
    {
        CancelledError cancelled when cancellationToken.IsCancellationRequested => new OperationCanceledException(cancelled.Message, cancelled, cancellationToken),
        _ => Translate(failure),
    };

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

    /// <summary>
    /// A read that waits for data, as the source of the ValueTask that ReadAsync returns: when the
    /// reader has data, the bytes are copied and the awaiting code resumes inline, on the loop thread
    /// (or through the context it captured, if it did). One per stream, reused; a second is made only
    /// while the first's result has not been taken.
    /// </summary>
    private sealed class ReadCompletion : IValueTaskSource<int>
    {
        private readonly Action _onReady;
        private ManualResetValueTaskSourceCore<int> _core;
        private AsyncStreamReadAwaitable.Awaiter _awaiter;
        private AsyncStreamReader? _reader;
        private Memory<byte> _buffer;
        private CancellationToken _token;

        public ReadCompletion() => _onReady = OnReady;

        public bool IsBusy { get; private set; }

        public ValueTask<int> Start(AsyncStreamReader reader, Memory<byte> buffer, CancellationToken cancellationToken)
        {
            AsyncStreamReadAwaitable.Awaiter awaiter = reader.WaitForDataAsync(cancellationToken).GetAwaiter();
            IsBusy = true;
            _core.Reset();
            _awaiter = awaiter;
            _reader = reader;
            _buffer = buffer;
            _token = cancellationToken;
            short version = _core.Version;
            if (awaiter.IsCompleted)
            {
                OnReady();
            }
            else
            {
                awaiter.UnsafeOnCompleted(_onReady);
            }

            return new ValueTask<int>(this, version);
        }

        public int GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                IsBusy = false;
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        private void OnReady()
        {
            AsyncStreamReadAwaitable.Awaiter awaiter = _awaiter;
            AsyncStreamReader reader = _reader!;
            Memory<byte> buffer = _buffer;
            CancellationToken token = _token;
            _awaiter = default;
            _reader = null;
            _buffer = default;
            _token = default;
            int count = 0;
            Exception? error = null;
            try
            {
                awaiter.GetResult();
                count = reader.ReadBuffered(buffer.Span);
            }
            catch (Exception failure)
            {
                error = TranslateFailure(failure, token);
            }

            CompleteWithoutContext(ref _core, count, error);
        }
    }

    /// <summary>A drain that waits, as the source of the ValueTask that WriteAsync and FlushAsync return; see <see cref="ReadCompletion"/>.</summary>
    private sealed class DrainCompletion : IValueTaskSource
    {
        private static readonly Action<object?> CancelFuture = static state => ((Future)state!).Cancel();

        private readonly Action _onReady;
        private ManualResetValueTaskSourceCore<int> _core;
        private Future? _drain;
        private CancellationToken _token;
        private CancellationTokenRegistration _registration;

        public DrainCompletion() => _onReady = OnReady;

        public bool IsBusy { get; private set; }

        public ValueTask Start(EventLoop loop, Future drain, CancellationToken cancellationToken)
        {
            IsBusy = true;
            _core.Reset();
            _drain = drain;
            _token = cancellationToken;
            short version = _core.Version;
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(
                    state =>
                    {
                        var future = (Future)state!;
                        if (loop.IsOnLoopThread)
                        {
                            future.Cancel();
                        }
                        else
                        {
                            loop.TryCallSoonThreadSafe(CancelFuture, future);
                        }
                    },
                    drain);
            }

            FutureAwaiter awaiter = drain.GetAwaiter();
            if (awaiter.IsCompleted)
            {
                OnReady();
            }
            else
            {
                awaiter.UnsafeOnCompleted(_onReady);
            }

            return new ValueTask(this, version);
        }

        public void GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                IsBusy = false;
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        private void OnReady()
        {
            Future drain = _drain!;
            CancellationToken token = _token;
            _drain = null;
            _token = default;
            _registration.Unregister();
            _registration = default;
            Exception? error = null;
            try
            {
                drain.GetAwaiter().GetResult();
            }
            catch (Exception failure)
            {
                error = TranslateFailure(failure, token);
            }

            CompleteWithoutContext(ref _core, 0, error);
        }
    }
}
