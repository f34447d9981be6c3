// The stream transport over a connected, non-blocking socket (asyncio's _SelectorSocketTransport,
// and on the portable backend its proactor counterpart).
//
// One implementation for both backends; they differ only in how a write that the kernel did not
// take at once is finished. Reading is the loop's level-triggered reader callback (AddReader) and a
// non-blocking recv on the loop thread on both: the epoll backend reports readiness from epoll_wait,
// the portable backend from a completed zero-byte receive (see PortableBackend). Writing first tries
// a non-blocking send on the loop thread on both; what is left is buffered, and then the epoll
// backend installs the writer callback (readiness), while the portable backend hands the buffer's
// head to the socket engine (SendAsync, a SocketCompletion) and continues from its completion on the
// loop thread, as asyncio's proactor transport does. Every rule below holds for both.
//
// Lifetime, in asyncio's order. The constructor schedules one callback (CallSoon): it calls the
// protocol's ConnectionMade, then installs the reader unless the protocol paused reading meanwhile,
// then completes the creator's waiter. Everything the protocol hears after that comes from reader
// and writer callbacks, and ends with exactly one ConnectionLost, always from its own CallSoon
// callback (never inline from Close, Abort, Write or a failing read), after which the socket is
// disposed and the server (if any) forgets the connection. A guard (_connectionLost) makes the
// scheduling idempotent; every path to the end (Close with an empty buffer, the writer draining the
// buffer of a closing transport, Abort, a fatal error) goes through ScheduleConnectionLost. An
// orderly end shuts the send side down before disposing the socket: .NET closes a socket that has
// an operation pending (on portable, the zero-byte receive of a reader just removed) abortively —
// RST, queued bytes dropped — unless the send side was shut down first.
//
// Reading. One recv per readiness callback into a 64 KiB array rented from ArrayPool.Shared and
// returned right after DataReceived (the span is valid only during the call, as Protocol says), so
// the steady state allocates nothing and an idle connection holds no buffer. A BufferedProtocol
// instead hands out its own memory (GetBuffer) and hears how much arrived (BufferUpdated): zero
// copies. recv returning 0 is EOF: the protocol's EofReceived decides; true keeps the write side
// open (the reader is removed, nothing more can arrive), false closes the transport.
//
// Writing. Write sends at once when nothing is queued (the common case: no copy, no writer
// registration); what the kernel does not take is copied into a WriteBuffer of pooled segments and
// the writer is installed (portable: a SendAsync of the buffer's head is started). The writer sends
// until the kernel pushes back, removes itself when the buffer is empty, and then finishes a pending
// Close (ConnectionLost) or WriteEof (shutdown of the send side). A pending SendAsync keeps its
// segment: a close that drops the buffer meanwhile sets the buffer aside and releases it when the
// aborted send's completion arrives. Flow control follows asyncio: PauseWriting once the buffer grows past the high mark,
// ResumeWriting once it drains to the low mark; a protocol that stops writing while paused keeps
// memory bounded by the high mark plus one write.
//
// Errors (asyncio's _fatal_error). A failing recv/send/shutdown ends the connection: the buffer is
// dropped and ConnectionLost receives the exception. Socket errors (SocketException, asyncio's
// OSError: resets, broken pipes, ...) are ordinary events of a network and go to the protocol only;
// anything else, and every exception thrown by the protocol's own callbacks, is also reported to the
// loop's exception handler, since it is a bug somebody must see. A throwing PauseWriting,
// ResumeWriting or ConnectionLost is reported and does not end the connection (there is none left
// to end, for the last one).
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Aio.Net;

/// <summary>
/// A bidirectional stream transport over a connected non-blocking socket, driven by the loop's
/// reader and writer callbacks [asyncio's _SelectorSocketTransport]. Loop thread only.
/// </summary>
internal sealed partial class SocketTransport : ITransport, ISocketOwner
{
    /// <summary>The most bytes one readiness callback receives.</summary>
    internal const int MaxReadSize = 64 * 1024;

    /// <summary>The default high-water mark of the write buffer.</summary>
    internal const int DefaultHighWater = WriteFlowControl.DefaultHighWater;

    /// <summary>Ignored writes after close before a warning is logged [asyncio LOG_THRESHOLD_FOR_CONNLOST_WRITES].</summary>
    private const int IgnoredWritesWarningThreshold = 5;

    private static readonly Action<object?> StartCallback = static state => ((SocketTransport)state!).Start();
    private static readonly Action<object?> ConnectionLostCallback = static state => ((SocketTransport)state!).CallConnectionLost();
    private static readonly Action<SocketCompletion> SendCompletedCallback = static send => ((SocketTransport)send.UserToken!).OnSendCompleted(send);

    private static readonly Action<ILogger, string, Exception?> LogIgnoredWrites = LoggerMessage.Define<string>(
        LogLevel.Warning,
        new EventId(20, "WriteAfterClose"),
        "{Transport}: Write() was called on a closed or closing transport; the data is dropped (further writes are ignored silently).");

    private static readonly Action<ILogger, string, string, Exception?> LogSocketError = LoggerMessage.Define<string, string>(
        LogLevel.Debug,
        new EventId(21, "TransportSocketError"),
        "{Transport}: {Message}");

    private readonly EventLoop _loop;
    private readonly Socket _socket;
    private Protocol _protocol;
    private BufferedProtocol? _buffered;
    private readonly Future<bool>? _waiter;
    private readonly EndPoint? _peerName;
    private readonly EndPoint? _sockName;
    private readonly bool _completionWrites;
    private WriteBuffer _buffer = new();
    private WriteBuffer? _heldBySend;  // dropped while a send was pending; released by its completion
    private SocketCompletion? _send;   // portable: the transport's one SendAsync, reused
    private Server? _server;
    private Exception? _lostWith;
    private int _ignoredWrites;
    private bool _started;
    private bool _closing;
    private bool _connectionLost;
    private bool _eofWritten;
    private bool _aborted;
    private bool _eofReceived;
    private bool _readingPaused;
    private WriteFlowControl _flow = new();
    private SocketInterest _reading;
    private SocketInterest _writing;
    private readonly int _ownedKey;
    private bool _detached;

    /// <summary>
    /// Wraps a connected non-blocking <paramref name="socket"/>; ConnectionMade and the first read are
    /// scheduled for the next iteration, then <paramref name="waiter"/> (if any) gets true. The
    /// transport owns the socket from here on, and is attached to <paramref name="server"/>.
    /// </summary>
    public SocketTransport(EventLoop loop, Socket socket, Protocol protocol, Future<bool>? waiter, Server? server, EndPoint? peerName = null)
    {
        _loop = loop;
        _socket = socket;
        _protocol = protocol;
        _buffered = protocol as BufferedProtocol;
        _waiter = waiter;
        _reading = new SocketInterest(loop, socket, OnReadable, write: false);
        _writing = new SocketInterest(loop, socket, OnWritable, write: true);
        _ownedKey = socket.SafeHandle.IsClosed ? -1 : loop.ClaimSocket(socket, this);
        _completionWrites = loop.Backend == LoopBackend.Portable;
        _peerName = peerName ?? TryGetEndPoint(socket, remote: true);
        _sockName = TryGetEndPoint(socket, remote: false);
        if (socket.ProtocolType == ProtocolType.Tcp)
        {
            try
            {
                socket.NoDelay = true; // as asyncio: a transport writes whole messages, Nagle only delays them
            }
            catch (SocketException)
            {
                // The peer may already be gone; the first read or write reports that.
            }
        }

        _server = server;
        server?.Attach(this);
        loop.CallSoon(StartCallback, this);
    }

    /// <inheritdoc/>
    public bool IsClosing => _closing;

    /// <inheritdoc/>
    public bool IsReading => !_readingPaused && !_closing;

    /// <inheritdoc/>
    public bool CanWriteEof => true;

    /// <inheritdoc/>
    public int WriteBufferSize => _buffer.Size;

    /// <inheritdoc/>
    public object? GetExtraInfo(string name) => name switch
    {
        "peername" => _peerName,
        "sockname" => _sockName,
        "socket" => _socket,
        _ => null,
    };

    /// <summary>Hands the connection's events to <paramref name="protocol"/> from now on [transport.set_protocol]; for the TLS upgrade.</summary>
    internal void SetProtocol(Protocol protocol)
    {
        _protocol = protocol;
        _buffered = protocol as BufferedProtocol;
    }

    /// <inheritdoc/>
    public void PauseReading()
    {
        if (!IsReading)
        {
            return;
        }

        _readingPaused = true;
        _reading.Unwatch();
    }

    /// <inheritdoc/>
    public void ResumeReading()
    {
        if (_closing || !_readingPaused)
        {
            return;
        }

        _readingPaused = false;
        if (_started && !_eofReceived)
        {
            _reading.Watch();
        }
    }

    /// <inheritdoc/>
    public void Write(ReadOnlySpan<byte> data)
    {
        CheckNoSendFile(nameof(Write));
        WriteCore(data);
    }

    private void WriteCore(ReadOnlySpan<byte> data)
    {
        if (_eofWritten)
        {
            throw new InvalidOperationException("Cannot call Write() after WriteEof(): the write side is shut down.");
        }

        if (data.IsEmpty)
        {
            return;
        }

        if (_closing || _connectionLost)
        {
            if (++_ignoredWrites == IgnoredWritesWarningThreshold)
            {
                LogIgnoredWrites(_loop.Logger, ToString(), null);
            }

            return;
        }

        if (_buffer.IsEmpty)
        {
            // Try to send now: usually the kernel takes everything and nothing is copied.
            int sent;
            SocketError error;
            try
            {
                sent = _socket.Send(data, SocketFlags.None, out error);
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal write error on socket transport");
                return;
            }

            if (error == SocketError.Success)
            {
                data = data[sent..];
                if (data.IsEmpty)
                {
                    return;
                }
            }
            else if (!IsTransient(error))
            {
                FatalError(new SocketException((int)error), "Fatal write error on socket transport");
                return;
            }

            _buffer.Append(data);
            WaitWritable();
        }
        else
        {
            _buffer.Append(data);
        }

        MaybePauseProtocol();
    }

    /// <inheritdoc/>
    public void WriteEof()
    {
        CheckNoSendFile(nameof(WriteEof));
        if (_closing || _eofWritten)
        {
            return;
        }

        _eofWritten = true;
        if (_buffer.IsEmpty)
        {
            ShutdownSend();
        }
    }

    /// <inheritdoc/>
    public void SetWriteBufferLimits(int? high = null, int? low = null)
    {
        _flow.SetLimits(high, low);
        MaybePauseProtocol();
    }

    /// <inheritdoc/>
    public (int Low, int High) GetWriteBufferLimits() => _flow.Limits;

    /// <inheritdoc/>
    public void Close()
    {
        if (_closing)
        {
            return;
        }

        _closing = true;
        _reading.Unwatch();
        if (_buffer.IsEmpty)
        {
            _writing.Unwatch();
            ScheduleConnectionLost(null);
        }
    }

    /// <summary>
    /// Gives the socket back to its owner without closing it [asyncio's rule for a cancelled
    /// connect on a caller-owned socket]: the reader and writer are removed at once and buffered
    /// data is dropped, so the loop no longer touches the descriptor and nothing can close it; a
    /// protocol that already heard ConnectionMade hears ConnectionLost(<paramref name="reason"/>)
    /// from its own callback, one that did not hears nothing. False when the transport had already
    /// begun to end (the socket may be closed by then).
    /// </summary>
    internal bool Detach(Exception? reason)
    {
        if (_connectionLost)
        {
            return false;
        }

        _detached = true;
        _closing = true;
        DropBuffer();
        EndSendFile();
        _reading.Unwatch();
        _writing.Unwatch();
        _loop.ReleaseSocket(_ownedKey, this);
        if (_started)
        {
            ScheduleConnectionLost(reason);
        }
        else
        {
            _connectionLost = true;
        }

        return true;
    }

    /// <inheritdoc/>
    public void Abort()
    {
        _aborted = true;
        ForceClose(null);
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        string state = _connectionLost ? "closed" : _closing ? "closing" : "open";
        return $"<SocketTransport {state} local={_sockName} peer={_peerName} reading={IsReading} buffered={_buffer.Size}>";
    }

    private static EndPoint? TryGetEndPoint(Socket socket, bool remote)
    {
        try
        {
            return remote ? socket.RemoteEndPoint : socket.LocalEndPoint;
        }
        catch (SocketException)
        {
            return null; // e.g. the peer reset the connection before we asked
        }
    }

    /// <summary>Errors after which the operation should simply wait for the next readiness.</summary>
    private static bool IsTransient(SocketError error) =>
        error is SocketError.WouldBlock or SocketError.IOPending or SocketError.Interrupted or SocketError.TryAgain;

    /// <summary>The first callback: ConnectionMade, then reading, then the creator's waiter.</summary>
    private void Start()
    {
        if (_detached)
        {
            return; // given back before it started: the protocol never heard of it
        }

        _started = true;
        try
        {
            _protocol.ConnectionMade(this);
        }
        catch (Exception exception)
        {
            // A connection the creator waits for fails through the waiter; an accepted one has
            // nobody waiting, so the handler hears of it.
            FatalError(exception, "Fatal error: protocol.ConnectionMade() call failed.", report: _waiter is null);
            if (_waiter is { IsDone: false } failed)
            {
                failed.SetException(exception);
            }

            return;
        }

        if (IsReading && !_eofReceived)
        {
            try
            {
                _reading.Watch();
            }
            catch (Exception exception) when (exception is ObjectDisposedException or SocketException)
            {
                FatalError(exception, "Fatal error: cannot watch the socket for reading.");
            }
        }

        _waiter?.TrySetResult(true);
    }

    private void OnReadable()
    {
        if (_connectionLost)
        {
            return;
        }

        if (_buffered is not null)
        {
            ReadIntoProtocolBuffer(_buffered);
        }
        else
        {
            ReadAndDeliver();
        }
    }

    private void ReadAndDeliver()
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(MaxReadSize);
        try
        {
            int received = Receive(chunk.AsSpan(0, MaxReadSize));
            if (received > 0)
            {
                try
                {
                    _protocol.DataReceived(chunk.AsSpan(0, received));
                }
                catch (Exception exception)
                {
                    FatalError(exception, "Fatal error: protocol.DataReceived() call failed.", report: true);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private void ReadIntoProtocolBuffer(BufferedProtocol protocol)
    {
        Memory<byte> buffer;
        try
        {
            buffer = protocol.GetBuffer(MaxReadSize);
            if (buffer.IsEmpty)
            {
                throw new InvalidOperationException("BufferedProtocol.GetBuffer() returned an empty buffer.");
            }
        }
        catch (Exception exception)
        {
            FatalError(exception, "Fatal error: protocol.GetBuffer() call failed.", report: true);
            return;
        }

        int received = Receive(buffer.Span);
        if (received > 0)
        {
            try
            {
                protocol.BufferUpdated(received);
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal error: protocol.BufferUpdated() call failed.", report: true);
            }
        }
    }

    /// <summary>One recv: the byte count, or 0 when there is nothing to deliver (EOF and errors are handled here).</summary>
    private int Receive(Span<byte> buffer)
    {
        int received;
        SocketError error;
        if (_completionWrites && _loop.TakeReadError(_socket) is var taken and not SocketError.Success)
        {
            FatalError(new SocketException((int)taken), "Fatal read error on socket transport"); // consumed by the portable backend's wait
            return 0;
        }

        try
        {
            received = _socket.Receive(buffer, SocketFlags.None, out error);
        }
        catch (Exception exception)
        {
            FatalError(exception, "Fatal read error on socket transport");
            return 0;
        }

        if (error != SocketError.Success)
        {
            if (!IsTransient(error))
            {
                FatalError(new SocketException((int)error), "Fatal read error on socket transport");
            }

            return 0;
        }

        if (received == 0)
        {
            OnEof();
        }

        return received;
    }

    private void OnEof()
    {
        _eofReceived = true;
        bool keepOpen;
        try
        {
            keepOpen = _protocol.EofReceived();
        }
        catch (Exception exception)
        {
            FatalError(exception, "Fatal error: protocol.EofReceived() call failed.", report: true);
            return;
        }

        if (keepOpen)
        {
            // The protocol keeps writing, but nothing more can arrive.
            _reading.Unwatch();
        }
        else
        {
            Close();
        }
    }

    private void OnWritable()
    {
        if (_connectionLost)
        {
            return;
        }

        while (!_buffer.IsEmpty)
        {
            ReadOnlySpan<byte> head = _buffer.Head;
            int sent;
            SocketError error;
            try
            {
                sent = _socket.Send(head, SocketFlags.None, out error);
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal write error on socket transport");
                return;
            }

            if (error != SocketError.Success)
            {
                if (IsTransient(error))
                {
                    break;
                }

                FatalError(new SocketException((int)error), "Fatal write error on socket transport");
                return;
            }

            _buffer.Consume(sent);
            if (sent < head.Length)
            {
                break; // the kernel is full: another send now would only say so
            }
        }

        AfterWrites();
    }

    /// <summary>After the buffer shrank: resumes the protocol, and once empty finishes a pending Close or WriteEof.</summary>
    private void AfterWrites()
    {
        MaybeResumeProtocol(); // may write more
        WriteBufferShrunk?.Invoke();
        if (_buffer.IsEmpty && !_connectionLost)
        {
            _writing.Unwatch();
            if (_closing)
            {
                ScheduleConnectionLost(null);
            }
            else if (_eofWritten)
            {
                ShutdownSend();
            }
        }
    }

    private void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception exception)
        {
            FatalError(exception, "Fatal error: shutting down the write side failed.");
        }
    }

    private void MaybePauseProtocol()
    {
        if (!_flow.ShouldPause(_buffer.Size))
        {
            return;
        }

        try
        {
            _protocol.PauseWriting();
        }
        catch (Exception exception)
        {
            Report("protocol.PauseWriting() failed", exception);
        }
    }

    private void MaybeResumeProtocol()
    {
        if (!_flow.ShouldResume(_buffer.Size))
        {
            return;
        }

        try
        {
            _protocol.ResumeWriting();
        }
        catch (Exception exception)
        {
            Report("protocol.ResumeWriting() failed", exception);
        }
    }

    /// <summary>
    /// Ends the connection because of <paramref name="exception"/> [asyncio's _fatal_error]: unless
    /// <paramref name="report"/> says otherwise, socket errors go to the protocol only and anything
    /// else to the exception handler too.
    /// </summary>
    private void FatalError(Exception exception, string message, bool? report = null)
    {
        if (report ?? exception is not SocketException)
        {
            Report(message, exception);
        }
        else if (_loop.DebugEnabled)
        {
            LogSocketError(_loop.Logger, ToString(), message, exception);
        }

        ForceClose(exception);
    }

    private void Report(string message, Exception exception) =>
        _loop.CallExceptionHandler(new ExceptionContext($"{message}\ntransport: {this}\nprotocol: {_protocol}", exception));

    /// <summary>Closes at once, dropping buffered data [asyncio's _force_close].</summary>
    private void ForceClose(Exception? exception)
    {
        if (_connectionLost)
        {
            return;
        }

        DropBuffer();
        _writing.Unwatch();
        _closing = true;
        _reading.Unwatch();
        ScheduleConnectionLost(exception);
    }

    private void ScheduleConnectionLost(Exception? exception)
    {
        if (_connectionLost)
        {
            return;
        }

        _connectionLost = true;
        _lostWith = exception;
        EndSendFile();
        if (_loop.IsClosed)
        {
            CallConnectionLost(); // nothing can run later: finish now rather than leak the socket
        }
        else
        {
            _loop.CallSoon(ConnectionLostCallback, this);
        }
    }

    private void CallConnectionLost()
    {
        try
        {
            _protocol.ConnectionLost(_lostWith);
        }
        catch (Exception exception)
        {
            Report("Exception in protocol.ConnectionLost()", exception);
        }
        finally
        {
            _reading.Unwatch();
            _writing.Unwatch();
            _loop.ReleaseSocket(_ownedKey, this);
            DropBuffer();
            if (!_detached)
            {
                CloseSocket(graceful: _lostWith is null && !_aborted);
            }

            ReleaseSend(); // unless a send is pending: the close aborts it, and its completion releases it
            _lostWith = null;
            Server? server = _server;
            _server = null;
            server?.Detach(this);
        }
    }

    /// <summary>
    /// Disposes the socket. A graceful close first shuts the send side down: besides sending FIN
    /// after the queued bytes, this tells .NET the close is orderly — a socket disposed while an
    /// operation is pending on it (on portable, the zero-byte receive of the reader just removed)
    /// is otherwise closed abortively (RST, the kernel's queued bytes dropped).
    /// </summary>
    private void CloseSocket(bool graceful)
    {
        if (graceful)
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // Already shut down, or the peer is gone: there is nothing left to flush.
            }
            catch (ObjectDisposedException)
            {
                // Disposed by the user through GetExtraInfo("socket").
            }
        }

        _socket.Dispose();
    }
}
