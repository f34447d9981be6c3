// The echo workload's load client (docs/design.md "Performance design", issue 8):
//   Aio.Bench echo-client --port P [--conns 10] [--size 1024] [--seconds 5] [--mode loop|threads]
// keeps `conns` connections to 127.0.0.1:P; each sends `size` bytes, waits until all `size` bytes
// have come back, and sends again, for `seconds`. It prints one JSON line:
//   {"rps": R, "p50_us": L, "p99_us": L, "errors": E, "round_trips": N, "seconds": S, "conns": C, "size": B, "mode": M}
// where the latency of a round trip runs from the send to the last byte back (1 µs buckets). It
// exits 1 when a connection failed or no round trip completed.
//
// The same client measures every server, so it must not be the bottleneck. Two ways to drive it:
// - loop (default): one thread, an Aio epoll loop, one Protocol per connection; the whole client
//   costs one core at most, which leaves the other core of a 2-core machine to the server.
// - threads: one thread per connection with plain blocking sockets.
// On the 2-core machine of the benchmarks the loop client gave clearly higher round trips/s against
// the fastest servers (C epoll, Aio protocol: ten client threads fight the server for two cores;
// see docs/benchmarks.md, "Notes"), so it is the default and bench/compare.py uses it for every server.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Aio.Net;

namespace Aio.Bench;

/// <summary>The load client of the echo workload.</summary>
internal static class EchoClient
{
    public static int Run(int port, int conns, int size, double seconds, string mode)
    {
        if (conns < 1 || size < 1 || seconds <= 0)
        {
            Console.Error.WriteLine("--conns and --size must be at least 1 and --seconds above 0");
            return 2;
        }

        Histogram histogram;
        long roundTrips;
        int errors;
        double elapsed;
        switch (mode)
        {
            case "loop":
                (histogram, roundTrips, errors, elapsed) = RunOnLoop(port, conns, size, seconds);
                break;
            case "threads":
                (histogram, roundTrips, errors, elapsed) = RunOnThreads(port, conns, size, seconds);
                break;
            default:
                Console.Error.WriteLine($"unknown --mode '{mode}'; use loop or threads");
                return 2;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"rps\": {roundTrips / elapsed:F1}, \"p50_us\": {histogram.Percentile(0.50)}, \"p99_us\": {histogram.Percentile(0.99)}, " +
            $"\"errors\": {errors}, \"round_trips\": {roundTrips}, \"seconds\": {elapsed:F3}, \"conns\": {conns}, \"size\": {size}, \"mode\": \"{mode}\"}}"));
        return errors == 0 && roundTrips > 0 ? 0 : 1;
    }

    private static (Histogram, long, int, double) RunOnLoop(int port, int conns, int size, double seconds)
    {
        using var loop = new EventLoop(new EventLoopOptions { Backend = LoopBackend.Epoll });
        var run = new LoopRun(loop, size, conns);
        var clients = new LoopClient?[conns];
        loop.RunUntilComplete(async () =>
        {
            for (int i = 0; i < conns; i++)
            {
                var client = new LoopClient(run);
                try
                {
                    await Network.CreateConnectionAsync(() => client, "127.0.0.1", port);
                    clients[i] = client;
                }
                catch (SocketException error)
                {
                    Console.Error.WriteLine($"connect: {error.Message}");
                    run.Errors++;
                    run.Active--;
                }
            }
        });

        long start = Stopwatch.GetTimestamp();
        run.Deadline = start + (long)(seconds * Stopwatch.Frequency);
        foreach (LoopClient? client in clients)
        {
            client?.Send();
        }

        if (run.Active > 0)
        {
            loop.RunForever(); // the last connection to pass the deadline stops the loop
        }

        double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        foreach (LoopClient? client in clients)
        {
            client?.Close();
        }

        loop.RunUntilComplete(async () => await LoopTask.Sleep(TimeSpan.Zero)); // let the closes finish
        return (run.Histogram, run.RoundTrips, run.Errors, elapsed);
    }

    /// <summary>What the loop client's connections share: the deadline, the counts, the histogram.</summary>
    private sealed class LoopRun(EventLoop loop, int size, int active)
    {
        public EventLoop Loop { get; } = loop;

        public byte[] Message { get; } = CreateMessage(size);

        public Histogram Histogram { get; } = new();

        public long Deadline { get; set; }

        public long RoundTrips { get; set; }

        public int Errors { get; set; }

        public int Active { get; set; } = active;

        public void Finished()
        {
            if (--Active == 0)
            {
                Loop.Stop();
            }
        }
    }

    /// <summary>One connection of the loop client: send, count bytes back, record, send again.</summary>
    private sealed class LoopClient(LoopRun run) : Protocol
    {
        private ITransport? _transport;
        private int _received;
        private long _sentAt;
        private bool _done;

        public override void ConnectionMade(ITransport transport) => _transport = transport;

        public void Send()
        {
            _received = 0;
            _sentAt = Stopwatch.GetTimestamp();
            _transport!.Write(run.Message);
        }

        public void Close() => _transport?.Close();

        public override void DataReceived(ReadOnlySpan<byte> data)
        {
            _received += data.Length;
            if (_received < run.Message.Length)
            {
                return;
            }

            long now = Stopwatch.GetTimestamp();
            if (_received > run.Message.Length)
            {
                Fail("more bytes came back than were sent");
                return;
            }

            run.RoundTrips++;
            run.Histogram.Add(now - _sentAt);
            if (now < run.Deadline)
            {
                Send();
            }
            else
            {
                Finish();
            }
        }

        public override bool EofReceived()
        {
            Fail("the server closed the connection");
            return false;
        }

        public override void ConnectionLost(Exception? exception)
        {
            if (exception is not null)
            {
                Fail(exception.Message);
            }
        }

        private void Fail(string why)
        {
            if (_done)
            {
                return;
            }

            Console.Error.WriteLine($"connection failed: {why}");
            run.Errors++;
            Finish();
        }

        private void Finish()
        {
            if (!_done)
            {
                _done = true;
                run.Finished();
            }
        }
    }

    private static (Histogram, long, int, double) RunOnThreads(int port, int conns, int size, double seconds)
    {
        var histograms = new Histogram[conns];
        var roundTrips = new long[conns];
        var failed = new bool[conns];
        var sockets = new Socket[conns];
        for (int i = 0; i < conns; i++)
        {
            sockets[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            sockets[i].Connect(IPAddress.Loopback, port);
            histograms[i] = new Histogram();
        }

        long start = Stopwatch.GetTimestamp();
        long deadline = start + (long)(seconds * Stopwatch.Frequency);
        var threads = new Thread[conns];
        for (int i = 0; i < conns; i++)
        {
            int index = i;
            threads[i] = new Thread(() =>
            {
                try
                {
                    roundTrips[index] = Blocking(sockets[index], size, deadline, histograms[index]);
                }
                catch (SocketException error)
                {
                    Console.Error.WriteLine($"connection failed: {error.Message}");
                    failed[index] = true;
                }
            }) { IsBackground = true };
            threads[i].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        foreach (Socket socket in sockets)
        {
            socket.Dispose();
        }

        for (int i = 1; i < conns; i++)
        {
            histograms[0].Merge(histograms[i]);
        }

        return (histograms[0], roundTrips.Sum(), failed.Count(f => f), elapsed);
    }

    private static long Blocking(Socket socket, int size, long deadline, Histogram histogram)
    {
        byte[] message = CreateMessage(size);
        byte[] buffer = new byte[Math.Max(size, 64 * 1024)];
        long count = 0;
        long now;
        do
        {
            long sentAt = Stopwatch.GetTimestamp();
            for (int sent = 0; sent < size;)
            {
                sent += socket.Send(message, sent, size - sent, SocketFlags.None);
            }

            for (int received = 0; received < size;)
            {
                int n = socket.Receive(buffer, 0, buffer.Length, SocketFlags.None);
                if (n == 0)
                {
                    throw new SocketException((int)SocketError.ConnectionReset);
                }

                received += n;
            }

            now = Stopwatch.GetTimestamp();
            histogram.Add(now - sentAt);
            count++;
        }
        while (now < deadline);
        return count;
    }

    private static byte[] CreateMessage(int size)
    {
        byte[] message = new byte[size];
        for (int i = 0; i < size; i++)
        {
            message[i] = (byte)('a' + (i % 26));
        }

        return message;
    }

    /// <summary>Round-trip latencies in 1 µs buckets up to 100 ms, and one bucket for anything longer.</summary>
    private sealed class Histogram
    {
        private const int Buckets = 100_000;
        private readonly long[] _counts = new long[Buckets + 1];
        private long _total;

        public void Add(long stopwatchTicks)
        {
            long micros = stopwatchTicks * 1_000_000 / Stopwatch.Frequency;
            _counts[Math.Min(micros, Buckets)]++;
            _total++;
        }

        public void Merge(Histogram other)
        {
            for (int i = 0; i <= Buckets; i++)
            {
                _counts[i] += other._counts[i];
            }

            _total += other._total;
        }

        /// <summary>The smallest bucket (µs) at or below which the fraction <paramref name="p"/> of the round trips fall.</summary>
        public long Percentile(double p)
        {
            long rank = (long)Math.Ceiling(p * _total);
            long seen = 0;
            for (int i = 0; i <= Buckets; i++)
            {
                seen += _counts[i];
                if (seen >= rank && seen > 0)
                {
                    return i;
                }
            }

            return 0;
        }
    }
}
