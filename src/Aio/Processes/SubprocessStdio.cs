namespace Aio.Processes;

/// <summary>
/// Where a child's standard stream goes [asyncio.subprocess.PIPE, DEVNULL, STDOUT, or None].
/// </summary>
public enum SubprocessStdio
{
    /// <summary>The child shares this process's stream [None].</summary>
    Inherit = 0,

    /// <summary>A pipe to this process: a writer for stdin, a reader for stdout and stderr [PIPE].</summary>
    Pipe = 1,

    /// <summary>The null device: reads see end of file, writes are discarded [DEVNULL].</summary>
    Null = 2,

    /// <summary>For stderr only: the same destination as stdout [STDOUT].</summary>
    Stdout = 3,
}
