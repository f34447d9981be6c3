namespace Aio.Tests.Docs;

/// <summary>
/// The examples of docs/tasks-and-cancellation.md, compiled and run. Each code block of the guide
/// appears verbatim between a "// guide:" marker and "// end guide" below; GuideBlocks_AllAppearHere
/// fails when the guide and this file drift apart.
/// </summary>
public sealed class TasksGuideExamples
{
    [Fact]
    public void Example_AsyncLoopTaskMethodsAreTasks()
    {
        // guide: method
        static async LoopTask<int> Fetch(int id)
        {
            await LoopTask.Sleep(TimeSpan.FromMilliseconds(id));   // any Aio await
            return id * 10;
        }

        using var loop = new EventLoop();
        int total = loop.RunUntilComplete(async () =>
        {
            LoopTask<int> first = Fetch(1);    // both tasks are running now
            LoopTask<int> second = Fetch(2);
            return await first + await second;
        });
        Console.WriteLine(total);   // 30
        // end guide

        Assert.Equal(30, total);
        Assert.Throws<InvalidOperationException>(() => Fetch(1));
    }

    [Fact]
    public void Example_CancelReachesThePendingAwait()
    {
        // guide: cancel
        using var loop = new EventLoop();
        string outcome = loop.RunUntilComplete(async () =>
        {
            LoopTask<string> download = loop.CreateTask(async () =>
            {
                try
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(30));   // any Aio await
                    return "done";
                }
                catch (CancelledError)
                {
                    // Clean up here; rethrow so the task ends cancelled.
                    throw;
                }
            });

            await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));
            download.Cancel("user pressed stop");

            try
            {
                return await download;
            }
            catch (CancelledError error)
            {
                return $"cancelled: {error.Message}";
            }
        });
        // end guide

        Assert.Equal("cancelled: user pressed stop", outcome);
    }

    [Fact]
    public void Example_ForeignAwaitsTakeTheToken()
    {
        // guide: token
        using var loop = new EventLoop();
        var neverAnswers = new TaskCompletionSource<string>();
        LoopTask<string>? request = null;
        loop.RunUntilComplete(async () =>
        {
            request = loop.CreateTask(async cancellationToken =>
                // A .NET API (HttpClient, streams, Task.Delay) learns of the cancel through the token.
                await neverAnswers.Task.WaitAsync(cancellationToken));

            await LoopTask.Yield();
            request.Cancel();
            try
            {
                await request;
            }
            catch (OperationCanceledException)
            {
                // CancelledError derives from OperationCanceledException, so one catch covers both.
            }
        });

        Console.WriteLine(request!.IsCancelled);   // True
        // end guide

        Assert.True(request.IsCancelled);
    }

    [Fact]
    public void Example_CatchingTheCancellationKeepsTheTaskAlive()
    {
        // guide: catch
        using var loop = new EventLoop(new EventLoopOptions { TimeProvider = new VirtualClock() });
        int result = loop.RunUntilComplete(async () =>
        {
            LoopTask<int> stubborn = loop.CreateTask(async () =>
            {
                try
                {
                    await LoopTask.Sleep(TimeSpan.FromHours(1));
                }
                catch (CancelledError)
                {
                    ILoopTask self = LoopTask.Current!;
                    self.Uncancel();                        // withdraw the request: we handled it
                }

                await LoopTask.Sleep(TimeSpan.FromSeconds(1));  // runs normally
                return 42;
            });

            await LoopTask.Yield();
            stubborn.Cancel();
            return await stubborn;                           // 42: the task was not cancelled
        });
        // end guide

        Assert.Equal(42, result);
    }

    [Fact]
    public void Example_WhenAllUnderCancelAndTimeout()
    {
        // guide: whenall
        static async Task Poll(string name, List<string> log)
        {
            try
            {
                while (true)
                {
                    await LoopTask.Sleep(TimeSpan.FromSeconds(1));   // any Aio await
                    log.Add($"{name} polled");
                }
            }
            catch (CancelledError)
            {
                log.Add($"{name} cancelled");
                throw;
            }
        }

        using var loop = new EventLoop(new EventLoopOptions { TimeProvider = new VirtualClock() });
        var log = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            // Cancel(): the pending sleep of each helper throws CancelledError.
            LoopTask pollers = loop.CreateTask(() => Task.WhenAll(Poll("a", log), Poll("b", log)));
            await LoopTask.Sleep(TimeSpan.FromSeconds(1.5));
            pollers.Cancel();
            try
            {
                await pollers;
            }
            catch (OperationCanceledException)
            {
                // Task.WhenAll reports cancelled helpers as TaskCanceledException: catch the base type.
            }

            // A timeout scope around the same kind of body: both helpers are cancelled, the scope throws.
            try
            {
                await LoopTask.TimeoutAsync(TimeSpan.FromSeconds(1.5), () => Task.WhenAll(Poll("c", log), Poll("d", log)));
            }
            catch (TimeoutException)
            {
                log.Add("timed out");
            }
        });
        Console.WriteLine(string.Join(", ", log));
        // a polled, b polled, a cancelled, b cancelled, c polled, d polled, c cancelled, d cancelled, timed out
        // end guide

        Assert.Equal(
            ["a polled", "b polled", "a cancelled", "b cancelled", "c polled", "d polled", "c cancelled", "d cancelled", "timed out"],
            log);
    }

    [Fact]
    public void Example_WaitForAndShield()
    {
        // guide: waitfor
        using var loop = new EventLoop(new EventLoopOptions { TimeProvider = new VirtualClock() });
        loop.RunUntilComplete(async () =>
        {
            LoopTask<int> slow = loop.CreateTask(async () =>
            {
                await LoopTask.Sleep(TimeSpan.FromMinutes(5));
                return 1;
            });

            try
            {
                await LoopTask.WaitFor(slow, TimeSpan.FromSeconds(2));
            }
            catch (TimeoutException)
            {
                // WaitFor cancelled `slow` and waited until it had finished cancelling.
            }

            LoopTask<int> precious = loop.CreateTask(async () =>
            {
                await LoopTask.Sleep(TimeSpan.FromSeconds(3));
                return 2;
            });
            LoopTask<int> waiter = loop.CreateTask(async () => await LoopTask.Shield(precious));
            await LoopTask.Yield();
            waiter.Cancel();                                  // cancels the waiter only
            Console.WriteLine(await precious);                // 2
        });
        // end guide
    }

    [Fact]
    public void GuideBlocks_AllAppearHere()
    {
        string root = FindRepositoryRoot();
        string guide = File.ReadAllText(Path.Combine(root, "docs", "tasks-and-cancellation.md"));
        string examples = Normalize(File.ReadAllText(Path.Combine(root, "tests", "Aio.Tests", "Docs", "TasksGuideExamples.cs")));

        string[] blocks = guide.Split("```csharp")[1..].Select(part => part.Split("```")[0]).ToArray();
        Assert.NotEmpty(blocks);
        foreach (string block in blocks)
        {
            Assert.True(examples.Contains(Normalize(block), StringComparison.Ordinal), "guide block not found in TasksGuideExamples.cs:\n" + block);
        }
    }

    private static string Normalize(string code) =>
        string.Join("\n", code.Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0));

    private static string FindRepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Aio.slnx")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("Aio.slnx not found above the test binaries.");
    }
}
