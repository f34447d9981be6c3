namespace Aio.Processes;

/// <summary>
/// What a pipe transport reports to: a subprocess transport (for the child's stdin, stdout and
/// stderr) or a <see cref="PipeConnection"/> (loop.connect_read_pipe / connect_write_pipe). Every
/// call comes on the loop thread.
/// </summary>
internal interface IPipeOwner
{
    /// <summary>The loop the pipe runs on.</summary>
    EventLoop Loop { get; }

    /// <summary>Bytes read from pipe <paramref name="fd"/>; the span is valid during the call only.</summary>
    void OnPipeData(int fd, ReadOnlySpan<byte> data);

    /// <summary>The pipe ended (EOF or close: null; else the error); report it from a callback of its own.</summary>
    void SchedulePipeLost(int fd, Exception? exception);

    /// <summary>The write pipe's buffer rose above its high mark.</summary>
    void OnStdinPause();

    /// <summary>The write pipe's buffer drained to its low mark.</summary>
    void OnStdinResume();
}
