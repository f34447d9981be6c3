using System.Runtime.InteropServices;
using System.Text;
using Aio.Net;
using Aio.Processes;
using Aio.Tests.Net;

namespace Aio.Tests.Processes;

/// <summary>
/// Subprocesses [asyncio.create_subprocess_exec/shell, Process] with real programs (/bin/sh, cat,
/// echo, sleep, yes): pipes as streams, exit codes and signal deaths, communicate, flow control,
/// timeouts, no zombie and no descriptor leak (the "net" collection's descriptor check).
/// </summary>
public abstract class SubprocessTests : NetTestBase
{
    private static readonly SubprocessOptions Piped = new() { Stdin = SubprocessStdio.Pipe, Stdout = SubprocessStdio.Pipe, Stderr = SubprocessStdio.Pipe };
    private static readonly SubprocessOptions OutOnly = new() { Stdout = SubprocessStdio.Pipe };

    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static string S(byte[]? bytes) => Encoding.ASCII.GetString(bytes ?? []);

    private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}");

    [Fact]
    public void CreateExecAsync_EchoThroughCat_RoundTripsAndExitsZero()
    {
        Run(async loop =>
        {
            await using AsyncProcess process = await Subprocess.CreateExecAsync("cat", null, Piped);
            Assert.True(process.Pid > 0);
            Assert.Null(process.ReturnCode);
            process.Stdin!.Write(B("hello\n"));
            await process.Stdin.DrainAsync();
            Assert.Equal(B("hello\n"), await process.Stdout!.ReadLineAsync());
            process.Stdin.Close();
            Assert.Empty(await process.Stdout.ReadAsync());
            Assert.Equal(0, await process.WaitAsync());
            Assert.Equal(0, process.ReturnCode);
            Assert.True(process.Stdout.AtEof);
        });
    }

    [Fact]
    public void StdinWriter_StartTls_RefusedBecauseAPipeIsNotAConnection()
    {
        Run(async loop =>
        {
            await using AsyncProcess process = await Subprocess.CreateExecAsync("cat", null, Piped);
            InvalidOperationException error = Assert.Throws<InvalidOperationException>(
                () => process.Stdin!.StartTlsAsync(new Aio.Net.TlsClientOptions()));
            Assert.Contains("pipe", error.Message, StringComparison.Ordinal);
            process.Stdin!.Close();
            Assert.Equal(0, await process.WaitAsync());
        });
    }

    [Theory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 3", 3)]
    [InlineData("exit 42", 42)]
    [InlineData("kill -TERM $$", -15)]
    [InlineData("kill -USR1 $$", -10)]
    [InlineData("kill -KILL $$", -9)]
    public void CreateShellAsync_ExitOrSignal_ReturnCodeAsAsyncioReportsIt(string command, int expected)
    {
        Run(async loop =>
        {
            await using AsyncProcess process = await Subprocess.CreateShellAsync(command);
            Assert.Equal(expected, await process.WaitAsync());
            Assert.Equal(expected, process.ReturnCode);
        });
    }

    [Fact]
    public void KillTerminateSendSignal_RunningChild_NegativeSignalNumbers()
    {
        Run(async loop =>
        {
            await using AsyncProcess killed = await Subprocess.CreateExecAsync("sleep", ["30"]);
            await using AsyncProcess terminated = await Subprocess.CreateExecAsync("sleep", ["30"]);
            await using AsyncProcess interrupted = await Subprocess.CreateExecAsync("sleep", ["30"]);
            Assert.Null(killed.ReturnCode);
            killed.Kill();
            terminated.Terminate();
            interrupted.SendSignal(PosixSignal.SIGINT);
            Assert.Equal(-9, await killed.WaitAsync());
            Assert.Equal(-15, await terminated.WaitAsync());
            Assert.Equal(-2, await interrupted.WaitAsync());

            killed.Kill(); // exited: does nothing
            killed.SendSignal((PosixSignal)10);
            Assert.False(Alive(killed.Pid));
            Assert.Throws<ArgumentException>(() => terminated.SendSignal((PosixSignal)65));
        });
    }

    [Fact]
    public void CommunicateAsync_InputAndOutputLargerThanAPipeBuffer_NoDeadlock()
    {
        Run(async loop =>
        {
            byte[] input = new byte[1024 * 1024 + 17];
            new Random(9).NextBytes(input);

            // cat echoes stdin to stdout while the shell also writes 300 KiB to stderr first: every pipe overflows.
            await using AsyncProcess process = await Subprocess.CreateShellAsync("head -c 307200 /dev/zero >&2; cat", Piped);
            (byte[]? stdout, byte[]? stderr) = await process.CommunicateAsync(input);
            Assert.Equal(input, stdout);
            Assert.Equal(307200, stderr!.Length);
            Assert.Equal(0, process.ReturnCode);
        });
    }

    [Fact]
    public void CommunicateAsync_NoInputNoPipes_WaitsAndReturnsNulls()
    {
        Run(async loop =>
        {
            await using AsyncProcess process = await Subprocess.CreateExecAsync("true");
            Assert.Null(process.Stdin);
            Assert.Null(process.Stdout);
            Assert.Null(process.Stderr);
            (byte[]? stdout, byte[]? stderr) = await process.CommunicateAsync();
            Assert.Null(stdout);
            Assert.Null(stderr);
            Assert.Equal(0, process.ReturnCode);
        });
    }

    [Fact]
    public void CommunicateAsync_ChildIgnoresItsInput_BrokenPipeIsNotAnError()
    {
        Run(async loop =>
        {
            await using AsyncProcess process = await Subprocess.CreateShellAsync("exec 0<&-; echo done", Piped);
            (byte[]? stdout, _) = await process.CommunicateAsync(new byte[512 * 1024]);
            Assert.Equal("done\n", S(stdout));
            Assert.Equal(0, process.ReturnCode);
        });
    }

    [Fact]
    public void Stdout_TensOfMiBFromYes_ReaderPausesThePipeAndMemoryStaysBounded()
    {
        const int Limit = 16 * 1024;
        const long Total = 32L * 1024 * 1024;
        Run(async loop =>
        {
            await using AsyncProcess process = await Subprocess.CreateExecAsync("yes", null, OutOnly with { Limit = Limit });
            AsyncStreamReader stdout = process.Stdout!;
            var pipe = (IReadTransport)process.Transport.GetPipeTransport(1)!;
            long read = 0;
            int maxBuffered = 0;
            bool sawPaused = false;
            while (read < Total) // a head-like reader: take what we need, in small bites
            {
                byte[] chunk = await stdout.ReadAsync(4096);
                Assert.True(chunk.All(b => b is (byte)'y' or (byte)'\n'));
                read += chunk.Length;
                maxBuffered = Math.Max(maxBuffered, stdout.BufferedCount);
                sawPaused |= !pipe.IsReading;
            }

            Assert.True(sawPaused, "the pipe was never paused");
            Assert.True(maxBuffered <= (2 * Limit) + (64 * 1024), $"the reader buffered {maxBuffered} bytes");
            process.Kill();
            int code = await process.WaitAsync();
            Assert.True(code is -9 or -13, $"return code {code}");
        });
    }

    [Fact]
    public void StdinAndStdout_TensOfMiBThroughCat_DrainBoundsTheWriteBuffer()
    {
        const int Chunk = 64 * 1024;
        const int Chunks = 384; // 24 MiB
        Run(async loop =>
        {
            await using AsyncProcess process = await Subprocess.CreateExecAsync("cat", null, Piped);
            AsyncStreamWriter stdin = process.Stdin!;
            LoopTask<long> counting = loop.CreateTask(async () =>
            {
                long total = 0;
                byte[] chunk;
                while ((chunk = await process.Stdout!.ReadAsync(Chunk)).Length > 0)
                {
                    total += chunk.Length;
                }

                return total;
            });

            byte[] block = new byte[Chunk];
            int maxAfterDrain = 0;
            for (int i = 0; i < Chunks; i++)
            {
                stdin.Write(block);
                await stdin.DrainAsync();
                maxAfterDrain = Math.Max(maxAfterDrain, stdin.Transport.WriteBufferSize);
            }

            stdin.Close();
            await stdin.WaitClosedAsync();
            Assert.Equal((long)Chunk * Chunks, await counting);
            Assert.True(maxAfterDrain <= stdin.Transport.GetWriteBufferLimits().High, $"{maxAfterDrain} bytes buffered after a drain");
            Assert.Equal(0, await process.WaitAsync());
        });
    }

    [Fact]
    public void TimeoutAsync_AroundWait_KillInFinallyLeavesNoZombieNoDescriptor()
    {
        Run(async loop =>
        {
            AsyncProcess process = await Subprocess.CreateExecAsync("sleep", ["30"], Piped);
            try
            {
                // allow-real-time: a short real timeout around a child that never finishes by itself.
                await Assert.ThrowsAsync<TimeoutException>(() => LoopTask.TimeoutAsync(TimeSpan.FromMilliseconds(100), async () => await process.CommunicateAsync()));
                Assert.Null(process.ReturnCode); // the timeout itself does not kill, as in asyncio
                Assert.True(Alive(process.Pid));
            }
            finally
            {
                process.Kill();
                await process.WaitAsync();
            }

            Assert.Equal(-9, process.ReturnCode);
            Assert.False(Alive(process.Pid), "the child is still in /proc: a zombie");
            process.Dispose();
        });
    }

    [Fact]
    public void DisposeAsync_RunningChild_KillsAndReapsIt()
    {
        Run(async loop =>
        {
            AsyncProcess process = await Subprocess.CreateShellAsync("sleep 30", Piped);
            await using (process)
            {
                process.Stdin!.Write(B("unread"));
            }

            Assert.Equal(-9, process.ReturnCode);
            Assert.False(Alive(process.Pid));
            Assert.True(process.Stdin.IsClosing);
            Assert.True(process.Stdout!.AtEof || (await process.Stdout.ReadAsync()).Length == 0);
        });
    }

    [Fact]
    public void CreateExecAsync_AHundredConcurrentChildren_AllAnswer()
    {
        Run(async loop =>
        {
            var runs = new List<LoopTask<string>>();
            for (int i = 0; i < 100; i++)
            {
                string word = $"child{i}";
                runs.Add(loop.CreateTask(async () =>
                {
                    await using AsyncProcess process = await Subprocess.CreateExecAsync("echo", [word], OutOnly);
                    (byte[]? stdout, _) = await process.CommunicateAsync();
                    Assert.Equal(0, process.ReturnCode);
                    return S(stdout);
                }));
            }

            string[] outputs = await LoopTask.Gather([.. runs]);
            for (int i = 0; i < 100; i++)
            {
                Assert.Equal($"child{i}\n", outputs[i]);
            }
        });
    }

    [Fact]
    public void Options_EnvironmentAndWorkingDirectory_ReachTheChild()
    {
        string directory = Directory.CreateTempSubdirectory("aio-subprocess-").FullName;
        try
        {
            Run(async loop =>
            {
                var options = OutOnly with
                {
                    WorkingDirectory = directory,
                    Environment = new Dictionary<string, string> { ["AIO_GREETING"] = "hi there", ["PATH"] = "/usr/bin:/bin" },
                };
                await using AsyncProcess process = await Subprocess.CreateShellAsync("echo \"$AIO_GREETING\"; pwd; echo \"${HOME-unset}\"", options);
                (byte[]? stdout, _) = await process.CommunicateAsync();
                Assert.Equal($"hi there\n{directory}\nunset\n", S(stdout));
            });
        }
        finally
        {
            Directory.Delete(directory);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Options_RelativeProgramPath_ResolvedAgainstTheWorkingDirectory()
    {
        string directory = Directory.CreateTempSubdirectory("aio-subprocess-").FullName;
        string script = Path.Combine(directory, "hello.sh");
        File.WriteAllText(script, "#!/bin/sh\necho from script\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            Run(async loop =>
            {
                await using AsyncProcess process = await Subprocess.CreateExecAsync("./hello.sh", null, OutOnly with { WorkingDirectory = directory });
                Assert.Equal("from script\n", S((await process.CommunicateAsync()).Stdout));
            });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Stderr_MergedIntoStdout_OneStream()
    {
        Run(async loop =>
        {
            var options = new SubprocessOptions { Stdout = SubprocessStdio.Pipe, Stderr = SubprocessStdio.Stdout };
            await using AsyncProcess process = await Subprocess.CreateShellAsync("echo out; echo err >&2; echo more", options);
            Assert.Null(process.Stderr);
            (byte[]? stdout, byte[]? stderr) = await process.CommunicateAsync();
            Assert.Equal("out\nerr\nmore\n", S(stdout));
            Assert.Null(stderr);
        });
    }

    [Fact]
    public void Null_StdinAndStderr_ReadEofAndDiscard()
    {
        Run(async loop =>
        {
            var options = new SubprocessOptions { Stdin = SubprocessStdio.Null, Stdout = SubprocessStdio.Pipe, Stderr = SubprocessStdio.Null };
            await using AsyncProcess process = await Subprocess.CreateShellAsync("cat; echo gone >&2; echo ok", options);
            Assert.Null(process.Stdin);
            Assert.Null(process.Stderr);
            (byte[]? stdout, _) = await process.CommunicateAsync();
            Assert.Equal("ok\n", S(stdout));
        });
    }

    [Fact]
    public void Null_Stdout_DiscardsWhileStderrIsPiped()
    {
        Run(async loop =>
        {
            var options = new SubprocessOptions { Stdout = SubprocessStdio.Null, Stderr = SubprocessStdio.Pipe };
            await using AsyncProcess process = await Subprocess.CreateShellAsync("echo dropped; echo kept >&2", options);
            Assert.Null(process.Stdout);
            Assert.Equal("kept\n", S((await process.CommunicateAsync()).Stderr));
        });
    }

    [Fact]
    public void Child_SignalMaskAndDispositions_StartClean()
    {
        Run(async loop =>
        {
            await using AsyncProcess process = await Subprocess.CreateExecAsync("grep", ["-E", "^Sig(Ign|Blk)", "/proc/self/status"], OutOnly);
            string[] lines = S((await process.CommunicateAsync()).Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("SigBlk:\t0000000000000000", lines[0]);
            ulong ignored = Convert.ToUInt64(lines[1]["SigIgn:\t".Length..], 16);
            if (Backend == LoopBackend.Epoll)
            {
                // .NET ignores SIGPIPE, and an ignored disposition survives exec: posix_spawn resets
                // every signal. Only glibc's two internal signals (32, 33) stay ignored, by glibc's design.
                Assert.Equal(0UL, ignored & ~0x1_8000_0000UL);
            }
            else
            {
                // System.Diagnostics.Process passes this process's ignored SIGPIPE on (documented).
                Assert.Equal(0UL, ignored & ~(1UL << (13 - 1)));
            }
        });
    }

    [Fact]
    public void CreateExecAsync_BadRequests_FailWithClearErrors()
    {
        Run(async loop =>
        {
            FileNotFoundException missing = await Assert.ThrowsAsync<FileNotFoundException>(async () => await Subprocess.CreateExecAsync("aio-no-such-program-x"));
            Assert.Contains("PATH", missing.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<FileNotFoundException>(async () => await Subprocess.CreateExecAsync("/nonexistent/program"));
            await Assert.ThrowsAsync<DirectoryNotFoundException>(async () => await Subprocess.CreateExecAsync("true", null, new SubprocessOptions { WorkingDirectory = "/nonexistent-aio-dir" }));
            await Assert.ThrowsAsync<ArgumentException>(async () => await Subprocess.CreateExecAsync("true", null, new SubprocessOptions { Stdout = SubprocessStdio.Stdout }));
            await Assert.ThrowsAsync<ArgumentException>(async () => await Subprocess.CreateExecAsync("echo", ["a\0b"]));
            await Assert.ThrowsAsync<ArgumentException>(async () => await Subprocess.CreateExecAsync("true", null, new SubprocessOptions { Environment = new Dictionary<string, string> { ["A=B"] = "x" } }));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Subprocess.CreateExecAsync("true", null, new SubprocessOptions { Limit = 0 }));
            Assert.Throws<ArgumentException>(() => Subprocess.CreateShellAsync(""));
        });
    }

    [Fact]
    public void ExecAsync_Protocol_SeesEventsInAsyncioOrder()
    {
        Run(async loop =>
        {
            var recorder = new SubprocessRecorder(loop);
            (ISubprocessTransport transport, SubprocessProtocol protocol) = await Subprocess.ExecAsync(() => recorder, "/bin/sh", ["-c", "read line; echo \"got $line\"; echo oops >&2; exit 5"]);
            Assert.Same(recorder, protocol);
            Assert.Same(transport, recorder.Transport);
            Assert.IsAssignableFrom<IWriteTransport>(transport.GetPipeTransport(0));
            Assert.IsAssignableFrom<IReadTransport>(transport.GetPipeTransport(1));
            Assert.IsAssignableFrom<IReadTransport>(transport.GetPipeTransport(2));
            Assert.Throws<ArgumentOutOfRangeException>(() => transport.GetPipeTransport(3));
            ((IWriteTransport)transport.GetPipeTransport(0)!).Write(B("ping\n"));
            await recorder.Lost.WaitAsync();
            Assert.Equal("got ping\n", S([.. recorder.Data[1]]));
            Assert.Equal("oops\n", S([.. recorder.Data[2]]));
            Assert.Equal(5, transport.ReturnCode);
            Assert.Equal("made", recorder.Events[0]);
            Assert.Equal("lost", recorder.Events[^1]);
            Assert.Equal(1, recorder.Events.Count(e => e == "exited"));
            Assert.Equal(["pipe-lost 0", "pipe-lost 1", "pipe-lost 2"], recorder.Events.Where(e => e.StartsWith("pipe-lost", StringComparison.Ordinal)).Order());
            transport.Close();
            transport.Close(); // idempotent
            Assert.True(transport.IsClosing);
        });
    }

    [Fact]
    public void ExecAsync_TransportClose_KillsTheRunningChildAndReapsIt()
    {
        Run(async loop =>
        {
            var recorder = new SubprocessRecorder(loop);
            (ISubprocessTransport transport, _) = await Subprocess.ExecAsync(() => recorder, "sleep", ["30"]);
            int pid = transport.Pid;
            Assert.True(Alive(pid));
            transport.Close();
            await recorder.Lost.WaitAsync();
            Assert.Equal(-9, transport.ReturnCode);
            Assert.False(Alive(pid));
        });
    }

    [Fact]
    public void ExecAsync_ConnectionMadeThrows_ChildKilledAndTheErrorRaised()
    {
        Run(async loop =>
        {
            var recorder = new SubprocessRecorder(loop) { ThrowOnMade = true };
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await Subprocess.ExecAsync(() => recorder, "sleep", ["30"]));
            Assert.NotNull(recorder.Transport);
            Assert.Equal(-9, recorder.Transport!.ReturnCode);
            Assert.False(Alive(recorder.Transport.Pid));
            await recorder.Lost.WaitAsync();
        });
    }

    [Fact]
    public void Stdin_FlowControl_PausesAboveTheHighMarkForAChildThatDoesNotRead()
    {
        Run(async loop =>
        {
            var recorder = new SubprocessRecorder(loop);
            (ISubprocessTransport transport, _) = await Subprocess.ExecAsync(() => recorder, "sleep", ["30"]);
            var stdin = (IWriteTransport)transport.GetPipeTransport(0)!;
            for (int i = 0; i < 64 && !recorder.Events.Contains("pause"); i++)
            {
                stdin.Write(new byte[16 * 1024]); // the kernel's pipe takes 64 KiB, then the buffer grows
                await LoopTask.Yield();
            }

            Assert.Contains("pause", recorder.Events);
            Assert.True(stdin.WriteBufferSize > stdin.GetWriteBufferLimits().High);
            transport.Close();
            await recorder.Lost.WaitAsync();
            Assert.Equal(-9, transport.ReturnCode);
        });
    }

    /// <summary>Records a subprocess protocol's events.</summary>
    private sealed class SubprocessRecorder(EventLoop loop) : SubprocessProtocol
    {
        public ISubprocessTransport? Transport { get; private set; }

        public List<string> Events { get; } = [];

        public Dictionary<int, List<byte>> Data { get; } = new() { [1] = [], [2] = [] };

        public Aio.Sync.AsyncEvent Lost { get; } = new();

        public bool ThrowOnMade { get; init; }

        public override void ConnectionMade(ISubprocessTransport transport)
        {
            Transport = transport;
            Events.Add("made");
            if (ThrowOnMade)
            {
                throw new InvalidOperationException("refused");
            }
        }

        public override void PipeDataReceived(int fd, ReadOnlySpan<byte> data) => Data[fd].AddRange(data);

        public override void PipeConnectionLost(int fd, Exception? exception) => Events.Add($"pipe-lost {fd}");

        public override void ProcessExited() => Events.Add("exited");

        public override void PauseWriting() => Events.Add("pause");

        public override void ResumeWriting() => Events.Add("resume");

        public override void ConnectionLost(Exception? exception)
        {
            Events.Add("lost");
            Assert.Same(loop, EventLoop.GetRunningLoop());
            Lost.Set();
        }
    }
}

[Collection("net")]
public sealed class SubprocessEpollTests : SubprocessTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class SubprocessPortableTests : SubprocessTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
