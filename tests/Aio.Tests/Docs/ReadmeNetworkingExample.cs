using System.Net;
using System.Text;
using Aio.Net;

namespace Aio.Tests.Docs;

/// <summary>The README's networking example, compiled and run as written (plus an assertion).</summary>
[Collection("net")]
public sealed class ReadmeNetworkingExample
{
    [Fact]
    public void ReadmeExample_EchoesALine()
    {
        using var loop = new EventLoop();
        string answer = loop.RunUntilComplete(async () =>
        {
            await using Server server = await Streams.StartServerAsync(async (reader, writer) =>
            {
                byte[] line = await reader.ReadLineAsync();      // through '\n'; the reader's limit bounds memory
                writer.Write(line);
                await writer.DrainAsync();                        // waits while the peer reads slowly
                writer.Close();
            }, "127.0.0.1", 0);                                   // port 0: the system picks a free one

            int port = ((IPEndPoint)server.Sockets[0].LocalEndPoint!).Port;
            (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", port);
            writer.Write("ping\n"u8);
            string reply = Encoding.UTF8.GetString(await reader.ReadLineAsync());   // "ping\n"
            writer.Close();
            await writer.WaitClosedAsync();
            return reply;
        });
        Assert.Equal("ping\n", answer);
    }
}
