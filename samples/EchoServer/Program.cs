// The TCP echo server of seed 001 (aiorun's README, from the asyncio streams documentation), on Aio
// with the streams API and the runner:
//
//     async def handle_echo(reader, writer):
//         data = await reader.read(100)
//         message = data.decode()
//         addr = writer.get_extra_info('peername')
//         print("Received %r from %r" % (message, addr))
//         print("Send: %r" % message)
//         writer.write(data)
//         await writer.drain()
//         print("Close the client socket")
//         writer.close()
//
//     async def main():
//         server = await asyncio.start_server(handle_echo, '127.0.0.1', 8888)
//         print('Serving on {}'.format(server.sockets[0].getsockname()))
//         try:
//             while True:
//                 await asyncio.sleep(10)
//         except asyncio.CancelledError:
//             server.close()
//             await server.wait_closed()
//
//     run(main())
//
// It prints the same lines (Python's repr of the strings and address tuples) and interoperates with
// the Python client (tests/interop/echo_interop.sh). Ctrl-C shuts it down in aiorun's steps, logged
// on standard error.
//
// Usage: dotnet run --project samples/EchoServer [-- --port N]
using System.Net;
using System.Net.Sockets;
using System.Text;
using Aio;
using Aio.Hosting;
using Aio.Net;
using Aio.Samples;

if (EchoArguments.Parse(args, "EchoServer [--port N]", allowMessage: false) is not { } arguments)
{
    return 2;
}

bool failed = false;
int exitCode = Runner.Run(async () =>
{
    Server server;
    try
    {
        server = await Streams.StartServerAsync(HandleEchoAsync, "127.0.0.1", arguments.Port);
    }
    catch (SocketException error)
    {
        Console.Error.WriteLine($"Cannot serve on 127.0.0.1:{arguments.Port}: {error.Message}");
        failed = true;
        EventLoop.GetRunningLoop().Stop();
        return;
    }

    Console.WriteLine($"Serving on {PythonRepr.Of(server.Sockets[0].LocalEndPoint!)}");
    try
    {
        // Wait for cancellation: the runner cancels every task at shutdown.
        while (true)
        {
            await LoopTask.Sleep(TimeSpan.FromSeconds(10));
        }
    }
    catch (CancelledError)
    {
        server.Close();
        await server.WaitClosedAsync();
    }
});
return failed ? 1 : exitCode;

static async Task HandleEchoAsync(AsyncStreamReader reader, AsyncStreamWriter writer)
{
    byte[] data = await reader.ReadAsync(100);
    string message = Encoding.UTF8.GetString(data);
    var address = (EndPoint)writer.GetExtraInfo("peername")!;
    Console.WriteLine($"Received {PythonRepr.Of(message)} from {PythonRepr.Of(address)}");
    Console.WriteLine($"Send: {PythonRepr.Of(message)}");
    writer.Write(data);
    await writer.DrainAsync();
    Console.WriteLine("Close the client socket");
    writer.Close();
}
