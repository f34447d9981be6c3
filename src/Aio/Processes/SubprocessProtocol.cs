namespace Aio.Processes;

/// <summary>
/// Receives a child's events [asyncio.SubprocessProtocol]. Override what you need; every method runs
/// on the loop thread, in this order: <see cref="ConnectionMade"/> once, then any number of
/// <see cref="PipeDataReceived"/>, at most one <see cref="PipeConnectionLost"/> per pipe and one
/// <see cref="ProcessExited"/> (in whatever order the child causes), then <see cref="ConnectionLost"/>
/// once the child has exited and every pipe is closed. <see cref="PauseWriting"/> and
/// <see cref="ResumeWriting"/> follow the stdin pipe's write-buffer marks.
/// An exception thrown from a callback goes to the loop's exception handler.
/// </summary>
public abstract class SubprocessProtocol
{
    /// <summary>The child was started and its pipes are connected [protocol.connection_made]; keep <paramref name="transport"/>.</summary>
    public virtual void ConnectionMade(ISubprocessTransport transport)
    {
    }

    /// <summary>
    /// The child wrote to its stdout (<paramref name="fd"/> 1) or stderr (2) [protocol.pipe_data_received].
    /// The span is valid only during the call: copy what you keep.
    /// </summary>
    public virtual void PipeDataReceived(int fd, ReadOnlySpan<byte> data)
    {
    }

    /// <summary>
    /// Pipe <paramref name="fd"/> (0 stdin, 1 stdout, 2 stderr) is closed [protocol.pipe_connection_lost]:
    /// null after end of file or a close, else the error (a broken stdin pipe, for example).
    /// </summary>
    public virtual void PipeConnectionLost(int fd, Exception? exception)
    {
    }

    /// <summary>The child exited; its code is the transport's <see cref="ISubprocessTransport.ReturnCode"/> [protocol.process_exited].</summary>
    public virtual void ProcessExited()
    {
    }

    /// <summary>The child exited and every pipe is closed [protocol.connection_lost]; the transport is done.</summary>
    public virtual void ConnectionLost(Exception? exception)
    {
    }

    /// <summary>The stdin pipe's buffer went above its high mark [protocol.pause_writing].</summary>
    public virtual void PauseWriting()
    {
    }

    /// <summary>The stdin pipe's buffer drained to its low mark [protocol.resume_writing].</summary>
    public virtual void ResumeWriting()
    {
    }
}
