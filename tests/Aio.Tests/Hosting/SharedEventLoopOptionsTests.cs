using Aio.Hosting;

namespace Aio.Tests.Hosting;

/// <summary>The shared loop's options: stop-timeout parsing as configuration writes it, and validation.</summary>
public sealed class SharedEventLoopOptionsTests
{
    public static TheoryData<string?, double?> ValidTimeouts => new()
    {
        { "0", 0 },
        { "1s", 1 },
        { "500ms", 0.5 },
        { "00:00:01", 1 },
        { "2.5", 2.5 },
        { " 1S ", 1 },
        { "1.5 h", 5400 },
        { "2m", 120 },
        { "2min", 120 },
        { "0.25s", 0.25 },
        { "1.00:00:00", 86400 },
        { "00:00:00.5", 0.5 },
        { "", null },
        { "  ", null },
        { "none", null },
        { "Infinite", null },
        { null, null },
    };

    [Theory]
    [MemberData(nameof(ValidTimeouts))]
    public void ParseStopTimeout_ValidText_ParsesToThatSpan(string? text, double? seconds)
    {
        TimeSpan? expected = seconds is { } s ? TimeSpan.FromSeconds(s) : null;

        Assert.Equal(expected, SharedEventLoopOptions.ParseStopTimeout(text));
        Assert.True(SharedEventLoopOptions.TryParseStopTimeout(text, out TimeSpan? parsed));
        Assert.Equal(expected, parsed);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-1")]
    [InlineData("-00:00:01")]
    [InlineData("1x")]
    [InlineData("1d")]
    [InlineData("1..2s")]
    [InlineData("ms")]
    [InlineData("1e3")]
    [InlineData("aa:bb")]
    [InlineData("99999999999999h")]
    public void ParseStopTimeout_InvalidText_FormatExceptionSayingWhatIsAccepted(string text)
    {
        var error = Assert.Throws<FormatException>(() => SharedEventLoopOptions.ParseStopTimeout(text));

        Assert.Contains($"'{text}'", error.Message, StringComparison.Ordinal);
        Assert.False(SharedEventLoopOptions.TryParseStopTimeout(text, out TimeSpan? parsed));
        Assert.Null(parsed);
    }

    [Fact]
    public void ParseStopTimeout_UnknownUnit_NamesTheKnownUnits()
    {
        var error = Assert.Throws<FormatException>(() => SharedEventLoopOptions.ParseStopTimeout("3 weeks"));

        Assert.Contains("ms, s, m, min, h", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StopTimeout_Negative_ThrowsArgumentOutOfRange()
    {
        var options = new SharedEventLoopOptions();

        Assert.Throws<ArgumentOutOfRangeException>(() => options.StopTimeout = TimeSpan.FromSeconds(-1));
        Assert.Null(options.StopTimeout);
    }

    [Fact]
    public void Defaults_DefaultBackendNoGlobalLoopWaitWithoutLimit()
    {
        var options = new SharedEventLoopOptions();

        Assert.Equal(LoopBackend.Default, options.Backend);
        Assert.False(options.UseGlobalLoop);
        Assert.Null(options.StopTimeout);
    }

    [Fact]
    public void SharedEventLoop_CopiesTheOptions_LaterChangesDoNotReachIt()
    {
        var options = new SharedEventLoopOptions { Backend = LoopBackend.Portable, StopTimeout = TimeSpan.FromSeconds(3) };
        using var shared = new SharedEventLoop(options);

        options.StopTimeout = TimeSpan.Zero;

        Assert.Equal(TimeSpan.FromSeconds(3), shared.StopTimeout);
        Assert.Equal(LoopBackend.Portable, shared.Loop.Backend);
        Assert.False(shared.IsGlobalLoop);
    }
}
