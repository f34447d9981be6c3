// The TCP echo client of seed 001 (aiorun's README, from the asyncio streams documentation), on Aio
// with the streams API and the runner:
//
//     async def tcp_echo_client(message):
//         reader, writer = await asyncio.open_connection('127.0.0.1', 8888)
//         print('Send: %r' % message)
//         writer.write(message.encode())
//         data = await reader.read(100)
//         print('Received: %r' % data.decode())
//         print('Close the socket')
//         writer.close()
//         asyncio.get_event_loop().stop()  # Exit after one msg like original
//
//     message = 'Hello World!'
//     run(tcp_echo_client(message))
//
// It prints the same lines (Python's repr of the strings) and interoperates with the Python server
// (tests/interop/echo_interop.sh). When the connection fails, the error is logged and the exit code is 1.
//
// Usage: dotnet run --project samples/EchoClient [-- --port N] [message]
using System.Text;
using Aio;
using Aio.Hosting;
using Aio.Net;
using Aio.Samples;

if (EchoArguments.Parse(args, "EchoClient [--port N] [message]", allowMessage: true) is not { } arguments)
{
    return 2;
}

string message = arguments.Message ?? "Hello World!";
return Runner.Run(
    async () =>
    {
        (AsyncStreamReader reader, AsyncStreamWriter writer) = await Streams.OpenConnectionAsync("127.0.0.1", arguments.Port);
        Console.WriteLine($"Send: {PythonRepr.Of(message)}");
        writer.Write(Encoding.UTF8.GetBytes(message));
        byte[] data = await reader.ReadAsync(100);
        Console.WriteLine($"Received: {PythonRepr.Of(Encoding.UTF8.GetString(data))}");
        Console.WriteLine("Close the socket");
        writer.Close();
        EventLoop.GetRunningLoop().Stop(); // Exit after one msg like original
    },
    new RunnerOptions { StopOnUnhandledErrors = true });
