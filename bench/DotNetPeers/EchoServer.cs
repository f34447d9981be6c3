// The plain .NET peer of the echo workload (docs/design.md "Performance design", issue 8): a TCP echo
// server written the way a .NET developer would without Aio — Socket async APIs, one async method
// per connection, continuations on the thread pool.
//   DotNetPeers echo-server --port P
// serves 127.0.0.1:P (0 picks a free port) until SIGTERM or SIGINT, printing {"port": N} on its
// first line once it listens. Each connection: ReceiveAsync up to 64 KiB into its own buffer, then
// SendAsync all of it back, until EOF (as every peer does).
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

internal static class EchoServer
{
    private const int ReadSize = 64 * 1024;

    public static int Run(int port)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1024);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"port\": {((IPEndPoint)listener.LocalEndPoint!).Port}}}"));
        Console.Out.Flush();

        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
        try
        {
            AcceptAsync(listener, stop.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            // SIGTERM or SIGINT: done.
        }

        return 0;
    }

    private static async Task AcceptAsync(Socket listener, CancellationToken stop)
    {
        while (true)
        {
            Socket client = await listener.AcceptAsync(stop);
            client.NoDelay = true;
            _ = EchoAsync(client);
        }
    }

    private static async Task EchoAsync(Socket client)
    {
        using (client)
        {
            byte[] buffer = new byte[ReadSize];
            try
            {
                while (true)
                {
                    int n = await client.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
                    if (n == 0)
                    {
                        return;
                    }

                    for (int sent = 0; sent < n;)
                    {
                        sent += await client.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None);
                    }
                }
            }
            catch (SocketException)
            {
                // The client went away: the ordinary end of a connection.
            }
        }
    }
}
