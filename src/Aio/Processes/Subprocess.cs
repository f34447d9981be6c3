// Starting children on the running loop [asyncio.create_subprocess_exec / create_subprocess_shell,
// loop.subprocess_exec / subprocess_shell].
//
// Why a namespace of its own (Aio.Processes) rather than Aio.Net: a subprocess is its own concern
// (spawning, exit watching, signals, reaping) with its own protocol and transport pair; it only
// borrows the networking streams (AsyncStreamReader/Writer) and transport interfaces for its pipes,
// as asyncio.subprocess borrows asyncio.streams.
//
// The backend decides how: on the epoll backend posix_spawn and a pidfd in the loop's epoll set
// (PidfdSubprocessTransport), on the portable backend System.Diagnostics.Process with its events
// posted into the loop (PortableSubprocessTransport). Both report the same events in the same
// order, and the same errors: the request is validated and the program resolved before either runs.
using Aio.Net;

namespace Aio.Processes;

/// <summary>
/// Starts child processes on the loop running on the calling thread. The returned tasks are
/// already running (eager): a bad argument, a missing program or directory fails the task.
/// </summary>
public static class Subprocess
{
    /// <summary>
    /// Starts <paramref name="program"/> with <paramref name="arguments"/>, without a shell
    /// [asyncio.create_subprocess_exec(program, *args, stdin=, stdout=, stderr=, limit=, cwd=, env=)].
    /// A name without a slash is looked up in PATH (of <see cref="SubprocessOptions.Environment"/> when given).
    /// </summary>
    /// <param name="program">The program: a path, or a name to find in PATH.</param>
    /// <param name="arguments">The arguments after the program's name (argv[1..]); null for none.</param>
    /// <param name="options">Streams, directory, environment, limit; null: inherit everything, as asyncio's defaults.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: a child already started is killed and reaped, its pipes closed; one already cancelled starts nothing.</param>
    /// <returns>A task with the process once it started and its pipes are connected.</returns>
    /// <exception cref="ArgumentException">An empty program, a NUL character in a string, a bad environment name, Stdout chosen for stdin or stdout.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A limit that is not positive.</exception>
    /// <exception cref="FileNotFoundException">The program does not exist or is not executable (asyncio: FileNotFoundError).</exception>
    /// <exception cref="DirectoryNotFoundException">The working directory does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The OS refused to execute the program.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<AsyncProcess> CreateExecAsync(
        string program,
        IEnumerable<string>? arguments = null,
        SubprocessOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        EventLoop loop = EventLoop.GetRunningLoop();
        options ??= new SubprocessOptions();
        int limit = options.Limit;
        SubprocessStreamProtocol? protocol = null;

        // The token cancels the start (one cancel request, so its clean-up — kill, reap — is never
        // interrupted; the outer task then ends with its CancelledError).
        LoopTask<(ISubprocessTransport Transport, SubprocessProtocol Protocol)> starting = ExecAsync(
            () => protocol = new SubprocessStreamProtocol(loop, limit), program, arguments, options, cancellationToken);
        LoopTask<AsyncProcess> creating = loop.CreateTask(
            async () =>
            {
                (ISubprocessTransport transport, _) = await starting;
                return new AsyncProcess((SubprocessTransport)transport, protocol!);
            },
            "create-subprocess",
            eager: true);

        // Cancelled after the child started but before the process was handed over: nobody will
        // ever close it, so kill it here (the loop reaps it).
        creating.AddDoneCallback(done =>
        {
            if (done.IsCancelled && starting.IsCompletedSuccessfully)
            {
                starting.Result.Transport.Close();
            }
        });
        return creating;
    }

    /// <summary>
    /// Runs <paramref name="command"/> through the shell, <c>/bin/sh -c command</c> (<c>cmd.exe /c</c>
    /// on Windows) [asyncio.create_subprocess_shell]. Quote what you interpolate: the shell parses it.
    /// </summary>
    /// <param name="command">The shell command line.</param>
    /// <param name="options">As for <see cref="CreateExecAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: a child already started is killed and reaped, its pipes closed; one already cancelled starts nothing.</param>
    /// <returns>A task with the process (the shell's pid).</returns>
    /// <exception cref="ArgumentException"><paramref name="command"/> is null or empty, or as for <see cref="CreateExecAsync"/>.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<AsyncProcess> CreateShellAsync(string command, SubprocessOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        (string shell, string[] arguments) = Shell(command);
        return CreateExecAsync(shell, arguments, options, cancellationToken);
    }

    /// <summary>
    /// Starts <paramref name="program"/> and connects it to the protocol that
    /// <paramref name="protocolFactory"/> makes [loop.subprocess_exec(protocol_factory, program, *args, ...)].
    /// The task completes after the protocol's ConnectionMade ran; if that throws, the child is
    /// killed and reaped and the task fails with the exception. Cancelling the task after the start
    /// closes the transport (killing the child).
    /// </summary>
    /// <param name="protocolFactory">Makes the protocol; called once.</param>
    /// <param name="program">As for <see cref="CreateExecAsync"/>.</param>
    /// <param name="arguments">As for <see cref="CreateExecAsync"/>.</param>
    /// <param name="options">Null: all three streams piped, as loop.subprocess_exec's defaults.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: a child already started is killed and reaped, its pipes closed; one already cancelled starts nothing.</param>
    /// <returns>A task with the transport and the protocol.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="protocolFactory"/> is null.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(ISubprocessTransport Transport, SubprocessProtocol Protocol)> ExecAsync(
        Func<SubprocessProtocol> protocolFactory,
        string program,
        IEnumerable<string>? arguments = null,
        SubprocessOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        EventLoop loop = EventLoop.GetRunningLoop();
        options ??= SubprocessOptions.AllPiped;
        return loop.CreateCancellableTask(() => StartAsync(loop, protocolFactory, program, arguments, options), "subprocess-exec", cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="command"/> through the shell and connects it to a protocol
    /// [loop.subprocess_shell]; see <see cref="ExecAsync"/> and <see cref="CreateShellAsync"/>.
    /// </summary>
    /// <param name="protocolFactory">Makes the protocol; called once.</param>
    /// <param name="command">The shell command line.</param>
    /// <param name="options">Null: all three streams piped.</param>
    /// <param name="cancellationToken">Cancels the task, as <see cref="Future.Cancel"/> on it would: a child already started is killed and reaped, its pipes closed; one already cancelled starts nothing.</param>
    /// <returns>A task with the transport and the protocol.</returns>
    /// <exception cref="ArgumentException"><paramref name="command"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(ISubprocessTransport Transport, SubprocessProtocol Protocol)> ShellAsync(
        Func<SubprocessProtocol> protocolFactory,
        string command,
        SubprocessOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        (string shell, string[] arguments) = Shell(command);
        return ExecAsync(protocolFactory, shell, arguments, options, cancellationToken);
    }

    private static (string Shell, string[] Arguments) Shell(string command) =>
        OperatingSystem.IsWindows()
            ? (Environment.GetEnvironmentVariable("ComSpec") ?? "cmd.exe", ["/c", command])
            : ("/bin/sh", ["-c", command]);

    private static async Task<(ISubprocessTransport Transport, SubprocessProtocol Protocol)> StartAsync(
        EventLoop loop,
        Func<SubprocessProtocol> protocolFactory,
        string program,
        IEnumerable<string>? arguments,
        SubprocessOptions options)
    {
        SpawnRequest request = SpawnRequest.Create(program, arguments, options);
        SubprocessProtocol protocol = protocolFactory() ?? throw new InvalidOperationException("The protocol factory returned null.");
        SubprocessTransport transport = loop.Backend == LoopBackend.Epoll
            ? new PidfdSubprocessTransport(loop, protocol, request)
            : new PortableSubprocessTransport(loop, protocol, request);
        try
        {
            await transport.Connected;
        }
        catch
        {
            // ConnectionMade failed, or the start was cancelled: kill, reap, then fail.
            transport.Close();
            await LoopTask.Shield(transport.WaitForExit());
            throw;
        }

        return (transport, protocol);
    }
}
