using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Aio.Tests.Net;

/// <summary>
/// Networking under a low descriptor limit, in a child process (tests/Aio.RunnerHost, scenarios
/// many-connections-* and limited-server-*): 300 connections under a limit of 1,024 all echo, and a
/// server whose limit is lower than its client count keeps serving, accepts again as clients leave,
/// and never aborts. Linux only (RLIMIT_NOFILE, /proc).
/// </summary>
public abstract class DescriptorLimitTests : NetTestBase
{
    private static readonly TimeSpan ChildPatience = TimeSpan.FromSeconds(90);

    private string Suffix => Backend == LoopBackend.Portable ? "portable" : "epoll";

    [Aio.Tests.Loop.LinuxFact]
    public void Connections_300UnderALimitOf1024_AllEcho()
    {
        using Process child = StartChild("many-connections-" + Suffix);
        Task<string> errors = child.StandardError.ReadToEndAsync();
        string log = WaitForExit(child, errors);
        Assert.True(child.ExitCode == 0, $"the child failed ({child.ExitCode}):\n{log}");
        Assert.Contains("echoed=300 of 300 reports=0", log, StringComparison.Ordinal);
    }

    [Aio.Tests.Loop.LinuxFact]
    public void Server_LimitBelowItsClientCount_KeepsServingAndAcceptsAgainAsClientsLeave()
    {
        using Process child = StartChild("limited-server-" + Suffix);
        var early = new StringBuilder();
        int port = 0;
        while (child.StandardError.ReadLine() is { } line)
        {
            early.AppendLine(line);
            Match ready = Regex.Match(line, @"^ready port=(\d+)");
            if (ready.Success)
            {
                port = int.Parse(ready.Groups[1].Value, CultureInfo.InvariantCulture);
                break;
            }
        }

        Assert.True(port != 0, "the child never became ready:\n" + early);
        Task<string> errors = child.StandardError.ReadToEndAsync();
        const int clientCount = 60; // DescriptorLimits.LimitedServerClients
        var clients = new List<Socket>();
        try
        {
            // All connect at once: the kernel queues what the server cannot accept yet.
            for (int i = 0; i < clientCount; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = (int)ChildPatience.TotalMilliseconds };
                clients.Add(client);
                client.Connect(new IPEndPoint(IPAddress.Loopback, port));
            }

            // In accept order, each gets its echo and leaves, which lets the server take the next ones.
            for (int i = 0; i < clientCount; i++)
            {
                byte[] message = Encoding.ASCII.GetBytes($"client {i}\n");
                clients[i].Send(message);
                var echoed = new byte[message.Length];
                int received = 0;
                while (received < echoed.Length)
                {
                    int n = clients[i].Receive(echoed, received, echoed.Length - received, SocketFlags.None);
                    if (n == 0)
                    {
                        string childLog = child.WaitForExit(ChildPatience) ? errors.GetAwaiter().GetResult() : "(still running)";
                        Assert.Fail($"client {i}: the server closed the connection without an echo (child exit {(child.HasExited ? child.ExitCode : 0)}):\n{early}{childLog}");
                    }

                    received += n;
                }

                Assert.Equal(message, echoed);
                clients[i].Dispose();
            }
        }
        finally
        {
            foreach (Socket client in clients)
            {
                client.Dispose();
            }
        }

        string log = early + WaitForExit(child, errors);
        Assert.True(child.ExitCode == 0, $"the child failed ({child.ExitCode}):\n{log}");
        Match done = Regex.Match(log, @"done served=(\d+) most_at_once=(\d+) resource_reports=(\d+) other_reports=(\d+)");
        Assert.True(done.Success, log);
        Assert.Equal(clientCount, int.Parse(done.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.True(int.Parse(done.Groups[2].Value, CultureInfo.InvariantCulture) < clientCount, "the limit never held the server back:\n" + log);
        Assert.True(int.Parse(done.Groups[3].Value, CultureInfo.InvariantCulture) >= 1, "no EMFILE was reported:\n" + log);
        Assert.Equal(0, int.Parse(done.Groups[4].Value, CultureInfo.InvariantCulture));
    }

    private static Process StartChild(string scenario)
    {
        var start = new ProcessStartInfo("dotnet", [AcceptExhaustionTests.HostPath(), scenario])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = false,
            UseShellExecute = false,
        };
        start.Environment.Remove("AIO_DEBUG");
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the runner host");
    }

    private static string WaitForExit(Process child, Task<string> errors)
    {
        if (!child.WaitForExit(ChildPatience))
        {
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
            Assert.Fail("the child did not finish:\n" + errors.GetAwaiter().GetResult());
        }

        child.WaitForExit();
        return errors.GetAwaiter().GetResult();
    }
}

[Collection("net")]
public sealed class DescriptorLimitEpollTests : DescriptorLimitTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class DescriptorLimitPortableTests : DescriptorLimitTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
