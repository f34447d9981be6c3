// The protocol between a transport and a stream pair [asyncio.StreamReaderProtocol with its
// FlowControlMixin].
//
// Reading side: data, EOF and the connection's end are fed to the AsyncStreamReader (an error
// through SetException, a clean end as EOF); EOF from the peer keeps our write side open (returns
// true), so a half-closed connection can still be answered, except over TLS where a half-close
// means nothing.
//
// Writing side: the transport's PauseWriting/ResumeWriting drive a flag, and DrainAsync waits on a
// future per call while the flag is up. ResumeWriting completes every waiter; ConnectionLost
// completes them too (with the connection's error, if any), but only if writing was paused, as
// asyncio does; a drain after the loss then throws "Connection lost".
//
// Without a reader (a subprocess's stdin pipe) it is only the flow-control half: the subprocess
// protocol forwards PauseWriting, ResumeWriting and the pipe's end to it.
//
// Server side: with a client-connected callback, ConnectionMade creates the writer and runs the
// callback as a LoopTask (asyncio wraps a coroutine callback into a task). When that task fails, the
// error goes to the loop's exception handler and the transport is closed; when it is cancelled, the
// transport is closed (Python 3.12).
//
// The "closed" future, which WaitClosedAsync awaits, completes at ConnectionLost, failing with the
// connection's error if any; that error is marked retrieved at once, since nobody has to wait for
// a close (asyncio's __del__ does the same), so it is never reported as lost.
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>Bridges a transport to an <see cref="AsyncStreamReader"/> and <see cref="AsyncStreamWriter"/>. Loop thread only.</summary>
internal sealed class AsyncStreamReaderProtocol : Protocol
{
    private readonly EventLoop _loop;
    private readonly Func<AsyncStreamReader, AsyncStreamWriter, Task>? _clientConnected;
    private readonly ValuelessFuture _closed;
    private readonly ValuelessFuture _drained;
    private List<DrainWaiter> _drainWaiters = [];
    private AsyncStreamReader? _reader;
    private AsyncStreamWriter? _writer;
    private bool _overTls;
    private bool _paused;
    private bool _connectionLost;

    public AsyncStreamReaderProtocol(EventLoop loop, AsyncStreamReader? reader, Func<AsyncStreamReader, AsyncStreamWriter, Task>? clientConnected = null)
    {
        _loop = loop;
        _reader = reader;
        _clientConnected = clientConnected;
        _closed = new ValuelessFuture(loop);
        _drained = new ValuelessFuture(loop);
        _drained.TrySucceed();
    }

    /// <summary>The writer a server connection made (null for a client, whose writer Streams creates).</summary>
    public AsyncStreamWriter? Writer => _writer;

    /// <summary>Whether the transport asked us to stop writing (its buffer is above the high mark).</summary>
    public bool IsWritingPaused => _paused;

    /// <summary>Whether ConnectionLost ran.</summary>
    public bool IsConnectionLost => _connectionLost;

    /// <summary>Completes when the connection is lost; fails with its error, if any.</summary>
    public Future Closed => _closed;

    /// <summary>The task running the client-connected callback, while it runs.</summary>
    public LoopTask? ClientTask { get; private set; }

    public override void ConnectionMade(ITransport transport)
    {
        _overTls = transport.GetExtraInfo("sslcontext") is not null;
        AsyncStreamReader? reader = _reader;
        reader?.SetTransport(transport);
        if (_clientConnected is null || reader is null)
        {
            return;
        }

        var writer = new AsyncStreamWriter(transport, this, reader);
        _writer = writer;
        LoopTask task = _loop.CreateTask(() => _clientConnected(reader, writer));
        ClientTask = task;
        task.AddDoneCallback(done =>
        {
            if (ReferenceEquals(ClientTask, done))
            {
                ClientTask = null;
            }

            if (done.IsCancelled)
            {
                transport.Close();
            }
            else if (done.GetException() is { } exception)
            {
                _loop.CallExceptionHandler(new ExceptionContext($"Unhandled exception in client_connected_cb\ntransport: {transport}", exception) { Future = done });
                transport.Close();
            }
        });
    }

    /// <summary>The connection was upgraded to TLS [_replace_transport]: the reader pauses the new transport; EOF closes.</summary>
    public void ReplaceTransport(ITransport transport)
    {
        _overTls = transport.GetExtraInfo("sslcontext") is not null;
        _reader?.ReplaceTransport(transport);
    }

    public override void DataReceived(ReadOnlySpan<byte> data) => _reader?.FeedData(data);

    public override bool EofReceived()
    {
        _reader?.FeedEof();

        // Over TLS a half-close is not supported: returning true would only earn a warning.
        return !_overTls;
    }

    public override void ConnectionLost(Exception? exception)
    {
        if (_reader is { } reader)
        {
            if (exception is null)
            {
                reader.FeedEof();
            }
            else
            {
                reader.SetException(exception);
            }
        }

        if (!_closed.IsDone)
        {
            if (exception is null)
            {
                _closed.TrySucceed();
            }
            else
            {
                _closed.SetException(exception);
                _ = _closed.GetException();
            }
        }

        // FlowControlMixin.connection_lost: drains wake only if writing was paused.
        _connectionLost = true;
        if (_paused)
        {
            List<DrainWaiter> waiters = TakeWaiters();
            foreach (DrainWaiter waiter in waiters)
            {
                if (exception is null)
                {
                    waiter.Succeed();
                }
                else
                {
                    waiter.Fail(exception);
                }
            }
        }

        _reader = null;
        _writer = null;
    }

    public override void PauseWriting() => _paused = true;

    public override void ResumeWriting()
    {
        _paused = false;
        foreach (DrainWaiter waiter in TakeWaiters())
        {
            waiter.Succeed();
        }
    }

    /// <summary>
    /// asyncio's _drain_helper: "Connection lost" once the connection is gone; done at once unless
    /// writing is paused; else a future that ResumeWriting or ConnectionLost completes.
    /// </summary>
    public Future Drain()
    {
        if (_connectionLost)
        {
            return Failed(NewConnectionLostError());
        }

        if (!_paused)
        {
            return _drained;
        }

        var waiter = new DrainWaiter(_loop, this);
        _drainWaiters.Add(waiter);
        return waiter;
    }

    /// <summary>
    /// Drain after one loop iteration, for a closing transport (asyncio's `await sleep(0)` before
    /// _drain_helper): the pending ConnectionLost gets to run first, so the drain can report it.
    /// </summary>
    public Future DrainAfterYield()
    {
        var waiter = new DrainWaiter(_loop, this);
        _loop.CallSoon(static state => ((DrainWaiter)state!).Start(), waiter);
        return waiter;
    }

    /// <summary>The error of a drain on a lost connection [ConnectionResetError('Connection lost')].</summary>
    public static SocketException NewConnectionLostError() => new((int)SocketError.ConnectionReset, "Connection lost");

    /// <inheritdoc />
    public override string ToString() =>
        $"<AsyncStreamReaderProtocol{(_paused ? " paused" : "")}{(_connectionLost ? " lost" : "")}{(_clientConnected is null ? "" : " server-side")}>";

    private ValuelessFuture Failed(Exception exception)
    {
        var failed = new ValuelessFuture(_loop);
        failed.SetException(exception);
        return failed;
    }

    private List<DrainWaiter> TakeWaiters()
    {
        List<DrainWaiter> waiters = _drainWaiters;
        _drainWaiters = [];
        return waiters;
    }

    /// <summary>One pending drain; cancelling it withdraws it.</summary>
    private sealed class DrainWaiter(EventLoop loop, AsyncStreamReaderProtocol protocol) : Future(loop)
    {
        public void Succeed()
        {
            if (!IsDone)
            {
                CompleteSucceeded();
            }
        }

        public void Fail(Exception exception)
        {
            if (!IsDone)
            {
                SetException(exception);
            }
        }

        /// <summary>The drain helper, one iteration late (see <see cref="DrainAfterYield"/>).</summary>
        public void Start()
        {
            if (IsDone)
            {
                return;
            }

            if (protocol._connectionLost)
            {
                SetException(NewConnectionLostError());
            }
            else if (!protocol._paused)
            {
                CompleteSucceeded();
            }
            else
            {
                protocol._drainWaiters.Add(this);
            }
        }

        private protected override void OnCompleted() => protocol._drainWaiters.Remove(this);
    }
}
