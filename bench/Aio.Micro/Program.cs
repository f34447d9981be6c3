// BenchmarkDotNet micro benchmarks of the loop's hot paths (issue 8), with the memory diagnoser:
//   dotnet run -c Release --project bench/Aio.Micro -- --filter '*'            (all, default job)
//   dotnet run -c Release --project bench/Aio.Micro -- --job short --filter '*CallSoon*'
//   dotnet run -c Release --project bench/Aio.Micro -- --job short --filter '*Echo*'   (stream read/write: echo round trips)
// Each benchmark does Ops operations per invocation (OperationsPerInvoke), so the figures are per
// operation and the per-invocation cost of entering and leaving the loop is spread over them.
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Aio.Micro.LoopBenchmarks).Assembly).Run(args);
