namespace Aio.Net;

/// <summary>
/// A transport's write-buffer marks and whether it paused its protocol [asyncio's
/// _FlowControlMixin]: above the high mark the protocol is told to pause writing; once the buffer
/// drains to the low mark or below, to resume. The transport calls the protocol (each kind of
/// transport reports a failing callback its own way); this only decides when.
/// </summary>
internal struct WriteFlowControl
{
    /// <summary>asyncio's default high mark, 64 KiB; the low mark defaults to a quarter of the high.</summary>
    public const int DefaultHighWater = 64 * 1024;

    private int _high;
    private int _low;

    /// <summary>Flow control with the default marks.</summary>
    public WriteFlowControl()
    {
        _high = DefaultHighWater;
        _low = DefaultHighWater / 4;
    }

    /// <summary>Whether the protocol is paused (told to pause and not yet to resume).</summary>
    public bool IsPaused { get; private set; }

    /// <summary>The marks [get_write_buffer_limits].</summary>
    public readonly (int Low, int High) Limits => (_low, _high);

    /// <summary>
    /// Sets the marks [set_write_buffer_limits]: a missing high mark is four times the low one (or
    /// the default), a missing low mark a quarter of the high one.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The low mark is negative or above the high one.</exception>
    public void SetLimits(int? high, int? low)
    {
        int highWater = high ?? (low is int l ? (l > int.MaxValue / 4 ? int.MaxValue : 4 * l) : DefaultHighWater);
        int lowWater = low ?? highWater / 4;
        if (lowWater < 0 || highWater < lowWater)
        {
            throw new ArgumentOutOfRangeException(
                highWater < lowWater ? nameof(high) : nameof(low),
                $"high ({highWater}) must be >= low ({lowWater}) must be >= 0.");
        }

        _high = highWater;
        _low = lowWater;
    }

    /// <summary>True, once, when <paramref name="buffered"/> bytes go above the high mark: pause the protocol now.</summary>
    public bool ShouldPause(int buffered)
    {
        if (IsPaused || buffered <= _high)
        {
            return false;
        }

        IsPaused = true;
        return true;
    }

    /// <summary>True, once, when a paused transport's <paramref name="buffered"/> bytes drain to the low mark: resume the protocol now.</summary>
    public bool ShouldResume(int buffered)
    {
        if (!IsPaused || buffered > _low)
        {
            return false;
        }

        IsPaused = false;
        return true;
    }
}
