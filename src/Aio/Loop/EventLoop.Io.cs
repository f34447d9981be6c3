using System.Net.Sockets;
using System.Runtime.InteropServices;
using Aio.Backends;

namespace Aio;

public sealed partial class EventLoop
{
    private readonly Dictionary<int, IoRegistration> _io = new();
    private readonly Dictionary<int, OwnedSocket> _ownedSockets = new();

    /// <summary>
    /// Runs <paramref name="callback"/> on the loop whenever <paramref name="socket"/> is readable
    /// [loop.add_reader], on every iteration until it is drained or the reader is removed
    /// (level-triggered). Replaces any reader already installed for the socket. Loop thread only.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket is closed.</exception>
    /// <exception cref="InvalidOperationException">
    /// A transport owns the socket ("File descriptor N is used by transport ..."; use the transport's
    /// own methods, or close it first), the loop is closed, or (debug mode) the call comes from another thread.
    /// </exception>
    /// <exception cref="System.ComponentModel.Win32Exception">The OS refused to watch the descriptor (its errno is <c>NativeErrorCode</c>); nothing stays registered.</exception>
    public void AddReader(Socket socket, Action callback)
    {
        CheckNotOwnedByTransport(socket);
        SetInterest(Register(socket), callback, read: true);
    }

    /// <summary>
    /// As <see cref="AddReader(Socket, Action)"/> for a raw Unix descriptor (a pipe, an eventfd, ...).
    /// Epoll backend only. A descriptor number reused after the handle registered under it was
    /// closed gets a fresh registration: the stale one's callbacks never run for the new file.
    /// </summary>
    /// <exception cref="System.ComponentModel.Win32Exception">The OS refused to watch the descriptor (EBADF, EPERM for a regular file, ...; errno in <c>NativeErrorCode</c>); nothing stays registered.</exception>
    /// <exception cref="NotSupportedException">The loop's backend cannot watch raw descriptors; use <see cref="LoopBackend.Epoll"/>.</exception>
    public void AddReader(SafeHandle descriptor, Action callback)
    {
        CheckNotOwnedByTransport(descriptor);
        SetInterest(Register(descriptor), callback, read: true);
    }

    /// <summary>
    /// Runs <paramref name="callback"/> on the loop whenever <paramref name="socket"/> is writable
    /// [loop.add_writer], level-triggered, until removed. Replaces any writer already installed.
    /// Loop thread only.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket is closed.</exception>
    /// <exception cref="InvalidOperationException">A transport owns the socket, the loop is closed, or (debug mode) the call comes from another thread.</exception>
    /// <exception cref="System.ComponentModel.Win32Exception">The OS refused to watch the descriptor (its errno is <c>NativeErrorCode</c>); nothing stays registered.</exception>
    public void AddWriter(Socket socket, Action callback)
    {
        CheckNotOwnedByTransport(socket);
        SetInterest(Register(socket), callback, read: false);
    }

    /// <summary>As <see cref="AddWriter(Socket, Action)"/> for a raw Unix descriptor. Epoll backend only.</summary>
    /// <exception cref="System.ComponentModel.Win32Exception">The OS refused to watch the descriptor (errno in <c>NativeErrorCode</c>); nothing stays registered.</exception>
    /// <exception cref="NotSupportedException">The loop's backend cannot watch raw descriptors; use <see cref="LoopBackend.Epoll"/>.</exception>
    public void AddWriter(SafeHandle descriptor, Action callback)
    {
        CheckNotOwnedByTransport(descriptor);
        SetInterest(Register(descriptor), callback, read: false);
    }

    /// <summary>
    /// Stops watching <paramref name="socket"/> for reading [loop.remove_reader]. Returns whether a
    /// reader was installed. Works on a socket closed since, so a registration can always be cleaned up.
    /// </summary>
    /// <exception cref="InvalidOperationException">A transport owns the socket (see <see cref="AddReader(Socket, Action)"/>).</exception>
    public bool RemoveReader(Socket socket)
    {
        CheckNotOwnedByTransport(socket);
        return RemoveInterest(FindKey(socket), read: true);
    }

    /// <summary>
    /// Stops watching a raw descriptor for reading. Returns whether a reader was installed. Works on
    /// a handle closed since (the registration made through it is found and removed).
    /// </summary>
    public bool RemoveReader(SafeHandle descriptor)
    {
        CheckNotOwnedByTransport(descriptor);
        return RemoveInterest(FindKey(descriptor), read: true);
    }

    /// <summary>
    /// Stops watching <paramref name="socket"/> for writing [loop.remove_writer]. Returns whether a
    /// writer was installed. Works on a socket closed since.
    /// </summary>
    /// <exception cref="InvalidOperationException">A transport owns the socket (see <see cref="AddReader(Socket, Action)"/>).</exception>
    public bool RemoveWriter(Socket socket)
    {
        CheckNotOwnedByTransport(socket);
        return RemoveInterest(FindKey(socket), read: false);
    }

    /// <summary>Stops watching a raw descriptor for writing. Returns whether a writer was installed. Works on a handle closed since.</summary>
    public bool RemoveWriter(SafeHandle descriptor)
    {
        CheckNotOwnedByTransport(descriptor);
        return RemoveInterest(FindKey(descriptor), read: false);
    }

    /// <summary>Installs a transport's own reader or writer: no ownership check [asyncio's _add_reader]. Loop thread only.</summary>
    internal void WatchOwnSocket(Socket socket, Action callback, bool read) => SetInterest(Register(socket), callback, read);

    /// <summary>Removes a transport's own reader or writer: no ownership check [asyncio's _remove_reader]. Loop thread only.</summary>
    internal bool UnwatchOwnSocket(Socket socket, bool read) => RemoveInterest(FindKey(socket), read);

    /// <summary>
    /// Records that <paramref name="owner"/> (a transport) owns <paramref name="socket"/>: until it is
    /// closing or releases the socket, the public reader/writer and <c>Sock*Async</c> calls on it
    /// throw. Loop thread only. Backend-independent: the loop, not the backend, keeps the record.
    /// </summary>
    /// <returns>The key to pass to <see cref="ReleaseSocket"/>.</returns>
    internal int ClaimSocket(Socket socket, ISocketOwner owner)
    {
        int key = KeyOf(socket);
        _ownedSockets[key] = new OwnedSocket(socket, owner);
        return key;
    }

    /// <summary>Forgets <paramref name="owner"/>'s claim made under <paramref name="key"/> (no effect if another owner holds it now).</summary>
    internal void ReleaseSocket(int key, ISocketOwner owner)
    {
        if (_ownedSockets.TryGetValue(key, out OwnedSocket owned) && ReferenceEquals(owned.Owner, owner))
        {
            _ = _ownedSockets.Remove(key);
        }
    }

    /// <summary>How many sockets transports own (tests check that closed transports let go).</summary>
    internal int OwnedSocketCount => _ownedSockets.Count;

    /// <summary>Throws when a transport that is not closing owns <paramref name="socket"/> [asyncio's _ensure_fd_no_transport].</summary>
    /// <exception cref="InvalidOperationException">A transport owns the socket.</exception>
    internal void CheckNotOwnedByTransport(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (_ownedSockets.Count == 0 || socket.SafeHandle.IsClosed)
        {
            return;
        }

        int key = (int)socket.SafeHandle.DangerousGetHandle();
        if (_ownedSockets.TryGetValue(key, out OwnedSocket owned) && ReferenceEquals(owned.Socket, socket))
        {
            ThrowIfOwnerActive(key, owned);
        }
    }

    /// <summary>As <see cref="CheckNotOwnedByTransport(Socket)"/> for a raw handle naming a transport's socket.</summary>
    private void CheckNotOwnedByTransport(SafeHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (_ownedSockets.Count == 0 || descriptor.IsClosed || descriptor.IsInvalid)
        {
            return;
        }

        int key = (int)descriptor.DangerousGetHandle();
        if (_ownedSockets.TryGetValue(key, out OwnedSocket owned) && !owned.Socket.SafeHandle.IsClosed)
        {
            ThrowIfOwnerActive(key, owned);
        }
    }

    private static void ThrowIfOwnerActive(int key, OwnedSocket owned)
    {
        if (!owned.Owner.IsClosing)
        {
            throw new InvalidOperationException(
                $"File descriptor {key} is used by transport {owned.Owner}; use the transport's own methods (PauseReading/ResumeReading, Write, Close) " +
                "or close the transport before using its socket directly.");
        }
    }

    /// <summary>A socket a transport owns.</summary>
    private readonly record struct OwnedSocket(Socket Socket, ISocketOwner Owner);

    /// <summary>How many descriptors have a reader or writer installed (tests check that nothing is left behind).</summary>
    internal int IoRegistrationCount => _io.Count;

    /// <summary>Whether <paramref name="socket"/> has a reader (<paramref name="read"/>) or a writer installed.</summary>
    internal bool IsWatching(Socket socket, bool read)
    {
        int key = FindKey(socket);
        return key >= 0 && _io.TryGetValue(key, out IoRegistration? registration) && (read ? registration.WantsRead : registration.WantsWrite);
    }

    /// <summary>
    /// Takes the socket error the backend met while waiting for <paramref name="socket"/> to be
    /// readable, or <see cref="SocketError.Success"/>. The portable backend's zero-byte receive
    /// consumes a pending error (a reset, an ICMP "unreachable"); the transports and socket awaits
    /// report it from here. Always Success on epoll.
    /// </summary>
    internal SocketError TakeReadError(Socket socket)
    {
        int key = FindKey(socket);
        if (key < 0 || !_io.TryGetValue(key, out IoRegistration? registration) || registration.ReadError == SocketError.Success)
        {
            return SocketError.Success;
        }

        SocketError error = registration.ReadError;
        registration.ReadError = SocketError.Success;
        return error;
    }

    private static int KeyOf(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ObjectDisposedException.ThrowIf(socket.SafeHandle.IsClosed, socket);
        return (int)socket.Handle;
    }

    private static int KeyOf(SafeHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ObjectDisposedException.ThrowIf(descriptor.IsClosed || descriptor.IsInvalid, descriptor);
        return (int)descriptor.DangerousGetHandle();
    }

    /// <summary>The key of a socket's registration, found even when the socket was closed first; -1 when none.</summary>
    private int FindKey(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!socket.SafeHandle.IsClosed)
        {
            // An open socket keeps its number, so it is registered under it or not at all: no scan
            // (transports remove their writer whenever their buffer drains).
            int key = (int)socket.SafeHandle.DangerousGetHandle();
            return _io.TryGetValue(key, out IoRegistration? found) && ReferenceEquals(found.Socket, socket) ? key : -1;
        }

        foreach (IoRegistration registration in _io.Values)
        {
            if (ReferenceEquals(registration.Socket, socket))
            {
                return registration.Fd;
            }
        }

        return -1;
    }

    /// <summary>The key of a raw descriptor's registration, found even when its handle was closed first; -1 when none.</summary>
    private int FindKey(SafeHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (!descriptor.IsClosed && !descriptor.IsInvalid)
        {
            // An open descriptor is the file its number names now: whatever is registered under the
            // number (through this handle or another one wrapping the same descriptor) is its.
            int key = (int)descriptor.DangerousGetHandle();
            return _io.TryGetValue(key, out IoRegistration? found) && !found.IsStale ? key : -1;
        }

        foreach (IoRegistration registration in _io.Values)
        {
            if (ReferenceEquals(registration.Descriptor, descriptor))
            {
                return registration.Fd;
            }
        }

        return -1;
    }

    private IoRegistration Register(Socket socket)
    {
        int key = KeyOf(socket);
        CheckIoCall();
        if (_io.TryGetValue(key, out IoRegistration? existing) && ReferenceEquals(existing.Socket, socket))
        {
            return existing;
        }

        // A new socket may reuse the number of one that was closed while still registered: the
        // stale registration's callbacks must never run for the new socket.
        existing?.Reader?.Cancel();
        existing?.Writer?.Cancel();
        var registration = new IoRegistration(key, socket);
        _io[key] = registration;
        return registration;
    }

    private IoRegistration Register(SafeHandle descriptor)
    {
        int key = KeyOf(descriptor);
        CheckIoCall();
        if (!_backend.SupportsRawDescriptors)
        {
            throw new NotSupportedException(
                $"The {_backend.Name} backend watches sockets only; raw descriptors need the epoll backend (EventLoopOptions.Backend = LoopBackend.Epoll).");
        }

        if (_io.TryGetValue(key, out IoRegistration? existing))
        {
            if (!existing.IsStale)
            {
                // The same open descriptor (through this handle or another wrapping it).
                if (existing.Descriptor is not null)
                {
                    existing.Descriptor = descriptor;
                }

                return existing;
            }

            // The descriptor registered under this number was closed and the number reused (uvloop
            // handles this too). The old registration is dropped, never applied to the new file: a
            // fresh one starts with nothing applied, so the backend adds the new descriptor instead
            // of skipping a call whose interest mask looks unchanged.
            existing.Reader?.Cancel();
            existing.Writer?.Cancel();
            existing.Reader = null;
            existing.Writer = null;
        }

        var registration = new IoRegistration(key, socket: null, descriptor);
        _io[key] = registration;
        return registration;
    }

    private void CheckIoCall()
    {
        CheckClosed();
        CheckThread("AddReader/AddWriter");
    }

    private void SetInterest(IoRegistration registration, Action callback, bool read)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var handle = new Handle(this, callback, null);
        Handle? previous = read ? registration.Reader : registration.Writer;
        if (read)
        {
            registration.Reader = handle;
        }
        else
        {
            registration.Writer = handle;
        }

        try
        {
            ApplyInterest(registration);
        }
        catch
        {
            // The OS refused (asyncio's OSError from the selector): put back what was there, and
            // leave no registration that nothing is watching.
            if (read)
            {
                registration.Reader = previous;
            }
            else
            {
                registration.Writer = previous;
            }

            handle.Cancel();
            if (!registration.WantsRead && !registration.WantsWrite && _io.TryGetValue(registration.Fd, out IoRegistration? current) && ReferenceEquals(current, registration))
            {
                _io.Remove(registration.Fd);
            }

            throw;
        }

        previous?.Cancel();
    }

    private bool RemoveInterest(int key, bool read)
    {
        CheckThread("RemoveReader/RemoveWriter");
        if (_closed || !_io.TryGetValue(key, out IoRegistration? registration))
        {
            return false;
        }

        Handle? previous = read ? registration.Reader : registration.Writer;
        if (previous is null)
        {
            return false;
        }

        if (read)
        {
            registration.Reader = null;
        }
        else
        {
            registration.Writer = null;
        }

        previous.Cancel();
        ApplyInterest(registration);
        return true;
    }

    private void ApplyInterest(IoRegistration registration)
    {
        _backend.Update(registration);
        if (!registration.WantsRead && !registration.WantsWrite)
        {
            _io.Remove(registration.Fd);
        }
    }
}
