// The portable backend: asyncio's readiness model on nothing but managed .NET APIs.
//
// Why a selector thread. The only portable readiness multiplexer in .NET is Socket.Select, and
// the loop thread cannot BLOCK in it: Wake from other threads would have no cheap way in. So each
// Poll first runs a zero-timeout Select on this thread (what is ready now is reported now, as
// with a loop-thread poller), and only if nothing is ready does it sleep on a monitor (a flag plus
// Monitor.Wait/Pulse: a Wake before Poll leaves the flag set and is not lost). Meanwhile a
// background thread blocks in Socket.Select on the same armed sockets plus a wake-up socket; it
// queues what becomes ready and pulses the monitor. A loop that registers no socket starts no
// thread and opens no socket, and its Poll neither selects nor allocates.
//
// Level-triggered without flooding. A socket that stays readable makes Select return at once,
// so the selector would spin while the loop runs the callback. Instead a registration is
// DISARMED (no longer selected) when it is queued; Poll reports it, and the NEXT Poll re-arms
// every reported registration that is still wanted. Not drained, it is seen ready again by that
// Poll's own Select: reported once per loop iteration, as asyncio's selector loop does.
//
// Waking the selector. The selector's lists go stale when registrations change or are re-armed;
// that matters only once the loop is about to block, so just then Poll sends one byte to a
// loopback UDP socket connected to itself, which ends the selector's Select; the selector
// rebuilds its lists and drains the socket. A "wake pending" flag, cleared under the lock when
// the selector rebuilds, keeps it to one byte per rebuild.
//
// Closed sockets. A socket the user disposes while registered is dropped as dead, never selected
// or reported again (as epoll forgets a closed descriptor): builds skip it, a Select that throws
// because of it marks it, and Poll does not report one that was closed after it was seen ready.
// Nothing the selector thread meets may kill it or make it spin.
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
    private bool _selectorStale;                                // armed set changed since its build
    private bool _disposed;
    private Thread? _selector;
    private Socket? _wakeSocket;

    private readonly List<Socket> _pollRead = [];               // loop thread only
    private readonly List<Socket> _pollWrite = [];
    private readonly List<Socket> _pollError = [];
    private readonly List<ReadyEvent> _events = [];

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
    /// Re-arms the registrations reported by the previous call and selects the armed sockets
    /// without blocking; if none is ready, sleeps until the selector thread sees one,
    /// <see cref="Wake"/> is called, or the timeout elapses. Reports each ready registration once,
    /// for the directions it still wants, if it is still registered and its socket is open.
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
            BuildListsLocked(_pollRead, _pollWrite, _pollError, wakeSocket: null);
        }

        bool selected = _pollError.Count > 0 && TrySelect(_pollRead, _pollWrite, _pollError, 0, out _);
        lock (_gate)
        {
            if (selected) { MarkReadyLocked(_pollRead, 0, _pollWrite, _pollError); }
            if (!_loopWakePending && _queued.Count == 0 && timeoutMs != 0)
            {
                if (_selectorStale) { WakeSelectorLocked(); }
                Monitor.Wait(_gate, timeoutMs);
            }

            _loopWakePending = false;
            foreach (Entry entry in _queued)
            {
                if (IsClosed(entry.Socket))
                {
                    KillLocked(entry); // closed since it was seen ready: epoll would not report it
                    continue;
                }

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
    /// <exception cref="ObjectDisposedException">The socket, or the backend, was disposed.</exception>
    /// <exception cref="InvalidOperationException">Another registration already watches the socket.</exception>
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
                if (entry is not null)
                {
                    UnmapLocked(entry);
                    if (entry.Phase == Phase.Queued) { _queued.Remove(entry); }
                    entry.Phase = Phase.Removed; // if it is still in _reported, re-arming skips it
                }

                registration.BackendState = null;
                registration.AppliedEvents = 0;
                return;
            }

            bool changed = entry is null || entry.WantRead != read || entry.WantWrite != write;
            if (entry is null)
            {
                Socket socket = registration.Socket ?? throw new NotSupportedException(
                    "The portable backend watches sockets only; raw descriptors need the epoll backend.");
                ObjectDisposedException.ThrowIf(IsClosed(socket), socket);
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
            _selectorStale |= changed; // Queued and Reported entries are picked up when re-armed
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

    private static bool IsClosed(Socket socket) => socket.SafeHandle.IsClosed;

    private void RearmReportedLocked()
    {
        foreach (Entry entry in _reported)
        {
            if (entry.Phase == Phase.Reported)
            {
                entry.Phase = Phase.Armed;
                _selectorStale = true;
            }
        }

        _reported.Clear();
    }

    private void UnmapLocked(Entry entry)
    {
        if (_entries.TryGetValue(entry.Socket, out Entry? current) && current == entry) { _entries.Remove(entry.Socket); }
    }

    /// <summary>Drops an entry whose socket was closed; the loop may still remove its registration.</summary>
    private void KillLocked(Entry entry)
    {
        UnmapLocked(entry); // allowed while enumerating _entries
        entry.Phase = Phase.Dead;
    }

    /// <summary>Fills the lists with the armed, open sockets (and the wake-up socket first, if given).</summary>
    private void BuildListsLocked(List<Socket> read, List<Socket> write, List<Socket> error, Socket? wakeSocket)
    {
        read.Clear();
        write.Clear();
        error.Clear();
        if (wakeSocket is not null) { read.Add(wakeSocket); }
        foreach (Entry entry in _entries.Values)
        {
            if (entry.Phase != Phase.Armed) { continue; }
            if (IsClosed(entry.Socket))
            {
                KillLocked(entry);
                continue;
            }

            if (entry.WantRead) { read.Add(entry.Socket); }
            if (entry.WantWrite) { write.Add(entry.Socket); }
            error.Add(entry.Socket);
        }
    }

    /// <summary>Select that never throws; on failure marks the closed sockets dead and returns false.</summary>
    private bool TrySelect(List<Socket> read, List<Socket> write, List<Socket> error, int microseconds, out bool foundDead)
    {
        foundDead = false;
        try
        {
            Socket.Select(read, write, error, microseconds);
            return true;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            lock (_gate)
            {
                foreach (Entry entry in _entries.Values)
                {
                    if (IsClosed(entry.Socket))
                    {
                        KillLocked(entry);
                        foundDead = true;
                    }
                }

                foundDead |= _disposed;
            }

            return false;
        }
    }

    /// <summary>Disarms and queues the entries of the ready sockets; true if any was newly queued.</summary>
    private bool MarkReadyLocked(List<Socket> read, int readStart, List<Socket> write, List<Socket> error)
    {
        bool queued = false;
        for (int i = readStart; i < read.Count; i++) { queued |= MarkReadyLocked(read[i], true, false); }
        foreach (Socket socket in write) { queued |= MarkReadyLocked(socket, false, true); }
        foreach (Socket socket in error) { queued |= MarkReadyLocked(socket, true, true); }
        return queued;
    }

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

        if (entry.Phase == Phase.Queued) // seen by another list, or by the other thread
        {
            entry.ReadyRead |= readable;
            entry.ReadyWrite |= writable;
        }

        return false;
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

    /// <summary>One blocking Select round on the selector thread; false once the backend is disposed.</summary>
    private bool SelectOnce()
    {
        Socket wakeSocket;
        lock (_gate)
        {
            if (_disposed || _wakeSocket is null) { return false; }
            (_selectorWakePending, _selectorStale) = (false, false); // changes from now on wake it again
            wakeSocket = _wakeSocket;
            BuildListsLocked(_readList, _writeList, _errorList, wakeSocket);
        }

        if (!TrySelect(_readList, _writeList, _errorList, -1, out bool foundDead))
        {
            if (!foundDead) { Thread.Sleep(10); } // not a closed socket of ours: back off, retry
            return true;
        }

        bool woken = _readList.Count > 0 && _readList[0] == wakeSocket; // Select keeps list order
        while (woken && wakeSocket.Available > 0)
        {
            wakeSocket.Receive(_drainBuffer);
        }

        bool queued;
        lock (_gate)
        {
            queued = MarkReadyLocked(_readList, woken ? 1 : 0, _writeList, _errorList);
            if (queued) { Monitor.Pulse(_gate); }
        }

        if (!queued && !woken) { Thread.Sleep(1); } // nothing new (e.g. the loop took it first): do not spin
        return true;
    }

    /// <summary>The backend's state for one registration; guarded by the gate.</summary>
    private sealed class Entry(IoRegistration registration, Socket socket)
    {
        public readonly IoRegistration Registration = registration;
        public readonly Socket Socket = socket;
        public bool WantRead, WantWrite;    // interest as of the last Update
        public bool ReadyRead, ReadyWrite;  // what a Select saw, while Queued
        public Phase Phase = Phase.Armed;
    }

    private readonly record struct ReadyEvent(Entry Entry, bool Readable, bool Writable);
}
