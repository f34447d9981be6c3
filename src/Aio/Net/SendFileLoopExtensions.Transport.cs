// loop.sendfile(transport, file, offset, count, fallback) [asyncio's base_events.sendfile,
// selector_events._sendfile_native, base_events._sendfile_fallback].
//
// The transport is marked "sendfile in progress" as soon as the call is accepted: from then until
// the task ends, the protocol's Write and WriteEof throw (asyncio raises "unable to write; sendfile
// is in progress"), so bytes written before the call go out before the file and bytes written after
// the task completes go out after it; nothing can interleave. Reading is paused meanwhile and
// resumed afterwards if it was on, as asyncio does.
//
// Native (a plain socket transport on Linux with a FileStream): wait until the transport's buffer is
// flushed (its writer callback reports each shrink), then sendfile(2) on the socket's writability
// through the transport's own writer slot (the loop's ownership check would refuse anybody else).
// If the kernel refuses before any byte (SendfileNotAvailableError) and fallback is on, or the
// transport has no native route (TLS), the fallback reads 256 KiB chunks off the loop thread and
// writes each through the transport, waiting whenever the buffer is above the high-water mark until
// it is back at the low mark (flow control: memory stays bounded by the high mark plus one chunk),
// and at the end until the buffer is empty (asyncio's fallback stops at the last write; waiting
// for the flush makes "returned" mean "handed to the kernel" on both routes).
//
// Ending: the file's position is left just past the last byte sent. Cancelling the task (or the
// token) stops the transfer at a chunk boundary or wherever sendfile(2) was: the transport stays
// open and usable, part of the file may have been sent; the native operation's writer is removed by
// its completion. A connection that ends meanwhile fails the task with an IOException.
using System.Buffers;

namespace Aio.Net;

/// <summary>Sending a file over a transport [loop.sendfile].</summary>
public static partial class SendFileLoopExtensions
{
    /// <summary>
    /// Sends <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/>
    /// (null: to the end of the file) over <paramref name="transport"/> [loop.sendfile(transport,
    /// file, offset, count, fallback=)]. A plain TCP or Unix transport on Linux with a
    /// <see cref="FileStream"/> waits until its write buffer is flushed, then uses sendfile(2) (zero
    /// copies); a TLS transport, another stream, another system, or a kernel that refuses, uses the
    /// fallback when <paramref name="fallback"/> is true: the file is read in 256 KiB chunks on the
    /// default executor and written through the transport, honouring its flow control, and the task
    /// completes once the transport's buffer is empty. While the task runs, the transport's
    /// <see cref="IWriteTransport.Write"/> and <see cref="IWriteTransport.WriteEof"/> throw (the
    /// file's bytes never interleave with other writes) and reading is paused (resumed afterwards).
    /// Afterwards the file's position is just past the last byte sent.
    /// </summary>
    /// <returns>A task (already running) with the number of bytes sent. Cancelling it (or the token) stops the transfer and leaves the transport open; part of the file may have been sent.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The file is not readable and seekable, or the transport is not one of Aio's stream transports.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative, or <paramref name="count"/> is not positive.</exception>
    /// <exception cref="InvalidOperationException">Not on the loop's thread; the transport is closing ("Transport is closing"); another sendfile runs on it.</exception>
    /// <remarks>
    /// The task fails with <see cref="SendfileNotAvailableError"/> when sendfile(2) cannot be used
    /// (always for TLS) and <paramref name="fallback"/> is false, before any byte was sent; with an
    /// <see cref="IOException"/> when the connection ends during the transfer.
    /// </remarks>
    public static LoopTask<long> SendFileAsync(this EventLoop loop, ITransport transport, Stream file, long offset = 0, long? count = null, bool fallback = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(loop);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(file);
        if (!file.CanRead || !file.CanSeek)
        {
            throw new ArgumentException("The file must be readable and seekable (a FileStream opened for reading).", nameof(file));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (count is { } positive)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(positive, nameof(count));
        }

        if (transport is not ISendFileTransport target)
        {
            throw new ArgumentException(
                $"SendFileAsync works on the stream transports Aio creates (TCP, Unix, TLS), not on a {transport.GetType().Name}; write the file's chunks to it instead.",
                nameof(transport));
        }

        if (!loop.IsOnLoopThread)
        {
            throw new InvalidOperationException("SendFileAsync runs on the loop's thread: call it from code running on the loop.");
        }

        if (transport.IsClosing)
        {
            throw new InvalidOperationException("Transport is closing: SendFileAsync needs an open transport.");
        }

        if (target.SendFileInProgress)
        {
            throw new InvalidOperationException("Another SendFileAsync is sending over this transport: await it first.");
        }

        target.SendFileInProgress = true;
        LoopTask<long> task = loop.CreateTask(() => TransportSendAsync(loop, transport, target, file, offset, count, fallback), "sendfile", eager: true);
        CancelOnToken(loop, task, cancellationToken);
        return task;
    }

    private static void CancelOnToken(EventLoop loop, LoopTask<long> task, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled || task.IsDone)
        {
            return;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            _ = task.Cancel(SocketOperation<long>.TokenCancelMessage);
            return;
        }

        CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(
            static state =>
            {
                var (loop, task) = ((EventLoop, LoopTask<long>))state!;
                loop.TryCallSoonThreadSafe(static target => ((LoopTask<long>)target!).Cancel(SocketOperation<long>.TokenCancelMessage), task);
            },
            (loop, task));
        task.AddDoneCallback(_ => registration.Dispose());
    }

    private static async Task<long> TransportSendAsync(EventLoop loop, ITransport transport, ISendFileTransport target, Stream file, long offset, long? count, bool fallback)
    {
        bool resumeReading = transport.IsReading;
        try
        {
            transport.PauseReading();
            if (OperatingSystem.IsLinux() && file is FileStream { SafeFileHandle: var handle })
            {
                await WhenWriteBufferAtMost(loop, transport, target, 0);
                if (target.CreateNativeSendFile(handle, offset, count) is { } native)
                {
                    try
                    {
                        return await native.Start(CancellationToken.None);
                    }
                    catch (SendfileNotAvailableError) when (fallback)
                    {
                        // Not for this file or socket (nothing was sent): read and write instead.
                    }
                    finally
                    {
                        file.Position = offset + native.Sent;
                    }
                }
            }

            if (!fallback)
            {
                throw new SendfileNotAvailableError(transport is TlsTransport
                    ? "sendfile(2) cannot send over TLS (the bytes are encrypted in user space); pass fallback: true to read and write the file."
                    : OperatingSystem.IsLinux()
                        ? $"sendfile(2) needs a FileStream, not a {file.GetType().Name}; pass fallback: true to read and write it."
                        : "sendfile(2) is used on Linux only; pass fallback: true to read and write the file.");
            }

            return await TransportFallbackAsync(loop, transport, target, file, offset, count);
        }
        finally
        {
            target.WriteBufferShrunk = null;
            target.SendFileInProgress = false;
            if (resumeReading && !transport.IsClosing)
            {
                transport.ResumeReading();
            }
        }
    }

    /// <summary>asyncio's _sendfile_fallback: read a chunk off the loop thread, write it, wait while the buffer is above the high mark; at the end, for the flush.</summary>
    private static async Task<long> TransportFallbackAsync(EventLoop loop, ITransport transport, ISendFileTransport target, Stream file, long offset, long? count)
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(FallbackChunkSize);
        Task<int>? reading = null;
        long sent = 0;
        try
        {
            file.Position = offset;
            while (count is not { } total || sent < total)
            {
                int wanted = (int)Math.Min(FallbackChunkSize, count is { } limit ? limit - sent : FallbackChunkSize);
                reading = Task.Run(() => file.Read(chunk, 0, wanted));
                int read = await loop.WrapTask(reading);
                reading = null;
                if (read == 0)
                {
                    break;
                }

                CheckOpen(transport, target);
                target.WriteFileChunk(chunk.AsSpan(0, read));
                sent += read;
                if (transport.WriteBufferSize > transport.GetWriteBufferLimits().High)
                {
                    await WhenWriteBufferAtMost(loop, transport, target, transport.GetWriteBufferLimits().Low);
                }
            }

            await WhenWriteBufferAtMost(loop, transport, target, 0);
            return sent;
        }
        finally
        {
            if (reading is { IsCompleted: false })
            {
                // Cancelled while a read runs: the buffer and the position are its until it ends.
                _ = reading.ContinueWith(
                    _ =>
                    {
                        file.Position = offset + sent;
                        ArrayPool<byte>.Shared.Return(chunk);
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
            else
            {
                file.Position = offset + sent;
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
    }

    /// <summary>Completes once the transport's write buffer holds at most <paramref name="bytes"/>; fails if the connection ends first.</summary>
    private static async Task WhenWriteBufferAtMost(EventLoop loop, ITransport transport, ISendFileTransport target, int bytes)
    {
        CheckOpen(transport, target);
        if (transport.WriteBufferSize <= bytes)
        {
            return;
        }

        Future<bool> reached = loop.CreateFuture<bool>();
        target.WriteBufferShrunk = () =>
        {
            if (!reached.IsDone && (target.IsLost || transport.WriteBufferSize <= bytes))
            {
                reached.SetResult(true);
            }
        };
        try
        {
            await reached;
        }
        finally
        {
            target.WriteBufferShrunk = null;
        }

        CheckOpen(transport, target);
    }

    private static void CheckOpen(ITransport transport, ISendFileTransport target)
    {
        if (target.IsLost || transport.IsClosing)
        {
            throw new IOException("The transport was closed while SendFileAsync was sending the file.");
        }
    }
}
