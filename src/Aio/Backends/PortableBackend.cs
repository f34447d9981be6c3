// The portable backend: completion-based I/O on .NET's own socket engine (IOCP on Windows, kqueue
// on macOS, epoll on Linux), with no thread of its own and no Socket.Select.
//
// How a completion reaches the loop. Every asynchronous operation is a SocketAsyncEventArgs made
// with unsafeSuppressExecutionContextFlow, so no ExecutionContext (no AsyncLocal, no LoopTask.Current,
// nothing a task referenced) is captured by the engine's threads. When an operation completes on
// one of those threads it is posted into the loop, and the loop thread does everything else:
//   - transports' own operations (SendAsync of a socket transport's buffered bytes, AcceptAsync of a
//     server, ConnectAsync) post through the loop's thread-safe inbox (SocketCompletion, a work
//     item: no delegate, no allocation per post); their callbacks run on the loop thread in the
//     next iteration, as asyncio's proactor loop runs its futures' callbacks;
//   - readiness for AddReader (which the socket transports, datagram transports and sock_* awaits
//     use to read) is a zero-byte receive — the classic completion-engine idiom, a 1-byte MSG_PEEK
//     on Unix, a zero-byte WSARecv on Windows: it completes when data, EOF or an error is there and
//     consumes nothing. Its completion is queued here (a lock-free queue) and wakes the loop if it
//     sleeps; Poll drains the queue on the loop thread and reports the registration readable, so the
//     reader callback runs in that iteration exactly as with epoll. The next Poll re-arms it if it is
//     still installed: a reader that left data behind completes at once and is reported again, once
//     per iteration (level-triggered, as asyncio's selectors).
// The sleep is a monitor with a "signalled" flag: the loop's inbox calls Wake only when the loop
// announced its sleep, and completions use the same announce-then-recheck protocol on their own flag
// (the queue is rechecked after the flag is raised, each side uses interlocked operations), so no
// completion is lost and the monitor is touched only when the loop really sleeps.
//
// What has no completion. .NET has no asynchronous "wait until writable" and a listening socket has
// no receive to wait on, so AddWriter, and AddReader on a socket whose zero-byte receive fails as not
// connected (a listener), are polled: each Poll asks the socket with a zero-timeout Socket.Poll (one
// poll()/WSAPoll call per such socket), and while one of them waits the loop sleeps at most
// PollIntervalMs between looks. The transports never need this (they send with SendAsync, servers
// accept with AcceptAsync, Network connects with ConnectAsync); it serves user AddWriter, sock_sendall
// and sock_sendto on a full buffer, sock_connect, sock_accept and datagram writes that met EAGAIN.
//
// How a close racing a pending operation is resolved. .NET cannot cancel one socket operation, only
// close the socket, which aborts every pending one (OperationAborted) on the engine's thread. So a
// registration removed while its receive is pending keeps its entry (not its registration: nothing
// of the reader stays reachable) until that receive completes; re-adding a reader meanwhile adopts
// the pending receive instead of issuing a second one. A completion for a socket that is closed, or
// for an entry nobody wants any more, is dropped (as epoll forgets a closed descriptor), and the
// entry is released. A transport's own operations resolve the race in the transport: the completion
// posted after the socket was closed finds the connection lost and only releases the operation.
// After Dispose, late completions are dropped unseen.
//
// What is allocated. Per socket registration, one Entry (a SocketAsyncEventArgs), reused by every
// re-arm; per operation, nothing. Per transport, one SocketCompletion for its sends, allocated on
// the first send the kernel did not take at once; per listener, one for its accepts.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;

namespace Aio.Backends;

/// <summary>
/// The completion-based backend on .NET's socket engine; runs wherever .NET runs, and watches
/// sockets only. Poll and Update on the loop thread; Wake and completions from any thread.
/// </summary>
internal sealed class PortableBackend : IoBackend
{
    /// <summary>The longest sleep while a polled registration (a writer, a listener's reader) waits.</summary>
    internal const int PollIntervalMs = 10;

    private const int ReadBit = 1;
    private const int WriteBit = 2;
    private const int Awake = 0;
    private const int Sleeping = 1;

    private readonly object _gate = new();                       // the monitor the loop sleeps on
    private readonly ConcurrentQueue<Entry> _completed = new();  // receives done, any thread → loop
    private readonly Dictionary<Socket, Entry> _entries = [];    // loop thread only, from here down
    private readonly List<Entry> _ready = [];                    // to report in this Poll
    private readonly List<Entry> _reported = [];                 // reported by the last Poll: re-arm
    private readonly List<Entry> _polled = [];                   // waiting through Socket.Poll
    private bool _signalled;                                     // under _gate
    private int _sleepState;
    private volatile bool _disposed;

    /// <inheritdoc/>
    public override string Name => "portable";

    /// <inheritdoc/>
    /// <remarks>Always false: every registration must carry a <see cref="Socket"/>.</remarks>
    public override bool SupportsRawDescriptors => false;

    /// <summary>How many sockets have an entry (a registration or a receive still pending); for tests.</summary>
    internal int EntryCount => _entries.Count;

    /// <inheritdoc/>
    /// <remarks>
    /// Re-arms the receives of the registrations reported by the previous call, takes the completed
    /// ones and polls the polled ones; if nothing is ready, sleeps until a completion, <see cref="Wake"/>
    /// or the timeout (at most <see cref="PollIntervalMs"/> while a polled registration waits). Reports
    /// each ready registration once, for the directions it still wants, if its socket is open.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The backend was disposed.</exception>
    public override void Poll(int timeoutMs, IIoReadySink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutMs, -1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        RearmReported();
        DrainCompleted();
        bool polledWaiting = CheckPolled();
        if (_ready.Count == 0 && timeoutMs != 0)
        {
            int wait = polledWaiting && (timeoutMs < 0 || timeoutMs > PollIntervalMs) ? PollIntervalMs : timeoutMs;
            Sleep(wait);
            DrainCompleted();
            if (polledWaiting)
            {
                CheckPolled();
            }
        }

        try
        {
            foreach (Entry entry in _ready)
            {
                Report(entry, sink);
            }
        }
        finally
        {
            _ready.Clear();
        }
    }

    /// <inheritdoc/>
    /// <remarks>Any thread; never throws, also after <see cref="Dispose"/>.</remarks>
    public override void Wake()
    {
        lock (_gate)
        {
            _signalled = true;
            Monitor.Pulse(_gate);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// A reader on a socket that can receive issues (or adopts) a zero-byte receive at once; a
    /// writer, or a reader on a listener, is polled. Loop thread only.
    /// </remarks>
    /// <exception cref="NotSupportedException">The registration has no socket.</exception>
    /// <exception cref="ObjectDisposedException">The socket, or the backend, was disposed.</exception>
    public override void Update(IoRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var entry = registration.BackendState as Entry;
        if (!registration.WantsRead && !registration.WantsWrite)
        {
            if (entry is not null)
            {
                Detach(entry);
            }

            registration.BackendState = null;
            registration.AppliedEvents = 0;
            return;
        }

        if (entry is null)
        {
            Socket socket = registration.Socket ?? throw new NotSupportedException(
                "The portable backend watches sockets only; raw descriptors need the epoll backend.");
            ObjectDisposedException.ThrowIf(IsClosed(socket), socket);
            if (_entries.TryGetValue(socket, out Entry? existing))
            {
                if (existing.Registration is not null && !ReferenceEquals(existing.Registration, registration))
                {
                    throw new InvalidOperationException("This socket is already registered; remove that registration first.");
                }

                entry = existing; // a receive left pending by an earlier registration: adopt it
            }
            else
            {
                entry = new Entry(this, socket);
                _entries.Add(socket, entry);
            }

            entry.Registration = registration;
            registration.BackendState = entry;
        }

        registration.AppliedEvents = (registration.WantsRead ? ReadBit : 0) | (registration.WantsWrite ? WriteBit : 0);
        if (registration.WantsRead && !entry.PollsRead && entry.State == ReceiveState.Idle && !entry.InReady)
        {
            Arm(entry); // (an entry already found ready is reported by the next Poll, then re-armed)
        }

        SetPolled(entry, (registration.WantsRead && entry.PollsRead) || registration.WantsWrite);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Drops every registration; receives still pending complete into nothing when their sockets
    /// close (the sockets stay open). Idempotent; loop thread (or the finalizing owner).
    /// </remarks>
    public override void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (Entry entry in _entries.Values)
        {
            entry.Registration = null;
            entry.Dispose(); // deferred by .NET until a pending operation completes
        }

        _entries.Clear();
        _ready.Clear();
        _reported.Clear();
        _polled.Clear();
        _completed.Clear();
        Wake(); // a Poll racing Dispose returns, then throws on its next call
    }

    private static bool IsClosed(Socket socket) => socket.SafeHandle.IsClosed;

    /// <summary>Engine thread: a receive completed. Queues it and wakes the loop if it sleeps.</summary>
    private void OnReceiveCompleted(Entry entry)
    {
        if (_disposed)
        {
            return;
        }

        _completed.Enqueue(entry);
        if (Volatile.Read(ref _sleepState) == Sleeping && Interlocked.CompareExchange(ref _sleepState, Awake, Sleeping) == Sleeping)
        {
            Wake();
        }
    }

    private void Sleep(int timeoutMs)
    {
        Interlocked.Exchange(ref _sleepState, Sleeping);
        if (_completed.IsEmpty)
        {
            lock (_gate)
            {
                if (!_signalled)
                {
                    Monitor.Wait(_gate, timeoutMs);
                }

                _signalled = false;
            }
        }

        Volatile.Write(ref _sleepState, Awake);
    }

    /// <summary>Issues the zero-byte receive; a synchronous completion is handled at once.</summary>
    private void Arm(Entry entry)
    {
        Debug.Assert(entry.State == ReceiveState.Idle, "one receive per entry at a time");
        if (IsClosed(entry.Socket))
        {
            Forget(entry); // epoll forgets a closed descriptor: never reported again
            return;
        }

        entry.State = ReceiveState.Pending;
        bool pending;
        try
        {
            pending = entry.Socket.ReceiveAsync(entry);
        }
        catch (ObjectDisposedException)
        {
            entry.State = ReceiveState.Idle;
            Forget(entry);
            return;
        }

        if (!pending)
        {
            OnReceived(entry);
        }
    }

    /// <summary>Loop thread: what a finished zero-byte receive means for its entry.</summary>
    private void OnReceived(Entry entry)
    {
        Debug.Assert(entry.State == ReceiveState.Pending, "a completion belongs to a pending receive");
        entry.State = ReceiveState.Idle;
        IoRegistration? registration = entry.Registration;
        if (registration is null || IsClosed(entry.Socket))
        {
            Forget(entry); // nobody wants it any more, or its socket is closed: never reported again
            return;
        }

        switch (entry.SocketError)
        {
            case SocketError.NotConnected or SocketError.InvalidArgument or SocketError.OperationNotSupported:
                // A listener (or a socket not connected yet): nothing to receive on, so poll it.
                entry.PollsRead = true;
                SetPolled(entry, true);
                return;
            case SocketError.OperationAborted:
                // Aborted with the socket still open (a thread exit on Windows): try again next Poll.
                entry.State = ReceiveState.Reported;
                _reported.Add(entry);
                return;
            default:
                // Data, EOF or an error: readable, as epoll reports an error as both directions.
                // The error was taken from the socket by this receive: the reader gets it from here.
                if (entry.SocketError != SocketError.Success)
                {
                    registration.ReadError = entry.SocketError;
                }

                MarkReady(entry, read: true, write: false);
                return;
        }
    }

    private void DrainCompleted()
    {
        while (_completed.TryDequeue(out Entry? entry))
        {
            OnReceived(entry);
        }
    }

    private void RearmReported()
    {
        foreach (Entry entry in _reported)
        {
            if (entry.State != ReceiveState.Reported)
            {
                continue; // detached meanwhile
            }

            entry.State = ReceiveState.Idle;
            if (entry.Registration is { WantsRead: true } && !entry.PollsRead)
            {
                Arm(entry);
            }
        }

        _reported.Clear();
    }

    /// <summary>Asks each polled socket whether it is ready; true if one of them still waits.</summary>
    private bool CheckPolled()
    {
        bool waiting = false;
        for (int i = _polled.Count - 1; i >= 0; i--)
        {
            Entry entry = _polled[i];
            IoRegistration? registration = entry.Registration;
            if (registration is null || IsClosed(entry.Socket))
            {
                if (entry.State != ReceiveState.Pending)
                {
                    Forget(entry); // closed while registered: dropped, as epoll drops it
                }

                continue;
            }

            bool read = registration.WantsRead && entry.PollsRead && PollSocket(entry.Socket, SelectMode.SelectRead);
            bool write = registration.WantsWrite && (PollSocket(entry.Socket, SelectMode.SelectWrite) || PollSocket(entry.Socket, SelectMode.SelectError));
            if (read || write)
            {
                MarkReady(entry, read, write);
            }
            else
            {
                waiting = true;
            }
        }

        return waiting;
    }

    private static bool PollSocket(Socket socket, SelectMode mode)
    {
        try
        {
            return socket.Poll(0, mode);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true; // a failing socket is ready: the callback's own call reports the error
        }
    }

    private void MarkReady(Entry entry, bool read, bool write)
    {
        if (!entry.InReady)
        {
            entry.InReady = true;
            _ready.Add(entry);
        }

        entry.ReadyRead |= read;
        entry.ReadyWrite |= write;
    }

    private void Report(Entry entry, IIoReadySink sink)
    {
        bool read = entry.ReadyRead;
        bool write = entry.ReadyWrite;
        (entry.InReady, entry.ReadyRead, entry.ReadyWrite) = (false, false, false);
        if (entry.Registration is not { } registration || IsClosed(entry.Socket))
        {
            return; // detached (and released) since it was found ready, or closed
        }

        if (read && !entry.PollsRead && entry.State == ReceiveState.Idle)
        {
            entry.State = ReceiveState.Reported; // re-armed by the next Poll
            _reported.Add(entry);
        }

        read &= registration.WantsRead;
        write &= registration.WantsWrite;
        if (read || write)
        {
            sink.OnIoReady(registration, read, write);
        }
    }

    private void SetPolled(Entry entry, bool polled)
    {
        if (polled == entry.InPolled)
        {
            return;
        }

        entry.InPolled = polled;
        if (polled)
        {
            _polled.Add(entry);
        }
        else
        {
            _polled.Remove(entry);
        }
    }

    /// <summary>The registration is gone; the entry stays only while its receive is pending.</summary>
    private void Detach(Entry entry)
    {
        entry.Registration = null;
        entry.PollsRead = false;
        SetPolled(entry, false);
        if (entry.State == ReceiveState.Reported)
        {
            entry.State = ReceiveState.Idle; // its _reported slot is skipped
        }

        if (entry.State == ReceiveState.Idle)
        {
            Release(entry);
        }
    }

    /// <summary>
    /// Drops an entry whose socket closed (or that nobody wants): the loop's registration, if any,
    /// keeps pointing at it until removed, which then finds nothing to do.
    /// </summary>
    private void Forget(Entry entry)
    {
        entry.Registration = null;
        entry.PollsRead = false;
        SetPolled(entry, false);
        Release(entry);
    }

    private void Release(Entry entry)
    {
        Debug.Assert(entry.State != ReceiveState.Pending, "a pending receive still uses the entry");
        if (_entries.TryGetValue(entry.Socket, out Entry? current) && ReferenceEquals(current, entry))
        {
            _entries.Remove(entry.Socket);
        }

        entry.Dispose();
    }

    private enum ReceiveState
    {
        Idle,     // no receive issued
        Pending,  // a zero-byte receive is in the engine
        Reported, // completed and reported; the next Poll re-arms it
    }

    /// <summary>One socket's registration and its reusable zero-byte receive.</summary>
    private sealed class Entry : SocketAsyncEventArgs
    {
        private readonly PortableBackend _backend;

        public Entry(PortableBackend backend, Socket socket)
            : base(unsafeSuppressExecutionContextFlow: true)
        {
            _backend = backend;
            Socket = socket;
            SetBuffer(Memory<byte>.Empty);

            // A zero-byte receive must not consume a datagram (Unix always peeks for it; Windows does not).
            SocketFlags = socket.SocketType == SocketType.Stream ? SocketFlags.None : SocketFlags.Peek;
        }

        public Socket Socket { get; }

        public IoRegistration? Registration;
        public ReceiveState State;
        public bool PollsRead;   // the socket cannot receive (a listener): its reads are polled
        public bool InPolled;
        public bool InReady;
        public bool ReadyRead, ReadyWrite;

        protected override void OnCompleted(SocketAsyncEventArgs e) => _backend.OnReceiveCompleted(this);
    }
}
