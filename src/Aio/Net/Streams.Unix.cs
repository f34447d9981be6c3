namespace Aio.Net;

public static partial class Streams
{
    /// <summary>
    /// Connects to the Unix stream socket at <paramref name="path"/> and returns the connection's
    /// reader and writer [asyncio.open_unix_connection(path, limit=)]; see
    /// <see cref="Network.CreateUnixConnectionAsync"/> for the path rules.
    /// </summary>
    /// <param name="path">The socket's file path, or (Linux) an abstract name starting with NUL or '@'.</param>
    /// <param name="limit">The reader's line and chunk limit (<see cref="AsyncStreamReader.Limit"/>).</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: the attempt is abandoned and nothing stays open or registered.</param>
    /// <returns>A task (already running) with the pair; cancelling it leaves nothing open.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null, empty or too long.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> OpenUnixConnectionAsync(
        string path,
        int limit = AsyncStreamReader.DefaultLimit,
        CancellationToken cancellationToken = default)
    {
        var reader = new AsyncStreamReader(limit);
        EventLoop loop = EventLoop.GetRunningLoop();
        var protocol = new AsyncStreamReaderProtocol(loop, reader);
        LoopTask<(ITransport Transport, Protocol Protocol)> connecting = Network.CreateUnixConnectionAsync(() => protocol, path, cancellationToken);
        LoopTask<(AsyncStreamReader Reader, AsyncStreamWriter Writer)> opening = loop.CreateTask(
            async () =>
            {
                (ITransport transport, _) = await connecting;
                return (reader, new AsyncStreamWriter(transport, protocol, reader));
            },
            "open-unix-connection",
            eager: true);
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
    /// Starts a Unix stream socket server that calls <paramref name="clientConnected"/> with a reader
    /// and a writer for each connection [asyncio.start_unix_server(client_connected_cb, path, limit=)];
    /// the callback runs as in <see cref="StartServerAsync"/>, the path rules are
    /// <see cref="Network.CreateUnixServerAsync"/>'s.
    /// </summary>
    /// <param name="clientConnected">Serves one connection.</param>
    /// <param name="path">The socket's file path, or (Linux) an abstract name starting with NUL or '@'.</param>
    /// <param name="limit">Each reader's line and chunk limit.</param>
    /// <param name="options">Backlog, whether to start serving, whether to remove the file on close; null for defaults.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would; one already cancelled binds nothing.</param>
    /// <returns>A task (already running) with the server.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="clientConnected"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not positive, or the backlog is below 1.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null, empty or too long.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<Server> StartUnixServerAsync(
        Func<AsyncStreamReader, AsyncStreamWriter, Task> clientConnected,
        string path,
        int limit = AsyncStreamReader.DefaultLimit,
        UnixServerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clientConnected);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        EventLoop loop = EventLoop.GetRunningLoop();
        return Network.CreateUnixServerAsync(() => new AsyncStreamReaderProtocol(loop, new AsyncStreamReader(limit), clientConnected), path, options, cancellationToken);
    }
}
