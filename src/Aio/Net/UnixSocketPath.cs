// Unix socket paths: abstract names, stale socket files, and removal on close.
//
// A path whose first character is NUL — or '@', the spelling `ss`, systemd and .NET's own
// UnixDomainSocketEndPoint.ToString use for it — names a socket in Linux's abstract namespace: no
// file is created, nothing is left behind. Any other path is a file in the file system, which bind
// creates and nothing removes. So, as asyncio does, a server first removes a file at its path when
// that file is a socket (left by a server that died; if another server still listens there, it is
// orphaned — asyncio's behaviour, which the path's owner accepts by reusing the path), and leaves
// any other kind of file to make bind fail ("address in use"). And, as Python 3.13's
// cleanup_socket=True, closing the server removes the file — but only if it is still the socket
// this server bound (same inode), not one another server has bound at the path since.
//
// .NET itself deletes the file when a socket it bound to a UnixDomainSocketEndPoint is disposed —
// unconditionally, which would break both rules above (CleanupSocket = false, and a file another
// server has bound since). So Aio binds through an endpoint of its own (FileKeepingEndPoint, the
// same address bytes) that .NET does not recognise, and does the removal itself.
//
// .NET has no portable way to ask whether a file is a socket (FileAttributes does not say), so the
// type and inode come from statx(2), whose struct layout is the same on every Linux architecture.
// Where statx is missing, nothing is removed (bind then reports the stale file as in use).
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Aio.Net;

/// <summary>Unix socket path rules: abstract names, stale files, cleanup. Linux file checks through statx.</summary>
internal static partial class UnixSocketPath
{
    /// <summary>A placeholder path for an endpoint that recvfrom replaces.</summary>
    internal const string UnnamedTemplate = "unnamed";

    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const uint StatxIno = 0x100;
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;
    private const int StatxInoOffset = 32;
    private const int FileTypeMask = 0xF000;
    private const int SocketFileType = 0xC000;

    private static readonly Action<ILogger, string, Exception?> LogStaleRemovalFailed = LoggerMessage.Define<string>(
        LogLevel.Error,
        new EventId(23, "StaleUnixSocket"),
        "Unable to check or remove stale UNIX socket {Path}");

    /// <summary>Whether <paramref name="path"/> names an abstract socket (leading NUL or '@').</summary>
    public static bool IsAbstract(string path) => path.Length > 0 && path[0] is '\0' or '@';

    /// <summary>The endpoint for <paramref name="path"/>; a leading '@' becomes NUL (abstract).</summary>
    /// <exception cref="ArgumentException">The path is empty, too long, or abstract on a system other than Linux.</exception>
    public static UnixDomainSocketEndPoint ToEndPoint(string path, string parameterName)
    {
        ArgumentException.ThrowIfNullOrEmpty(path, parameterName);
        if (IsAbstract(path))
        {
            if (!OperatingSystem.IsLinux())
            {
                throw new ArgumentException($"'{path}' names an abstract socket (leading NUL or '@'), which only Linux has; use a file path.", parameterName);
            }

            path = "\0" + path[1..];
        }

        try
        {
            return new UnixDomainSocketEndPoint(path);
        }
        catch (ArgumentOutOfRangeException tooLong)
        {
            throw new ArgumentException($"The Unix socket path '{path}' is too long for the system (about 107 bytes at most): use a shorter one.", parameterName, tooLong);
        }
    }

    /// <summary>Binds <paramref name="socket"/> to <paramref name="endPoint"/> without .NET removing the file on Dispose.</summary>
    public static void Bind(Socket socket, UnixDomainSocketEndPoint endPoint) => socket.Bind(new FileKeepingEndPoint(endPoint));

    /// <summary>Removes the file at <paramref name="path"/> if it is a socket; logs (does not throw) when that fails.</summary>
    public static void RemoveStaleSocket(EventLoop loop, string path)
    {
        try
        {
            if (TryStat(path, out bool isSocket, out _) && isSocket)
            {
                File.Delete(path);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            LogStaleRemovalFailed(loop.Logger, path, exception);
        }
    }

    /// <summary>Removes the file at <paramref name="path"/> if it is still the socket with <paramref name="inode"/>.</summary>
    public static void RemoveIfSame(string path, ulong inode)
    {
        try
        {
            if (TryStat(path, out bool isSocket, out ulong current) && isSocket && current == inode)
            {
                File.Delete(path);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Gone already, or not ours to remove: nothing to clean up.
        }
    }

    /// <summary>The file's type and inode; false when it does not exist or cannot be examined.</summary>
    public static unsafe bool TryStat(string path, out bool isSocket, out ulong inode)
    {
        isSocket = false;
        inode = 0;
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        byte* buffer = stackalloc byte[StatxSize];
        int result;
        try
        {
            result = Statx(AtFdCwd, path, 0, StatxType | StatxIno, buffer);
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }

        if (result != 0)
        {
            return false;
        }

        int mode = *(ushort*)(buffer + StatxModeOffset);
        isSocket = (mode & FileTypeMask) == SocketFileType;
        inode = *(ulong*)(buffer + StatxInoOffset);
        return true;
    }

    /// <summary>A Unix socket address that .NET does not know as one, so it leaves the file alone on Dispose.</summary>
    private sealed class FileKeepingEndPoint(UnixDomainSocketEndPoint inner) : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Unix;

        public override SocketAddress Serialize() => inner.Serialize();

        public override EndPoint Create(SocketAddress socketAddress) => inner.Create(socketAddress);

        public override string ToString() => inner.ToString();
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
}
