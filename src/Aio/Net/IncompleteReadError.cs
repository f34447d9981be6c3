namespace Aio.Net;

/// <summary>
/// The stream ended before a read could complete [asyncio.IncompleteReadError]: thrown by
/// <see cref="AsyncStreamReader.ReadExactlyAsync"/> when the end of the stream comes before the
/// requested count, and by <see cref="AsyncStreamReader.ReadUntilAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
/// when it comes before the separator. The bytes read so far are in <see cref="Partial"/>; the
/// reader's buffer is empty afterwards.
/// </summary>
public class IncompleteReadError : EndOfStreamException
{
    /// <summary>Creates the error with no partial data and no expected count.</summary>
    public IncompleteReadError()
        : this([], null)
    {
    }

    /// <summary>Creates the error with <paramref name="message"/>, no partial data and no expected count.</summary>
    public IncompleteReadError(string? message)
        : base(message ?? DescribeCounts(0, null))
    {
        Partial = [];
    }

    /// <summary>Creates the error with a message and an inner exception, no partial data and no expected count.</summary>
    public IncompleteReadError(string? message, Exception? innerException)
        : base(message ?? DescribeCounts(0, null), innerException)
    {
        Partial = [];
    }

    /// <summary>
    /// Creates the error [IncompleteReadError(partial, expected)]: <paramref name="partial"/> holds the
    /// bytes read before the end of the stream, <paramref name="expected"/> how many were asked for
    /// (null when the read was waiting for a separator).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="partial"/> is null.</exception>
    public IncompleteReadError(byte[] partial, int? expected)
        : base(DescribeCounts((partial ?? throw new ArgumentNullException(nameof(partial))).Length, expected))
    {
        Partial = partial;
        Expected = expected;
    }

    /// <summary>The bytes read before the end of the stream [e.partial]; possibly a part of the separator.</summary>
    public byte[] Partial { get; }

    /// <summary>How many bytes the read expected [e.expected]; null for a read until a separator.</summary>
    public int? Expected { get; }

    private static string DescribeCounts(int read, int? expected) => expected is int total
        ? $"{read} bytes read on a total of {total} expected bytes"
        : $"{read} bytes read on a total of undefined expected bytes (the stream ended before the separator)";
}
