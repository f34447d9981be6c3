using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// A transport's interest in one direction of its socket's readiness: <see cref="Watch"/> adds the
/// loop's reader (or writer) once, <see cref="Unwatch"/> removes it once, however often either is
/// called, so a transport can say what it wants at each step without tracking what is installed.
/// It goes around the loop's transport-ownership check (asyncio's _add_reader): the transport is the owner.
/// </summary>
internal struct SocketInterest(EventLoop loop, Socket socket, Action callback, bool write)
{
    /// <summary>Whether the callback is registered with the loop.</summary>
    public bool IsWatching { get; private set; }

    /// <summary>Registers the callback unless it is.</summary>
    public void Watch()
    {
        if (IsWatching)
        {
            return;
        }

        loop.WatchOwnSocket(socket, callback, read: !write);
        IsWatching = true;
    }

    /// <summary>Removes the callback if it is registered.</summary>
    public void Unwatch()
    {
        if (!IsWatching)
        {
            return;
        }

        IsWatching = false;
        _ = loop.UnwatchOwnSocket(socket, read: !write);
    }
}
