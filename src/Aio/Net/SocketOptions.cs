using System.Net.Sockets;

namespace Aio.Net;

/// <summary>
/// Socket options that .NET does not expose with asyncio's meaning. Setting
/// <see cref="SocketOptionName.ReuseAddress"/> on Unix makes .NET set SO_REUSEPORT as well (to
/// imitate Windows), which would let a second server silently share the port; asyncio's
/// reuse_address is SO_REUSEADDR alone, so it is set raw here.
/// </summary>
internal static class SocketOptions
{
    private const int LinuxSolSocket = 1;
    private const int LinuxSoReuseAddr = 2;
    private const int LinuxSoReusePort = 15;
    private const int BsdSolSocket = 0xffff;
    private const int BsdSoReuseAddr = 0x4;
    private const int BsdSoReusePort = 0x200;

    /// <summary>SO_REUSEADDR only [reuse_address].</summary>
    public static void SetReuseAddress(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            SetFlag(socket, LinuxSolSocket, LinuxSoReuseAddr);
        }
        else if (IsBsdFamily())
        {
            SetFlag(socket, BsdSolSocket, BsdSoReuseAddr);
        }
        else
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        }
    }

    /// <summary>SO_REUSEPORT [reuse_port].</summary>
    /// <exception cref="PlatformNotSupportedException">The system has no SO_REUSEPORT (Windows).</exception>
    public static void SetReusePort(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            SetFlag(socket, LinuxSolSocket, LinuxSoReusePort);
        }
        else if (IsBsdFamily())
        {
            SetFlag(socket, BsdSolSocket, BsdSoReusePort);
        }
        else
        {
            throw new PlatformNotSupportedException("ReusePort needs SO_REUSEPORT, which this system does not have.");
        }
    }

    private static bool IsBsdFamily() => OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() || OperatingSystem.IsIOS();

    private static void SetFlag(Socket socket, int level, int name)
    {
        Span<byte> one = stackalloc byte[sizeof(int)];
        BitConverter.TryWriteBytes(one, 1);
        socket.SetRawSocketOption(level, name, one);
    }
}
