// The datagram transport over a non-blocking UDP socket (asyncio's _SelectorDatagramTransport).
//
// One implementation for both backends, readiness-driven like SocketTransport: the loop's reader
// and writer callbacks run on the loop thread and the transport performs the non-blocking
// recvfrom/sendto itself.
//
// Lifetime, as the stream transport's: the constructor schedules one callback that calls
// ConnectionMade, installs the reader and completes the creator's waiter; the end is exactly one
// ConnectionLost from its own CallSoon callback, after which the socket is disposed.
//
// Receiving. One datagram per readiness callback (asyncio's rule, which keeps a flood on one
// endpoint from starving the others), into a 64 KiB array rented from ArrayPool.Shared for the
// call (every UDP payload fits). The sender's address comes back as raw SocketAddress bytes into a
// buffer the transport owns; when they equal the previous datagram's, the previous EndPoint object
// is handed out again, so a conversation with one peer allocates nothing per datagram. A connected
// endpoint uses recv and hands out its peer's endpoint. A receive error (ECONNREFUSED after an ICMP
// "port unreachable" on a connected socket, say) goes to ErrorReceived and the endpoint stays open.
//
// Sending. SendTo sends at once when nothing is queued; a datagram the kernel cannot take now (its
// send buffer is full) is copied into a rented array and queued with its destination, the writer is
// installed, and the queue is flushed in order on writability. A send error goes to ErrorReceived
// (that datagram is dropped) and the endpoint stays open. The destination's SocketAddress is cached
// by endpoint reference, so replying to the endpoint DatagramReceived handed out serializes nothing.
// Flow control as the stream transport's: PauseWriting above the high mark, ResumeWriting at the low
// mark; each queued datagram counts its length plus 8 bytes (a UDP header), so even empty datagrams
// bound the queue.
//
// Errors. Exceptions other than SocketException from the socket (the user disposed it, say) are
// fatal: reported to the loop's exception handler, queue dropped, ConnectionLost(exception).
// Exceptions thrown by DatagramReceived or ErrorReceived are reported and the endpoint goes on, as an
// asyncio callback's exception reaches the handler without closing the transport.
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Aio.Net;

/// <summary>A datagram endpoint over a non-blocking socket [asyncio._SelectorDatagramTransport]. Loop thread only.</summary>
internal sealed class DatagramTransport : IDatagramTransport, ISocketOwner
{
    /// <summary>The largest datagram received whole (the largest UDP payload is 65,527 bytes).</summary>
    internal const int MaxDatagramSize = 64 * 1024;

    /// <summary>What each queued datagram counts besides its bytes.</summary>
    internal const int QueuedDatagramOverhead = 8;

    private const int IgnoredSendsWarningThreshold = 5;

    private static readonly Action<object?> StartCallback = static state => ((DatagramTransport)state!).Start();
    private static readonly Action<object?> ConnectionLostCallback = static state => ((DatagramTransport)state!).CallConnectionLost();

    private static readonly Action<ILogger, string, Exception?> LogIgnoredSends = LoggerMessage.Define<string>(
        LogLevel.Warning,
        new EventId(22, "SendAfterClose"),
        "{Transport}: SendTo() was called on a closed or closing transport; the datagram is dropped (further ones are dropped silently).");

    private readonly EventLoop _loop;
    private readonly Socket _socket;
    private readonly DatagramProtocol _protocol;
    private readonly Future<bool>? _waiter;
    private readonly EndPoint? _address;   // the default (and only allowed) destination, if any
    private readonly EndPoint? _peerName;  // the connected remote, if connected
    private readonly EndPoint? _sockName;
    private readonly EndPoint _template;
    private readonly Queue<QueuedDatagram> _queue = new();
    private readonly int _addressSize;
    private SocketAddress _received;
    private SocketAddress _lastSender;
    private EndPoint? _lastSenderEndPoint;
    private EndPoint? _lastDestination;
    private SocketAddress? _lastDestinationAddress;
    private Exception? _lostWith;
    private int _queuedBytes;
    private int _ignoredSends;
    private bool _closing;
    private bool _connectionLost;
    private WriteFlowControl _flow = new();
    private SocketInterest _reading;
    private SocketInterest _writing;
    private readonly int _ownedKey;

    /// <summary>
    /// Wraps a bound (and, when <paramref name="connected"/>, connected) non-blocking socket;
    /// <paramref name="address"/> is the default destination. ConnectionMade and reading start in the
    /// next iteration, then <paramref name="waiter"/> gets true. The transport owns the socket.
    /// </summary>
    public DatagramTransport(EventLoop loop, Socket socket, DatagramProtocol protocol, EndPoint? address, bool connected, Future<bool>? waiter)
    {
        _loop = loop;
        _socket = socket;
        _protocol = protocol;
        _waiter = waiter;
        _address = address;
        _peerName = connected ? address : null;
        _sockName = TryGetLocalEndPoint(socket);
        _template = SocketAddresses.AnyEndPoint(socket);
        _addressSize = SocketAddress.GetMaximumAddressSize(socket.AddressFamily);
        _received = new SocketAddress(socket.AddressFamily, _addressSize);
        _lastSender = new SocketAddress(socket.AddressFamily, _addressSize);
        _reading = new SocketInterest(loop, socket, OnReadable, write: false);
        _writing = new SocketInterest(loop, socket, OnWritable, write: true);
        _ownedKey = socket.SafeHandle.IsClosed ? -1 : loop.ClaimSocket(socket, this);
        loop.CallSoon(StartCallback, this);
    }

    /// <inheritdoc/>
    public bool IsClosing => _closing;

    /// <inheritdoc/>
    public int WriteBufferSize => _queuedBytes;

    /// <inheritdoc/>
    public object? GetExtraInfo(string name) => name switch
    {
        "peername" => _peerName,
        "sockname" => _sockName,
        "socket" => _socket,
        _ => null,
    };

    /// <inheritdoc/>
    public void SendTo(ReadOnlySpan<byte> data, EndPoint? remote = null)
    {
        if (remote is DnsEndPoint)
        {
            throw new ArgumentException("SendTo needs a resolved address (an IPEndPoint): resolve the name first with GetAddrInfoAsync.", nameof(remote));
        }

        if (_address is not null)
        {
            if (remote is not null && !remote.Equals(_address))
            {
                throw new ArgumentException($"Invalid address: must be null or {_address}, the remote this endpoint was created with.", nameof(remote));
            }

            remote = _address;
        }
        else if (remote is null)
        {
            throw new ArgumentException("This endpoint has no remote address: pass the destination to SendTo, or create the endpoint with a remote.", nameof(remote));
        }

        if (_closing || _connectionLost)
        {
            if (++_ignoredSends == IgnoredSendsWarningThreshold)
            {
                LogIgnoredSends(_loop.Logger, ToString(), null);
            }

            return;
        }

        if (_queue.Count == 0)
        {
            SocketError error;
            try
            {
                error = Send(data, remote);
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal write error on datagram transport");
                return;
            }

            if (error == SocketError.Success)
            {
                return;
            }

            if (!SocketOperation<int>.IsTransient(error))
            {
                DeliverError(new SocketException((int)error));
                return;
            }

            _writing.Watch();
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, 1));
        data.CopyTo(copy);
        _queue.Enqueue(new QueuedDatagram(copy, data.Length, remote));
        _queuedBytes += data.Length + QueuedDatagramOverhead;
        MaybePauseProtocol();
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
        if (_queue.Count == 0)
        {
            _writing.Unwatch();
            ScheduleConnectionLost(null);
        }
    }

    /// <inheritdoc/>
    public void Abort() => ForceClose(null);

    /// <inheritdoc/>
    public override string ToString()
    {
        string state = _connectionLost ? "closed" : _closing ? "closing" : "open";
        return $"<DatagramTransport {state} local={_sockName} remote={_address} queued={_queue.Count}>";
    }

    private static EndPoint? TryGetLocalEndPoint(Socket socket)
    {
        try
        {
            return socket.LocalEndPoint;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private void Start()
    {
        if (_connectionLost)
        {
            if (_waiter is { IsDone: false } aborted)
            {
                aborted.SetException(new SocketException((int)SocketError.OperationAborted, "The datagram endpoint was closed before it started."));
            }

            return;
        }

        try
        {
            _protocol.ConnectionMade(this);
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

        if (!_closing)
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

    /// <summary>One send now; Success, a transient error (queue it), or another error. Non-socket failures throw.</summary>
    private SocketError Send(ReadOnlySpan<byte> data, EndPoint remote)
    {
        if (_peerName is not null)
        {
            _socket.Send(data, SocketFlags.None, out SocketError error);
            return error;
        }

        if (!ReferenceEquals(remote, _lastDestination))
        {
            _lastDestinationAddress = remote.Serialize();
            _lastDestination = remote;
        }

        try
        {
            _socket.SendTo(data, SocketFlags.None, _lastDestinationAddress!);
            return SocketError.Success;
        }
        catch (SocketException exception)
        {
            return exception.SocketErrorCode;
        }
    }

    private void OnReadable()
    {
        if (_connectionLost)
        {
            return;
        }

        byte[] chunk = ArrayPool<byte>.Shared.Rent(MaxDatagramSize);
        try
        {
            Span<byte> buffer = chunk.AsSpan(0, MaxDatagramSize);
            int received;
            EndPoint sender;
            try
            {
                if (_loop.Backend == LoopBackend.Portable && _loop.TakeReadError(_socket) is var taken and not SocketError.Success)
                {
                    throw new SocketException((int)taken); // consumed by the portable backend's wait
                }

                if (_peerName is not null)
                {
                    received = _socket.Receive(buffer, SocketFlags.None, out SocketError error);
                    if (error != SocketError.Success)
                    {
                        throw new SocketException((int)error);
                    }

                    sender = _peerName;
                }
                else
                {
                    _received.Size = _addressSize;
                    received = _socket.ReceiveFrom(buffer, SocketFlags.None, _received);
                    sender = SenderEndPoint();
                }
            }
            catch (SocketException exception) when (SocketOperation<int>.IsTransient(exception.SocketErrorCode))
            {
                return;
            }
            catch (SocketException exception)
            {
                DeliverError(exception);
                return;
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal read error on datagram transport");
                return;
            }

            try
            {
                _protocol.DatagramReceived(buffer[..received], sender);
            }
            catch (Exception exception)
            {
                Report("Exception in protocol.DatagramReceived()", exception);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    /// <summary>The endpoint of the datagram just received: the previous one when the address bytes are equal.</summary>
    private EndPoint SenderEndPoint()
    {
        if (_lastSenderEndPoint is not null && _received.Equals(_lastSender))
        {
            return _lastSenderEndPoint;
        }

        _lastSenderEndPoint = _template.Create(_received);
        (_lastSender, _received) = (_received, _lastSender);
        return _lastSenderEndPoint;
    }

    private void OnWritable()
    {
        if (_connectionLost)
        {
            return;
        }

        while (_queue.TryPeek(out QueuedDatagram datagram))
        {
            SocketError error;
            try
            {
                error = Send(datagram.Data.AsSpan(0, datagram.Length), datagram.Remote);
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal write error on datagram transport");
                return;
            }

            if (error != SocketError.Success && SocketOperation<int>.IsTransient(error))
            {
                break;
            }

            Dequeue();
            if (error != SocketError.Success)
            {
                DeliverError(new SocketException((int)error));
                if (_connectionLost)
                {
                    return;
                }
            }
        }

        MaybeResumeProtocol();
        if (_queue.Count == 0 && !_connectionLost)
        {
            _writing.Unwatch();
            if (_closing)
            {
                ScheduleConnectionLost(null);
            }
        }
    }

    private void Dequeue()
    {
        QueuedDatagram datagram = _queue.Dequeue();
        _queuedBytes -= datagram.Length + QueuedDatagramOverhead;
        ArrayPool<byte>.Shared.Return(datagram.Data);
    }

    private void DeliverError(SocketException exception)
    {
        try
        {
            _protocol.ErrorReceived(exception);
        }
        catch (Exception failure)
        {
            Report("Exception in protocol.ErrorReceived()", failure);
        }
    }

    private void MaybePauseProtocol()
    {
        if (!_flow.ShouldPause(_queuedBytes))
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
        if (!_flow.ShouldResume(_queuedBytes))
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

    private void FatalError(Exception exception, string message, bool report = true)
    {
        if (report)
        {
            Report(message, exception);
        }

        ForceClose(exception);
    }

    private void Report(string message, Exception exception) =>
        _loop.CallExceptionHandler(new ExceptionContext($"{message}\ntransport: {this}\nprotocol: {_protocol}", exception));

    private void ForceClose(Exception? exception)
    {
        if (_connectionLost)
        {
            return;
        }

        DropQueue();
        _writing.Unwatch();
        _closing = true;
        _reading.Unwatch();
        ScheduleConnectionLost(exception);
    }

    private void DropQueue()
    {
        while (_queue.Count > 0)
        {
            Dequeue();
        }
    }

    private void ScheduleConnectionLost(Exception? exception)
    {
        if (_connectionLost)
        {
            return;
        }

        _connectionLost = true;
        _lostWith = exception;
        if (_loop.IsClosed)
        {
            CallConnectionLost();
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
            DropQueue();
            _socket.Dispose();
            _lostWith = null;
        }
    }

    /// <summary>A datagram waiting for writability: a rented copy and its destination.</summary>
    private readonly record struct QueuedDatagram(byte[] Data, int Length, EndPoint Remote);
}
