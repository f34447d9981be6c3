using System.Net;
using BenchmarkDotNet.Attributes;
using Aio.Net;

namespace Aio.Micro;

/// <summary>
/// Stream read/write: TCP echo round trips of 1 KiB over loopback, server and client on the same
/// loop, so one operation is one write, one read and one echo on each side. The client is a plain
/// Protocol that allocates nothing; what the memory diagnoser reports per operation is the loop's and
/// the server's. Steady-state goal (docs/design.md "Performance design"): 0 bytes per echo round trip.
/// </summary>
[MemoryDiagnoser]
public class EchoBenchmarks
{
    /// <summary>Round trips per benchmark invocation.</summary>
    public const int Ops = 2_000;

    private EventLoop _loop = null!;
    private Server _server = null!;
    private Client _client = null!;

    /// <summary>
    /// The server's API: a Protocol writing back in DataReceived; the streams read/write/drain loop
    /// reading into a buffer (ReadAsync(Memory&lt;byte&gt;)); or that loop with ReadAsync(n), a new array per read.
    /// </summary>
    [Params("protocol", "streams", "streams-bytes")]
    public string Api { get; set; } = "protocol";

    /// <summary>The loop's backend.</summary>
    [Params(LoopBackend.Epoll, LoopBackend.Portable)]
    public LoopBackend Backend { get; set; }

    /// <summary>Starts the server and connects the client.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _loop = new EventLoop(new EventLoopOptions { Backend = Backend });
        _client = new Client(_loop);
        _loop.RunUntilComplete(async () =>
        {
            _server = Api switch
            {
                "protocol" => await Network.CreateServerAsync(() => new EchoProtocol(), "127.0.0.1", 0),
                "streams" => await Streams.StartServerAsync(EchoAsync, "127.0.0.1", 0),
                _ => await Streams.StartServerAsync(EchoBytesAsync, "127.0.0.1", 0),
            };
            int port = ((IPEndPoint)_server.Sockets[0].LocalEndPoint!).Port;
            await Network.CreateConnectionAsync(() => _client, "127.0.0.1", port);
        });
    }

    /// <summary>Closes the connection, the server and the loop.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Close();
        _server.Close();
        _server.AbortClients();
        _loop.RunUntilComplete(_server.WaitClosedAsync());
        _loop.Dispose();
    }

    /// <summary>Ops echo round trips of 1 KiB, one at a time.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public void EchoRoundTrip()
    {
        _client.Start(Ops);
        _loop.RunForever();
    }

    private static async Task EchoAsync(AsyncStreamReader reader, AsyncStreamWriter writer)
    {
        var buffer = new byte[64 * 1024];
        int count;
        while ((count = await reader.ReadAsync(buffer)) > 0)
        {
            writer.Write(buffer.AsSpan(0, count));
            await writer.DrainAsync();
        }

        writer.Close();
    }

    private static async Task EchoBytesAsync(AsyncStreamReader reader, AsyncStreamWriter writer)
    {
        while (true)
        {
            byte[] data = await reader.ReadAsync(64 * 1024);
            if (data.Length == 0)
            {
                break;
            }

            writer.Write(data);
            await writer.DrainAsync();
        }

        writer.Close();
    }

    private sealed class EchoProtocol : Protocol
    {
        private ITransport? _transport;

        public override void ConnectionMade(ITransport transport) => _transport = transport;

        public override void DataReceived(ReadOnlySpan<byte> data) => _transport!.Write(data);
    }

    /// <summary>Sends 1 KiB, waits for it all back, sends again; stops the loop after the last one.</summary>
    private sealed class Client(EventLoop loop) : Protocol
    {
        private readonly byte[] _message = new byte[1024];
        private ITransport? _transport;
        private int _remaining;
        private int _received;

        public override void ConnectionMade(ITransport transport) => _transport = transport;

        public void Start(int roundTrips)
        {
            _remaining = roundTrips;
            _received = 0;
            _transport!.Write(_message);
        }

        public void Close() => _transport?.Close();

        public override void DataReceived(ReadOnlySpan<byte> data)
        {
            _received += data.Length;
            if (_received < _message.Length)
            {
                return;
            }

            _received = 0;
            if (--_remaining == 0)
            {
                loop.Stop();
            }
            else
            {
                _transport!.Write(_message);
            }
        }
    }
}
