using System.IO.Pipelines;

namespace Aio.Net;

/// <summary>
/// Connections as stream pairs [asyncio.open_connection, asyncio.start_server], and adapters that
/// let .NET code (parsers, <see cref="System.Net.Security.SslStream"/>, System.IO.Pipelines) use them.
/// Every method uses the loop running on the calling thread.
/// </summary>
public static partial class Streams
{
    /// <summary>
    /// Connects to <paramref name="host"/>:<paramref name="port"/> and returns the connection's reader
    /// and writer [asyncio.open_connection(host, port, limit=)]; see
    /// <see cref="Network.CreateConnectionAsync(Func{Protocol}, string, int, CancellationToken)"/> for how the host is resolved and connected.
    /// </summary>
    /// <param name="host">An IP literal or a host name.</param>
    /// <param name="port">The TCP port.</param>
    /// <param name="limit">The reader's line and chunk limit (<see cref="AsyncStreamReader.Limit"/>).</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the attempt is abandoned and nothing stays open or registered.</param>
    /// <returns>
    /// A task (already running) with the pair. It fails as <see cref="Network.CreateConnectionAsync(Func{Protocol}, string, int, CancellationToken)"/>
    /// does; cancelling it abandons the connection attempt and leaves nothing open.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not positive, or <paramref name="port"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> OpenConnectionAsync(
        string host,
        int port,
        int limit = AsyncStreamReader.DefaultLimit,
        CancellationToken cancellationToken = default) =>
        Open(host, port, limit, tls: null, cancellationToken);

    private static LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> Open(string host, int port, int limit, TlsClientOptions? tls, CancellationToken cancellationToken)
    {
        var reader = new AsyncStreamReader(limit);
        EventLoop loop = EventLoop.GetRunningLoop();
        var protocol = new AsyncStreamReaderProtocol(loop, reader);

        // The token cancels the connection attempt (one cancel request: the outer task then ends
        // with its CancelledError); the outer task is cancelled only by its own Cancel().
        LoopTask<(ITransport Transport, Protocol Protocol)> connecting = tls is null
            ? Network.CreateConnectionAsync(() => protocol, host, port, cancellationToken)
            : Network.CreateConnectionAsync(() => protocol, host, port, tls, cancellationToken);
        LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> opening = loop.CreateTask(
            async () =>
            {
                (ITransport transport, _) = await connecting;
                return (reader, new AsyncStreamWriter(transport, protocol, reader));
            },
            "open-connection",
            eager: true);

        // Cancelled after the connection was made but before the pair was handed over: nobody will
        // ever close it, so close it here.
        opening.AddDoneCallback(done =>
        {
            if (done.IsCancelled && connecting.IsCompletedSuccessfully)
            {
                connecting.Result.Transport.Close();
            }
        });
        return opening;
    }

    /// <summary>
    /// Starts a TCP server that calls <paramref name="clientConnected"/> with a reader and a writer for
    /// each connection [asyncio.start_server(client_connected_cb, host, port, limit=)]. The callback
    /// runs as a <see cref="LoopTask"/> of its own, started in the iteration after the connection was
    /// accepted. When it fails, the error goes to the loop's exception handler
    /// ("Unhandled exception in client_connected_cb") and the connection is closed; when it is
    /// cancelled, the connection is closed. It returning does not close the connection: close the
    /// writer.
    /// </summary>
    /// <param name="clientConnected">Serves one connection.</param>
    /// <param name="host">Where to listen; null or "" for all interfaces.</param>
    /// <param name="port">The TCP port; 0 picks a free one (see <see cref="Server.Sockets"/>).</param>
    /// <param name="limit">Each reader's line and chunk limit.</param>
    /// <param name="options">Backlog, address reuse, whether to start serving; null for defaults.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the sockets bound so far are closed.</param>
    /// <returns>A task (already running) with the server; see <see cref="Network.CreateServerAsync(Func{Protocol}, string?, int, ServerOptions?, CancellationToken)"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="clientConnected"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not positive, <paramref name="port"/> is out of range, or the backlog is below 1.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<Server> StartServerAsync(
        Func<AsyncStreamReader, AsyncStreamWriter, Task> clientConnected,
        string? host,
        int port,
        int limit = AsyncStreamReader.DefaultLimit,
        ServerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clientConnected);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        EventLoop loop = EventLoop.GetRunningLoop();
        return Network.CreateServerAsync(() => new AsyncStreamReaderProtocol(loop, new AsyncStreamReader(limit), clientConnected), host, port, options, cancellationToken);
    }

    /// <summary>
    /// Wraps a connection's reader and writer in a <see cref="Stream"/>, for .NET code that reads and
    /// writes streams. Its ReadAsync, WriteAsync and FlushAsync must be called on the loop's thread
    /// from code running on the loop (a <see cref="LoopTask"/>, a loop callback), and they complete
    /// there: ReadAsync returns the buffered bytes at once or waits for some; WriteAsync writes and
    /// then drains (<see cref="AsyncStreamWriter.DrainAsync"/>); FlushAsync drains. Awaits with
    /// <c>ConfigureAwait(false)</c> inside the code you hand the stream to (SslStream, StreamReader,
    /// pipelines) are fine: when an operation that had to wait completes, such continuations run
    /// inline on the loop thread (with no synchronization context current while they do), and
    /// awaits that captured the loop's context resume through it. Synchronous Read and Write throw
    /// <see cref="NotSupportedException"/> (they would block the loop); Flush does nothing (written
    /// bytes are with the transport already). A connection error surfaces as <see cref="IOException"/>
    /// wrapping the <see cref="System.Net.Sockets.SocketException"/>, as NetworkStream does;
    /// cancellation (a token, or the task's cancellation) as <see cref="CancelledError"/>, an
    /// <see cref="OperationCanceledException"/>. Disposing the stream closes the writer unless
    /// <paramref name="leaveOpen"/>; it does not wait for the close (await
    /// <see cref="AsyncStreamWriter.WaitClosedAsync"/> for that).
    /// </summary>
    /// <param name="reader">The reading side; null for a write-only stream.</param>
    /// <param name="writer">The writing side; null for a read-only stream.</param>
    /// <param name="leaveOpen">Whether disposing the stream leaves the connection open.</param>
    /// <exception cref="ArgumentException">Both <paramref name="reader"/> and <paramref name="writer"/> are null.</exception>
    public static Stream AsStream(AsyncStreamReader? reader, AsyncStreamWriter? writer, bool leaveOpen = false)
    {
        if (reader is null && writer is null)
        {
            throw new ArgumentException("Give a reader, a writer, or both.", nameof(reader));
        }

        return new AsyncStreamAdapter(reader, writer, leaveOpen);
    }

    /// <summary>
    /// Wraps a connection's reader and writer in an <see cref="IDuplexPipe"/> (System.IO.Pipelines),
    /// through <see cref="PipeReader.Create(Stream, StreamPipeReaderOptions?)"/> and
    /// <see cref="PipeWriter.Create(Stream, StreamPipeWriterOptions?)"/> over <see cref="AsStream"/>;
    /// the same rules apply: use the pipes on the loop's thread from code running on the loop.
    /// Completing the pipes does not close the connection: close the writer.
    /// </summary>
    /// <param name="reader">The reading side.</param>
    /// <param name="writer">The writing side.</param>
    public static IDuplexPipe AsDuplexPipe(AsyncStreamReader reader, AsyncStreamWriter writer)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(writer);
        Stream stream = new AsyncStreamAdapter(reader, writer, leaveOpen: true);
        return new DuplexPipe(
            PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true)),
            PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true)));
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
