using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Aio.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using WebWithLoop;

namespace Aio.Extensions.Hosting.Tests;

/// <summary>
/// The WebWithLoop sample end to end: Kestrel on 127.0.0.1 with port 0, real HTTP requests from
/// several threads, and the single-threaded store on the shared loop checked for consistency.
/// </summary>
public sealed class WebWithLoopTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WebSample_ConcurrentRequestsFromSeveralThreads_StateOnTheLoopIsConsistent()
    {
        const int Threads = 6;
        const int RequestsPerThread = 25;
        const int Counters = 3;
        SharedEventLoop shared;
        WebApplication app = WebWithLoopApp.Create(
            ["--port", "0", "--Logging:LogLevel:Default", "Warning", "--Aio:SharedLoop:StopTimeout", "1s"]);
        await using (app.ConfigureAwait(false))
        {
            await app.StartAsync();
            shared = app.Services.GetRequiredService<SharedEventLoop>();
            try
            {
                var address = new Uri(Assert.Single(app.Urls));
                Assert.Equal("127.0.0.1", address.Host);
                Assert.NotEqual(0, address.Port);
                using var client = new HttpClient { BaseAddress = address, Timeout = Patience };

                var seen = new ConcurrentDictionary<string, ConcurrentBag<long>>();
                Task[] callers = [.. Enumerable.Range(0, Threads).Select(n => OnThread(() =>
                {
                    for (int i = 0; i < RequestsPerThread; i++)
                    {
                        string name = $"c{(n + i) % Counters}";
                        using var request = new HttpRequestMessage(HttpMethod.Post, $"/counters/{name}/increment");
                        using HttpResponseMessage response = client.Send(request);
                        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                        CounterValue value = Read<CounterValue>(response);
                        Assert.Equal(name, value.Name);
                        seen.GetOrAdd(name, _ => []).Add(value.Value);
                    }
                }))];
                await Task.WhenAll(callers).WaitAsync(Patience);

                // Every increment returned a distinct value: exactly 1..count for each counter.
                foreach ((string name, ConcurrentBag<long> values) in seen)
                {
                    Assert.Equal(Enumerable.Range(1, values.Count).Select(v => (long)v), values.Order());
                }

                StoreSnapshot snapshot = Read<StoreSnapshot>(client.Send(new HttpRequestMessage(HttpMethod.Get, "/counters")));
                Assert.Equal(Threads * RequestsPerThread, snapshot.Total);
                Assert.Equal(Threads * RequestsPerThread + 1, snapshot.Operations);
                Assert.Equal(1, snapshot.Threads);
                Assert.Equal(seen.ToDictionary(entry => entry.Key, entry => (long)entry.Value.Count), snapshot.Counters);

                CounterValue one = Read<CounterValue>(client.Send(new HttpRequestMessage(HttpMethod.Get, "/counters/c0")));
                Assert.Equal(seen["c0"].Count, one.Value);
                Assert.Equal(HttpStatusCode.NotFound, client.Send(new HttpRequestMessage(HttpMethod.Get, "/counters/missing")).StatusCode);

                CounterStore store = app.Services.GetRequiredService<CounterStore>();
                Assert.Throws<InvalidOperationException>(() => store.Get("c0"));
                StoreSnapshot direct = await shared.AwaitAsync(() => Task.FromResult(store.Snapshot()));
                Assert.Equal(snapshot.LoopThreadId, direct.LoopThreadId);
                Assert.Equal(1, direct.Threads);
                Assert.True(shared.Loop.IsRunning);
            }
            finally
            {
                await app.StopAsync();
            }

            Assert.False(shared.Loop.IsRunning);
            Assert.Equal(0, shared.TokenCount);
        }

        Assert.True(shared.Loop.IsClosed);
    }

    [Fact]
    public async Task WebSample_UrlsArgument_ListensThereInsteadOfThePortDefault()
    {
        WebApplication app = WebWithLoopApp.Create(
            ["--urls", "http://127.0.0.1:0", "--port", "70000", "--Logging:LogLevel:Default", "Warning", "--Aio:SharedLoop:StopTimeout", "0"]);
        await using (app.ConfigureAwait(false))
        {
            await app.StartAsync();
            try
            {
                // The invalid --port is ignored: the standard --urls decides where Kestrel listens.
                var address = new Uri(app.Urls.First());
                Assert.NotEqual(0, address.Port);
                using var client = new HttpClient { BaseAddress = address, Timeout = Patience };
                string body = await client.GetStringAsync(new Uri("/", UriKind.Relative));
                Assert.StartsWith("WebWithLoop", body, StringComparison.Ordinal);
            }
            finally
            {
                await app.StopAsync();
            }
        }
    }

    [Fact]
    public void WebSample_BadPort_InvalidOperationNamingTheKey()
    {
        var error = Assert.Throws<InvalidOperationException>(() => WebWithLoopApp.Create(["--port", "70000"]));

        Assert.Contains("'Port'", error.Message, StringComparison.Ordinal);
    }

    private static T Read<T>(HttpResponseMessage response)
    {
        response.EnsureSuccessStatusCode();
        using Stream body = response.Content.ReadAsStream();
        return JsonSerializer.Deserialize<T>(body, JsonSerializerOptions.Web) ?? throw new InvalidOperationException("empty response body");
    }

    private static Task OnThread(Action body)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                body();
                done.SetResult();
            }
            catch (Exception exception)
            {
                done.SetException(exception);
            }
        })
        { IsBackground = true, Name = "http caller" };
        thread.Start();
        return done.Task;
    }
}
