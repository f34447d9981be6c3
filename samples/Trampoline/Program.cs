// The trampoline of seed 002 ("AsyncIO Event Loop"), on an Aio loop:
//
//     loop.call_soon(print_now); loop.call_soon(print_now)
//     def trampoline(name=''): print(name, end=' '); print_now(); loop.call_later(0.5, trampoline, name)
//     loop.call_soon(trampoline);                        loop.call_later(8, loop.stop); loop.run_forever()
//     loop.call_soon(trampoline, 'First'); ... 'Third';  loop.call_later(8, loop.stop); loop.run_forever()
//
// Usage: dotnet run --project samples/Trampoline [-- --seconds 8 --interval 0.5]
using System.Globalization;
using Aio;

double seconds = 8;
double interval = 0.5;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--seconds" when i + 1 < args.Length:
            seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--interval" when i + 1 < args.Length:
            interval = double.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine("usage: Trampoline [--seconds 8] [--interval 0.5]");
            return 2;
    }
}

using EventLoop loop = EventLoop.NewEventLoop();
EventLoop.SetEventLoop(loop);

// call_soon(print_now) twice, then run_until_complete(sleep(...)).
loop.CallSoon(PrintNow);
loop.CallSoon(PrintNow);
loop.RunUntilComplete(() => Task.Delay(TimeSpan.FromSeconds(Math.Min(3, seconds))));

// One anonymous trampoline, stopped after `seconds`.
loop.CallSoon(() => Trampoline(""));
loop.CallLater(TimeSpan.FromSeconds(seconds), loop.Stop);
loop.RunForever();
Console.WriteLine();

// Three named trampolines interleaving on one thread. The first run's trampoline is still
// scheduled, exactly as in the seed, where it keeps printing alongside the named ones.
foreach (string name in new[] { "First", "Second", "Third" })
{
    loop.CallSoon(() => Trampoline(name));
}

loop.CallLater(TimeSpan.FromSeconds(seconds), loop.Stop);
loop.RunForever();
return 0;

void PrintNow() => Console.WriteLine(DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture));

void Trampoline(string name)
{
    Console.Write(name + " ");
    PrintNow();
    loop.CallLater(TimeSpan.FromSeconds(interval), () => Trampoline(name));
}
