using Aio.Hosting;

namespace Aio.Tests.Docs;

/// <summary>The README's shared-loop example, compiled and run as written (plus assertions).</summary>
public sealed class ReadmeSharedLoopExample
{
    [Fact]
    public void ReadmeExample_RunsAsDocumented()
    {
        int answer;
        CallOutcome<int>[] outcomes;
        using var shared = new SharedEventLoop(new SharedEventLoopOptions { StopTimeout = TimeSpan.FromSeconds(5) });

        using (LoopToken token = shared.StartLoop())            // the loop is running when this returns
        {
            answer = shared.Await(async () =>                // runs on the loop thread; blocks this one
            {
                await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));
                return 42;
            });

            outcomes = shared.AwaitMultiple<int>(   // concurrently on the loop, in order
                [() => Task.FromResult(1), () => throw new InvalidOperationException("no")]);
        }   // the last release waits for pending tasks (up to StopTimeout), then stops the loop

        Assert.Equal(42, answer);
        Assert.Equal(1, outcomes[0].Result);
        Assert.IsType<InvalidOperationException>(outcomes[1].Exception);
        Assert.False(shared.Loop.IsRunning);
    }
}
