using System.Buffers;

namespace Aio.Net;

/// <summary>The reading half of <see cref="TlsTransport"/>: ciphertext in, plaintext to the protocol.</summary>
internal sealed partial class TlsTransport
{
    /// <summary>The plaintext read per SslStream read: one TLS record holds at most 16 KiB.</summary>
    private const int ReadSize = 16 * 1024;

    private readonly Action _onReadCompleted;
    private byte[]? _readBuffer;
    private ValueTask<int> _pendingRead;
    private int _heldCount;
    private bool _readPending;
    private bool _pumpingReads;
    private bool _readingPaused;
    private bool _peerClosed;
    private bool _socketReadingPaused;

    /// <inheritdoc/>
    public void PauseReading()
    {
        if (IsReading)
        {
            _readingPaused = true;
        }
    }

    /// <inheritdoc/>
    public void ResumeReading()
    {
        if (_closing || !_readingPaused)
        {
            return;
        }

        _readingPaused = false;
        PumpReads();
    }

    /// <summary>Ciphertext arrived from the socket transport.</summary>
    internal void OnCiphertext(ReadOnlySpan<byte> data)
    {
        _wire.Feed(data); // may run the SslStream, and this transport's read steps, inline
        if (!_socketReadingPaused && _wire.BufferedCount > TlsDefaults.IncomingHighWater && _state != TlsState.Closed)
        {
            _socketReadingPaused = true;
            _socket?.PauseReading();
        }
    }

    /// <summary>The SslStream took ciphertext from the wire stream: let the socket read again below the low mark.</summary>
    internal void OnCiphertextConsumed()
    {
        if (_socketReadingPaused && _wire.BufferedCount <= TlsDefaults.IncomingLowWater)
        {
            _socketReadingPaused = false;
            _socket?.ResumeReading();
        }
    }

    /// <summary>
    /// Delivers held plaintext and issues reads until one has to wait, the protocol pauses reading,
    /// or the peer's close_notify arrives. Not reentrant: a call from inside a protocol callback only
    /// updates state, and the running pump goes on.
    /// </summary>
    private void PumpReads()
    {
        if (_pumpingReads)
        {
            return;
        }

        _pumpingReads = true;
        try
        {
            while (true)
            {
                bool delivering = _state == TlsState.Open && !_closing; // not after Abort
                if (!delivering && _state != TlsState.ShuttingDown)
                {
                    return;
                }

                if (_heldCount > 0)
                {
                    if (delivering && _readingPaused)
                    {
                        return;
                    }

                    int count = _heldCount;
                    _heldCount = 0;
                    if (delivering)
                    {
                        Deliver(_readBuffer.AsSpan(0, count));
                    }

                    continue;
                }

                if (_readPending || _peerClosed || (delivering && _readingPaused))
                {
                    return;
                }

                _readBuffer ??= ArrayPool<byte>.Shared.Rent(ReadSize);
                ValueTask<int> read;
                try
                {
                    read = _ssl.ReadAsync(_readBuffer.AsMemory(0, ReadSize));
                }
                catch (Exception exception)
                {
                    OnReadFailed(exception);
                    return;
                }

                if (!read.IsCompleted)
                {
                    _readPending = true;
                    _pendingRead = read;
                    read.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onReadCompleted);
                    return;
                }

                TakeReadResult(read);
            }
        }
        finally
        {
            _pumpingReads = false;
        }
    }

    private void OnReadCompleted() => OnLoop(() =>
    {
        ValueTask<int> read = _pendingRead;
        _pendingRead = default;
        _readPending = false;
        TakeReadResult(read);
        PumpReads();
    });

    /// <summary>Records a finished read: plaintext to hold for delivery, the peer's end, or an error.</summary>
    private void TakeReadResult(ValueTask<int> read)
    {
        int count;
        try
        {
            count = read.GetAwaiter().GetResult();
        }
        catch (Exception exception)
        {
            OnReadFailed(exception);
            return;
        }

        if (_state == TlsState.Closed)
        {
            return;
        }

        if (count > 0)
        {
            _heldCount = count;
        }
        else
        {
            OnPeerClosed();
        }
    }

    private void Deliver(ReadOnlySpan<byte> data)
    {
        if (_appBuffered is null)
        {
            try
            {
                _app.DataReceived(data);
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal error: protocol.DataReceived() call failed.", report: true);
            }

            return;
        }

        // asyncio copies into a buffered protocol's buffers too when it decrypts: as many as it takes.
        while (!data.IsEmpty && _state == TlsState.Open && !_closing)
        {
            try
            {
                Memory<byte> buffer = _appBuffered.GetBuffer(data.Length);
                if (buffer.IsEmpty)
                {
                    throw new InvalidOperationException("BufferedProtocol.GetBuffer() returned an empty buffer.");
                }

                int count = Math.Min(buffer.Length, data.Length);
                data[..count].CopyTo(buffer.Span);
                data = data[count..];
                _appBuffered.BufferUpdated(count);
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal error: protocol.GetBuffer() or BufferUpdated() call failed.", report: true);
                return;
            }
        }
    }

    /// <summary>The SslStream read the end: the peer's close_notify, or the socket's EOF.</summary>
    private void OnPeerClosed()
    {
        _peerClosed = true;
        if (_state == TlsState.ShuttingDown)
        {
            MaybeFinishShutdown();
            return;
        }

        bool keepOpen;
        try
        {
            keepOpen = _app.EofReceived();
        }
        catch (Exception exception)
        {
            FatalError(exception, "Fatal error: protocol.EofReceived() call failed.", report: true);
            return;
        }

        if (keepOpen)
        {
            LogEofKeepOpen(_loop.Logger, ToString(), null);
        }

        Close();
    }

    private void OnReadFailed(Exception exception)
    {
        if (_state == TlsState.Closed)
        {
            return;
        }

        if (_state == TlsState.ShuttingDown && exception is IOException)
        {
            // The peer closed without close_notify, or broke off: nothing more to wait for.
            _peerClosed = true;
            MaybeFinishShutdown();
            return;
        }

        FatalError(exception, "Fatal error on TLS transport: reading failed.");
    }

    private void ReleaseBuffers()
    {
        _plain.Clear();
        _heldCount = 0;
        if (_readBuffer is { } buffer && !_readPending)
        {
            _readBuffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
