// A small program the runner tests start as a child process: each scenario runs an application
// under Runner.Run, writes "ready" to standard error once it is waiting for a signal, and prints
// what it does to standard error too, so the shutdown log and its own lines arrive in one order.
using System.Runtime.InteropServices;
using Aio;
using Aio.Hosting;

// A shell starts background jobs with SIGINT ignored, and .NET (rightly) leaves an inherited
// "ignore" alone. This program stands for a foreground application whatever started it, so it
// restores the default before .NET sets up its signal handling.
if (OperatingSystem.IsLinux())
{
    _ = Native.Signal(2, 0);
}

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: Aio.RunnerHost SCENARIO");
    return 2;
}

TimeSpan forever = TimeSpan.FromHours(1);

static void Say(string line) => Console.Error.WriteLine(line);

switch (args[0])
{
    case "clean":
        return Runner.Run(async () =>
        {
            Say("ready");
            await LoopTask.Sleep(forever);
        });

    case "ignore-cancel":
        return Runner.Run(
            async () =>
            {
                _ = EventLoop.GetRunningLoop().CreateTask(Stubborn, "stubborn");
                await LoopTask.Yield();
                Say("ready");
                await LoopTask.Sleep(forever);
            },
            new RunnerOptions { TaskShutdownTimeout = TimeSpan.FromMilliseconds(500) });

    case "second-signal":
        return Runner.Run(async () =>
        {
            _ = EventLoop.GetRunningLoop().CreateTask(Stubborn, "stubborn");
            await LoopTask.Yield();
            Say("ready");
            await LoopTask.Sleep(forever);
        });

    case "waits-for":
        return Runner.Run(async () =>
        {
            ILoopTask main = LoopTask.Current!;
            try
            {
                Say("ready");
                await Runner.ShutdownWaitsFor(async () =>
                {
                    // Finish only once shutdown has cancelled main, and a little later still.
                    while (!main.IsDone)
                    {
                        await LoopTask.Sleep(TimeSpan.FromMilliseconds(20));
                    }

                    await LoopTask.Sleep(TimeSpan.FromMilliseconds(300));
                    Say("protected work done");
                });
            }
            catch (CancelledError)
            {
                Say("caller cancelled");
                throw;
            }
        });

    case "stop-on-error":
        return Runner.Run(
            async () =>
            {
                EventLoop.GetRunningLoop().CallSoon(() => throw new InvalidOperationException("boom from a callback"));
                await LoopTask.Sleep(forever);
            },
            new RunnerOptions { StopOnUnhandledErrors = true });

    case "main-completes":
        return Runner.Run(
            async () =>
            {
                await LoopTask.Yield();
                Say("main done");
            },
            new RunnerOptions { StopWhenMainCompletes = true });

    case "callback-order":
        return Runner.Run(
            async () =>
            {
                try
                {
                    Say("ready");
                    await LoopTask.Sleep(forever);
                }
                catch (CancelledError)
                {
                    Say("main cancelled");
                    throw;
                }
            },
            new RunnerOptions
            {
                ShutdownCallback = async loop =>
                {
                    await LoopTask.Yield();
                    Say("shutdown callback");
                },
            });

    case "failing-callback":
        return Runner.Run(
            async () => await LoopTask.Yield(),
            new RunnerOptions
            {
                StopWhenMainCompletes = true,
                ShutdownCallback = _ => throw new InvalidOperationException("callback failed"),
            });

    case "accept-emfile-epoll" or "accept-emfile-portable": // networking: accept under descriptor exhaustion
        return AcceptExhaustion.Run(args[0]);

    default:
        Console.Error.WriteLine($"unknown scenario {args[0]}");
        return 2;
}

// A task that refuses to be cancelled: it catches every CancelledError and sleeps again.
static async Task Stubborn()
{
    while (true)
    {
        try
        {
            await LoopTask.Sleep(TimeSpan.FromHours(1));
        }
        catch (CancelledError)
        {
            Console.Error.WriteLine("stubborn ignores the cancellation");
        }
    }
}

internal static partial class Native
{
    [LibraryImport("libc", EntryPoint = "signal")]
    internal static partial nint Signal(int signal, nint handler);
}
