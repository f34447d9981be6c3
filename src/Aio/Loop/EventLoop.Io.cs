using System.Net.Sockets;
using System.Runtime.InteropServices;
using Aio.Backends;

namespace Aio;

public sealed partial class EventLoop
{
    private readonly Dictionary<int, IoRegistration> _io = new();

    /// <summary>
    /// Runs <paramref name="callback"/> on the loop whenever <paramref name="socket"/> is readable
    /// [loop.add_reader], on every iteration until it is drained or the reader is removed
    /// (level-triggered). Replaces any reader already installed for the socket. Loop thread only.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket is closed.</exception>
    /// <exception cref="InvalidOperationException">The loop is closed, or (debug mode) the call comes from another thread.</exception>
    public void AddReader(Socket socket, Action callback) => SetInterest(Register(socket), callback, read: true);

    /// <summary>As <see cref="AddReader(Socket, Action)"/> for a raw Unix descriptor (a pipe, an eventfd, ...). Epoll backend only.</summary>
    /// <exception cref="NotSupportedException">The loop's backend cannot watch raw descriptors; use <see cref="LoopBackend.Epoll"/>.</exception>
    public void AddReader(SafeHandle descriptor, Action callback) => SetInterest(Register(descriptor), callback, read: true);

    /// <summary>
    /// Runs <paramref name="callback"/> on the loop whenever <paramref name="socket"/> is writable
    /// [loop.add_writer], level-triggered, until removed. Replaces any writer already installed.
    /// Loop thread only.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket is closed.</exception>
    /// <exception cref="InvalidOperationException">The loop is closed, or (debug mode) the call comes from another thread.</exception>
    public void AddWriter(Socket socket, Action callback) => SetInterest(Register(socket), callback, read: false);

    /// <summary>As <see cref="AddWriter(Socket, Action)"/> for a raw Unix descriptor. Epoll backend only.</summary>
    /// <exception cref="NotSupportedException">The loop's backend cannot watch raw descriptors; use <see cref="LoopBackend.Epoll"/>.</exception>
    public void AddWriter(SafeHandle descriptor, Action callback) => SetInterest(Register(descriptor), callback, read: false);

    /// <summary>Stops watching <paramref name="socket"/> for reading [loop.remove_reader]. Returns whether a reader was installed.</summary>
    public bool RemoveReader(Socket socket) => RemoveInterest(FindKey(socket), read: true);

    /// <summary>Stops watching a raw descriptor for reading. Returns whether a reader was installed.</summary>
    public bool RemoveReader(SafeHandle descriptor) => RemoveInterest(KeyOf(descriptor), read: true);

    /// <summary>Stops watching <paramref name="socket"/> for writing [loop.remove_writer]. Returns whether a writer was installed.</summary>
    public bool RemoveWriter(Socket socket) => RemoveInterest(FindKey(socket), read: false);

    /// <summary>Stops watching a raw descriptor for writing. Returns whether a writer was installed.</summary>
    public bool RemoveWriter(SafeHandle descriptor) => RemoveInterest(KeyOf(descriptor), read: false);

    /// <summary>How many descriptors have a reader or writer installed (tests check that nothing is left behind).</summary>
    internal int IoRegistrationCount => _io.Count;

    /// <summary>Whether <paramref name="socket"/> has a reader (<paramref name="read"/>) or a writer installed.</summary>
    internal bool IsWatching(Socket socket, bool read)
    {
        int key = FindKey(socket);
        return key >= 0 && _io.TryGetValue(key, out IoRegistration? registration) && (read ? registration.WantsRead : registration.WantsWrite);
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

    /// <summary>The key of a socket's registration, found even when the socket was closed first.</summary>
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
        var registration = new IoRegistration((int)key, socket);
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

        if (!_io.TryGetValue(key, out IoRegistration? registration))
        {
            registration = new IoRegistration(key, socket: null);
            _io[key] = registration;
        }

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

        previous?.Cancel();
        ApplyInterest(registration);
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
