using System.Runtime.InteropServices;
using Aio.Net;

namespace Aio.Processes;

/// <summary>
/// A running child and its pipes [asyncio.SubprocessTransport]. Loop thread only.
/// <see cref="IBaseTransport.Close"/> closes the pipes and kills the child if it is still running;
/// the loop still reaps it, so no zombie is left. Closing is idempotent.
/// </summary>
public interface ISubprocessTransport : IBaseTransport
{
    /// <summary>The child's process id [transport.get_pid()].</summary>
    int Pid { get; }

    /// <summary>
    /// The exit code once the child has exited, null while it runs [transport.get_returncode()];
    /// a negative signal number when a signal killed it (-9 after SIGKILL).
    /// </summary>
    int? ReturnCode { get; }

    /// <summary>
    /// The transport of pipe <paramref name="fd"/> [transport.get_pipe_transport(fd)]: 0 is an
    /// <see cref="IWriteTransport"/> (the child's stdin), 1 and 2 are <see cref="IReadTransport"/>s;
    /// null when that stream is not a pipe.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fd"/> is not 0, 1 or 2.</exception>
    IBaseTransport? GetPipeTransport(int fd);

    /// <summary>
    /// Sends <paramref name="signal"/> to the child [transport.send_signal]; raw numbers by cast,
    /// such as <c>(PosixSignal)10</c>. Does nothing once the child has exited and been reaped
    /// (Popen.send_signal's rule), so a kill in a finally block never hits a reused process id.
    /// </summary>
    /// <exception cref="ArgumentException">The signal is not valid, or not supported on this OS.</exception>
    void SendSignal(PosixSignal signal);

    /// <summary>Sends SIGTERM [transport.terminate()]; see <see cref="SendSignal"/>.</summary>
    void Terminate();

    /// <summary>Sends SIGKILL [transport.kill()]; see <see cref="SendSignal"/>.</summary>
    void Kill();
}
