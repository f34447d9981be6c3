// The property test of issue 5: random data fed in random chunkings, read with random sequences of
// ReadUntil (one or several separators), ReadLine, ReadExactly, Read(n), Read to EOF and a
// ReadExactly cancelled one iteration after it started, checked against a reference that splits the
// whole data directly.
//
// What the reference may assume. Which bytes a read returns never depends on the chunking, except
// read(n), which returns any non-empty prefix of at most n bytes (checked as such). The kind of error
// does not either: a separator whose match starts more than `limit` bytes ahead, or a remainder with no
// separator of more than `limit + max separator length - 1` bytes, gives LimitOverrunError (with the
// data left in the buffer) whatever the chunking; otherwise EOF gives IncompleteReadError. What
// readline drops after a LimitOverrunError does depend on the chunking (it clears what has arrived so
// far), so a script ends there.
using System.Text;
using Aio.Net;
using FsCheck;
using FsCheck.Fluent;

namespace Aio.Tests.Net;

public abstract class StreamReaderPropertyTests : LoopTestBase
{
    private static readonly byte[] Alphabet = Encoding.ASCII.GetBytes("ab;\n");

    private static readonly Gen<byte[]> BytesGen =
        from length in Gen.Choose(0, 160)
        from picks in Gen.ArrayOf(Gen.Choose(0, Alphabet.Length - 1), length)
        select picks.Select(pick => Alphabet[pick]).ToArray();

    private static readonly Gen<byte[]> SeparatorGen =
        from length in Gen.Choose(1, 3)
        from picks in Gen.ArrayOf(Gen.Choose(0, Alphabet.Length - 1), length)
        select picks.Select(pick => Alphabet[pick]).ToArray();

    // Kinds 7–9 are more reads with several separators: the scan offset across waits is their subtle part.
    private static readonly Gen<ReaderStep> StepGen =
        from pick in Gen.Choose(0, 9)
        let kind = pick > 6 ? 1 : pick
        from count in Gen.Choose(0, 30)
        from separatorCount in Gen.Choose(1, 3)
        from separators in Gen.ArrayOf(SeparatorGen, separatorCount)
        select new ReaderStep(kind, count, separators);

    private static readonly Gen<ReaderScript> ScriptGen =
        from data in BytesGen
        from chunks in Gen.ArrayOf(Gen.Choose(1, 12))
        from yields in Gen.ArrayOf(Gen.Choose(0, 2))
        from limit in Gen.Choose(1, 48)
        from steps in Gen.ArrayOf(StepGen)
        select new ReaderScript(data, chunks, yields, limit, steps);

    [Fact]
    public void RandomChunkingsAndReads_MatchAReferenceSplitOfTheWholeData()
    {
        Prop.ForAll(Arb.From(ScriptGen), script =>
        {
            EventLoop loop = NewVirtualLoop(out _);
            try
            {
                loop.RunUntilComplete(() => PlayAsync(loop, script));
            }
            finally
            {
                loop.Close();
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(600).WithEndSize(60));
    }

    private static async Task PlayAsync(EventLoop loop, ReaderScript script)
    {
        var reader = new AsyncStreamReader(script.Limit);
        LoopTask feeder = loop.CreateTask(() => FeedAsync(reader, script));
        byte[] data = script.Data;
        int position = 0;
        foreach (ReaderStep step in script.Steps)
        {
            switch (step.Kind)
            {
                case 0:
                case 1:
                    ReadOnlyMemory<byte>[] separators = step.Kind == 0
                        ? [step.Separators[0]]
                        : [.. step.Separators.Select(separator => (ReadOnlyMemory<byte>)separator)];
                    Expectation until = ExpectUntil(data, position, separators, script.Limit);
                    AsyncStreamReadAwaitable untilRead = separators.Length == 1 ? reader.ReadUntilAsync(separators[0]) : reader.ReadUntilAsync(separators);
                    position = await CheckAsync(untilRead, until, data, position, $"ReadUntil({Show(separators)}) at {position}");
                    break;
                case 2:
                    Expectation line = ExpectUntil(data, position, [Alphabet.AsMemory(3, 1)], script.Limit);
                    if (line.Error == typeof(LimitOverrunError))
                    {
                        await Assert.ThrowsAsync<LimitOverrunError>(async () => await reader.ReadLineAsync());
                        await feeder;
                        return;                // what readline dropped depends on the chunking
                    }

                    if (line.Error == typeof(IncompleteReadError))
                    {
                        line = new Expectation(data[position..], null, data.Length);
                    }

                    position = await CheckAsync(reader.ReadLineAsync(), line, data, position, $"ReadLine at {position}");
                    break;
                case 3:
                    position = await CheckAsync(reader.ReadExactlyAsync(step.Count), ExpectExactly(data, position, step.Count), data, position, $"ReadExactly({step.Count}) at {position}");
                    break;
                case 4:
                    byte[] some = await reader.ReadAsync(step.Count);
                    int available = data.Length - position;
                    Assert.True(step.Count == 0 || available == 0 ? some.Length == 0 : some.Length >= 1 && some.Length <= step.Count, $"Read({step.Count}) at {position} returned {some.Length} bytes of {available}");
                    Assert.Equal(data.AsSpan(position, some.Length).ToArray(), some);
                    position += some.Length;
                    break;
                case 5:
                    Assert.Equal(data[position..], await reader.ReadAsync());
                    position = data.Length;
                    break;
                default:
                    LoopTask<byte[]> cancelled = loop.CreateTask(async () => await reader.ReadExactlyAsync(step.Count));
                    await LoopTask.Yield();
                    cancelled.Cancel();
                    Expectation exactly = ExpectExactly(data, position, step.Count);
                    try
                    {
                        position = await CheckAsync(cancelled, exactly, data, position, $"cancelled ReadExactly({step.Count}) at {position}");
                    }
                    catch (CancelledError)
                    {
                        // Cancelled while it waited: nothing was consumed.
                    }

                    break;
            }
        }

        Assert.Equal(data[position..], await reader.ReadAsync());
        Assert.True(reader.AtEof);
        await feeder;
    }

    private static async Task FeedAsync(AsyncStreamReader reader, ReaderScript script)
    {
        int offset = 0;
        for (int i = 0; offset < script.Data.Length; i++)
        {
            int size = script.Chunks.Length == 0 ? script.Data.Length : script.Chunks[i % script.Chunks.Length];
            size = Math.Min(size, script.Data.Length - offset);
            reader.FeedData(script.Data.AsSpan(offset, size));
            offset += size;
            int yields = script.Yields.Length == 0 ? 1 : script.Yields[i % script.Yields.Length];
            for (int y = 0; y < yields; y++)
            {
                await LoopTask.Yield();
            }
        }

        reader.FeedEof();
    }

    /// <summary>Awaits a read and checks it against the expectation; returns the new position.</summary>
    private static async Task<int> CheckAsync(Future<byte[]> read, Expectation expected, byte[] data, int position, string what)
    {
        try
        {
            byte[] result = await read;
            Assert.True(expected.Error is null, $"{what}: expected {expected.Error?.Name}, got {result.Length} bytes");
            Assert.Equal(expected.Result, result);
            return expected.NextPosition;
        }
        catch (IncompleteReadError error) when (expected.Error == typeof(IncompleteReadError))
        {
            Assert.Equal(data[position..], error.Partial);
            Assert.Equal(expected.Expected, error.Expected);
            return data.Length;
        }
        catch (LimitOverrunError error) when (expected.Error == typeof(LimitOverrunError))
        {
            Assert.True(error.Consumed > 0, $"{what}: Consumed {error.Consumed}");
            return position;           // the data stays in the buffer
        }
    }

    private static Task<int> CheckAsync(AsyncStreamReadAwaitable read, Expectation expected, byte[] data, int position, string what) =>
        CheckAsync(read.AsFuture(), expected, data, position, what);

    private static Expectation ExpectExactly(byte[] data, int position, int count) =>
        data.Length - position >= count
            ? new Expectation(data[position..(position + count)], null, position + count)
            : new Expectation(null, typeof(IncompleteReadError), data.Length) { Expected = count };

    /// <summary>readuntil by the definition: the match that ends first (the shortest among equals), within the limit.</summary>
    private static Expectation ExpectUntil(byte[] data, int position, ReadOnlyMemory<byte>[] separators, int limit)
    {
        int bestStart = -1;
        int bestEnd = -1;
        foreach (ReadOnlyMemory<byte> separator in separators.OrderBy(separator => separator.Length))
        {
            int found = data.AsSpan(position).IndexOf(separator.Span);
            if (found >= 0 && (bestEnd < 0 || found + separator.Length < bestEnd))
            {
                bestStart = found;
                bestEnd = found + separator.Length;
            }
        }

        if (bestEnd >= 0)
        {
            return bestStart > limit
                ? new Expectation(null, typeof(LimitOverrunError), position)
                : new Expectation(data[position..(position + bestEnd)], null, position + bestEnd);
        }

        int longest = separators.Max(separator => separator.Length);
        return data.Length - position + 1 - longest > limit
            ? new Expectation(null, typeof(LimitOverrunError), position)
            : new Expectation(null, typeof(IncompleteReadError), data.Length);
    }

    private static string Show(ReadOnlyMemory<byte>[] separators) =>
        string.Join(", ", separators.Select(separator => "\"" + Encoding.ASCII.GetString(separator.Span).Replace("\n", "\\n", StringComparison.Ordinal) + "\""));

    private sealed record Expectation(byte[]? Result, Type? Error, int NextPosition)
    {
        public int? Expected { get; init; }
    }
}

/// <summary>One read of a script: kind 0 ReadUntil, 1 ReadUntil with several separators, 2 ReadLine, 3 ReadExactly, 4 Read(n), 5 Read to EOF, 6 cancelled ReadExactly.</summary>
public sealed record ReaderStep(int Kind, int Count, byte[][] Separators)
{
    public override string ToString() =>
        $"{Kind}:{Count}:[{string.Join(",", Separators.Select(separator => Encoding.ASCII.GetString(separator).Replace("\n", "\\n", StringComparison.Ordinal)))}]";
}

/// <summary>The data, how it is chunked and paced, the reader's limit, and the reads.</summary>
public sealed record ReaderScript(byte[] Data, int[] Chunks, int[] Yields, int Limit, ReaderStep[] Steps)
{
    public override string ToString() =>
        $"data=\"{Encoding.ASCII.GetString(Data).Replace("\n", "\\n", StringComparison.Ordinal)}\" chunks=[{string.Join(",", Chunks)}] yields=[{string.Join(",", Yields)}] limit={Limit} steps=[{string.Join(" ", Steps.Select(step => step.ToString()))}]";
}

public sealed class StreamReaderPropertyEpollTests : StreamReaderPropertyTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class StreamReaderPropertyPortableTests : StreamReaderPropertyTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
