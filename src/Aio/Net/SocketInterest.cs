using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// A transport's interest in one direction of its socket's readiness: <see cref="Watch"/> adds the
/// loop's reader (or writer) once, <see cref="Unwatch"/> removes it once, however often either is
/// called, so a transport can say what it wants at each step without tracking what is installed.
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

        if (write)
        {
            loop.AddWriter(socket, callback);
        }
        else
        {
            loop.AddReader(socket, callback);
        }

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
        if (write)
        {
            loop.RemoveWriter(socket);
        }
        else
        {
            loop.RemoveReader(socket);
        }
    }
}
