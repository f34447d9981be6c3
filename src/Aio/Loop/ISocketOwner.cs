namespace Aio;

/// <summary>
/// Something that owns a socket registered with the loop (a transport): while it is not closing,
/// the loop refuses <c>AddReader</c>, <c>AddWriter</c>, <c>RemoveReader</c>, <c>RemoveWriter</c>
/// and the <c>Sock*Async</c> operations on that socket [asyncio's _ensure_fd_no_transport].
/// </summary>
internal interface ISocketOwner
{
    /// <summary>Whether the owner is closing or closed; a closing owner no longer guards its socket.</summary>
    bool IsClosing { get; }
}
