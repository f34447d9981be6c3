using System.Net.Sockets;
using System.Runtime.InteropServices;
using Aio.Net;

namespace Aio.Processes;

/// <summary>
/// A child process on the loop [asyncio.subprocess.Process], made by
/// <see cref="Subprocess.CreateExecAsync"/> or <see cref="Subprocess.CreateShellAsync"/>: its piped
/// streams as the networking reader and writer (with their limits and flow control), its exit as an
/// awaitable, and signals. Loop thread only.
/// <para>
/// Disposing closes the pipes and kills the child if it still runs (asyncio leaves that to the
/// garbage collector's warning; here it is explicit); <c>await using</c> also waits until the child
/// has been reaped, so no zombie and no descriptor is left behind. Cancelling
/// <see cref="WaitAsync"/> or <see cref="CommunicateAsync"/> does not kill the child, as in asyncio:
/// kill it in a <c>finally</c> (or let <c>await using</c> do it).
/// </para>
/// </summary>
public sealed class AsyncProcess : IAsyncDisposable, IDisposable
{
    private readonly SubprocessTransport _transport;
    private readonly SubprocessStreamProtocol _protocol;

    internal AsyncProcess(SubprocessTransport transport, SubprocessStreamProtocol protocol)
    {
        _transport = transport;
        _protocol = protocol;
    }

    /// <summary>The child's process id [process.pid].</summary>
    public int Pid => _transport.Pid;

    /// <summary>The child's stdin when it is <see cref="SubprocessStdio.Pipe"/>, else null [process.stdin].</summary>
    public AsyncStreamWriter? Stdin => _protocol.Stdin;

    /// <summary>The child's stdout when it is <see cref="SubprocessStdio.Pipe"/>, else null [process.stdout].</summary>
    public AsyncStreamReader? Stdout => _protocol.Stdout;

    /// <summary>The child's stderr when it is <see cref="SubprocessStdio.Pipe"/>, else null [process.stderr].</summary>
    public AsyncStreamReader? Stderr => _protocol.Stderr;

    /// <summary>
    /// The exit code once the child has exited, null while it runs [process.returncode]; minus the
    /// signal number when a signal killed it (-9 after <see cref="Kill"/>, -15 after <see cref="Terminate"/>).
    /// </summary>
    public int? ReturnCode => _transport.ReturnCode;

    /// <summary>The transport underneath, for what the process object does not offer (the pipe transports, extra info).</summary>
    public ISubprocessTransport Transport => _transport;

    /// <summary>
    /// Waits for the child to exit and returns its <see cref="ReturnCode"/> [await process.wait()].
    /// Completes at the exit even while a grandchild keeps a pipe open. Each call returns its own
    /// future; cancelling it does not kill the child. A child writing more to a pipe than its
    /// buffer holds, which nobody reads, never exits: read the pipes, or use <see cref="CommunicateAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the returned future (the wait, not the child).</param>
    public Future<int> WaitAsync(CancellationToken cancellationToken = default)
    {
        Future<int> exited = _transport.WaitForExit();
        CancellationLink.Link(exited, cancellationToken);
        return exited;
    }

    /// <summary>
    /// Sends <paramref name="signal"/> [process.send_signal]; raw numbers by cast, e.g. <c>(PosixSignal)10</c>.
    /// Does nothing once the child has exited (asyncio raises ProcessLookupError once the transport is done).
    /// </summary>
    /// <exception cref="ArgumentException">Not a valid signal, or not supported on this OS.</exception>
    public void SendSignal(PosixSignal signal) => _transport.SendSignal(signal);

    /// <summary>Sends SIGTERM [process.terminate()]; on Windows ends the process. Nothing once it has exited.</summary>
    public void Terminate() => _transport.Terminate();

    /// <summary>Sends SIGKILL [process.kill()]; on Windows ends the process. Nothing once it has exited.</summary>
    public void Kill() => _transport.Kill();

    /// <summary>
    /// Writes <paramref name="input"/> to stdin and closes it, reads stdout and stderr to their end,
    /// all at once, then waits for the exit [await process.communicate(input)]: no pipe can fill up
    /// while another is being served, so any sizes work. A child that stops reading its stdin early
    /// (a broken pipe) is not an error. Runs in the calling task: cancelling that task, or
    /// <paramref name="cancellationToken"/>, cancels the feeding, the reads and the wait (not the
    /// child), and the returned task ends with <see cref="CancelledError"/>.
    /// </summary>
    /// <param name="input">Bytes for stdin; ignored unless stdin is a pipe (which is closed either way).</param>
    /// <param name="cancellationToken">Cancels the exchange (not the child).</param>
    /// <returns>Everything read from stdout and stderr; null for a stream that is not a pipe.</returns>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public async Task<(byte[]? Stdout, byte[]? Stderr)> CommunicateAsync(ReadOnlyMemory<byte> input = default, CancellationToken cancellationToken = default)
    {
        EventLoop loop = _transport.Loop;
        var parts = new List<Future>(3);
        LoopTask? feeding = Stdin is { } stdin ? loop.CreateTask(() => FeedAsync(stdin, input), "communicate-stdin") : null;
        LoopTask<byte[]>? stdout = Stdout is { } outReader ? loop.CreateTask(async () => await outReader.ReadAsync(), "communicate-stdout") : null;
        LoopTask<byte[]>? stderr = Stderr is { } errReader ? loop.CreateTask(async () => await errReader.ReadAsync(), "communicate-stderr") : null;
        if (feeding is not null)
        {
            parts.Add(feeding);
        }

        if (stdout is not null)
        {
            parts.Add(stdout);
        }

        if (stderr is not null)
        {
            parts.Add(stderr);
        }

        if (parts.Count > 0)
        {
            Future all = LoopTask.Gather([.. parts]);
            CancellationLink.Link(all, cancellationToken);
            await all;
        }

        await WaitAsync(cancellationToken);
        return (stdout?.Result, stderr?.Result);
    }

    /// <summary>Closes the pipes and kills the child if it still runs; the loop reaps it. Idempotent.</summary>
    public void Dispose() => _transport.Close();

    /// <summary>As <see cref="Dispose"/>, then waits until the child has been reaped.</summary>
    public async ValueTask DisposeAsync()
    {
        _transport.Close();
        await WaitAsync();
    }

    /// <inheritdoc/>
    public override string ToString() => $"<AsyncProcess {Pid}{(ReturnCode is int code ? $" returncode={code}" : " running")}>";

    private static async Task FeedAsync(AsyncStreamWriter stdin, ReadOnlyMemory<byte> input)
    {
        try
        {
            if (!input.IsEmpty)
            {
                stdin.Write(input.Span);
                await stdin.DrainAsync();
            }
        }
        catch (Exception exception) when (exception is IOException or SocketException)
        {
            // The child stopped reading (BrokenPipeError / ConnectionResetError): communicate ignores it.
        }

        stdin.Close();
    }
}
