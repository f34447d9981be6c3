namespace Aio.Net;

/// <summary>
/// The protocol of the socket transport under a <see cref="TlsTransport"/> (asyncio's SSLProtocol
/// in its role as the socket's protocol): passes ciphertext, EOF, loss and flow control up.
/// </summary>
internal sealed class TlsWireProtocol(TlsTransport owner) : Protocol
{
    /// <inheritdoc/>
    public override void ConnectionMade(ITransport transport) => owner.OnSocketMade((SocketTransport)transport);

    /// <inheritdoc/>
    public override void DataReceived(ReadOnlySpan<byte> data) => owner.OnCiphertext(data);

    /// <summary>Keeps the socket open: close_notify may still have to be sent. The TLS transport closes it.</summary>
    public override bool EofReceived()
    {
        owner.OnSocketEof();
        return true;
    }

    /// <inheritdoc/>
    public override void ConnectionLost(Exception? exception) => owner.OnSocketLost(exception);

    /// <inheritdoc/>
    public override void PauseWriting() => owner.OnSocketPaused();

    /// <inheritdoc/>
    public override void ResumeWriting() => owner.OnSocketResumed();

    /// <inheritdoc/>
    public override string ToString() => $"<TlsWireProtocol of {owner}>";
}
