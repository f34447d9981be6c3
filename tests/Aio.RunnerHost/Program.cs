// A small program the runner tests start as a child process: each scenario runs an application
// under Runner.Run, writes "ready" to standard error once it is waiting for a signal, and prints
// what it does to standard error too, so the shutdown log and its own lines arrive in one order.
using System.Runtime.InteropServices;
using Aio;
using Aio.Hosting;

// SIGINT is left as inherited: a test that starts this program with SIGINT ignored (as a shell
// without job control starts a background job) checks that Runner.Run still shuts down on it.
if (args.Length is < 1 or > 2)
{
    Console.Error.WriteLine("usage: Aio.RunnerHost SCENARIO [epoll|portable]");
    return 2;
}

LoopBackend backend = args.Length == 2 && args[1] == "portable" ? LoopBackend.Portable : LoopBackend.Epoll;

TimeSpan forever = TimeSpan.FromHours(1);

static void Say(string line) => Console.Error.WriteLine(line);

switch (args[0])
{
    case "clean":
        return Runner.Run(
            async () =>
            {
                Say("ready");
                await LoopTask.Sleep(forever);
            },
            new RunnerOptions { Backend = backend });

    case "sigint-disposition": // what SIGINT's disposition is before, during and after a run
        Say($"before run: SIGINT ignored={Native.IsIgnored(2)}");
        int code = Runner.Run(
            async () =>
            {
                await LoopTask.Yield();
                Say($"during run: SIGINT ignored={Native.IsIgnored(2)}");
            },
            new RunnerOptions { Backend = backend, StopWhenMainCompletes = true });
        Say($"after run: SIGINT ignored={Native.IsIgnored(2)}");
        return code;

    case "main-cancelled": // StopWhenMainCompletes, main cancelled by user code
        return Runner.Run(
            async () =>
            {
                EventLoop.GetRunningLoop().SetExceptionHandler((_, context) => Say($"handler: {context.Message}"));
                await LoopTask.Yield();
                Say("cancelling main");
                LoopTask.Current!.Cancel("user gave up");
                await LoopTask.Yield();
                Say("main went on after its cancel");
            },
            new RunnerOptions { Backend = backend, StopWhenMainCompletes = true });

    case "failing-shutdown-task": // a task fails while shutdown waits for it
        return Runner.Run(
            async () =>
            {
                EventLoop loop = EventLoop.GetRunningLoop();
                loop.SetExceptionHandler((_, context) =>
                    Say($"handler: {context.Message} | {context.Exception?.Message} | {(context.Future as ILoopTask)?.Name}"));
                _ = loop.CreateTask(
                    async () =>
                    {
                        try
                        {
                            await LoopTask.Sleep(forever);
                        }
                        catch (CancelledError)
                        {
                            throw new InvalidOperationException("cleanup failed");
                        }
                    },
                    "cleaner");
                await LoopTask.Yield();
                Say("main done");
            },
            new RunnerOptions { Backend = backend, StopWhenMainCompletes = true });

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

    case "host-clean" or "host-main-fails": // the runner under the Generic Host
        return await GenericHostScenarios.RunAsync(args[0]);

    case "accept-emfile-epoll" or "accept-emfile-portable": // networking: accept under descriptor exhaustion
        return AcceptExhaustion.Run(args[0]);

    case "many-connections-epoll" or "many-connections-portable" or "limited-server-epoll" or "limited-server-portable": // networking under a low descriptor limit
        return DescriptorLimits.Run(args[0]);

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

internal static unsafe partial class Native
{
    /// <summary>Whether <paramref name="signal"/>'s disposition is SIG_IGN (read with sigaction, changing nothing).</summary>
    internal static bool IsIgnored(int signal)
    {
        byte* action = stackalloc byte[256];
        return SigAction(signal, null, action) == 0 && *(nint*)action == 1;
    }

    [LibraryImport("libc", EntryPoint = "sigaction")]
    private static partial int SigAction(int signal, byte* action, byte* previous);
}
