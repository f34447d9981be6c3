// The concrete socket-level awaits behind SocketLoopExtensions: each is one system call, retried
// on readiness by SocketOperation. See SocketOperation.cs for the lifetime rules.
using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

/// <summary>recv into the caller's memory [loop.sock_recv_into]; the byte count (0 at EOF).</summary>
internal sealed class ReceiveIntoOperation(EventLoop loop, Socket socket, Memory<byte> buffer)
    : SocketOperation<int>(loop, socket, write: false)
{
    protected override void TryComplete()
    {
        int received = Socket.Receive(buffer.Span, SocketFlags.None, out SocketError error);
        if (error == SocketError.Success)
        {
            SetResult(received);
        }
        else if (!IsTransient(error))
        {
            SetException(new SocketException((int)error));
        }
    }
}

/// <summary>recv of at most n bytes [loop.sock_recv]; a new array of the bytes received (empty at EOF).</summary>
internal sealed class ReceiveOperation(EventLoop loop, Socket socket, int maxBytes)
    : SocketOperation<byte[]>(loop, socket, write: false)
{
    protected override void TryComplete()
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(maxBytes);
        try
        {
            int received = Socket.Receive(chunk.AsSpan(0, maxBytes), SocketFlags.None, out SocketError error);
            if (error == SocketError.Success)
            {
                SetResult(chunk.AsSpan(0, received).ToArray());
            }
            else if (!IsTransient(error))
            {
                SetException(new SocketException((int)error));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}

/// <summary>send until every byte is taken [loop.sock_sendall].</summary>
internal sealed class SendAllOperation(EventLoop loop, Socket socket, ReadOnlyMemory<byte> data)
    : SocketOperation<bool>(loop, socket, write: true)
{
    private int _sent;

    protected override void TryComplete()
    {
        while (_sent < data.Length)
        {
            int sent = Socket.Send(data.Span[_sent..], SocketFlags.None, out SocketError error);
            if (error != SocketError.Success)
            {
                if (!IsTransient(error))
                {
                    SetException(new SocketException((int)error));
                }

                return;
            }

            _sent += sent;
        }

        SetResult(true);
    }
}

/// <summary>sendto [loop.sock_sendto]; the byte count.</summary>
internal sealed class SendToOperation(EventLoop loop, Socket socket, ReadOnlyMemory<byte> data, EndPoint remote)
    : SocketOperation<int>(loop, socket, write: true)
{
    protected override void TryComplete() => SetResult(Socket.SendTo(data.Span, SocketFlags.None, remote));
}

/// <summary>recvfrom into the caller's memory [loop.sock_recvfrom_into]; the byte count and the sender.</summary>
internal sealed class ReceiveFromIntoOperation(EventLoop loop, Socket socket, Memory<byte> buffer)
    : SocketOperation<(int Count, EndPoint RemoteEndPoint)>(loop, socket, write: false)
{
    protected override void TryComplete()
    {
        EndPoint from = SocketAddresses.AnyEndPoint(Socket);
        int received = Socket.ReceiveFrom(buffer.Span, SocketFlags.None, ref from);
        SetResult((received, from));
    }
}

/// <summary>recvfrom of at most n bytes [loop.sock_recvfrom]; the bytes and the sender.</summary>
internal sealed class ReceiveFromOperation(EventLoop loop, Socket socket, int maxBytes)
    : SocketOperation<(byte[] Data, EndPoint RemoteEndPoint)>(loop, socket, write: false)
{
    protected override void TryComplete()
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(maxBytes);
        try
        {
            EndPoint from = SocketAddresses.AnyEndPoint(Socket);
            int received = Socket.ReceiveFrom(chunk.AsSpan(0, maxBytes), SocketFlags.None, ref from);
            SetResult((chunk.AsSpan(0, received).ToArray(), from));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}

/// <summary>accept [loop.sock_accept]; the connection (made non-blocking) and the peer's address.</summary>
internal sealed class AcceptOperation(EventLoop loop, Socket socket)
    : SocketOperation<(Socket Connection, EndPoint? RemoteEndPoint)>(loop, socket, write: false)
{
    protected override void TryComplete()
    {
        Socket connection = Socket.Accept();
        EndPoint? remote;
        try
        {
            connection.Blocking = false;
            remote = connection.RemoteEndPoint;
        }
        catch (SocketException)
        {
            remote = null; // the peer is gone already; the first read says so
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        SetResult((connection, remote));
    }
}

/// <summary>
/// A non-blocking connect [loop.sock_connect]: started in the constructor's first attempt; done once
/// the socket is writable and SO_ERROR says 0.
/// </summary>
internal sealed class ConnectOperation(EventLoop loop, Socket socket, EndPoint remote)
    : SocketOperation<bool>(loop, socket, write: true)
{
    private bool _started;

    protected override void TryComplete()
    {
        if (!_started)
        {
            _started = true;
            try
            {
                Socket.Connect(remote);
                SetResult(true);
            }
            catch (SocketException pending) when (pending.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress or SocketError.Interrupted)
            {
                // In progress: the socket becomes writable once the handshake succeeded or failed.
            }
            catch (SocketException failure)
            {
                SetException(new SocketException((int)failure.SocketErrorCode, $"Connect call failed {remote}: {failure.Message}"));
            }

            return;
        }

        var error = (SocketError)(int)Socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
        if (error == SocketError.Success)
        {
            SetResult(true);
        }
        else if (!IsTransient(error))
        {
            SetException(new SocketException((int)error, $"Connect call failed {remote}"));
        }
    }
}
