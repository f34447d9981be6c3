// A listening server (asyncio.Server and the selector loop's accept path).
//
// States. A server owns its listening sockets from creation until Close. It is bound at creation;
// it listens and accepts only while serving (StartServing, or ServeForeverAsync). Close stops
// listening and disposes the listening sockets, but leaves the accepted connections alone: each
// transport stays attached to the server until its ConnectionLost has run. WaitClosedAsync
// completes once BOTH are true — the server is closed and no connection is attached — in either
// order (asyncio 3.12.1's rule); once that has happened, later waits complete at once.
//
// Accepting, epoll backend. Each listening socket has a level-triggered reader. On readiness the server accepts
// up to Backlog connections in one callback: the first accept is expected to succeed (the socket
// was reported readable); before each further one a zero-timeout poll asks whether another
// connection is waiting, so an emptied queue costs one poll instead of a thrown SocketException.
// Each accepted socket is made non-blocking, given a protocol from the factory and wrapped in a
// SocketTransport at once, on the loop thread (no task per connection).
//
// Accepting, portable backend (completion-based, asyncio's proactor _start_serving). Each listening
// socket keeps one AcceptAsync pending in the socket engine (a SocketCompletion, reused); its
// completion runs on the loop thread, takes the connection as above and starts the next accept.
// Accepts that complete at once are taken in the same callback, up to Backlog; past that the next
// accept waits for the next iteration, so a flood of connections never starves the loop. Closing
// the server disposes the listening socket, which aborts the pending accept; its completion then
// only releases the operation (and closes a connection that raced in).
//
// Accept failures never become a busy loop. An empty queue (EAGAIN), a connection the peer aborted
// before we took it (ECONNABORTED) or an interrupted call are ignored. Running out of descriptors
// or kernel memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) is reported to the loop's exception handler
// ("socket.accept() out of system resource", as asyncio) — and since a level-triggered listener
// with connections queued stays readable, its reader is removed and re-installed one second later
// (a timer), instead of failing again on every iteration. Any other accept error is reported and
// backs off the same way. A protocol factory that throws is reported and the accepted socket
// closed; the server goes on.
using System.Collections.ObjectModel;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// A TCP or Unix socket server [asyncio.Server], made by <see cref="Network.CreateServerAsync(Func{Protocol}, string?, int, ServerOptions?, CancellationToken)"/>
/// or <see cref="Network.CreateUnixServerAsync"/>.
/// Loop thread only. <c>await using</c> closes it and waits for its connections to end.
/// </summary>
public sealed class Server : IAsyncDisposable
{
    /// <summary>How long the listener rests after an accept failure [asyncio ACCEPT_RETRY_DELAY].</summary>
    internal static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromSeconds(1);

    private readonly Func<Protocol> _protocolFactory;
    private readonly int _backlog;
    private readonly TlsServerOptions? _tls;
    private readonly HashSet<SocketTransport> _clients = [];
    private Listener[]? _listeners;
    private ReadOnlyCollection<Socket> _sockets;
    private List<ValuelessFuture>? _closeWaiters = [];
    private Future<bool>? _servingForever;
    private Action? _afterClose;
    private bool _serving;

    internal Server(EventLoop loop, IReadOnlyList<Socket> sockets, Func<Protocol> protocolFactory, int backlog, TlsServerOptions? tls = null)
    {
        _tls = tls;
        Loop = loop;
        _protocolFactory = protocolFactory;
        _backlog = backlog;
        _listeners = [.. sockets.Select(socket => new Listener(this, socket))];
        _sockets = new ReadOnlyCollection<Socket>([.. sockets]);
    }

    /// <summary>The loop the server runs on [server.get_loop()].</summary>
    public EventLoop Loop { get; }

    /// <summary>
    /// The listening sockets [server.sockets]; empty once the server is closed. Use them for their
    /// <see cref="Socket.LocalEndPoint"/> (the port picked for port 0); do not read from or close them.
    /// </summary>
    public IReadOnlyList<Socket> Sockets => _sockets;

    /// <summary>Whether the server listens and accepts connections [server.is_serving()].</summary>
    public bool IsServing => _serving;

    /// <summary>The number of accepted connections whose ConnectionLost has not run yet.</summary>
    public int ClientCount => _clients.Count;

    /// <summary>
    /// Starts listening and accepting [server.start_serving()]; returns at once (connections are
    /// accepted by loop callbacks). Idempotent while serving. Loop thread only.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server is closed.</exception>
    /// <exception cref="SocketException">listen() failed.</exception>
    public void StartServing()
    {
        Listener[] listeners = _listeners ?? throw new InvalidOperationException($"{this} is closed; create a new server.");
        if (_serving)
        {
            return;
        }

        _serving = true;
        foreach (Listener listener in listeners)
        {
            listener.Socket.Listen(_backlog);
            listener.Resume();
        }
    }

    /// <summary>
    /// Serves until cancelled [server.serve_forever()]: starts serving if needed, then waits.
    /// Cancelling the returned task closes the server and waits for its connections to end before
    /// the task ends cancelled; <see cref="Close"/> ends it the same way, and so does
    /// <paramref name="cancellationToken"/> (a hosted service's stopping token, say). Loop thread only.
    /// </summary>
    /// <param name="cancellationToken">Cancels the returned task, as <see cref="Future.Cancel"/> on it would.</param>
    /// <exception cref="InvalidOperationException">The server is closed, or another ServeForeverAsync is running.</exception>
    public LoopTask ServeForeverAsync(CancellationToken cancellationToken = default)
    {
        if (_servingForever is not null)
        {
            throw new InvalidOperationException($"{this} is already being served by ServeForeverAsync().");
        }

        if (_listeners is null)
        {
            throw new InvalidOperationException($"{this} is closed; create a new server.");
        }

        StartServing();
        var forever = new Future<bool>(Loop);
        _servingForever = forever;
        LoopTask serving = Loop.CreateTask(
            async () =>
            {
                try
                {
                    await forever;
                }
                catch (CancelledError)
                {
                    Close();
                    await WaitClosedAsync();
                    throw;
                }
                finally
                {
                    if (ReferenceEquals(_servingForever, forever))
                    {
                        _servingForever = null;
                    }
                }
            },
            "serve-forever",
            eager: true);
        CancellationLink.Link(serving, cancellationToken);
        return serving;
    }

    /// <summary>
    /// Stops listening and closes the listening sockets [server.close()]; accepted connections stay
    /// open (see <see cref="CloseClients"/>). A running <see cref="ServeForeverAsync"/> ends.
    /// Idempotent. Loop thread only.
    /// </summary>
    public void Close()
    {
        Listener[]? listeners = _listeners;
        if (listeners is null)
        {
            return;
        }

        _listeners = null;
        _sockets = ReadOnlyCollection<Socket>.Empty;
        foreach (Listener listener in listeners)
        {
            listener.Stop();
            listener.Socket.Dispose();
        }

        Action? afterClose = _afterClose;
        _afterClose = null;
        afterClose?.Invoke();
        _serving = false;
        if (_servingForever is { IsDone: false } forever)
        {
            forever.Cancel();
        }

        _servingForever = null;
        if (_clients.Count == 0)
        {
            WakeCloseWaiters();
        }
    }

    /// <summary>
    /// Completes once the server is closed and every connection it accepted has ended
    /// [server.wait_closed()], whichever comes last; at once if that already happened. Awaiting it
    /// does not close anything. Loop thread only.
    /// </summary>
    public Future WaitClosedAsync()
    {
        var waiter = new ValuelessFuture(Loop);
        if (_closeWaiters is null)
        {
            waiter.TrySucceed();
        }
        else
        {
            _closeWaiters.Add(waiter);
        }

        return waiter;
    }

    /// <summary>Closes every accepted connection, flushing what they buffered [server.close_clients()]. Loop thread only.</summary>
    public void CloseClients()
    {
        foreach (SocketTransport client in _clients.ToArray())
        {
            client.Close();
        }
    }

    /// <summary>Aborts every accepted connection, dropping what they buffered [server.abort_clients()]. Loop thread only.</summary>
    public void AbortClients()
    {
        foreach (SocketTransport client in _clients.ToArray())
        {
            client.Abort();
        }
    }

    /// <summary>
    /// <see cref="Close"/>, then waits for <see cref="WaitClosedAsync"/> [async with server]. Call on
    /// the loop thread; the wait is a .NET task that resumes on the loop.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        Close();
        Future closed = WaitClosedAsync();
        return closed.IsDone ? ValueTask.CompletedTask : new ValueTask(closed.AsTask());
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"<Server sockets=[{string.Join(", ", (_listeners ?? []).Select(listener => listener.Name))}] serving={_serving} clients={_clients.Count}>";

    /// <summary>Runs <paramref name="cleanup"/> once the listening sockets are closed (a Unix server removes its socket file).</summary>
    internal void AddCloseCleanup(Action cleanup) => _afterClose += cleanup;

    /// <summary>A transport for one of our connections was created.</summary>
    internal void Attach(SocketTransport transport) => _clients.Add(transport);

    /// <summary>A connection's ConnectionLost has run.</summary>
    internal void Detach(SocketTransport transport)
    {
        _clients.Remove(transport);
        if (_clients.Count == 0 && _listeners is null)
        {
            WakeCloseWaiters();
        }
    }

    private static bool IsOutOfResources(SocketException exception) =>
        exception.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable
        || exception.NativeErrorCode is Errno.EMFILE or Errno.ENFILE or Errno.ENOBUFS or Errno.ENOMEM;

    private void WakeCloseWaiters()
    {
        List<ValuelessFuture>? waiters = _closeWaiters;
        _closeWaiters = null;
        if (waiters is not null)
        {
            foreach (ValuelessFuture waiter in waiters)
            {
                waiter.TrySucceed();
            }
        }
    }

    private void Accept(Listener listener)
    {
        Socket socket = listener.Socket;
        for (int i = 0; i < _backlog; i++)
        {
            Socket connection;
            try
            {
                if (i > 0 && !socket.Poll(0, SelectMode.SelectRead))
                {
                    return;
                }

                connection = socket.Accept();
            }
            catch (SocketException exception) when (exception.SocketErrorCode is SocketError.WouldBlock or SocketError.TryAgain
                or SocketError.ConnectionAborted or SocketError.Interrupted)
            {
                return; // the queue is empty, or the peer gave up before we took its connection
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                string message = exception is SocketException failure && IsOutOfResources(failure)
                    ? "socket.accept() out of system resource"
                    : "Error on accept() of a server socket";
                Loop.CallExceptionHandler(new ExceptionContext($"{message}\nsocket: {listener.Name}\nserver: {this}", exception));
                listener.BackOff();
                return;
            }

            OnAccepted(connection);
        }
    }

    /// <summary>
    /// Portable: what a finished AcceptAsync means. True when the next accept may start now; false
    /// when the listener stopped, backed off, or must wait for the next iteration.
    /// </summary>
    private bool OnAcceptCompleted(Listener listener, SocketCompletion accept)
    {
        Socket? connection = accept.AcceptSocket;
        accept.AcceptSocket = null;
        SocketError error = accept.SocketError;
        if (error == SocketError.Success && connection is not null)
        {
            OnAccepted(connection);
            return true;
        }

        connection?.Dispose();
        if (error is SocketError.WouldBlock or SocketError.TryAgain or SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.Interrupted)
        {
            return true; // the peer gave up before we took its connection
        }

        if (error == SocketError.OperationAborted && listener.Socket.SafeHandle.IsClosed)
        {
            return false; // closed under a pending accept
        }

        var failure = new SocketException((int)error);
        string message = IsOutOfResources(failure) ? "socket.accept() out of system resource" : "Error on accept() of a server socket";
        Loop.CallExceptionHandler(new ExceptionContext($"{message}\nsocket: {listener.Name}\nserver: {this}", failure));
        listener.BackOff();
        return false;
    }

    private void OnAccepted(Socket connection)
    {
        Protocol protocol;
        try
        {
            connection.Blocking = false;
            protocol = _protocolFactory() ?? throw new InvalidOperationException("The protocol factory returned null.");
        }
        catch (Exception exception)
        {
            connection.Dispose();
            Loop.CallExceptionHandler(new ExceptionContext($"Error on transport creation for incoming connection\nserver: {this}", exception));
            return;
        }

        if (_tls is not null)
        {
            TlsTransport.Accept(Loop, connection, protocol, _tls, this);
        }
        else
        {
            _ = new SocketTransport(Loop, connection, protocol, waiter: null, server: this);
        }
    }

    /// <summary>One listening socket and its reader (epoll) or its pending accept (portable).</summary>
    private sealed class Listener
    {
        private static readonly Action<SocketCompletion> AcceptCompleted = static accept => ((Listener)accept.UserToken!).OnAcceptCompleted(accept);
        private static readonly Action<object?> AcceptLater = static state => ((Listener)state!).AcceptNext();

        private readonly Server _server;
        private readonly Action _onReadable;
        private readonly Action _retry;
        private readonly bool _completion;
        private SocketCompletion? _accept;
        private TimerHandle? _retryTimer;
        private bool _readerInstalled;  // epoll: the reader is installed; portable: accepting

        public Listener(Server server, Socket socket)
        {
            _server = server;
            Socket = socket;
            Name = socket.LocalEndPoint?.ToString() ?? "(unbound)";
            _completion = server.Loop.Backend == LoopBackend.Portable;
            _onReadable = () => _server.Accept(this);
            _retry = () =>
            {
                _retryTimer = null;
                if (_server._serving)
                {
                    Resume();
                }
            };
        }

        public Socket Socket { get; }

        /// <summary>The bound address, for reports (the socket may be closed by then).</summary>
        public string Name { get; }

        public void Resume()
        {
            if (!_readerInstalled && _retryTimer is null)
            {
                _readerInstalled = true;
                if (_completion)
                {
                    AcceptNext();
                }
                else
                {
                    _server.Loop.AddReader(Socket, _onReadable);
                }
            }
        }

        /// <summary>Stops accepting for <see cref="AcceptRetryDelay"/>.</summary>
        public void BackOff()
        {
            RemoveReader();
            _retryTimer ??= _server.Loop.CallLater(AcceptRetryDelay, _retry);
        }

        public void Stop()
        {
            _retryTimer?.Cancel();
            _retryTimer = null;
            RemoveReader();
        }

        private void RemoveReader()
        {
            if (_readerInstalled)
            {
                _readerInstalled = false;
                if (!_completion)
                {
                    _server.Loop.RemoveReader(Socket);
                }
                else if (_accept is { IsPending: false })
                {
                    _accept.Dispose();
                    _accept = null;
                }
            }
        }

        /// <summary>Portable: starts accepts until one is pending (at most Backlog completing at once).</summary>
        private void AcceptNext()
        {
            for (int taken = 0; _readerInstalled && !Socket.SafeHandle.IsClosed; taken++)
            {
                _accept ??= new SocketCompletion(_server.Loop, AcceptCompleted, this);
                if (_accept.IsPending)
                {
                    return;
                }

                if (taken == _server._backlog)
                {
                    _server.Loop.CallSoon(AcceptLater, this); // let the loop breathe
                    return;
                }

                try
                {
                    if (_accept.StartAccept(Socket))
                    {
                        return;
                    }
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                if (!_server.OnAcceptCompleted(this, _accept))
                {
                    return;
                }
            }
        }

        private void OnAcceptCompleted(SocketCompletion accept)
        {
            if (!_readerInstalled)
            {
                accept.AcceptSocket?.Dispose(); // a connection that raced the close
                accept.Dispose();
                if (ReferenceEquals(_accept, accept))
                {
                    _accept = null;
                }

                return;
            }

            if (_server.OnAcceptCompleted(this, accept))
            {
                AcceptNext();
            }
        }
    }

    /// <summary>Linux errno values that mean "out of resources" (SocketError has no name for some).</summary>
    private static class Errno
    {
        public const int ENOMEM = 12;
        public const int ENFILE = 23;
        public const int EMFILE = 24;
        public const int ENOBUFS = 105;
    }
}
