using System.Buffers;

namespace Aio.Net;

/// <summary>
/// Writes to a connection [asyncio.StreamWriter]: <see cref="Write"/> hands bytes to the transport
/// without waiting; <see cref="DrainAsync"/> waits while the transport's write buffer is above its
/// high-water mark, which is how a fast writer keeps its memory bounded. Get one from
/// <see cref="Streams.OpenConnectionAsync(string, int, int, CancellationToken)"/>, a <see cref="Streams.StartServerAsync"/> callback, or a
/// subprocess's <see cref="Aio.Processes.AsyncProcess.Stdin"/>.
/// <c>await using</c> closes the connection and waits until it is closed. Not thread-safe: use it on
/// its loop's thread only.
/// </summary>
public sealed partial class AsyncStreamWriter : IAsyncDisposable
{
    private readonly AsyncStreamReaderProtocol _protocol;
    private readonly AsyncStreamReader? _reader;

    internal AsyncStreamWriter(IWriteTransport transport, AsyncStreamReaderProtocol protocol, AsyncStreamReader? reader)
    {
        Transport = transport;
        _protocol = protocol;
        _reader = reader;
    }

    /// <summary>
    /// The transport underneath [writer.transport], for what the writer does not offer (abort,
    /// write-buffer limits): a connection's <see cref="ITransport"/>, or a subprocess's stdin pipe; after
    /// <see cref="StartTlsAsync(TlsClientOptions, CancellationToken)"/>, the TLS transport.
    /// </summary>
    public IWriteTransport Transport { get; private set; }

    /// <summary>Whether <see cref="WriteEof"/> is supported [writer.can_write_eof()].</summary>
    public bool CanWriteEof => Transport.CanWriteEof;

    /// <summary>Whether the connection is closing or closed [writer.is_closing()].</summary>
    public bool IsClosing => Transport.IsClosing;

    /// <summary>The reader of the same connection, if any (for diagnostics).</summary>
    internal AsyncStreamReader? Reader => _reader;

    /// <summary>The loop the connection belongs to.</summary>
    internal EventLoop Loop => _protocol.Closed.Loop;

    /// <summary>
    /// Queues <paramref name="data"/> for sending [writer.write]; never waits, copies what cannot be
    /// sent at once. Follow a burst of writes with <see cref="DrainAsync"/>. Writing to a closing
    /// connection is ignored, as asyncio's transport does.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="WriteEof"/> was called.</exception>
    public void Write(ReadOnlySpan<byte> data) => Transport.Write(data);

    /// <summary>
    /// Queues every buffer of <paramref name="data"/>, in order, as one write [writer.writelines].
    /// Despite the name nothing is added between them (no newlines).
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="WriteEof"/> was called.</exception>
    public void WriteLines(params IEnumerable<ReadOnlyMemory<byte>> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        ReadOnlyMemory<byte>[] parts = [.. data];
        long total = 0;
        foreach (ReadOnlyMemory<byte> part in parts)
        {
            total += part.Length;
        }

        if (parts.Length == 1 || total > Array.MaxLength)
        {
            foreach (ReadOnlyMemory<byte> part in parts)
            {
                Transport.Write(part.Span);
            }

            return;
        }

        byte[] joined = ArrayPool<byte>.Shared.Rent((int)total);
        try
        {
            int offset = 0;
            foreach (ReadOnlyMemory<byte> part in parts)
            {
                part.Span.CopyTo(joined.AsSpan(offset));
                offset += part.Length;
            }

            Transport.Write(joined.AsSpan(0, offset));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(joined);
        }
    }

    /// <summary>
    /// Closes the write side once the buffered data is sent [writer.write_eof()]; the peer reads the
    /// end of the stream while this side can still read.
    /// </summary>
    /// <exception cref="NotSupportedException">The transport cannot half-close (see <see cref="CanWriteEof"/>).</exception>
    public void WriteEof() => Transport.WriteEof();

    /// <summary>
    /// Closes the connection [writer.close()]: buffered data is sent first. Idempotent. Await
    /// <see cref="WaitClosedAsync"/> to know when it is closed.
    /// </summary>
    public void Close() => Transport.Close();

    /// <summary>
    /// Waits until the connection is closed [await writer.wait_closed()]: completes when the
    /// transport has reported the connection lost, and throws the connection's error if it ended
    /// with one. Each call returns its own future, so cancelling one wait leaves the others waiting.
    /// </summary>
    public Future WaitClosedAsync() => LoopTask.Shield(_protocol.Closed);

    /// <summary>Transport details by name [writer.get_extra_info(name, default)]: "peername", "sockname", "socket".</summary>
    /// <param name="name">The detail's name.</param>
    /// <param name="defaultValue">What to return when the transport does not know it.</param>
    public object? GetExtraInfo(string name, object? defaultValue = null) => Transport.GetExtraInfo(name) ?? defaultValue;

    /// <summary>
    /// Waits until it is appropriate to write again [await writer.drain()]: throws the reader's
    /// error if the connection failed; on a closing connection first yields one loop iteration so the
    /// connection's end can be reported; then throws <see cref="System.Net.Sockets.SocketException"/>
    /// ConnectionReset "Connection lost" if the connection is gone; completes at once unless the
    /// transport paused writing (its buffer is above the high-water mark), and otherwise when it
    /// resumes. Cancelling the awaiting task ends the wait with <see cref="CancelledError"/>.
    /// </summary>
    /// <returns>A future; an already completed one, shared, when there is nothing to wait for.</returns>
    public Future DrainAsync()
    {
        if (_reader?.Exception is { } failure)
        {
            var failed = new Future<bool>(Loop);
            failed.SetException(failure);
            return failed;
        }

        return Transport.IsClosing ? _protocol.DrainAfterYield() : _protocol.Drain();
    }

    /// <summary>Closes the connection and waits until it is closed; an error the connection ended with is not thrown.</summary>
    public async ValueTask DisposeAsync()
    {
        Close();
        try
        {
            await WaitClosedAsync();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The connection ended with an error; disposing is not the place to report it.
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        _reader is null ? $"<AsyncStreamWriter transport={Transport}>" : $"<AsyncStreamWriter transport={Transport} reader={_reader}>";
}
