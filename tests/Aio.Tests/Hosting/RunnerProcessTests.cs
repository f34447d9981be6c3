using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Aio.Tests.Hosting;

/// <summary>
/// The runner end to end: each test starts tests/Aio.RunnerHost as a child process running one
/// scenario under Runner.Run, sends it real signals, and checks its exit code and the order of the
/// shutdown steps it logged. Linux only (signals and the epoll default).
/// </summary>
[Collection("signals")]
public sealed partial class RunnerProcessTests
{
    private const int SigInt = 2;
    private const int SigTerm = 15;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static readonly string[] CleanSteps =
    [
        "Running forever.", "ready", "Stopping the loop", "Entering shutdown phase.", "Cancelling pending tasks.",
        "Running pending tasks till complete", "Waiting for executor shutdown.", "Closing the loop.", "Leaving. Bye!",
    ];

    [Aio.Tests.Loop.LinuxFact]
    public void Run_Sigint_ShutsDownInAiorunsStepsAndExitsZero()
    {
        using var child = HostProcess.Start("clean");
        child.WaitForLine("ready");
        child.Signal(SigInt);

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder(CleanSteps);
        Assert.Contains(child.Lines, line => line.StartsWith("Cancelling task: <LoopTask main", StringComparison.Ordinal));
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Run_Sigterm_ShutsDownAndExitsZero()
    {
        using var child = HostProcess.Start("clean");
        child.WaitForLine("ready");
        child.Signal(SigTerm);

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder(CleanSteps);
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Run_TaskIgnoringCancellation_HitsTimeoutAndIsNamed()
    {
        using var child = HostProcess.Start("ignore-cancel");
        child.WaitForLine("ready");
        child.Signal(SigInt);

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder("Running pending tasks till complete", "stubborn ignores the cancellation", "Task stubborn did not exit", "Leaving. Bye!");
        Assert.Contains(child.Lines, line => line.Contains("Task stubborn did not exit", StringComparison.Ordinal) && line.Contains("it waits on <SleepFuture", StringComparison.Ordinal));
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Run_ShutdownWaitsFor_CallerCancelledButWorkCompletesBeforeExit()
    {
        using var child = HostProcess.Start("waits-for");
        child.WaitForLine("ready");
        child.Signal(SigTerm);

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder("Cancelling pending tasks.", "caller cancelled", "protected work done", "Waiting for executor shutdown.", "Leaving. Bye!");
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Run_SecondSignalDuringShutdown_ForcesExitWith130()
    {
        using var child = HostProcess.Start("second-signal");
        child.WaitForLine("ready");
        child.Signal(SigInt);
        child.WaitForLine("Running pending tasks till complete");
        child.Signal(SigInt);

        Assert.Equal(130, child.WaitForExit());
        Assert.Contains(child.Lines, line => line.Contains("again during shutdown", StringComparison.Ordinal));
        Assert.DoesNotContain("Leaving. Bye!", child.Lines);
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Run_StopOnUnhandledErrors_StopsShutsDownAndExitsOne()
    {
        using var child = HostProcess.Start("stop-on-error");

        Assert.Equal(1, child.WaitForExit());
        child.AssertInOrder("boom from a callback", "Entering shutdown phase.", "Leaving. Bye!", "exit code 1");
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Run_StopWhenMainCompletes_ShutsDownWithoutASignal()
    {
        using var child = HostProcess.Start("main-completes");

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder("main done", "Entering shutdown phase.", "Leaving. Bye!");
        Assert.DoesNotContain("Stopping the loop", child.Lines);
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Run_ShutdownCallback_RunsAfterStopBeforeTasksAreCancelled()
    {
        using var child = HostProcess.Start("callback-order");
        child.WaitForLine("ready");
        child.Signal(SigInt);

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder("Stopping the loop", "Entering shutdown phase.", "shutdown callback", "Cancelling pending tasks.", "main cancelled", "Leaving. Bye!");
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Run_FailingShutdownCallback_ShutsDownAndExitsOne()
    {
        using var child = HostProcess.Start("failing-callback");

        Assert.Equal(1, child.WaitForExit());
        child.AssertInOrder("The shutdown callback failed.", "Leaving. Bye!", "exit code 1");
    }

    [Aio.Tests.Loop.LinuxTheory]
    [InlineData("epoll")]
    [InlineData("portable")]
    public void Run_SigintInheritedAsIgnored_StillShutsDownGracefully(string backend)
    {
        // As a shell without job control starts a background job: SIGINT ignored across exec.
        using var child = HostProcess.Start("clean", backend, ignoreSigint: true);
        child.WaitForLine("ready");
        child.Signal(SigInt);

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder(CleanSteps);
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Run_SigintInheritedAsIgnored_HandledDuringTheRunAndIgnoredAgainAfterIt()
    {
        using var child = HostProcess.Start("sigint-disposition", "epoll", ignoreSigint: true);

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder("before run: SIGINT ignored=True", "during run: SIGINT ignored=False", "after run: SIGINT ignored=True");
    }

    [Aio.Tests.Loop.LinuxTheory]
    [InlineData("epoll")]
    [InlineData("portable")]
    public void Run_StopWhenMainCompletesAndMainCancelledByUserCode_ExitsOne(string backend)
    {
        using var child = HostProcess.Start("main-cancelled", backend);

        Assert.Equal(1, child.WaitForExit());
        child.AssertInOrder("cancelling main", "The main task was cancelled", "Entering shutdown phase.", "Leaving. Bye!", "exit code 1");
        Assert.DoesNotContain("main went on after its cancel", child.Lines);
        Assert.DoesNotContain(child.Lines, line => line.StartsWith("handler:", StringComparison.Ordinal));
    }

    [Aio.Tests.Loop.LinuxTheory]
    [InlineData("epoll")]
    [InlineData("portable")]
    public void Run_TaskFailingDuringShutdown_ReachesTheLoopsExceptionHandler(string backend)
    {
        using var child = HostProcess.Start("failing-shutdown-task", backend);

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder(
            "main done",
            "Running pending tasks till complete",
            "handler: unhandled exception during Runner.Run() shutdown | cleanup failed | cleaner",
            "Leaving. Bye!");
        Assert.Single(child.Lines, line => line.StartsWith("handler:", StringComparison.Ordinal));
    }

    [Aio.Tests.Loop.LinuxFact]
    public void GenericHostRunner_Sigterm_HostStopsLoopInAiorunsStepsAndExitsZero()
    {
        using var child = HostProcess.Start("host-clean");
        child.WaitForLine("ready");
        child.Signal(SigTerm);

        Assert.Equal(0, child.WaitForExit());
        child.AssertInOrder(
            "Running forever.", "ready", "Stopping the loop", "Entering shutdown phase.", "Cancelling pending tasks.",
            "Cancelling task: <LoopTask main", "Running pending tasks till complete", "caller cancelled", "protected work done",
            "Waiting for executor shutdown.", "Closing the loop.", "Leaving. Bye!", "host returned");
    }

    [Aio.Tests.Loop.LinuxFact]
    public void GenericHostRunner_MainFailsWithStopWhenMainCompletes_StopsTheHostAndExitsOne()
    {
        using var child = HostProcess.Start("host-main-fails");

        Assert.Equal(1, child.WaitForExit());
        child.AssertInOrder("The main task failed.", "Entering shutdown phase.", "Leaving. Bye!", "The application failed; exit code 1.", "host returned");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>A running Aio.RunnerHost with its standard error collected line by line.</summary>
    private sealed class HostProcess : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];
        private readonly object _gate = new();

        private HostProcess(Process process)
        {
            _process = process;
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }

                lock (_gate)
                {
                    _lines.Add(e.Data);
                    Monitor.PulseAll(_gate);
                }
            };
            _process.OutputDataReceived += (_, _) => { };
            _process.BeginErrorReadLine();
            _process.BeginOutputReadLine();
        }

        public List<string> Lines
        {
            get
            {
                lock (_gate)
                {
                    return [.. _lines];
                }
            }
        }

        public static HostProcess Start(string scenario, string backend = "epoll", bool ignoreSigint = false)
        {
            // With ignoreSigint, a shell ignores SIGINT and execs the host, which inherits the ignore.
            ProcessStartInfo start = ignoreSigint
                ? new ProcessStartInfo("/bin/sh", ["-c", "trap '' INT; exec dotnet \"$0\" \"$1\" \"$2\"", HostPath(), scenario, backend])
                : new ProcessStartInfo("dotnet", [HostPath(), scenario, backend]);
            start.RedirectStandardError = true;
            start.RedirectStandardOutput = true;
            start.UseShellExecute = false;
            start.Environment.Remove("AIO_DEBUG");
            return new HostProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start the runner host"));
        }

        public void WaitForLine(string text)
        {
            DateTime deadline = DateTime.UtcNow + Patience;
            lock (_gate)
            {
                while (!_lines.Any(line => line.Contains(text, StringComparison.Ordinal)))
                {
                    TimeSpan left = deadline - DateTime.UtcNow;
                    Assert.True(left > TimeSpan.Zero && !_process.HasExited, $"no line containing '{text}'; got:\n{string.Join("\n", _lines)}");
                    Monitor.Wait(_gate, left);
                }
            }
        }

        public void Signal(int signal) => Assert.Equal(0, Kill(_process.Id, signal));

        public int WaitForExit()
        {
            Assert.True(_process.WaitForExit(Patience), "the runner host did not exit; log:\n" + string.Join("\n", Lines));
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public void AssertInOrder(params string[] expected)
        {
            List<string> lines = Lines;
            int at = 0;
            foreach (string text in expected)
            {
                int found = lines.FindIndex(at, line => line.Contains(text, StringComparison.Ordinal));
                Assert.True(found >= 0, $"'{text}' missing after line {at}; log:\n{string.Join("\n", lines)}");
                at = found + 1;
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.Dispose();
        }

        private static string HostPath()
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
}
