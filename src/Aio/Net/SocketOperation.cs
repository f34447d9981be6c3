// One socket-level await (loop.sock_recv and friends): a future that performs its system call when
// the loop reports the socket ready.
//
// Start tries the non-blocking call at once; when the kernel answers (data was waiting, the send
// buffer had room) the future completes inside the call and nothing is registered. Otherwise the
// operation installs the loop's reader or writer for the socket (level-triggered) and retries in
// each readiness callback until the call completes or fails for good. Whatever ends the future — a
// result, an error, Cancel from the awaiting task (the Future awaiter tells the task what it waits
// on, so a task's cancellation reaches it) or the caller's CancellationToken — goes through
// OnCompleted, which removes the reader or writer and disarms the token: a cancelled operation
// leaves nothing registered with the loop. Transient errors (EAGAIN, EINTR, EINPROGRESS) mean
// "wait for the next readiness"; any other SocketException fails the future.
//
// One allocation per operation (this object), as asyncio allocates one future per sock_* call.
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>A socket-level await [loop.sock_*]: the system call retried on readiness. Loop thread only.</summary>
/// <typeparam name="T">The result type.</typeparam>
internal abstract class SocketOperation<T> : Future<T>
{
    /// <summary>The cancel message of an operation ended by its <see cref="CancellationToken"/>.</summary>
    internal const string TokenCancelMessage = "The socket operation was cancelled through its CancellationToken.";

    private static readonly Action<object?> TokenCallback = static state => ((SocketOperation<T>)state!).OnTokenCallback();
    private static readonly Action<object?> TokenCancelled = static state => ((SocketOperation<T>)state!).Cancel(TokenCancelMessage);

    private readonly bool _write;
    private readonly bool _ownSocket;
    private CancellationTokenRegistration _registration;
    private bool _registered;

    /// <summary>An operation on <paramref name="socket"/> that waits for readability, or writability when <paramref name="write"/>.</summary>
    /// <remarks>
    /// <paramref name="ownSocket"/>: the operation runs for the transport that owns the socket (its
    /// sendfile), so it installs the callback without the loop's ownership check [asyncio's _add_writer].
    /// </remarks>
    protected SocketOperation(EventLoop loop, Socket socket, bool write, bool ownSocket = false)
        : base(loop)
    {
        Socket = socket;
        _write = write;
        _ownSocket = ownSocket;
    }

    /// <summary>The socket operated on.</summary>
    protected Socket Socket { get; }

    /// <summary>
    /// Tries the operation now; when it must wait, installs the reader or writer and arms
    /// <paramref name="cancellationToken"/>. Returns this future.
    /// </summary>
    public Future<T> Start(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            Cancel(TokenCancelMessage);
            return this;
        }

        Attempt();
        if (IsDone)
        {
            return this;
        }

        if (_ownSocket)
        {
            Loop.WatchOwnSocket(Socket, Attempt, read: !_write);
        }
        else if (_write)
        {
            Loop.AddWriter(Socket, Attempt);
        }
        else
        {
            Loop.AddReader(Socket, Attempt);
        }

        _registered = true;
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(TokenCallback, this);
        }

        return this;
    }

    /// <summary>Errors after which the operation waits for the next readiness.</summary>
    internal static bool IsTransient(SocketError error) =>
        error is SocketError.WouldBlock or SocketError.IOPending or SocketError.Interrupted or SocketError.TryAgain or SocketError.InProgress;

    /// <summary>
    /// Performs the system call once: completes the future (<c>SetResult</c>, <c>SetException</c>)
    /// or returns without completing it to wait for the next readiness. May throw; the exception
    /// fails the future, unless it is a transient <see cref="SocketException"/>.
    /// </summary>
    protected abstract void TryComplete();

    private protected override void OnCompleted()
    {
        if (_registered)
        {
            _registered = false;
            if (_ownSocket)
            {
                _ = Loop.UnwatchOwnSocket(Socket, read: !_write);
            }
            else if (_write)
            {
                Loop.RemoveWriter(Socket);
            }
            else
            {
                Loop.RemoveReader(Socket);
            }
        }

        _registration.Unregister();
        _registration = default;
    }

    private void Attempt()
    {
        if (IsDone)
        {
            return;
        }

        try
        {
            if (!_write && Loop.Backend == LoopBackend.Portable && Loop.TakeReadError(Socket) is var taken and not SocketError.Success)
            {
                throw new SocketException((int)taken); // consumed by the portable backend's wait
            }

            TryComplete();
        }
        catch (SocketException error) when (IsTransient(error.SocketErrorCode))
        {
            // Spurious readiness: wait for the next one.
        }
        catch (Exception error)
        {
            if (!IsDone)
            {
                SetException(error);
            }
        }
    }

    private void OnTokenCallback()
    {
        if (Loop.IsOnLoopThread)
        {
            Cancel(TokenCancelMessage);
        }
        else
        {
            Loop.TryCallSoonThreadSafe(TokenCancelled, this);
        }
    }
}
