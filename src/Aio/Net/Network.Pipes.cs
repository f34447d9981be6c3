// loop.connect_read_pipe / connect_write_pipe: a pipe descriptor (a FIFO, one end of a pipe from
// another library, stdin/stdout) or a pipe Stream as a transport. The transports are the ones
// subprocess pipes use: on the epoll backend a descriptor is made non-blocking and watched by the
// loop's reader/writer; on the portable backend (and for any Stream) one asynchronous read or write
// of a Stream is outstanding at a time, its completion posted into the loop.
using System.Runtime.InteropServices;
using Aio.Processes;
using Microsoft.Win32.SafeHandles;

namespace Aio.Net;

public static partial class Network
{
    /// <summary>
    /// Reads a pipe descriptor through a protocol [loop.connect_read_pipe(protocol_factory, pipe)]:
    /// a FIFO, the read end of a pipe another library made, standard input. The transport owns
    /// <paramref name="pipe"/> from here on and closes it when it closes. The protocol hears
    /// ConnectionMade (its transport's write side throws <see cref="NotSupportedException"/>), then
    /// DataReceived as bytes arrive, then at EOF EofReceived and ConnectionLost(null); a
    /// <see cref="IBaseTransport.Close"/> ends it with ConnectionLost(null) only.
    /// </summary>
    /// <returns>A task (already running) with the read transport and the protocol, completed once ConnectionMade ran; cancelled (or its token is), it closes the pipe — unless the token was cancelled before the call, when nothing starts and the pipe stays the caller's.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The descriptor is closed, or (epoll) cannot be watched: not a pipe, FIFO, socket or character device.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(IReadTransport Transport, Protocol Protocol)> ConnectReadPipeAsync(Func<Protocol> protocolFactory, SafeFileHandle pipe, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        CheckPipe(pipe);
        EventLoop loop = EventLoop.GetRunningLoop();
        Func<IPipeOwner, ReadPipeTransport> make = UsesDescriptors(loop)
            ? owner => new FdReadPipeTransport(owner, 1, PrepareDescriptor(loop, pipe))
            : owner => new StreamReadPipeTransport(owner, 1, BlockingStream(pipe, FileAccess.Read));
        return ConnectPipeAsync<IReadTransport>(loop, protocolFactory, protocol => PipeConnection.ForRead(loop, protocol, make), "connect-read-pipe", cancellationToken);
    }

    /// <summary>
    /// As <see cref="ConnectReadPipeAsync(Func{Protocol}, SafeFileHandle, CancellationToken)"/>, for a readable
    /// <see cref="Stream"/> (an <c>AnonymousPipeClientStream</c>, <c>Console.OpenStandardInput()</c>,
    /// a process's standard output): one asynchronous read at a time, on either backend. The
    /// transport disposes the stream when it closes.
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The stream cannot read.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(IReadTransport Transport, Protocol Protocol)> ConnectReadPipeAsync(Func<Protocol> protocolFactory, Stream pipe, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        ArgumentNullException.ThrowIfNull(pipe);
        if (!pipe.CanRead)
        {
            throw new ArgumentException("The stream cannot read: pass the read end of the pipe.", nameof(pipe));
        }

        EventLoop loop = EventLoop.GetRunningLoop();
        return ConnectPipeAsync<IReadTransport>(loop, protocolFactory, protocol => PipeConnection.ForRead(loop, protocol, owner => new StreamReadPipeTransport(owner, 1, pipe)), "connect-read-pipe", cancellationToken);
    }

    /// <summary>
    /// Writes a pipe descriptor through a protocol [loop.connect_write_pipe(protocol_factory, pipe)]:
    /// a FIFO, the write end of a pipe, standard output. The transport owns <paramref name="pipe"/>
    /// and closes it when it closes (after flushing). Writes go out at once when the pipe has room
    /// and are buffered otherwise, with PauseWriting/ResumeWriting at the buffer's marks; a write to
    /// a pipe nobody reads ends the connection with an <see cref="IOException"/> (asyncio:
    /// BrokenPipeError). The protocol's transport cannot read (<see cref="NotSupportedException"/>).
    /// </summary>
    /// <returns>A task (already running) with the write transport and the protocol, completed once ConnectionMade ran; cancelled (or its token is), it closes the pipe — unless the token was cancelled before the call, when nothing starts and the pipe stays the caller's.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The descriptor is closed, or (epoll) cannot be watched.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(IWriteTransport Transport, Protocol Protocol)> ConnectWritePipeAsync(Func<Protocol> protocolFactory, SafeFileHandle pipe, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        CheckPipe(pipe);
        EventLoop loop = EventLoop.GetRunningLoop();
        Func<IPipeOwner, WritePipeTransport> make = UsesDescriptors(loop)
            ? owner => new FdWritePipeTransport(owner, PrepareDescriptor(loop, pipe))
            : owner => new StreamWritePipeTransport(owner, BlockingStream(pipe, FileAccess.Write));
        return ConnectPipeAsync<IWriteTransport>(loop, protocolFactory, protocol => PipeConnection.ForWrite(loop, protocol, make), "connect-write-pipe", cancellationToken);
    }

    /// <summary>
    /// As <see cref="ConnectWritePipeAsync(Func{Protocol}, SafeFileHandle, CancellationToken)"/>, for a writable
    /// <see cref="Stream"/> (an <c>AnonymousPipeServerStream</c>, <c>Console.OpenStandardOutput()</c>):
    /// one asynchronous write at a time, on either backend. The transport disposes the stream when it closes.
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The stream cannot write.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(IWriteTransport Transport, Protocol Protocol)> ConnectWritePipeAsync(Func<Protocol> protocolFactory, Stream pipe, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        ArgumentNullException.ThrowIfNull(pipe);
        if (!pipe.CanWrite)
        {
            throw new ArgumentException("The stream cannot write: pass the write end of the pipe.", nameof(pipe));
        }

        EventLoop loop = EventLoop.GetRunningLoop();
        return ConnectPipeAsync<IWriteTransport>(loop, protocolFactory, protocol => PipeConnection.ForWrite(loop, protocol, owner => new StreamWritePipeTransport(owner, pipe)), "connect-write-pipe", cancellationToken);
    }

    private static LoopTask<(T Transport, Protocol Protocol)> ConnectPipeAsync<T>(EventLoop loop, Func<Protocol> protocolFactory, Func<Protocol, PipeConnection> connect, string name, CancellationToken cancellationToken)
        where T : class, IBaseTransport =>
        loop.CreateCancellableTask(
            async () =>
            {
                Protocol protocol = protocolFactory() ?? throw new InvalidOperationException("The protocol factory returned null.");
                PipeConnection connection = connect(protocol);
                try
                {
                    await connection.Made;
                }
                catch
                {
                    connection.Close();
                    throw;
                }

                return ((T)connection.Pipe, protocol);
            },
            name,
            cancellationToken);

    private static void CheckPipe(SafeFileHandle pipe)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        if (pipe.IsInvalid || pipe.IsClosed)
        {
            throw new ArgumentException("The pipe's handle is closed or invalid.", nameof(pipe));
        }
    }

    private static bool UsesDescriptors(EventLoop loop) => loop.Backend == LoopBackend.Epoll;

    /// <summary>Makes the descriptor non-blocking and checks that epoll accepts it (regular files are refused).</summary>
    private static unsafe SafeFileHandle PrepareDescriptor(EventLoop loop, SafeFileHandle pipe)
    {
        int fd = (int)pipe.DangerousGetHandle();
        int flags = ProcessNative.Fcntl(fd, ProcessNative.FGetfl, 0);
        if (flags < 0 || ProcessNative.Fcntl(fd, ProcessNative.FSetfl, flags | ProcessNative.ONonblock) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new ArgumentException($"Cannot make the pipe non-blocking: {Marshal.GetPInvokeErrorMessage(errno)}.", nameof(pipe));
        }

        try
        {
            loop.AddReader(pipe, static () => { });
            loop.RemoveReader(pipe);
        }
        catch (Exception error) when (error is IOException or InvalidOperationException or System.ComponentModel.Win32Exception or UnauthorizedAccessException)
        {
            throw new ArgumentException("Pipe transports are for pipes, FIFOs, sockets and character devices only: the loop cannot watch this descriptor (a regular file?).", nameof(pipe), error);
        }

        return pipe;
    }

    /// <summary>A stream over the descriptor for the portable backend, which reads and writes it blocking on the thread pool.</summary>
    private static FileStream BlockingStream(SafeFileHandle pipe, FileAccess access)
    {
        if (!OperatingSystem.IsWindows())
        {
            int fd = (int)pipe.DangerousGetHandle();
            int flags = ProcessNative.Fcntl(fd, ProcessNative.FGetfl, 0);
            if (flags >= 0 && (flags & ProcessNative.ONonblock) != 0)
            {
                _ = ProcessNative.Fcntl(fd, ProcessNative.FSetfl, flags & ~ProcessNative.ONonblock);
            }
        }

        return new FileStream(pipe, access, bufferSize: 0);
    }
}
