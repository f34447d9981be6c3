using System.Text;
using Aio.Processes;

namespace Aio.Tests.Docs;

/// <summary>The README's subprocess example and the mapping's timeout recipe, compiled and run as written (plus assertions).</summary>
[Collection("net")]
public sealed class ReadmeSubprocessExample
{
    [Fact]
    public void ReadmeExample_SortsThroughAChild()
    {
        using var loop = new EventLoop();
        string sorted = loop.RunUntilComplete(async () =>
        {
            await using AsyncProcess sort = await Subprocess.CreateExecAsync("sort", null,
                new SubprocessOptions { Stdin = SubprocessStdio.Pipe, Stdout = SubprocessStdio.Pipe });
            (byte[]? output, _) = await sort.CommunicateAsync("pear\napple\nfig\n"u8.ToArray());
            Assert.Equal(0, sort.ReturnCode);
            return Encoding.UTF8.GetString(output!);
        });
        Assert.Equal("apple\nfig\npear\n", sorted);
    }

    [Fact]
    public void TimeoutRecipe_LeavingTheBlockKillsAndReapsTheChild()
    {
        using var loop = new EventLoop();
        (int pid, int? code, bool timedOut) = loop.RunUntilComplete(async () =>
        {
            bool timedOut = false;
            AsyncProcess escaped;
            await using (AsyncProcess process = await Subprocess.CreateExecAsync("sleep", ["30"], new() { Stdout = SubprocessStdio.Pipe }))
            {
                escaped = process;
                try
                {
                    // allow-real-time: the recipe's timeout, shortened.
                    (byte[]? output, _) = await LoopTask.TimeoutAsync(TimeSpan.FromMilliseconds(100), () => process.CommunicateAsync());
                }
                catch (TimeoutException)
                {
                    timedOut = true;
                    Assert.Null(process.ReturnCode); // still running here
                }
            }

            return (escaped.Pid, escaped.ReturnCode, timedOut);
        });
        Assert.True(timedOut);
        Assert.Equal(-9, code);
        Assert.False(Directory.Exists($"/proc/{pid}"));
    }
}
