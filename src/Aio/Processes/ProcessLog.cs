using Microsoft.Extensions.Logging;

namespace Aio.Processes;

/// <summary>The subprocess machinery's log messages.</summary>
internal static class ProcessLog
{
    private static readonly Action<ILogger, string, Exception?> IgnoredPipeWrites = LoggerMessage.Define<string>(
        LogLevel.Warning,
        new EventId(40, "PipeWriteAfterClose"),
        "{Transport}: Write() was called on a closed or closing stdin pipe; the data is dropped (further writes are ignored silently).");

    private static readonly Action<ILogger, string, Exception?> KillOnClose = LoggerMessage.Define<string>(
        LogLevel.Warning,
        new EventId(41, "KillOnClose"),
        "Close running child process: kill {Transport}");

    private static readonly Action<ILogger, int, Exception?> UnknownStatus = LoggerMessage.Define<int>(
        LogLevel.Warning,
        new EventId(42, "UnknownChildStatus"),
        "Unknown child process pid {Pid}, will report returncode 255 (someone else reaped it: is SIGCHLD ignored?)");

    public static void LogIgnoredPipeWrites(this ILogger logger, string transport) => IgnoredPipeWrites(logger, transport, null);

    public static void LogKillOnClose(this ILogger logger, string transport) => KillOnClose(logger, transport, null);

    public static void LogUnknownChildStatus(this ILogger logger, int pid) => UnknownStatus(logger, pid, null);
}
