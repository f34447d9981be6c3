using Aio.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Aio.Extensions.Hosting.Tests.Docs;

/// <summary>
/// The Generic Host recipe of docs/porting-from-asyncio.md, compiled and run (Aio.Tests'
/// PortingCookbookExamples checks the cookbook holds the same code).
/// </summary>
public sealed class PortingCookbookHostExample
{
    [Fact]
    public async Task Recipe21_GenericHost()
    {
        string[] args = ["--Aio:Runner:TaskShutdownTimeout=10s", "--Aio:Runner:StopWhenMainCompletes=true"];
        int mainRuns = 0;
        // cookbook: host
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
        builder.Services.AddEventLoopRunner(builder.Configuration, async services =>
        {
            IHostEnvironment environment = services.GetRequiredService<IHostEnvironment>();   // the host's services
            Console.WriteLine($"main runs on the loop in {environment.EnvironmentName}");
            mainRuns++;
            await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));   // SIGTERM / Ctrl-C: aiorun's shutdown steps
        });
        using IHost host = builder.Build();
        await host.RunAsync();
        // end cookbook

        Assert.Equal(1, mainRuns);
    }
}
