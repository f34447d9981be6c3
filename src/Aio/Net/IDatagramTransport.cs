using System.Net;

namespace Aio.Net;

/// <summary>
/// A datagram (UDP) endpoint [asyncio.DatagramTransport], made by
/// <see cref="Network.CreateDatagramEndpointAsync"/>. Loop thread only. <see cref="IBaseTransport.GetExtraInfo"/>
/// knows "peername" (the connected remote, or null), "sockname" and "socket".
/// </summary>
public interface IDatagramTransport : IBaseTransport
{
    /// <summary>
    /// Sends <paramref name="data"/> as one datagram to <paramref name="remote"/> [transport.sendto(data, addr)];
    /// never blocks. On an endpoint created with a remote address, <paramref name="remote"/> must be
    /// null or that address. When the kernel cannot take the datagram now it is copied and sent once
    /// the socket is writable, in order; the protocol's PauseWriting runs when the queue exceeds the
    /// high mark. A send the system refuses goes to the protocol's ErrorReceived. Sending on a closing
    /// transport is ignored (a warning is logged after a few).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="remote"/> is not the connected remote; or it is null and the
    /// endpoint has no remote; or it is a <see cref="DnsEndPoint"/> (resolve it first).</exception>
    void SendTo(ReadOnlySpan<byte> data, EndPoint? remote = null);

    /// <summary>Closes at once, dropping queued datagrams [transport.abort()]; ConnectionLost runs with null.</summary>
    void Abort();

    /// <summary>Bytes of queued datagrams not yet sent [transport.get_write_buffer_size()].</summary>
    int WriteBufferSize { get; }

    /// <summary>
    /// Sets the flow-control marks of the send queue [transport.set_write_buffer_limits]; defaults:
    /// high 64 KiB, low a quarter of high.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">high &lt; low, or a negative value.</exception>
    void SetWriteBufferLimits(int? high = null, int? low = null);

    /// <summary>The current (low, high) marks [transport.get_write_buffer_limits()].</summary>
    (int Low, int High) GetWriteBufferLimits();
}
