using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Aio.Tests.Docs;

/// <summary>
/// The signals recipe of docs/porting-from-asyncio.md, compiled and run with a real SIGHUP sent to
/// this process (in the "signals" collection: signals are process-wide). SIGTERM's handler is
/// installed as the recipe shows but never sent.
/// </summary>
[Collection("signals")]
[SupportedOSPlatform("linux")]
public sealed partial class PortingCookbookSignalExample
{
    private const int SigHup = 1;

    [Aio.Tests.Loop.LinuxFact]
    public void Recipe18_SignalHandlers()
    {
        // cookbook: signals
        using var loop = new EventLoop();
        int reloads = 0;
        loop.AddSignalHandler(PosixSignal.SIGHUP, () => reloads++);   // runs on the loop thread
        loop.AddSignalHandler(PosixSignal.SIGTERM, loop.Stop);        // `kill -TERM` stops the loop
        // end cookbook

        loop.CallSoon(() => Assert.Equal(0, Kill(Environment.ProcessId, SigHup)));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        void StopOnceReloaded()
        {
            if (reloads > 0 || DateTime.UtcNow > deadline)
            {
                loop.Stop();
            }
            else
            {
                loop.CallLater(TimeSpan.FromMilliseconds(10), StopOnceReloaded);
            }
        }

        loop.CallSoon(StopOnceReloaded);
        loop.RunForever();

        Assert.Equal(1, reloads);
        Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGHUP));
        Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGTERM));
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
