// The portable backend's half of SocketTransport's writing (see SocketTransport.cs): what the kernel
// did not take at once is handed to the socket engine (SendAsync through one reused SocketCompletion)
// and continued from its completion on the loop thread, as asyncio's proactor transport writes. A
// pending send keeps its buffer segment: a close that drops the buffer meanwhile sets the buffer
// aside, and the aborted send's completion releases it and the operation.
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Aio.Net;

internal sealed partial class SocketTransport
{
    /// <summary>The buffer became non-empty: epoll installs the writer, portable starts sending it.</summary>
    private void WaitWritable()
    {
        if (_completionWrites)
        {
            SendBuffered();
        }
        else
        {
            _writing.Watch();
        }
    }

    /// <summary>Portable: sends the buffer through the socket engine until it is empty or a send is pending.</summary>
    private void SendBuffered()
    {
        _send ??= new SocketCompletion(_loop, SendCompletedCallback, this);
        while (!_send.IsPending && !_buffer.IsEmpty && !_connectionLost)
        {
            _send.SetBuffer(MemoryMarshal.AsMemory(_buffer.HeadMemory));
            try
            {
                if (_send.StartSend(_socket))
                {
                    return; // OnSendCompleted goes on
                }
            }
            catch (Exception exception)
            {
                FatalError(exception, "Fatal write error on socket transport");
                return;
            }

            if (!TakeSendResult(_send))
            {
                return;
            }
        }
    }

    /// <summary>Portable, loop thread: a SendAsync finished.</summary>
    private void OnSendCompleted(SocketCompletion send)
    {
        if (_connectionLost || _heldBySend is not null)
        {
            ReleaseSend(); // the connection is gone: only give the buffer and the operation back
            return;
        }

        if (TakeSendResult(send))
        {
            SendBuffered();
            AfterWrites();
        }
    }

    /// <summary>Consumes what a finished send took; false (after a fatal error) if it failed.</summary>
    private bool TakeSendResult(SocketCompletion send)
    {
        if (send.SocketError != SocketError.Success)
        {
            FatalError(new SocketException((int)send.SocketError), "Fatal write error on socket transport");
            return false;
        }

        _buffer.Consume(send.BytesTransferred);
        return true;
    }

    /// <summary>Drops the buffered bytes; a segment a pending send still uses is released by its completion.</summary>
    private void DropBuffer()
    {
        if (_send is { IsPending: true })
        {
            if (_heldBySend is null && !_buffer.IsEmpty)
            {
                (_heldBySend, _buffer) = (_buffer, new WriteBuffer());
            }
        }
        else
        {
            _buffer.Clear();
        }
    }

    /// <summary>Releases the send operation once the connection is over and no send is pending.</summary>
    private void ReleaseSend()
    {
        if (_send is null || _send.IsPending)
        {
            return;
        }

        _heldBySend?.Clear();
        _heldBySend = null;
        _buffer.Clear();
        if (_connectionLost)
        {
            _send.Dispose();
            _send = null;
        }
    }
}
