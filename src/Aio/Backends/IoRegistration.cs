using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Aio.Backends;

/// <summary>
/// One watched descriptor: the loop's reader and writer callbacks for it, plus whatever the
/// backend keeps about it. Created and mutated on the loop thread only.
/// </summary>
internal sealed class IoRegistration
{
    public IoRegistration(int fd, Socket? socket, SafeHandle? descriptor = null)
    {
        Debug.Assert(socket is null != descriptor is null, "a registration is for a socket or for a raw descriptor");
        Fd = fd;
        Socket = socket;
        Descriptor = descriptor;
    }

    /// <summary>The OS descriptor (on Windows, the socket handle truncated; used as a key only).</summary>
    public int Fd { get; }

    /// <summary>The socket, when the registration was made for one; null for a raw descriptor.</summary>
    public Socket? Socket { get; }

    /// <summary>The raw descriptor's handle, when the registration was made for one; null for a socket.</summary>
    public SafeHandle? Descriptor { get; set; }

    /// <summary>
    /// Whether the descriptor this registration was made for has been closed: its number may now
    /// name another file, so the registration must never be applied to (or reported for) that one.
    /// </summary>
    public bool IsStale => Socket is { } socket ? socket.SafeHandle.IsClosed : Descriptor!.IsClosed;

    /// <summary>The callback run when the descriptor is readable, or null.</summary>
    public Handle? Reader { get; set; }

    /// <summary>The callback run when the descriptor is writable, or null.</summary>
    public Handle? Writer { get; set; }

    /// <summary>Whether a live reader is installed.</summary>
    public bool WantsRead => Reader is not null;

    /// <summary>Whether a live writer is installed.</summary>
    public bool WantsWrite => Writer is not null;

    /// <summary>The interest mask the backend last applied (backend-defined bits).</summary>
    public int AppliedEvents { get; set; }

    /// <summary>
    /// A socket error a completion-based backend took from the socket while waiting for it to become
    /// readable (its zero-byte receive consumed it, as the first call after an error does), for the
    /// reader to report; <see cref="SocketError.Success"/> when none.
    /// </summary>
    public SocketError ReadError { get; set; }

    /// <summary>Backend-private state.</summary>
    public object? BackendState { get; set; }
}
