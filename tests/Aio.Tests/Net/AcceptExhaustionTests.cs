using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Aio.Tests.Net;

/// <summary>
/// Accept under descriptor exhaustion [asyncio's "socket.accept() out of system resource"]: a child
/// process (tests/Aio.RunnerHost, scenario accept-emfile-*) lowers RLIMIT_NOFILE, fills every
/// descriptor with connections to its own server, and reports what the server did. The server must
/// report EMFILE, back off for a second at a time instead of spinning, and accept every queued
/// connection once descriptors are free again. Linux only (RLIMIT_NOFILE, /proc).
/// </summary>
public abstract class AcceptExhaustionTests : NetTestBase
{
    private static readonly TimeSpan ChildPatience = TimeSpan.FromSeconds(60);

    [Aio.Tests.Loop.LinuxFact]
    public void Accept_OutOfDescriptors_ReportsBacksOffAndRecovers()
    {
        string scenario = Backend == LoopBackend.Portable ? "accept-emfile-portable" : "accept-emfile-epoll";
        (int exitCode, List<string> lines) = RunChild(scenario);
        string log = string.Join("\n", lines);
        Assert.True(exitCode == 0, $"the child failed ({exitCode}):\n{log}");

        int clients = Value(lines, "exhausted", "clients");
        Assert.True(clients >= 10, log);

        // allow-real-time: the child starves for 2.5 s of real time; with a 1 s back-off that is
        // three attempts (at 0, 1 and 2 s). A busy loop would make thousands and burn the CPU.
        Assert.InRange(Value(lines, "starved", "reports"), 2, 4);
        Assert.Equal(0, Value(lines, "starved", "other"));
        Assert.Equal(0, Value(lines, "starved", "accepted"));
        Assert.True(Value(lines, "starved", "cpu_ms") < 1000, log);
        Assert.All(lines.Where(line => line.StartsWith("report:", StringComparison.Ordinal)), line => Assert.Contains("TooManyOpenSockets", line, StringComparison.Ordinal));

        Assert.Equal(clients, Value(lines, "recovered", "accepted"));
    }

    private static int Value(List<string> lines, string prefix, string key)
    {
        string? line = lines.FirstOrDefault(l => l.StartsWith(prefix + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no '{prefix}' line in:\n{string.Join("\n", lines)}");
        Match match = Regex.Match(line, $@"\b{key}=(\d+)");
        Assert.True(match.Success, $"no {key}= in '{line}'");
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static (int ExitCode, List<string> Lines) RunChild(string scenario)
    {
        var start = new ProcessStartInfo("dotnet", [HostPath(), scenario])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.Environment.Remove("AIO_DEBUG");
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("could not start the runner host");
        Task<string> errors = process.StandardError.ReadToEndAsync();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(ChildPatience))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail("the child did not finish:\n" + errors.GetAwaiter().GetResult());
        }

        process.WaitForExit();
        string text = errors.GetAwaiter().GetResult() + output.GetAwaiter().GetResult();
        return (process.ExitCode, [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]);
    }

    /// <summary>The path of the built tests/Aio.RunnerHost program.</summary>
    internal static string HostPath()
    {
        string testBin = AppContext.BaseDirectory;
        string configuration = testBin.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        string? directory = testBin;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Aio.slnx")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        Assert.NotNull(directory);
        string path = Path.Combine(directory, "tests", "Aio.RunnerHost", "bin", configuration, "net10.0", "Aio.RunnerHost.dll");
        Assert.True(File.Exists(path), $"{path} was not built");
        return path;
    }
}

[Collection("net")]
public sealed class AcceptExhaustionEpollTests : AcceptExhaustionTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class AcceptExhaustionPortableTests : AcceptExhaustionTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
