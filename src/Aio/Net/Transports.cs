// The transport interfaces [asyncio.BaseTransport, ReadTransport, WriteTransport, Transport].
// A transport owns a connection; a protocol (Protocol.cs) receives its events. Every member is
// loop-thread only, as in asyncio.
namespace Aio.Net;

/// <summary>What every transport offers [asyncio.BaseTransport]. Loop thread only.</summary>
public interface IBaseTransport
{
    /// <summary>
    /// Transport details by name [transport.get_extra_info]: "peername" and "sockname"
    /// (<see cref="System.Net.EndPoint"/>), "socket" (<see cref="System.Net.Sockets.Socket"/>);
    /// null when unknown.
    /// </summary>
    object? GetExtraInfo(string name);

    /// <summary>Whether the transport is closing or closed [transport.is_closing()].</summary>
    bool IsClosing { get; }

    /// <summary>
    /// Closes the transport [transport.close()]: buffered data is flushed first, then the protocol's
    /// ConnectionLost runs with null. Idempotent.
    /// </summary>
    void Close();
}

/// <summary>The reading side [asyncio.ReadTransport]. Loop thread only.</summary>
public interface IReadTransport : IBaseTransport
{
    /// <summary>Whether the transport is receiving [transport.is_reading()].</summary>
    bool IsReading { get; }

    /// <summary>Stops delivering data until <see cref="ResumeReading"/> [transport.pause_reading()]. Idempotent.</summary>
    void PauseReading();

    /// <summary>Delivers data again [transport.resume_reading()]. Idempotent.</summary>
    void ResumeReading();
}

/// <summary>The writing side [asyncio.WriteTransport]. Loop thread only.</summary>
public interface IWriteTransport : IBaseTransport
{
    /// <summary>
    /// Queues <paramref name="data"/> for sending [transport.write]; never blocks. The bytes are
    /// copied if they cannot be sent at once. Writing to a closing transport is ignored (and
    /// counted, as asyncio does); writing after <see cref="WriteEof"/> throws.
    /// </summary>
    /// <exception cref="InvalidOperationException">WriteEof was called.</exception>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>Closes the write side after buffered data is sent [transport.write_eof()].</summary>
    void WriteEof();

    /// <summary>Whether <see cref="WriteEof"/> is supported [transport.can_write_eof()].</summary>
    bool CanWriteEof { get; }

    /// <summary>Bytes buffered and not yet sent [transport.get_write_buffer_size()].</summary>
    int WriteBufferSize { get; }

    /// <summary>
    /// Sets the flow-control marks [transport.set_write_buffer_limits]: above <paramref name="high"/>
    /// bytes the protocol's PauseWriting runs; at or below <paramref name="low"/> ResumeWriting.
    /// Defaults: high 64 KiB, low a quarter of high.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">high &lt; low, or a negative value.</exception>
    void SetWriteBufferLimits(int? high = null, int? low = null);

    /// <summary>The current (low, high) marks [transport.get_write_buffer_limits()].</summary>
    (int Low, int High) GetWriteBufferLimits();

    /// <summary>
    /// Closes at once, dropping buffered data [transport.abort()]; ConnectionLost runs with null.
    /// </summary>
    void Abort();
}

/// <summary>A bidirectional stream transport [asyncio.Transport]. Loop thread only.</summary>
public interface ITransport : IReadTransport, IWriteTransport
{
}
