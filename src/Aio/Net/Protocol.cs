namespace Aio.Net;

/// <summary>
/// Receives a stream transport's events [asyncio.Protocol]. Override what you need; every method
/// runs on the loop thread, in this order: <see cref="ConnectionMade"/> once, then any number of
/// <see cref="DataReceived"/>, then at most one <see cref="EofReceived"/>, then
/// <see cref="ConnectionLost"/> exactly once. <see cref="PauseWriting"/> and
/// <see cref="ResumeWriting"/> alternate, driven by the transport's write-buffer marks.
/// </summary>
public abstract class Protocol
{
    /// <summary>The connection is up; keep <paramref name="transport"/> to write [protocol.connection_made].</summary>
    public virtual void ConnectionMade(ITransport transport)
    {
    }

    /// <summary>
    /// Bytes arrived [protocol.data_received]. The span is valid only during the call: copy what
    /// you keep.
    /// </summary>
    public virtual void DataReceived(ReadOnlySpan<byte> data)
    {
    }

    /// <summary>
    /// The peer closed its write side [protocol.eof_received]. Return true to keep your write side
    /// open (half-close); false (the default) closes the transport.
    /// </summary>
    public virtual bool EofReceived() => false;

    /// <summary>
    /// The connection is gone [protocol.connection_lost]: <paramref name="exception"/> is null after a
    /// regular close or EOF, else the error (a reset, for example). Runs exactly once.
    /// </summary>
    public virtual void ConnectionLost(Exception? exception)
    {
    }

    /// <summary>The transport's write buffer went above its high mark [protocol.pause_writing].</summary>
    public virtual void PauseWriting()
    {
    }

    /// <summary>The write buffer drained to its low mark [protocol.resume_writing].</summary>
    public virtual void ResumeWriting()
    {
    }
}

/// <summary>
/// A protocol that receives data straight into its own buffer [asyncio.BufferedProtocol]: the
/// transport asks for a buffer, receives into it, and reports how many bytes it wrote.
/// </summary>
public abstract class BufferedProtocol : Protocol
{
    /// <summary>
    /// Returns the memory to receive into [protocol.get_buffer(sizehint)]; at least one byte.
    /// <paramref name="sizeHint"/> is the transport's preferred size (may be ignored).
    /// </summary>
    public abstract Memory<byte> GetBuffer(int sizeHint);

    /// <summary><paramref name="bytes"/> bytes were written at the start of the last buffer [protocol.buffer_updated].</summary>
    public abstract void BufferUpdated(int bytes);

    /// <summary>Not used for buffered protocols: data arrives through <see cref="GetBuffer"/> and <see cref="BufferUpdated"/>.</summary>
    public sealed override void DataReceived(ReadOnlySpan<byte> data) =>
        throw new InvalidOperationException("A BufferedProtocol receives through GetBuffer/BufferUpdated, not DataReceived.");
}
