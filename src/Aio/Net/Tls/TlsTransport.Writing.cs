namespace Aio.Net;

/// <summary>The writing half of <see cref="TlsTransport"/>: plaintext in, ciphertext to the socket; flow control; the shutdown.</summary>
internal sealed partial class TlsTransport
{
    /// <summary>Ignored writes after close before a warning is logged [asyncio LOG_THRESHOLD_FOR_CONNLOST_WRITES].</summary>
    private const int IgnoredWritesWarningThreshold = 5;

    private readonly WriteBuffer _plain = new();
    private readonly Action _onWriteCompleted;
    private ValueTask _pendingWrite;
    private int _pendingWriteLength;
    private bool _writePending;
    private bool _appWritingPaused;
    private bool _closeNotifyStarted;
    private bool _closeNotifySent;

    /// <summary>
    /// Queues <paramref name="data"/> to be encrypted and sent [transport.write]; never blocks.
    /// Ignored once the transport is closing (a warning after 5 such writes).
    /// </summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        CheckNoSendFile();
        WriteCore(data);
    }

    private void WriteCore(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        if (_closing || _state == TlsState.Closed)
        {
            if (++_ignoredWrites == IgnoredWritesWarningThreshold)
            {
                LogIgnoredWrites(_loop.Logger, ToString(), null);
            }

            return;
        }

        _plain.Append(data);
        PumpWrites();
        MaybePauseApp();
    }

    /// <summary>Sets the socket transport's marks, which are this transport's too (see the file's comment).</summary>
    public void SetWriteBufferLimits(int? high = null, int? low = null)
    {
        if (_socket is null)
        {
            throw new InvalidOperationException("The TLS transport has no connection yet.");
        }

        _socket.SetWriteBufferLimits(high, low);
        MaybePauseApp();
        MaybeResumeApp();
    }

    /// <inheritdoc/>
    public (int Low, int High) GetWriteBufferLimits() => _socket?.GetWriteBufferLimits() ?? (SocketTransport.DefaultHighWater / 4, SocketTransport.DefaultHighWater);

    /// <summary>The SslStream wrote a record: to the socket transport, which sends or buffers it.</summary>
    /// <exception cref="IOException">The socket transport is closing or gone.</exception>
    internal void WriteCiphertext(ReadOnlySpan<byte> data)
    {
        SocketTransport? socket = _socket;
        if (socket is null || socket.IsClosing || _state == TlsState.Closed)
        {
            throw new IOException("The connection under the TLS transport is closed.");
        }

        socket.Write(data);
    }

    /// <summary>The socket transport's buffer went above the high mark.</summary>
    internal void OnSocketPaused() => MaybePauseApp();

    /// <summary>The socket transport's buffer drained to the low mark.</summary>
    internal void OnSocketResumed() => MaybeResumeApp();

    /// <summary>Hands queued plaintext to the SslStream, one write at a time, then sends close_notify if closing.</summary>
    private void PumpWrites()
    {
        while (!_writePending && !_plain.IsEmpty && (_state is TlsState.Open or TlsState.ShuttingDown) && !_closeNotifyStarted)
        {
            ReadOnlyMemory<byte> head = _plain.HeadMemory;
            ValueTask write;
            try
            {
                write = _ssl.WriteAsync(head);
            }
            catch (Exception exception)
            {
                OnWriteFailed(exception);
                return;
            }

            if (!write.IsCompleted)
            {
                _writePending = true;
                _pendingWrite = write;
                _pendingWriteLength = head.Length;
                write.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onWriteCompleted);
                return;
            }

            if (!TakeWriteResult(write, head.Length))
            {
                return;
            }
        }

        if (_plain.IsEmpty && !_writePending)
        {
            if (_state == TlsState.ShuttingDown && !_closeNotifyStarted)
            {
                SendCloseNotify();
            }

            MaybeResumeApp();
        }
    }

    private void OnWriteCompleted() => OnLoop(() =>
    {
        ValueTask write = _pendingWrite;
        _pendingWrite = default;
        _writePending = false;
        if (TakeWriteResult(write, _pendingWriteLength))
        {
            PumpWrites();
        }
    });

    private bool TakeWriteResult(ValueTask write, int length)
    {
        try
        {
            write.GetAwaiter().GetResult();
        }
        catch (Exception exception)
        {
            OnWriteFailed(exception);
            return false;
        }

        if (_state == TlsState.Closed)
        {
            return false;
        }

        _plain.Consume(length);
        OnWriteBufferShrunk();
        return true;
    }

    private void OnWriteFailed(Exception exception)
    {
        if (_state != TlsState.Closed)
        {
            FatalError(exception, "Fatal error on TLS transport: writing failed.");
        }
    }

    private void MaybePauseApp()
    {
        if (_appWritingPaused || !_appMade || _state == TlsState.Closed || WriteBufferSize <= GetWriteBufferLimits().High)
        {
            return;
        }

        _appWritingPaused = true;
        try
        {
            _app.PauseWriting();
        }
        catch (Exception exception)
        {
            Report("protocol.PauseWriting() failed", exception);
        }
    }

    private void MaybeResumeApp()
    {
        if (!_appWritingPaused || _state == TlsState.Closed || WriteBufferSize > GetWriteBufferLimits().Low)
        {
            return;
        }

        _appWritingPaused = false;
        try
        {
            _app.ResumeWriting();
        }
        catch (Exception exception)
        {
            Report("protocol.ResumeWriting() failed", exception);
        }
    }

    /// <summary>Close on an open connection: flush, close_notify, wait for the peer's, within the shutdown timeout.</summary>
    private void StartShutdown()
    {
        _state = TlsState.ShuttingDown;
        if (_shutdownTimeout != Timeout.InfiniteTimeSpan)
        {
            _shutdownTimer = _loop.CallLater(_shutdownTimeout, OnShutdownTimeout);
        }

        PumpWrites(); // sends close_notify once the queued plaintext is out
        PumpReads();  // reads (and drops) until the peer's close_notify
    }

    private void SendCloseNotify()
    {
        _closeNotifyStarted = true;
        Task shutdown;
        try
        {
            shutdown = _ssl.ShutdownAsync();
        }
        catch (Exception exception)
        {
            OnCloseNotifyDone(Task.FromException(exception));
            return;
        }

        if (shutdown.IsCompleted)
        {
            OnCloseNotifyDone(shutdown);
        }
        else
        {
            shutdown.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(() => OnLoop(() => OnCloseNotifyDone(shutdown)));
        }
    }

    private void OnCloseNotifyDone(Task shutdown)
    {
        if (_state != TlsState.ShuttingDown)
        {
            _ = shutdown.Exception;
            return;
        }

        if (!shutdown.IsCompletedSuccessfully)
        {
            FatalError(shutdown.Exception?.InnerException ?? new IOException("Sending close_notify was cancelled."), "Fatal error on TLS transport: sending close_notify failed.");
            return;
        }

        _closeNotifySent = true;
        MaybeFinishShutdown();
    }

    /// <summary>Both close_notify messages are through (or the peer is gone): close the socket transport, flushing it.</summary>
    private void MaybeFinishShutdown()
    {
        if (_state != TlsState.ShuttingDown || !_closeNotifySent || !_peerClosed)
        {
            return;
        }

        _shutdownTimer?.Cancel();
        _shutdownTimer = null;
        _socket?.Close();
    }

    private void OnShutdownTimeout()
    {
        _shutdownTimer = null;
        if (_state == TlsState.ShuttingDown)
        {
            ForceClose(new TimeoutException("SSL shutdown timed out"));
        }
    }
}
