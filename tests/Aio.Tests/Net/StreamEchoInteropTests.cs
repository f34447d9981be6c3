using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Aio.Tests.Loop;

namespace Aio.Tests.Net;

/// <summary>A fact that needs python3 on the PATH; skipped otherwise.</summary>
public sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute()
    {
        if (StreamEchoInteropTests.Python is null)
        {
            Skip = "python3 is not on the PATH.";
        }
    }
}

/// <summary>
/// The echo samples (samples/EchoServer, samples/EchoClient) against the seed's Python originals
/// (tests/interop/echo_server.py, echo_client.py), both ways, as child processes: every line each
/// side prints must be the line the Python original prints. tests/interop/echo_interop.sh does the
/// same from a shell.
/// </summary>
public sealed partial class StreamEchoInteropTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>The python3 executable, or null.</summary>
    public static string? Python { get; } = FindOnPath("python3");

    [PythonFact]
    public void CSharpServer_PythonClient_SameLinesAsTheOriginals()
    {
        int port = FreePort();
        using ChildProcess server = ChildProcess.Start("dotnet", SampleDll("EchoServer"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        server.WaitForLine("Serving on");
        using ChildProcess client = ChildProcess.Start(Python!, "-u", InteropFile("echo_client.py"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "It's \"quoted\"");
        Assert.Equal(0, client.WaitForExit());
        server.WaitForLine("Close the client socket");

        const string Quoted = "'It\\'s \"quoted\"'";
        AssertLines(server.Lines, $"Serving on \\('127\\.0\\.0\\.1', {port}\\)", $"Received {Regex.Escape(Quoted)} from \\('127\\.0\\.0\\.1', [0-9]+\\)", $"Send: {Regex.Escape(Quoted)}", "Close the client socket");
        AssertLines(client.Lines, $"Send: {Regex.Escape(Quoted)}", $"Received: {Regex.Escape(Quoted)}", "Close the socket");
    }

    [PythonFact]
    public void PythonServer_CSharpClient_SameLinesAsTheOriginals()
    {
        int port = FreePort();
        using ChildProcess server = ChildProcess.Start(Python!, "-u", InteropFile("echo_server.py"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        server.WaitForLine("Serving on");
        using ChildProcess client = ChildProcess.Start("dotnet", SampleDll("EchoClient"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, client.WaitForExit());
        server.WaitForLine("Close the client socket");

        AssertLines(server.Lines, $"Serving on \\('127\\.0\\.0\\.1', {port}\\)", "Received 'Hello World!' from \\('127\\.0\\.0\\.1', [0-9]+\\)", "Send: 'Hello World!'", "Close the client socket");
        AssertLines(client.Lines, "Send: 'Hello World!'", "Received: 'Hello World!'", "Close the socket");
    }

    [Fact]
    public void CSharpClient_NobodyListening_ExitsWithOne()
    {
        using ChildProcess client = ChildProcess.Start("dotnet", SampleDll("EchoClient"), "--port", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, client.WaitForExit());
        Assert.Empty(client.Lines);
    }

    [LinuxFact]
    public void EchoServerSample_CtrlC_ShutsDownInAiorunsStepsAndExitsZero()
    {
        int port = FreePort();
        using ChildProcess server = ChildProcess.Start("dotnet", SampleDll("EchoServer"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        server.WaitForLine("Serving on");
        using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            client.Connect(IPAddress.Loopback, port);
            client.Send("Hello World!"u8);
            byte[] echoed = new byte[64];
            int received = 0;
            while (client.Receive(echoed.AsSpan(received)) is > 0 and int n)
            {
                received += n;
            }

            Assert.Equal("Hello World!", Encoding.UTF8.GetString(echoed, 0, received));
        }

        server.WaitForLine("Close the client socket");
        Assert.Equal(0, Kill(server.Id, 2)); // SIGINT, as Ctrl-C sends it
        Assert.Equal(0, server.WaitForExit());

        string[] steps = ["Stopping the loop", "Entering shutdown phase.", "Cancelling pending tasks.", "Cancelling task: <LoopTask main pending>", "Running pending tasks till complete", "Waiting for executor shutdown.", "Closing the loop.", "Leaving. Bye!"];
        List<string> log = server.ErrorLines;
        int at = -1;
        foreach (string step in steps)
        {
            int next = log.FindIndex(at + 1, line => line.Contains(step, StringComparison.Ordinal));
            Assert.True(next > at, $"'{step}' missing or out of order in:\n{string.Join("\n", log)}");
            at = next;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private static void AssertLines(List<string> lines, params string[] patterns)
    {
        Assert.True(lines.Count == patterns.Length, $"expected {patterns.Length} lines, got:\n{string.Join("\n", lines)}");
        for (int i = 0; i < patterns.Length; i++)
        {
            Assert.Matches($"^{patterns[i]}$", lines[i]);
        }
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Aio.slnx")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        Assert.NotNull(directory);
        return directory;
    }

    private static string SampleDll(string name)
    {
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        string path = Path.Combine(RepositoryRoot(), "samples", name, "bin", configuration, "net10.0", name + ".dll");
        Assert.True(File.Exists(path), $"{path} was not built");
        return path;
    }

    private static string InteropFile(string name) => Path.Combine(RepositoryRoot(), "tests", "interop", name);

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);

    /// <summary>A child process whose standard output lines are collected; killed when disposed if still running.</summary>
    private sealed class ChildProcess : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];
        private readonly List<string> _errorLines = [];
        private readonly object _gate = new();

        private ChildProcess(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (_gate)
                    {
                        _lines.Add(e.Data);
                        Monitor.PulseAll(_gate);
                    }
                }
            };
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (_gate)
                    {
                        _errorLines.Add(e.Data);
                    }
                }
            };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
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

        /// <summary>The lines of standard error so far.</summary>
        public List<string> ErrorLines
        {
            get
            {
                lock (_gate)
                {
                    return [.. _errorLines];
                }
            }
        }

        public int Id => _process.Id;

        public static ChildProcess Start(string program, params string[] arguments)
        {
            var start = new ProcessStartInfo(program, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.Environment.Remove("AIO_DEBUG");
            return new ChildProcess(Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}"));
        }

        public void WaitForLine(string prefix)
        {
            DateTime deadline = DateTime.UtcNow + Patience;
            lock (_gate)
            {
                while (!_lines.Any(line => line.StartsWith(prefix, StringComparison.Ordinal)))
                {
                    TimeSpan left = deadline - DateTime.UtcNow;
                    Assert.True(left > TimeSpan.Zero && !_process.HasExited, $"no line starting with '{prefix}'; got:\n{string.Join("\n", _lines)}");
                    Monitor.Wait(_gate, left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
                }
            }
        }

        public int WaitForExit()
        {
            Assert.True(_process.WaitForExit(Patience), "the child process did not exit");
            _process.WaitForExit(); // flush the output handlers
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }

            _process.Dispose();
        }
    }
}
