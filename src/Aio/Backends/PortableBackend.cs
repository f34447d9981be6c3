// The portable backend: asyncio's readiness model on nothing but managed .NET APIs.
//
// Why a selector thread. The only portable readiness multiplexer in .NET is the blocking
// Socket.Select, and the loop thread cannot sleep in it: Wake from other threads would have no
// cheap way in. So the loop thread sleeps on a monitor (a flag plus Monitor.Wait/Pulse: a Wake
// before Poll leaves the flag set and is not lost), and a background thread sleeps in
// Socket.Select on the armed sockets plus a wake-up socket, queues the ready ones and pulses the
// monitor; Poll drains that queue into the sink on the loop thread. A loop that registers no
// socket starts no thread, opens no socket, and polls without allocating.
//
// Level-triggered without flooding. A socket that stays readable makes Select return at once,
// so the selector would spin while the loop runs the callback. Instead it DISARMS (stops
// selecting) a registration when it queues it; Poll reports it, and the NEXT Poll re-arms every
// reported registration still wanted before it waits. Not drained, it is reported again in that
// Poll: once per loop iteration, as asyncio's selector loop does, never more often. (A Poll(0)
// may return before the selector re-selected a re-armed socket; a later Poll reports it.)
//
// Waking the selector. Registration changes and re-arming reach the thread blocked in Select
// through a loopback UDP socket connected to itself: one byte ends Select. A "wake pending" flag,
// cleared under the lock just before the selector rebuilds its lists, limits this to one byte per
// rebuild; the selector drains the socket after Select returns.
//
// Closed sockets. A socket disposed while armed makes Select throw; the selector then marks the
// disposed sockets dead (never selected or reported again, as epoll forgets a closed descriptor)
// and carries on. Nothing the selector thread meets may kill it or make it spin.
using System.Net;
using System.Net.Sockets;

namespace Aio.Backends;

/// <summary>
/// A readiness backend built on <see cref="Socket.Select(System.Collections.IList, System.Collections.IList, System.Collections.IList, int)"/>
/// and a selector thread; runs wherever .NET runs, and watches sockets only.
/// </summary>
internal sealed class PortableBackend : IoBackend
{
    private const int ReadBit = 1;
    private const int WriteBit = 2;

    // The gate guards all state both threads touch, and is the monitor the loop thread sleeps on.
    private readonly object _gate = new();
    private readonly Dictionary<Socket, Entry> _entries = [];   // registered, not dead
    private readonly List<Entry> _queued = [];                  // seen ready, waiting for Poll
    private readonly List<Entry> _reported = [];                // reported, waiting for re-arm
    private readonly byte[] _wakeByte = new byte[1];
    private bool _loopWakePending;
    private bool _selectorWakePending;
    private bool _disposed;
    private Thread? _selector;
    private Socket? _wakeSocket;

    private readonly List<ReadyEvent> _events = [];             // loop thread only

    private readonly List<Socket> _readList = [];               // selector thread only
    private readonly List<Socket> _writeList = [];
    private readonly List<Socket> _errorList = [];
    private readonly byte[] _drainBuffer = new byte[64];

    private enum Phase { Armed, Queued, Reported, Dead, Removed }

    /// <inheritdoc/>
    public override string Name => "portable";

    /// <inheritdoc/>
    /// <remarks>Always false: every registration must carry a <see cref="Socket"/>.</remarks>
    public override bool SupportsRawDescriptors => false;

    /// <inheritdoc/>
    /// <remarks>
    /// Re-arms the registrations reported by the previous call, then sleeps until the selector
    /// thread queues readiness, <see cref="Wake"/> is called, or the timeout elapses. Reports each
    /// queued registration once, for the directions it still wants, if it is still registered.
    /// Allocates nothing in steady state.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The backend was disposed.</exception>
    public override void Poll(int timeoutMs, IIoReadySink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutMs, -1);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            RearmReportedLocked();
            if (!_loopWakePending && _queued.Count == 0 && timeoutMs != 0) { Monitor.Wait(_gate, timeoutMs); }
            _loopWakePending = false;
            foreach (Entry entry in _queued)
            {
                entry.Phase = Phase.Reported;
                _reported.Add(entry);
                _events.Add(new ReadyEvent(entry, entry.ReadyRead, entry.ReadyWrite));
            }

            _queued.Clear();
        }

        try
        {
            foreach (ReadyEvent ev in _events)
            {
                IoRegistration registration = ev.Entry.Registration;
                if (ev.Entry.Phase == Phase.Reported && ReferenceEquals(registration.BackendState, ev.Entry))
                {
                    bool readable = ev.Readable && registration.WantsRead;
                    bool writable = ev.Writable && registration.WantsWrite;
                    if (readable || writable) { sink.OnIoReady(registration, readable, writable); }
                }
            }
        }
        finally
        {
            _events.Clear();
        }
    }

    /// <inheritdoc/>
    /// <remarks>Any thread; never throws, also after <see cref="Dispose"/>.</remarks>
    public override void Wake()
    {
        lock (_gate)
        {
            _loopWakePending = true;
            Monitor.Pulse(_gate);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Starts the selector thread on the first registration. Loop thread only.</remarks>
    /// <exception cref="NotSupportedException">The registration has no socket.</exception>
    /// <exception cref="InvalidOperationException">Another registration already watches the socket.</exception>
    /// <exception cref="ObjectDisposedException">The backend was disposed.</exception>
    public override void Update(IoRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        bool read = registration.WantsRead;
        bool write = registration.WantsWrite;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var entry = registration.BackendState as Entry;
            if (!read && !write)
            {
                if (entry is not null) { RemoveLocked(entry); }
                registration.BackendState = null;
                registration.AppliedEvents = 0;
                return;
            }

            bool changed = entry is null || entry.WantRead != read || entry.WantWrite != write;
            if (entry is null)
            {
                Socket socket = registration.Socket ?? throw new NotSupportedException(
                    "The portable backend watches sockets only; raw descriptors need the epoll backend.");
                EnsureSelectorStartedLocked();
                entry = new Entry(registration, socket);
                if (!_entries.TryAdd(socket, entry))
                {
                    throw new InvalidOperationException("This socket is already registered; remove that registration first.");
                }

                registration.BackendState = entry;
            }

            entry.WantRead = read;
            entry.WantWrite = write;
            registration.AppliedEvents = (read ? ReadBit : 0) | (write ? WriteBit : 0);
            if (changed && entry.Phase == Phase.Armed)
            {
                WakeSelectorLocked(); // a Queued or Reported entry picks the change up when re-armed
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Stops the selector thread (waiting at most 5 s) and closes the wake-up socket; the
    /// registered sockets stay open. Idempotent.
    /// </remarks>
    public override void Dispose()
    {
        Thread? selector;
        Socket? wakeSocket;
        lock (_gate)
        {
            if (_disposed) { return; }
            _disposed = true;
            WakeSelectorLocked();
            foreach (Entry entry in _entries.Values) { entry.Phase = Phase.Removed; }
            _entries.Clear();
            _queued.Clear();
            _reported.Clear();
            Monitor.PulseAll(_gate); // a Poll racing Dispose returns, then throws on its next call
            (selector, wakeSocket, _wakeSocket) = (_selector, _wakeSocket, null);
        }

        if (selector is not null && selector != Thread.CurrentThread) { selector.Join(TimeSpan.FromSeconds(5)); }
        wakeSocket?.Dispose();
    }

    private void RearmReportedLocked()
    {
        bool rearmed = false;
        foreach (Entry entry in _reported)
        {
            if (entry.Phase == Phase.Reported)
            {
                entry.Phase = Phase.Armed;
                rearmed = true;
            }
        }

        _reported.Clear();
        if (rearmed) { WakeSelectorLocked(); }
    }

    private void RemoveLocked(Entry entry)
    {
        if (_entries.TryGetValue(entry.Socket, out Entry? current) && current == entry) { _entries.Remove(entry.Socket); }
        if (entry.Phase == Phase.Queued)
        {
            _queued.Remove(entry);
        }
        else if (entry.Phase == Phase.Armed)
        {
            WakeSelectorLocked(); // stop selecting it, so that the user may close it
        }

        entry.Phase = Phase.Removed; // if it is still in _reported, re-arming skips it
    }

    private void EnsureSelectorStartedLocked()
    {
        if (_selector is not null) { return; }
        _wakeSocket = CreateWakeSocket(Socket.OSSupportsIPv4 ? IPAddress.Loopback : IPAddress.IPv6Loopback);
        _selector = new Thread(SelectorMain) { IsBackground = true, Name = "Aio portable selector" };
        _selector.Start();
    }

    private static Socket CreateWakeSocket(IPAddress loopback)
    {
        var socket = new Socket(loopback.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(loopback, 0));
            socket.Connect(socket.LocalEndPoint!);
            socket.Blocking = false;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void WakeSelectorLocked()
    {
        if (_selectorWakePending || _wakeSocket is null) { return; }
        _selectorWakePending = true;
        try
        {
            _wakeSocket.Send(_wakeByte);
        }
        catch (SocketException)
        {
            // Buffer full: earlier bytes are still unread, so the selector wakes anyway.
        }
    }

    private void SelectorMain()
    {
        while (true)
        {
            try
            {
                if (!SelectOnce()) { return; }
            }
            catch (Exception) // the selector thread must survive anything; nobody could observe it
            {
                if (Volatile.Read(ref _disposed)) { return; }
                Thread.Sleep(10); // an unexpected failure must not become a busy loop
            }
        }
    }

    /// <summary>One Select round on the selector thread; false once the backend is disposed.</summary>
    private bool SelectOnce()
    {
        Socket wakeSocket;
        lock (_gate)
        {
            if (_disposed || _wakeSocket is null) { return false; }
            _selectorWakePending = false; // a change from now on sends a fresh byte
            wakeSocket = _wakeSocket;
            _readList.Clear();
            _writeList.Clear();
            _errorList.Clear();
            _readList.Add(wakeSocket);
            foreach (Entry entry in _entries.Values)
            {
                if (entry.Phase == Phase.Armed)
                {
                    if (entry.WantRead) { _readList.Add(entry.Socket); }
                    if (entry.WantWrite) { _writeList.Add(entry.Socket); }
                    _errorList.Add(entry.Socket);
                }
            }
        }

        try
        {
            Socket.Select(_readList, _writeList, _errorList, -1);
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            bool foundDead;
            lock (_gate)
            {
                foundDead = _disposed || MarkDeadSocketsLocked();
            }

            if (!foundDead) { Thread.Sleep(10); } // not a closed socket of ours: back off, retry
            return true;
        }

        bool woken = _readList.Count > 0 && _readList[0] == wakeSocket; // Select keeps list order
        while (woken && wakeSocket.Available > 0)
        {
            wakeSocket.Receive(_drainBuffer);
        }

        bool queued = false;
        lock (_gate)
        {
            for (int i = woken ? 1 : 0; i < _readList.Count; i++)
            {
                queued |= MarkReadyLocked(_readList[i], true, false);
            }

            foreach (Socket socket in _writeList) { queued |= MarkReadyLocked(socket, false, true); }
            foreach (Socket socket in _errorList) { queued |= MarkReadyLocked(socket, true, true); }
            if (queued)
            {
                _loopWakePending = true;
                Monitor.Pulse(_gate);
            }
        }

        if (!queued && !woken) { Thread.Sleep(1); } // woke for nothing (e.g. POLLNVAL): do not spin
        return true;
    }

    /// <summary>Disarms and queues the socket's entry for the wanted directions; true if newly queued.</summary>
    private bool MarkReadyLocked(Socket socket, bool readable, bool writable)
    {
        if (!_entries.TryGetValue(socket, out Entry? entry)) { return false; }
        readable &= entry.WantRead; // an error counts as ready for each wanted direction
        writable &= entry.WantWrite;
        if (entry.Phase == Phase.Armed && (readable || writable))
        {
            entry.Phase = Phase.Queued;
            (entry.ReadyRead, entry.ReadyWrite) = (readable, writable);
            _queued.Add(entry);
            return true;
        }

        if (entry.Phase == Phase.Queued) // queued by this same round, from another list
        {
            entry.ReadyRead |= readable;
            entry.ReadyWrite |= writable;
        }

        return false;
    }

    /// <summary>Marks armed entries whose socket was disposed as dead; true if there were any.</summary>
    private bool MarkDeadSocketsLocked()
    {
        bool any = false;
        foreach (Entry entry in _entries.Values)
        {
            if (entry.Phase == Phase.Armed && IsUnusable(entry.Socket))
            {
                entry.Phase = Phase.Dead;       // never selected again; the loop may still remove it
                _entries.Remove(entry.Socket);  // allowed while enumerating
                any = true;
            }
        }

        return any;
    }

    private static bool IsUnusable(Socket socket)
    {
        try
        {
            socket.Poll(0, SelectMode.SelectError);
            return false;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            return true;
        }
    }

    /// <summary>The backend's state for one registration; guarded by the gate.</summary>
    private sealed class Entry(IoRegistration registration, Socket socket)
    {
        public readonly IoRegistration Registration = registration;
        public readonly Socket Socket = socket;
        public bool WantRead, WantWrite;    // interest as of the last Update
        public bool ReadyRead, ReadyWrite;  // what the selector saw, while Queued
        public Phase Phase = Phase.Armed;
    }

    private readonly record struct ReadyEvent(Entry Entry, bool Readable, bool Writable);
}
