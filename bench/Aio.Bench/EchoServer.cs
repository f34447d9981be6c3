// The echo workload's server (docs/design.md "Performance design", issue 8):
//   Aio.Bench echo-server --port P [--api protocol|streams|streams-bytes] [--backend epoll|portable]
// serves TCP echo on 127.0.0.1:P (0 picks a free port) until SIGTERM or SIGINT. Its first line on
// standard output is `{"port": N}` (the port it listens on, so a caller can pass 0 and avoid racing
// for a free port).
//
// - protocol: a Protocol whose DataReceived writes the received bytes straight back (asyncio's
//   EchoServerProtocol in the transports-and-protocols documentation).
// - streams: Streams.StartServerAsync with the read/write/drain loop of the asyncio streams
//   documentation's echo server, reading up to 64 KiB at a time (as every peer does) into one
//   pooled buffer per connection with ReadAsync(Memory<byte>), the .NET form of read(n).
// - streams-bytes: the same loop with ReadAsync(65536), which returns a new byte[] per read as
//   asyncio's read(n) returns new bytes.
//
// Allocation probe: on SIGUSR1 the server prints one line `{"allocated_bytes": A, "bytes_echoed": B}`
// with the process's total managed allocations (GC.GetTotalAllocatedBytes, precise) and the bytes it
// has echoed so far. bench/compare.py takes one reading before and one after a client run; the
// difference divided by the round trips is the allocation per echo round trip in the steady state
// (the target is 0). The reading itself allocates a few hundred bytes on the signal thread.
using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Aio.Net;

namespace Aio.Bench;

/// <summary>The Aio echo server of the echo workload, on either API and either backend.</summary>
internal static class EchoServer
{
    private const int ReadSize = 64 * 1024;
    private const PosixSignal SigUsr1 = (PosixSignal)10; // Linux's SIGUSR1: .NET passes raw numbers through

    // Written on the loop thread only; read (racily, which is fine for a probe) by the signal thread.
    private static long s_bytesEchoed;

    public static int Run(EventLoopOptions options, int port, string api)
    {
        if (api is not ("protocol" or "streams" or "streams-bytes"))
        {
            Console.Error.WriteLine($"unknown --api '{api}'; use protocol, streams or streams-bytes");
            return 2;
        }

        using var loop = new EventLoop(options);
        loop.AddSignalHandler(PosixSignal.SIGTERM, loop.Stop);
        loop.AddSignalHandler(PosixSignal.SIGINT, loop.Stop);
        using var probe = PosixSignalRegistration.Create(SigUsr1, context =>
        {
            context.Cancel = true;
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            long echoed = Volatile.Read(ref s_bytesEchoed);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"allocated_bytes\": {allocated}, \"bytes_echoed\": {echoed}}}"));
            Console.Out.Flush();
        });

        Server server = loop.RunUntilComplete(async () => api switch
        {
            "protocol" => await Network.CreateServerAsync(() => new EchoProtocol(), "127.0.0.1", port),
            "streams" => await Streams.StartServerAsync(HandleAsync, "127.0.0.1", port),
            _ => await Streams.StartServerAsync(HandleBytesAsync, "127.0.0.1", port),
        });
        int bound = ((IPEndPoint)server.Sockets[0].LocalEndPoint!).Port;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"port\": {bound}}}"));
        Console.Out.Flush();

        loop.RunForever();
        server.Close();
        server.AbortClients();
        loop.RunUntilComplete(server.WaitClosedAsync());
        return 0;
    }

    /// <summary>
    /// The streams API echo: read what is there (up to 64 KiB) into the connection's buffer, write it,
    /// drain; until EOF. The buffer is pooled, so a new connection allocates no 64 KiB array.
    /// </summary>
    private static async Task HandleAsync(AsyncStreamReader reader, AsyncStreamWriter writer)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
        try
        {
            int count;
            while ((count = await reader.ReadAsync(buffer.AsMemory(0, ReadSize))) > 0)
            {
                writer.Write(buffer.AsSpan(0, count));
                s_bytesEchoed += count;
                await writer.DrainAsync();
            }
        }
        catch (SocketException)
        {
            // The client went away mid-write: the benchmark's ordinary end of a connection.
        }
        finally
        {
            writer.Close();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The asyncio-faithful streams echo: as <see cref="HandleAsync"/>, each read returning a new array.</summary>
    private static async Task HandleBytesAsync(AsyncStreamReader reader, AsyncStreamWriter writer)
    {
        try
        {
            while (true)
            {
                byte[] data = await reader.ReadAsync(ReadSize);
                if (data.Length == 0)
                {
                    break;
                }

                writer.Write(data);
                s_bytesEchoed += data.Length;
                await writer.DrainAsync();
            }
        }
        catch (SocketException)
        {
            // The client went away mid-write: the benchmark's ordinary end of a connection.
        }
        finally
        {
            writer.Close();
        }
    }

    /// <summary>The protocol API echo: every received chunk is written straight back.</summary>
    private sealed class EchoProtocol : Protocol
    {
        private ITransport? _transport;

        public override void ConnectionMade(ITransport transport) => _transport = transport;

        public override void DataReceived(ReadOnlySpan<byte> data)
        {
            _transport!.Write(data);
            s_bytesEchoed += data.Length;
        }
    }
}
