using Aio;
using Aio.Extensions.Hosting;
using Aio.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Aio.Extensions.Hosting.Tests;

/// <summary>
/// Binding <see cref="SharedEventLoopOptions"/> from IConfiguration (the <c>Aio:SharedLoop</c>
/// section from memory, appsettings-style JSON and environment variables) and the errors that
/// name the offending key.
/// </summary>
public sealed class ConfigurationBindingTests
{
    [Fact]
    public void Bind_AllKeys_SetsEveryOption()
    {
        IConfiguration configuration = InMemory(new()
        {
            ["Aio:SharedLoop:Backend"] = "portable",
            ["Aio:SharedLoop:UseGlobalLoop"] = "true",
            ["Aio:SharedLoop:StopTimeout"] = "500ms",
        });
        var options = new SharedEventLoopOptions();

        SharedEventLoopConfiguration.Bind(configuration.GetSection("Aio:SharedLoop"), options);

        Assert.Equal(LoopBackend.Portable, options.Backend);
        Assert.True(options.UseGlobalLoop);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.StopTimeout);
    }

    [Theory]
    [InlineData("0", 0.0)]
    [InlineData("1s", 1.0)]
    [InlineData("500ms", 0.5)]
    [InlineData("00:00:01", 1.0)]
    public void Bind_StopTimeoutForms_AllAccepted(string text, double seconds)
    {
        SharedEventLoopOptions options = BindFrom(new() { ["Aio:SharedLoop:StopTimeout"] = text });

        Assert.Equal(TimeSpan.FromSeconds(seconds), options.StopTimeout);
    }

    [Fact]
    public void Bind_MissingSectionOrEmptyValues_KeepsTheDefaults()
    {
        SharedEventLoopOptions none = BindFrom([]);
        SharedEventLoopOptions empty = BindFrom(new()
        {
            ["Aio:SharedLoop:Backend"] = "",
            ["Aio:SharedLoop:StopTimeout"] = " ",
            ["Aio:SharedLoop:UseGlobalLoop"] = null,
        });

        foreach (SharedEventLoopOptions options in new[] { none, empty })
        {
            Assert.Equal(LoopBackend.Default, options.Backend);
            Assert.False(options.UseGlobalLoop);
            Assert.Null(options.StopTimeout);
        }
    }

    [Fact]
    public void Bind_AppSettingsJson_ReadsTheSection()
    {
        string path = Path.Combine(Path.GetTempPath(), $"aio-appsettings-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            {
              "Aio": { "SharedLoop": { "Backend": "Epoll", "UseGlobalLoop": false, "StopTimeout": "00:00:02" } },
              "Other": { "Key": 1 }
            }
            """);
        try
        {
            IConfiguration configuration = new ConfigurationBuilder().AddJsonFile(path).Build();
            var options = new SharedEventLoopOptions();

            SharedEventLoopConfiguration.Bind(configuration.GetSection(SharedEventLoopConfiguration.DefaultSectionName), options);

            Assert.Equal(LoopBackend.Epoll, options.Backend);
            Assert.False(options.UseGlobalLoop);
            Assert.Equal(TimeSpan.FromSeconds(2), options.StopTimeout);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Bind_EnvironmentVariables_DoubleUnderscoreSeparatedKeys()
    {
        string prefix = $"AIO_TEST_{Guid.NewGuid():N}_";
        Environment.SetEnvironmentVariable(prefix + "Aio__SharedLoop__StopTimeout", "1s");
        Environment.SetEnvironmentVariable(prefix + "Aio__SharedLoop__UseGlobalLoop", "1");
        try
        {
            IConfiguration configuration = new ConfigurationBuilder().AddEnvironmentVariables(prefix).Build();
            var options = new SharedEventLoopOptions();

            SharedEventLoopConfiguration.Bind(configuration.GetSection("Aio:SharedLoop"), options);

            Assert.Equal(TimeSpan.FromSeconds(1), options.StopTimeout);
            Assert.True(options.UseGlobalLoop);
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "Aio__SharedLoop__StopTimeout", null);
            Environment.SetEnvironmentVariable(prefix + "Aio__SharedLoop__UseGlobalLoop", null);
        }
    }

    [Theory]
    [InlineData("StopTimeout", "soon", "\"500ms\"")]
    [InlineData("StopTimeout", "-1s", "negative")]
    [InlineData("StopTimeout", "3 weeks", "unknown unit")]
    [InlineData("Backend", "uvloop", "Default (epoll on Linux, portable elsewhere), Epoll or Portable")]
    [InlineData("Backend", "1", "not a loop backend")]
    [InlineData("UseGlobalLoop", "maybe", "true or false")]
    public void Bind_BadValue_InvalidOperationNamingTheKeyAndWhatItAccepts(string key, string value, string hint)
    {
        var error = Assert.Throws<InvalidOperationException>(() => BindFrom(new() { [$"Aio:SharedLoop:{key}"] = value }));

        Assert.Contains($"'Aio:SharedLoop:{key}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(hint, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_UnknownKey_InvalidOperationNamingItAndTheKnownKeys()
    {
        var error = Assert.Throws<InvalidOperationException>(() => BindFrom(new() { ["Aio:SharedLoop:StopTimout"] = "1s" }));

        Assert.Contains("'Aio:SharedLoop:StopTimout'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Aio:SharedLoop:StopTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_NestedKeys_InvalidOperationNamingTheKey()
    {
        var error = Assert.Throws<InvalidOperationException>(() => BindFrom(new() { ["Aio:SharedLoop:StopTimeout:Seconds"] = "1" }));

        Assert.Contains("'Aio:SharedLoop:StopTimeout'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddSharedEventLoop_Configuration_BindsThroughOptionsAndLaterConfigureWins()
    {
        var services = new ServiceCollection();
        services.AddSharedEventLoop(InMemory(new() { ["Aio:SharedLoop:StopTimeout"] = "2s", ["Aio:SharedLoop:Backend"] = "Portable" }));
        services.Configure<SharedEventLoopOptions>(options => options.StopTimeout = TimeSpan.FromSeconds(3));
        using ServiceProvider provider = services.BuildServiceProvider();

        SharedEventLoopOptions options = provider.GetRequiredService<IOptions<SharedEventLoopOptions>>().Value;
        SharedEventLoop shared = provider.GetRequiredService<SharedEventLoop>();

        Assert.Equal(TimeSpan.FromSeconds(3), options.StopTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), shared.StopTimeout);
        Assert.Equal(LoopBackend.Portable, shared.Loop.Backend);
    }

    [Fact]
    public void AddSharedEventLoop_CustomSectionName_ReadsThatSection()
    {
        var services = new ServiceCollection();
        services.AddSharedEventLoop(InMemory(new() { ["My:Loop:StopTimeout"] = "0", ["Aio:SharedLoop:StopTimeout"] = "9s" }), "My:Loop");
        using ServiceProvider provider = services.BuildServiceProvider();

        Assert.Equal(TimeSpan.Zero, provider.GetRequiredService<SharedEventLoop>().StopTimeout);
    }

    [Fact]
    public void AddSharedEventLoop_BadValue_ResolvingTheLoopThrowsNamingTheKey()
    {
        var services = new ServiceCollection();
        services.AddSharedEventLoop(InMemory(new() { ["Aio:SharedLoop:StopTimeout"] = "later" }));
        using ServiceProvider provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<SharedEventLoop>());

        Assert.Contains("Aio:SharedLoop:StopTimeout", error.Message, StringComparison.Ordinal);
    }

    private static IConfiguration InMemory(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static SharedEventLoopOptions BindFrom(Dictionary<string, string?> values)
    {
        var options = new SharedEventLoopOptions();
        SharedEventLoopConfiguration.Bind(InMemory(values).GetSection("Aio:SharedLoop"), options);
        return options;
    }
}
