// The workload CLI of docs/design.md "Performance design" (issue 8):
//   dotnet run -c Release --project bench/Aio.Bench -- WORKLOAD [--backend epoll|portable] [--n N]
// prints one JSON line: {"impl": ..., "workload": ..., "ops": N, "seconds": S, "ops_per_s": R}
// ({"impl": ..., "workload": "memory", "ops": N, "bytes_per_task": B, "managed_bytes_per_task": M}
// for memory, see Memory.cs). Each timed run does one untimed warm-up pass of the same size (so the
// JIT has tiered up), then times one pass.
// The echo workload has a server and a client (EchoServer.cs, EchoClient.cs):
//   ... -- echo-server --port P [--api protocol|streams|streams-bytes] [--backend epoll|portable]
//   ... -- echo-client --port P [--conns 10] [--size 1024] [--seconds 5] [--mode loop|threads]
using System.Globalization;
using Aio;
using Aio.Bench;

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: Aio.Bench WORKLOAD [--backend epoll|portable] [--n N]");
    Console.Error.WriteLine("workloads: " + string.Join(", ", Workloads.Names) + ", memory, memory-delegate");
    Console.Error.WriteLine("       Aio.Bench echo-server --port P [--api protocol|streams|streams-bytes] [--backend epoll|portable]");
    Console.Error.WriteLine("       Aio.Bench echo-client --port P [--conns 10] [--size 1024] [--seconds 5] [--mode loop|threads]");
    return 2;
}

string workload = args[0];
LoopBackend backend = LoopBackend.Default;
long? n = null;
int? port = null;
string api = "protocol";
int conns = 10;
int size = 1024;
double echoSeconds = 5;
string mode = "loop";
for (int i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--backend" when i + 1 < args.Length:
            backend = Enum.Parse<LoopBackend>(args[++i], ignoreCase: true);
            break;
        case "--n" when i + 1 < args.Length:
            n = long.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--port" when i + 1 < args.Length:
            port = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--api" when i + 1 < args.Length:
            api = args[++i];
            break;
        case "--conns" when i + 1 < args.Length:
            conns = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--size" when i + 1 < args.Length:
            size = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--seconds" when i + 1 < args.Length:
            echoSeconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--mode" when i + 1 < args.Length:
            mode = args[++i];
            break;
        default:
            Console.Error.WriteLine($"unknown argument: {args[i]}");
            return 2;
    }
}

var options = new EventLoopOptions { Backend = backend };
if (workload is "echo-server" or "echo-client")
{
    if (port is not { } echoPort || echoPort is < 0 or > 65535 || (echoPort == 0 && workload == "echo-client"))
    {
        Console.Error.WriteLine($"{workload} needs --port P (0-65535; the server takes 0 for a free port and prints it)");
        return 2;
    }

    return workload == "echo-server"
        ? EchoServer.Run(options, echoPort, api)
        : EchoClient.Run(echoPort, conns, size, echoSeconds, mode);
}

string impl = "aio-" + (EventLoopOptions.Resolve(backend) == LoopBackend.Epoll ? "epoll" : "portable");
if (workload is "memory" or "memory-delegate")
{
    long tasks = n ?? Memory.DefaultTasks;
    (double rss, double managed) = Memory.Run(options, tasks, delegates: workload == "memory-delegate");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{{\"impl\": \"{impl}\", \"workload\": \"{workload}\", \"ops\": {tasks}, \"bytes_per_task\": {rss:F1}, \"managed_bytes_per_task\": {managed:F1}}}"));
    return 0;
}

if (!Workloads.TryGet(workload, out Func<EventLoopOptions, long, double>? run, out long defaultOps))
{
    Console.Error.WriteLine($"unknown workload '{workload}'; one of: {string.Join(", ", Workloads.Names)}, memory, memory-delegate");
    return 2;
}

long ops = n ?? defaultOps;
run(options, ops);
double seconds = run(options, ops);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{{\"impl\": \"{impl}\", \"workload\": \"{workload}\", \"ops\": {ops}, \"seconds\": {seconds:F6}, \"ops_per_s\": {ops / seconds:F1}}}"));
return 0;
