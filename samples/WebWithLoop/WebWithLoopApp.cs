// The sample: an ASP.NET Core minimal API beside a shared Aio loop. ASP.NET owns the main thread
// and its thread pool; the loop runs in its own thread for the host's lifetime (the hosted service
// that AddSharedEventLoop registers holds a token), and request handlers hand work to it with
// AwaitAsync. The single-threaded CounterStore is touched only there.
using System.Globalization;
using Aio;
using Aio.Hosting;

namespace WebWithLoop;

/// <summary>Builds the web application; <see cref="Program"/> runs it, tests start it on port 0.</summary>
public static class WebWithLoopApp
{
    /// <summary>
    /// Builds the application from <paramref name="args"/> (ASP.NET's usual sources: appsettings.json,
    /// environment variables, command line). It listens where ASP.NET's standard settings say
    /// (<c>--urls http://0.0.0.0:8080</c>, <c>ASPNETCORE_URLS</c>, <c>ASPNETCORE_HTTP_PORTS</c>); without
    /// them, on http://127.0.0.1 only, on the port given by the <c>Port</c> key (default 5080;
    /// <c>--port 0</c> picks a free one; read it from <c>app.Urls</c> after start). The shared loop is
    /// configured from <c>Aio:SharedLoop</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The port is not a number from 0 to 65535.</exception>
    public static WebApplication Create(string[] args)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
        bool urlsGiven = !string.IsNullOrEmpty(builder.Configuration["urls"]) ||
            !string.IsNullOrEmpty(builder.Configuration["http_ports"]) ||
            !string.IsNullOrEmpty(builder.Configuration["https_ports"]);
        if (!urlsGiven)
        {
            string portText = builder.Configuration["Port"] ?? "5080";
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            {
                throw new InvalidOperationException($"Invalid configuration value '{portText}' at 'Port': use a TCP port from 0 to 65535 (0 picks a free one).");
            }

            builder.WebHost.UseUrls(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"));
        }

        builder.Services.AddSharedEventLoop(builder.Configuration);
        builder.Services.AddSingleton<CounterStore>();

        WebApplication app = builder.Build();
        app.MapGet("/", () => "WebWithLoop: POST /counters/{name}/increment?by=1, GET /counters/{name}, GET /counters\n");

        app.MapPost("/counters/{name}/increment", async (string name, long? by, SharedEventLoop loop, CounterStore store, CancellationToken aborted) =>
        {
            long value = await loop.AwaitAsync(
                async () =>
                {
                    await LoopTask.Yield(); // any loop-side async work: timers, Aio sockets, queues...
                    return store.Increment(name, by ?? 1);
                },
                aborted);
            return Results.Ok(new CounterValue(name, value));
        });

        app.MapGet("/counters/{name}", async (string name, SharedEventLoop loop, CounterStore store, CancellationToken aborted) =>
        {
            long? value = await loop.AwaitAsync(() => Task.FromResult(store.Get(name)), aborted);
            return value is { } found ? Results.Ok(new CounterValue(name, found)) : Results.NotFound();
        });

        app.MapGet("/counters", async (SharedEventLoop loop, CounterStore store, CancellationToken aborted) =>
            Results.Ok(await loop.AwaitAsync(() => Task.FromResult(store.Snapshot()), aborted)));

        return app;
    }
}

/// <summary>One counter's value, as the API returns it.</summary>
/// <param name="Name">The counter's name.</param>
/// <param name="Value">Its value.</param>
public sealed record CounterValue(string Name, long Value);
