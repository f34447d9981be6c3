// One reusable asynchronous socket operation of the portable (completion-based) backend, whose
// completion runs on the loop thread.
//
// The operation is a SocketAsyncEventArgs made with unsafeSuppressExecutionContextFlow: the engine's
// threads (IOCP, kqueue, epoll) capture no ExecutionContext, so nothing of the task that started
// it stays reachable through them. When the operation completes asynchronously the engine calls
// OnCompleted on its thread, which posts this object into the loop's inbox (it is an ILoopWorkItem:
// the post allocates nothing); the loop runs the owner's callback in its next iteration. A
// synchronous completion (Start… returned false) is handled by the caller inline and posts nothing.
// If the loop closed meanwhile the completion is dropped: nobody is left to run it.
//
// A close racing the operation: .NET aborts the operation when its socket is disposed, and the
// completion still arrives (OperationAborted). The owner decides what it means — usually "the
// connection is gone: release the buffer and dispose this operation".
using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>A reusable socket operation whose asynchronous completion runs on the loop thread. Loop thread only.</summary>
internal sealed class SocketCompletion : SocketAsyncEventArgs, ILoopWorkItem
{
    private readonly EventLoop _loop;
    private readonly Action<SocketCompletion> _onCompleted;

    /// <summary>An operation whose completions run <paramref name="onCompleted"/> (a static lambda) with <paramref name="owner"/> as <see cref="SocketAsyncEventArgs.UserToken"/>.</summary>
    public SocketCompletion(EventLoop loop, Action<SocketCompletion> onCompleted, object owner)
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        _loop = loop;
        _onCompleted = onCompleted;
        UserToken = owner;
    }

    /// <summary>Whether an operation was started and its completion has not run yet.</summary>
    public bool IsPending { get; private set; }

    /// <summary>Starts a send of the buffer set with <see cref="SocketAsyncEventArgs.SetBuffer(Memory{byte})"/>; false when it completed at once.</summary>
    public bool StartSend(Socket socket) => Track(socket.SendAsync(this));

    /// <summary>Starts an accept (into a new socket); false when it completed at once.</summary>
    public bool StartAccept(Socket socket)
    {
        AcceptSocket = null;
        return Track(socket.AcceptAsync(this));
    }

    /// <summary>Starts a connect to <see cref="SocketAsyncEventArgs.RemoteEndPoint"/>; false when it completed at once.</summary>
    public bool StartConnect(Socket socket) => Track(socket.ConnectAsync(this));

    /// <summary>
    /// Connects <paramref name="socket"/> to <paramref name="remote"/> through the socket engine; the
    /// future completes on the loop (failed with a "Connect call failed" <see cref="SocketException"/>).
    /// Cancelling the future does not stop the connect: the caller disposes the socket.
    /// </summary>
    public static Future<bool> ConnectAsync(EventLoop loop, Socket socket, EndPoint remote)
    {
        var connected = new Future<bool>(loop);
        var operation = new SocketCompletion(loop, static done => OnConnected(done), connected) { RemoteEndPoint = remote };
        bool pending;
        try
        {
            pending = operation.StartConnect(socket);
        }
        catch
        {
            operation.Dispose();
            throw;
        }

        if (!pending)
        {
            OnConnected(operation);
        }

        return connected;
    }

    /// <inheritdoc/>
    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        if (!_loop.TryPost(this, null))
        {
            IsPending = false; // the loop is closed: the completion has nowhere to run
        }
    }

    void ILoopWorkItem.Execute(object? state)
    {
        IsPending = false;
        _onCompleted(this);
    }

    private static void OnConnected(SocketCompletion operation)
    {
        var connected = (Future<bool>)operation.UserToken!;
        EndPoint? remote = operation.RemoteEndPoint;
        SocketError error = operation.SocketError;
        operation.Dispose();
        if (connected.IsDone)
        {
            return; // cancelled meanwhile; the caller closed the socket
        }

        if (error == SocketError.Success)
        {
            connected.SetResult(true);
        }
        else
        {
            connected.SetException(new SocketException((int)error, $"Connect call failed {remote}"));
        }
    }

    private bool Track(bool pending)
    {
        IsPending = pending;
        return pending;
    }
}
