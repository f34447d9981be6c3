namespace Aio.Processes;

/// <summary>
/// How a child is started [the keyword arguments of asyncio.create_subprocess_exec]: its standard
/// streams, working directory, environment, and the stream readers' limit. The defaults inherit
/// everything, as asyncio's do; the low-level <see cref="Subprocess.ExecAsync"/> with null options
/// pipes all three streams, as loop.subprocess_exec does.
/// </summary>
public sealed record SubprocessOptions
{
    /// <summary>The child's standard input [stdin=]: <see cref="SubprocessStdio.Stdout"/> is not allowed.</summary>
    public SubprocessStdio Stdin { get; init; }

    /// <summary>The child's standard output [stdout=]: <see cref="SubprocessStdio.Stdout"/> is not allowed.</summary>
    public SubprocessStdio Stdout { get; init; }

    /// <summary>The child's standard error [stderr=]; <see cref="SubprocessStdio.Stdout"/> merges it into stdout [STDOUT].</summary>
    public SubprocessStdio Stderr { get; init; }

    /// <summary>
    /// The child's working directory [cwd=]; null: this process's. A relative program path that
    /// contains a slash is resolved against it, as POSIX's exec does after a chdir.
    /// </summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// The child's whole environment [env=]; null: this process's (as <see cref="System.Environment"/>
    /// sees it, including variables set through it). A program named without a slash is looked up
    /// in this environment's PATH (this process's PATH when it has none).
    /// </summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>The stdout and stderr readers' limit [limit=], as <see cref="Aio.Net.AsyncStreamReader.Limit"/>; 64 KiB by default.</summary>
    public int Limit { get; init; } = Aio.Net.AsyncStreamReader.DefaultLimit;

    /// <summary>Every stream piped: the low-level default [loop.subprocess_exec(stdin=PIPE, stdout=PIPE, stderr=PIPE)].</summary>
    internal static SubprocessOptions AllPiped { get; } = new() { Stdin = SubprocessStdio.Pipe, Stdout = SubprocessStdio.Pipe, Stderr = SubprocessStdio.Pipe };
}
