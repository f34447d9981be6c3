// A TLS transport layered over a socket transport (asyncio's SSLProtocol with its
// _SSLProtocolTransport), with .NET's SslStream as the TLS engine.
//
// Layers. The socket transport (SocketTransport) carries ciphertext; its protocol is this
// transport's TlsWireProtocol, which feeds what arrives into a TlsWireStream (asyncio's incoming
// MemoryBIO) and reports EOF, loss and the socket's flow control here. An SslStream reads that
// stream and writes its records through WriteCiphertext to the socket transport. The application's
// protocol sees only this transport and plaintext: ConnectionMade after the handshake (not at all for
// StartTlsAsync, whose protocol was made already), then DataReceived / BufferUpdated, at most one
// EofReceived, and ConnectionLost exactly once, from the socket transport's own ConnectionLost
// callback.
//
// Threads. Nothing here leaves the loop thread. The wire stream completes the SslStream's pending
// read inline, with no synchronization context current (see TlsWireStream), so the SslStream
// decrypts inline when ciphertext arrives; its writes complete synchronously. This transport hooks
// the SslStream's handshake, read, write and shutdown operations with ConfigureAwait(false)
// continuations, which therefore also run inline; OnLoop puts the loop's context back for the
// duration of the application's callbacks (and, should an operation ever complete on another
// thread, posts the step to the loop instead).
//
// States (asyncio's SSLProtocolState): Handshaking → Open → ShuttingDown → Closed.
//   Handshaking: a timer (HandshakeTimeout) aborts the connection with a TimeoutException. A failed
//     handshake aborts it too; the creator's waiter gets the error; on the server side (no waiter)
//     the loop's exception handler hears of it, unless the client simply went away. Close here aborts.
//   Open: reads are issued while the application reads; decrypted bytes that arrive after it paused
//     are held until it resumes. Ciphertext piles up in the wire stream meanwhile, and above 256 KiB
//     the socket stops reading (asyncio's SSL read high-water mark), so memory stays bounded.
//   ShuttingDown (Close, or the peer's close_notify/EOF): plaintext still queued is encrypted, then
//     close_notify is sent, then the peer's close_notify (or EOF) is awaited, reading and dropping
//     data, before the socket transport is closed. A timer (ShutdownTimeout) aborts instead, and the
//     application's ConnectionLost gets TimeoutException("SSL shutdown timed out"), as asyncio.
//   Closed: the socket transport reported its loss; the SslStream is disposed, buffers returned.
// Abort drops everything at once (the socket transport is aborted).
//
// Writing. Plaintext goes to a pooled WriteBuffer and is handed to SslStream.WriteAsync in order,
// one write at a time; it normally completes at once, so the buffer holds bytes only during the
// handshake or while a write waits. The write-buffer marks are the socket transport's
// (SetWriteBufferLimits forwards): the buffer size is queued plaintext plus the socket's queued
// ciphertext, and the socket's PauseWriting/ResumeWriting become the application's. Write EOF is
// not supported, as in asyncio (TLS has no half-close).
using System.Net.Security;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;

namespace Aio.Net;

/// <summary>A stream transport that encrypts with TLS over a <see cref="SocketTransport"/> [asyncio's SSL transport]. Loop thread only.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A transport ends through Close/Abort, not Dispose: the SslStream and the wire stream are disposed when the socket transport's ConnectionLost arrives.")]
internal sealed partial class TlsTransport : ITransport
{
    private static readonly Action<ILogger, string, Exception?> LogIgnoredWrites = LoggerMessage.Define<string>(
        LogLevel.Warning,
        new EventId(30, "TlsWriteAfterClose"),
        "{Transport}: Write() was called on a closed or closing transport; the data is dropped (further writes are ignored silently).");

    private static readonly Action<ILogger, string, Exception?> LogEofKeepOpen = LoggerMessage.Define<string>(
        LogLevel.Warning,
        new EventId(31, "TlsEofKeepOpen"),
        "{Transport}: returning true from EofReceived() has no effect when using TLS; the connection is closed.");

    private static readonly Action<ILogger, string, string, Exception?> LogConnectionError = LoggerMessage.Define<string, string>(
        LogLevel.Debug,
        new EventId(32, "TlsConnectionError"),
        "{Transport}: {Message}");

    private readonly EventLoop _loop;
    private readonly Protocol _app;
    private readonly BufferedProtocol? _appBuffered;
    private readonly SslClientAuthenticationOptions? _clientAuthentication;
    private readonly SslServerAuthenticationOptions? _serverAuthentication;
    private readonly TimeSpan _handshakeTimeout;
    private readonly TimeSpan _shutdownTimeout;
    private readonly Future<bool>? _waiter;
    private readonly bool _callConnectionMade;
    private readonly TlsWireStream _wire;
    private readonly SslStream _ssl;
    private SocketTransport? _socket;
    private TlsState _state = TlsState.Handshaking;
    private TimerHandle? _handshakeTimer;
    private TimerHandle? _shutdownTimer;
    private Exception? _lostWith;
    private bool _appMade;
    private bool _appLost;
    private bool _closing;
    private bool _socketEof;
    private int _ignoredWrites;

    private TlsTransport(
        EventLoop loop,
        Protocol app,
        SslClientAuthenticationOptions? client,
        SslServerAuthenticationOptions? server,
        TimeSpan handshakeTimeout,
        TimeSpan shutdownTimeout,
        Future<bool>? waiter,
        bool callConnectionMade)
    {
        _loop = loop;
        _app = app;
        _appBuffered = app as BufferedProtocol;
        _clientAuthentication = client;
        _serverAuthentication = server;
        _handshakeTimeout = handshakeTimeout;
        _shutdownTimeout = shutdownTimeout;
        _waiter = waiter;
        _callConnectionMade = callConnectionMade;
        _appMade = !callConnectionMade; // an upgraded connection's protocol was made by the plain transport
        _wire = new TlsWireStream(this);
        _ssl = new SslStream(_wire, leaveInnerStreamOpen: true);
        Wire = new TlsWireProtocol(this);
        _onReadCompleted = OnReadCompleted;
        _onWriteCompleted = OnWriteCompleted;
    }

    private enum TlsState
    {
        Handshaking,
        Open,
        ShuttingDown,
        Closed,
    }

    /// <summary>The protocol the socket transport underneath reports to.</summary>
    internal TlsWireProtocol Wire { get; }

    /// <inheritdoc/>
    public bool IsClosing => _closing;

    /// <inheritdoc/>
    public bool IsReading => !_readingPaused && !_closing;

    /// <summary>False: TLS has no half-close [SSL transports' can_write_eof()].</summary>
    public bool CanWriteEof => false;

    /// <inheritdoc/>
    public int WriteBufferSize => _plain.Size + (_socket?.WriteBufferSize ?? 0);

    private bool IsServerSide => _serverAuthentication is not null;

    /// <summary>
    /// "sslcontext" (the <see cref="SslClientAuthenticationOptions"/> or <see cref="SslServerAuthenticationOptions"/>),
    /// "ssl_object" and "sslstream" (the <see cref="SslStream"/>), "peercert" (the peer's certificate, or null),
    /// "cipher" (the negotiated <see cref="System.Net.Security.TlsCipherSuite"/>), "ssl_protocol" (the negotiated
    /// <see cref="SslProtocols"/>), and the socket transport's details ("peername", "sockname", "socket").
    /// </summary>
    public object? GetExtraInfo(string name)
    {
        bool authenticated = _state != TlsState.Handshaking && _ssl.IsAuthenticated;
        return name switch
        {
            "sslcontext" => (object?)_clientAuthentication ?? _serverAuthentication,
            "ssl_object" or "sslstream" => _ssl,
            "peercert" => authenticated ? _ssl.RemoteCertificate : null,
            "cipher" => authenticated ? _ssl.NegotiatedCipherSuite : null,
            "ssl_protocol" => authenticated ? _ssl.SslProtocol : null,
            "compression" => null,
            _ => _socket?.GetExtraInfo(name),
        };
    }

    /// <summary>Not supported: TLS cannot half-close [asyncio raises NotImplementedError].</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public void WriteEof() =>
        throw new NotSupportedException("TLS does not support half-closing the connection (CanWriteEof is false): call Close() to send close_notify and close.");

    /// <inheritdoc/>
    public void Close()
    {
        if (_closing)
        {
            return;
        }

        _closing = true;
        if (_state == TlsState.Handshaking)
        {
            ForceClose(null);
        }
        else if (_state == TlsState.Open)
        {
            StartShutdown();
        }
    }

    /// <inheritdoc/>
    public void Abort() => ForceClose(null);

    /// <inheritdoc/>
    public override string ToString() =>
        $"<TlsTransport {_state.ToString().ToLowerInvariant()}{(IsServerSide ? " server-side" : "")} reading={IsReading} buffered={WriteBufferSize} socket={_socket}>";

    /// <summary>Starts the handshake over <paramref name="socket"/>, whose protocol is <see cref="Wire"/> from now on.</summary>
    internal void OnSocketMade(SocketTransport socket)
    {
        _socket = socket;
        socket.WriteBufferShrunk = OnWriteBufferShrunk;
        if (_state != TlsState.Handshaking || _closing)
        {
            socket.Abort(); // aborted before the socket transport started
            return;
        }

        if (_handshakeTimeout != Timeout.InfiniteTimeSpan)
        {
            _handshakeTimer = _loop.CallLater(_handshakeTimeout, OnHandshakeTimeout);
        }

        Task handshake;
        try
        {
            handshake = _serverAuthentication is not null
                ? _ssl.AuthenticateAsServerAsync(_serverAuthentication, CancellationToken.None)
                : _ssl.AuthenticateAsClientAsync(_clientAuthentication!, CancellationToken.None);
        }
        catch (Exception exception)
        {
            OnHandshakeFailed(exception);
            return;
        }

        if (handshake.IsCompleted)
        {
            OnHandshakeDone(handshake);
        }
        else
        {
            handshake.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(() => OnLoop(() => OnHandshakeDone(handshake)));
        }
    }

    /// <summary>The socket transport reached EOF: the SslStream reads the end (after the buffered bytes).</summary>
    internal void OnSocketEof()
    {
        _socketEof = true;
        _wire.FeedEof();
    }

    /// <summary>The socket transport is gone: the end of this transport too.</summary>
    internal void OnSocketLost(Exception? exception)
    {
        TlsState state = _state;
        _state = TlsState.Closed;
        _closing = true;
        CancelTimers();
        _wire.Fail(exception); // a pending SslStream operation fails now, and sees the Closed state
        if (state == TlsState.Handshaking)
        {
            Exception failure = _lostWith ?? exception ?? new IOException("The connection was closed during the TLS handshake.");
            _lostWith ??= failure;
            if (_waiter is { IsDone: false } waiter)
            {
                waiter.SetException(failure);
            }
        }

        if (_appMade && !_appLost)
        {
            _appLost = true;
            try
            {
                _app.ConnectionLost(_lostWith ?? exception);
            }
            catch (Exception failure)
            {
                Report("Exception in protocol.ConnectionLost()", failure);
            }
        }

        _ssl.Dispose();
        _wire.Dispose();
        ReleaseBuffers();
        OnWriteBufferShrunk(); // a waiting sendfile sees the end
    }

    private void OnHandshakeTimeout()
    {
        _handshakeTimer = null;
        if (_state == TlsState.Handshaking)
        {
            OnHandshakeFailed(new TimeoutException(
                $"SSL handshake is taking longer than {_handshakeTimeout.TotalSeconds:0.###} seconds: aborting the connection"));
        }
    }

    private void OnHandshakeDone(Task handshake)
    {
        if (_state != TlsState.Handshaking)
        {
            _ = handshake.Exception; // aborted meanwhile; the failure that follows is no news
            return;
        }

        if (!handshake.IsCompletedSuccessfully)
        {
            OnHandshakeFailed(handshake.Exception?.InnerException ?? new AuthenticationException("The TLS handshake was cancelled."));
            return;
        }

        _handshakeTimer?.Cancel();
        _handshakeTimer = null;
        _state = TlsState.Open;
        if (_callConnectionMade)
        {
            _appMade = true;
            try
            {
                _app.ConnectionMade(this);
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal error: protocol.ConnectionMade() call failed.", report: _waiter is null);
                if (_waiter is { IsDone: false } failed)
                {
                    failed.SetException(exception);
                }

                return;
            }
        }

        _waiter?.TrySetResult(true);
        if (_state == TlsState.Open)
        {
            PumpWrites();
            MaybePauseApp();
            PumpReads();
        }
    }

    private void OnHandshakeFailed(Exception exception)
    {
        // A client that went away before finishing (a port check, a closed tab) is no one's bug.
        bool peerLeft = _socketEof && exception is IOException;
        string message = exception is TimeoutException ? "SSL handshake timed out" : "SSL handshake failed";
        FatalError(exception, message, report: _waiter is null && !peerLeft);
        if (_waiter is { IsDone: false } waiter)
        {
            waiter.SetException(exception);
        }
    }

    /// <summary>
    /// Ends the connection because of <paramref name="exception"/> [SSLProtocol._fatal_error]: when
    /// <paramref name="report"/> (by default: unless it is a network or TLS error) the loop's exception
    /// handler hears of it; the socket transport is aborted and the protocol's ConnectionLost gets it.
    /// </summary>
    private void FatalError(Exception exception, string message, bool? report = null)
    {
        if (report ?? !IsConnectionError(exception))
        {
            Report(message, exception);
        }
        else if (_loop.DebugEnabled)
        {
            LogConnectionError(_loop.Logger, ToString(), message, exception);
        }

        ForceClose(exception);
    }

    private static bool IsConnectionError(Exception exception) =>
        exception is IOException or AuthenticationException or System.Net.Sockets.SocketException or TimeoutException;

    private void Report(string message, Exception exception) =>
        _loop.CallExceptionHandler(new ExceptionContext($"{message}\ntransport: {this}\nprotocol: {_app}", exception));

    /// <summary>Aborts: the socket transport drops what it buffered; ConnectionLost follows from it.</summary>
    private void ForceClose(Exception? exception)
    {
        _lostWith ??= exception;
        _closing = true;
        if (_state == TlsState.Closed)
        {
            return;
        }

        CancelTimers();
        _plain.Clear();
        _socket?.Abort();
    }

    private void CancelTimers()
    {
        _handshakeTimer?.Cancel();
        _handshakeTimer = null;
        _shutdownTimer?.Cancel();
        _shutdownTimer = null;
    }

    /// <summary>
    /// Runs a step that an SslStream operation's completion started: inline when on the loop thread,
    /// with the loop's synchronization context current (the wire stream cleared it); posted to the
    /// loop otherwise.
    /// </summary>
    private void OnLoop(Action step)
    {
        if (!_loop.IsOnLoopThread)
        {
            _loop.TryCallSoonThreadSafe(step);
            return;
        }

        SynchronizationContext? context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_loop.SynchronizationContext);
        try
        {
            step();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }
}
