using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// Receives a datagram endpoint's events [asyncio.DatagramProtocol]. Override what you need; every
/// method runs on the loop thread: <see cref="ConnectionMade"/> once, then any number of
/// <see cref="DatagramReceived"/> and <see cref="ErrorReceived"/>, then <see cref="ConnectionLost"/>
/// exactly once. <see cref="PauseWriting"/> and <see cref="ResumeWriting"/> alternate, driven by the
/// transport's send-buffer marks.
/// </summary>
public abstract class DatagramProtocol
{
    /// <summary>The endpoint is ready; keep <paramref name="transport"/> to send [protocol.connection_made].</summary>
    public virtual void ConnectionMade(IDatagramTransport transport)
    {
    }

    /// <summary>
    /// A datagram arrived from <paramref name="remote"/> [protocol.datagram_received(data, addr)]. The
    /// span is valid only during the call: copy what you keep. The endpoint object may be handed out
    /// again for later datagrams from the same sender (it is never changed), so it can be kept and
    /// passed to <see cref="IDatagramTransport.SendTo"/>. An exception thrown here goes to the loop's
    /// exception handler; the transport stays open.
    /// </summary>
    public virtual void DatagramReceived(ReadOnlySpan<byte> data, EndPoint remote)
    {
    }

    /// <summary>
    /// A send or receive failed [protocol.error_received(exc)] — for example ConnectionRefused on a
    /// connected socket after the peer's port answered with ICMP "port unreachable". The transport
    /// stays open.
    /// </summary>
    public virtual void ErrorReceived(SocketException exception)
    {
    }

    /// <summary>
    /// The endpoint is closed [protocol.connection_lost(exc)]: <paramref name="exception"/> is null after
    /// <see cref="IBaseTransport.Close"/> or <see cref="IDatagramTransport.Abort"/>, else the fatal
    /// error. Runs exactly once; the socket is closed after it returns.
    /// </summary>
    public virtual void ConnectionLost(Exception? exception)
    {
    }

    /// <summary>The transport's send buffer went above its high mark [protocol.pause_writing].</summary>
    public virtual void PauseWriting()
    {
    }

    /// <summary>The send buffer drained to its low mark [protocol.resume_writing].</summary>
    public virtual void ResumeWriting()
    {
    }
}
