namespace Aio.Sync;

/// <summary>Checks the timeout of a timed wait, with .NET's conventions.</summary>
internal static class WaitTimeout
{
    /// <summary>
    /// Null for <see cref="Timeout.InfiniteTimeSpan"/> (no timer), else <paramref name="timeout"/>;
    /// <see cref="TimeSpan.Zero"/> means "only if possible at once".
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, other than <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    public static TimeSpan? Check(TimeSpan timeout, string paramName = "timeout")
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return null;
        }

        if (timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, timeout, "The timeout must be zero or positive, or Timeout.InfiniteTimeSpan for none.");
        }

        return timeout;
    }
}
