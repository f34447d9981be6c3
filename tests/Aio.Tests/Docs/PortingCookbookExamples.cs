using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Aio.Hosting;
using Aio.Net;
using Aio.Processes;
using Aio.Sync;

namespace Aio.Tests.Docs;

/// <summary>
/// The C# side of docs/porting-from-asyncio.md, compiled and run. Each recipe's code block appears
/// verbatim between a "// cookbook:" marker and "// end cookbook" here (or in
/// PortingCookbookSignalExample.cs, or in the hosting tests' PortingCookbookHostExample.cs);
/// CookbookBlocks_AllAppearInTests fails when the cookbook and the tests drift apart.
/// </summary>
public sealed class PortingCookbookExamples
{
    [Fact]
    public void Recipe01_RunAMain()
    {
        // cookbook: run
        static async Task<int> Main()
        {
            await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));
            return 42;
        }

        using var loop = new EventLoop();
        int result = loop.RunUntilComplete(Main);   // asyncio.run(main())
        // end cookbook

        Assert.Equal(42, result);
        Assert.False(loop.IsRunning);
    }

    [Fact]
    public void Recipe02_CreateTask()
    {
        // cookbook: create_task
        static async LoopTask<string> Fetch(string name, int ms)
        {
            await LoopTask.Sleep(TimeSpan.FromMilliseconds(ms));
            return name;
        }

        using var loop = new EventLoop();
        string both = loop.RunUntilComplete(async () =>
        {
            LoopTask<string> a = Fetch("a", 20);           // started: runs from the next iteration
            LoopTask<string> b = loop.CreateTask(() => Task.FromResult("b"), name: "b");
            return await a + await b;
        });
        // end cookbook

        Assert.Equal("ab", both);
    }

    [Fact]
    public void Recipe03_Gather()
    {
        // cookbook: gather
        static async LoopTask<int> Square(int x)
        {
            await LoopTask.Sleep(TimeSpan.FromMilliseconds(10 * (3 - x)));
            return x * x;
        }

        using var loop = new EventLoop();
        int[] squares = loop.RunUntilComplete(async () =>
            await LoopTask.Gather(Square(1), Square(2), Square(3)));   // results in argument order
        // end cookbook

        Assert.Equal([1, 4, 9], squares);
    }

    [Fact]
    public void Recipe04_WaitFor()
    {
        // cookbook: wait_for
        using var loop = new EventLoop();
        string outcome = loop.RunUntilComplete(async () =>
        {
            LoopTask<int> slow = loop.CreateTask(async () =>
            {
                await LoopTask.Sleep(TimeSpan.FromSeconds(10));
                return 1;
            });
            try
            {
                return $"got {await LoopTask.WaitFor(slow, TimeSpan.FromMilliseconds(50))}";
            }
            catch (TimeoutException)
            {
                return $"timed out; slow cancelled: {slow.IsCancelled}";
            }
        });
        // end cookbook

        Assert.Equal("timed out; slow cancelled: True", outcome);
    }

    [Fact]
    public void Recipe05_Timeout()
    {
        // cookbook: timeout
        using var loop = new EventLoop();
        string outcome = loop.RunUntilComplete(async () =>
        {
            try
            {
                await LoopTask.TimeoutAsync(TimeSpan.FromMilliseconds(50), async () =>
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(10));   // any awaits in the block
                });
                return "finished";
            }
            catch (TimeoutException)
            {
                return "the block took too long";
            }
        });
        // end cookbook

        Assert.Equal("the block took too long", outcome);
    }

    [Fact]
    public void Recipe06_SleepAndVirtualTime()
    {
        // cookbook: sleep
        var clock = new VirtualClock();   // optional: virtual time, for tests
        using var loop = new EventLoop(new EventLoopOptions { TimeProvider = clock });
        loop.RunUntilComplete(async () =>
        {
            await LoopTask.Sleep(TimeSpan.FromHours(1));   // asyncio.sleep(3600)
            await LoopTask.Yield();                        // asyncio.sleep(0)
        });
        Console.WriteLine(clock.Elapsed);                  // 01:00:00, at once
        // end cookbook

        Assert.Equal(TimeSpan.FromHours(1), clock.Elapsed);
    }

    [Fact]
    public void Recipe07_Cancellation()
    {
        // cookbook: cancel
        using var loop = new EventLoop();
        List<string> log = [];
        loop.RunUntilComplete(async () =>
        {
            LoopTask worker = loop.CreateTask(async () =>
            {
                try
                {
                    await LoopTask.Sleep(TimeSpan.FromHours(1));
                }
                catch (CancelledError)
                {
                    log.Add("cleaning up");
                    throw;                                   // re-raise, as in Python
                }
            });
            await LoopTask.Yield();
            worker.Cancel("shutting down");
            try
            {
                await worker;
            }
            catch (CancelledError error)
            {
                log.Add($"worker cancelled: {error.Message}");
            }
        });
        // end cookbook

        Assert.Equal(["cleaning up", "worker cancelled: shutting down"], log);
    }

    [Fact]
    public void Recipe08_TaskGroup()
    {
        // cookbook: taskgroup
        using var loop = new EventLoop();
        int total = loop.RunUntilComplete(async () =>
        {
            LoopTask<int>? one = null, two = null;
            await TaskGroup.RunAsync(async group =>
            {
                one = group.CreateTask(async () => { await LoopTask.Sleep(TimeSpan.FromMilliseconds(10)); return 1; });
                two = group.CreateTask(async () => { await LoopTask.Sleep(TimeSpan.FromMilliseconds(20)); return 2; });
                await LoopTask.Yield();
            });                                              // waits for both; a failure cancels the rest
            return one!.Result + two!.Result;
        });
        // end cookbook

        Assert.Equal(3, total);
    }

    [Fact]
    public void Recipe09_QueueProducerConsumer()
    {
        // cookbook: queue
        using var loop = new EventLoop();
        List<int> consumed = [];
        loop.RunUntilComplete(async () =>
        {
            var queue = new AsyncQueue<int>(maxSize: 2);
            LoopTask consumer = loop.CreateTask(async () =>
            {
                while (true)
                {
                    int item = await queue.GetAsync();
                    consumed.Add(item);
                    queue.TaskDone();
                }
            });

            for (int i = 0; i < 5; i++)
            {
                await queue.PutAsync(i);                     // waits while the queue is full
            }

            await queue.JoinAsync();                         // until every item is TaskDone
            consumer.Cancel();
        });
        // end cookbook

        Assert.Equal([0, 1, 2, 3, 4], consumed);
    }

    [Fact]
    public void Recipe10_Lock()
    {
        // cookbook: lock
        using var loop = new EventLoop();
        int counter = 0;
        loop.RunUntilComplete(async () =>
        {
            var mutex = new AsyncLock();
            async LoopTask Increment()                      // each call is a task of its own
            {
                using (await mutex.AcquireAsync())          // async with lock:
                {
                    int seen = counter;
                    await LoopTask.Yield();                 // another task may run here
                    counter = seen + 1;
                }
            }

            await LoopTask.Gather(Increment(), Increment(), Increment());
        });
        // end cookbook

        Assert.Equal(3, counter);
    }

    [Fact]
    public void Recipe11_Event()
    {
        // cookbook: event
        using var loop = new EventLoop();
        string order = loop.RunUntilComplete(async () =>
        {
            var ready = new AsyncEvent();
            var log = new StringBuilder();
            LoopTask waiter = loop.CreateTask(async () =>
            {
                await ready.WaitAsync();
                log.Append("woke ");
            });
            await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));
            log.Append("set ");
            ready.Set();
            await waiter;
            return log.ToString();
        });
        // end cookbook

        Assert.Equal("set woke ", order);
    }

    [Fact]
    public void Recipe12_SemaphoreLimitsConcurrency()
    {
        // cookbook: semaphore
        using var loop = new EventLoop();
        int running = 0, most = 0;
        loop.RunUntilComplete(async () =>
        {
            var slots = new AsyncSemaphore(2);               // at most two at a time
            async Task Download(int id)
            {
                using (await slots.AcquireAsync())
                {
                    most = Math.Max(most, ++running);
                    await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));
                    running--;
                }
            }

            await Task.WhenAll(Enumerable.Range(0, 6).Select(Download));
        });
        // end cookbook

        Assert.Equal(2, most);
    }

    [Fact]
    public void Recipe13And14_StreamsServerAndClient()
    {
        // cookbook: streams
        using var loop = new EventLoop();
        string reply = loop.RunUntilComplete(async () =>
        {
            // asyncio.start_server(handle, "127.0.0.1", 0)
            await using Server server = await Streams.StartServerAsync(async (reader, writer) =>
            {
                byte[] line = await reader.ReadLineAsync();
                writer.Write(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(line).ToUpperInvariant()));
                await writer.DrainAsync();
                writer.Close();
                await writer.WaitClosedAsync();
            }, "127.0.0.1", 0);
            int port = ((IPEndPoint)server.Sockets[0].LocalEndPoint!).Port;

            // asyncio.open_connection("127.0.0.1", port)
            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", port);
            writer.Write("hello\n"u8);
            await writer.DrainAsync();
            byte[] answer = await reader.ReadAsync(-1);      // read() until EOF
            writer.Close();
            await writer.WaitClosedAsync();
            return Encoding.UTF8.GetString(answer);
        });
        // end cookbook

        Assert.Equal("HELLO\n", reply);
    }

    [Fact]
    public void Recipe15_RunInExecutorAndToThread()
    {
        // cookbook: executor
        using var loop = new EventLoop();
        (long sum, int thread, int loopThread) = loop.RunUntilComplete(async () =>
        {
            long total = await loop.RunInExecutor(() => Enumerable.Range(1, 1000).Sum(x => (long)x));   // loop.run_in_executor(None, f)
            int worker = await LoopTask.ToThread(() => Environment.CurrentManagedThreadId);               // asyncio.to_thread(f)
            return (total, worker, Environment.CurrentManagedThreadId);
        });
        // end cookbook

        Assert.Equal(500500, sum);
        Assert.NotEqual(loopThread, thread);
    }

    [Fact]
    public void Recipe16_FromOtherThreads()
    {
        // cookbook: threadsafe
        using var loop = new EventLoop();
        var loopThread = new Thread(loop.RunForever);
        loopThread.Start();

        // asyncio.run_coroutine_threadsafe(coro, loop).result()
        Task<int> answer = loop.RunThreadSafe(async () =>
        {
            await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));
            return 42;
        });
        Console.WriteLine(answer.Result);                    // blocks this thread, not the loop

        loop.CallSoonThreadSafe(loop.Stop);                   // loop.call_soon_threadsafe(loop.stop)
        loopThread.Join();
        // end cookbook

        Assert.Equal(42, answer.Result);
        Assert.False(loop.IsRunning);
    }

    [Fact]
    public void Recipe17_Subprocess()
    {
        // cookbook: subprocess
        using var loop = new EventLoop();
        (string output, int? code) = loop.RunUntilComplete(async () =>
        {
            await using AsyncProcess child = await Subprocess.CreateExecAsync("echo", ["hi"],
                new SubprocessOptions { Stdout = SubprocessStdio.Pipe });
            (byte[]? stdout, _) = await child.CommunicateAsync();
            return (Encoding.UTF8.GetString(stdout!), child.ReturnCode);
        });
        // end cookbook

        Assert.Equal("hi\n", output);
        Assert.Equal(0, code);
    }

    [Fact]
    public void Recipe19_CallLaterAndCallAt()
    {
        // cookbook: timers
        using var loop = new EventLoop(new EventLoopOptions { TimeProvider = new VirtualClock() });
        List<string> fired = [];
        loop.CallSoon(() => fired.Add("soon"));
        TimerHandle later = loop.CallLater(TimeSpan.FromSeconds(2), () => fired.Add("later"));
        loop.CallAt(loop.Time() + 1, () => fired.Add("at"));
        TimerHandle never = loop.CallLater(TimeSpan.FromSeconds(3), () => fired.Add("never"));
        never.Cancel();                                       // handle.cancel()
        loop.CallLater(TimeSpan.FromSeconds(5), loop.Stop);
        loop.RunForever();
        // end cookbook

        Assert.Equal(["soon", "at", "later"], fired);
        Assert.False(later.IsCancelled);
    }

    [Fact]
    public void Recipe20_Runner()
    {
        // cookbook: runner
        int exitCode = Runner.Run(
            async () =>
            {
                await Runner.ShutdownWaitsFor(async () =>    // aiorun.shutdown_waits_for
                {
                    await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));
                });
            },
            new RunnerOptions { StopWhenMainCompletes = true, TaskShutdownTimeout = TimeSpan.FromSeconds(5) });
        // end cookbook

        Assert.Equal(0, exitCode);
    }

    [Fact]
    public void CookbookBlocks_AllAppearInTests()
    {
        string root = FindRepositoryRoot();
        string cookbook = File.ReadAllText(Path.Combine(root, "docs", "porting-from-asyncio.md"));
        string examples = Normalize(string.Concat(
            new[] { Path.Combine(root, "tests", "Aio.Tests", "Docs"), Path.Combine(root, "tests", "Aio.Extensions.Hosting.Tests", "Docs") }
                .SelectMany(folder => Directory.GetFiles(folder, "PortingCookbook*.cs"))
                .Select(File.ReadAllText)));

        string[] blocks = [.. cookbook.Split("```csharp")[1..].Select(part => part.Split("```")[0])];
        Assert.True(blocks.Length >= 20, $"the cookbook has {blocks.Length} C# blocks; expected twenty recipes");
        foreach (string block in blocks)
        {
            Assert.True(examples.Contains(Normalize(block), StringComparison.Ordinal), "cookbook block not found in the PortingCookbook*.cs tests:\n" + block);
        }
    }

    internal static string Normalize(string code) =>
        string.Join("\n", code.Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0));

    internal static string FindRepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Aio.slnx")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("Aio.slnx not found above the test binaries.");
    }
}
