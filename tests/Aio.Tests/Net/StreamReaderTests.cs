using System.Text;
using Aio.Net;
using static Aio.Tests.Sync.SyncTestSteps;

namespace Aio.Tests.Net;

/// <summary>
/// AsyncStreamReader [asyncio.StreamReader] fed by hand: the read rules (limits, separators, EOF,
/// partial reads), errors and the buffer they leave, one reader at a time, cancellation, flow control.
/// </summary>
public abstract class StreamReaderTests : LoopTestBase
{
    private static byte[] B(string text) => Encoding.ASCII.GetBytes(text);

    private static string S(byte[] bytes) => Encoding.ASCII.GetString(bytes);

    [Fact]
    public void Constructor_NonPositiveLimit_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncStreamReader(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncStreamReader(-1));
        Assert.Equal(65536, new AsyncStreamReader().Limit);
    }

    [Fact]
    public void ReadAsync_DataBuffered_CompletesAtOnceWithAtMostN()
    {
        var reader = new AsyncStreamReader();
        reader.FeedData(B("hello world"));
        AsyncStreamReadAwaitable read = reader.ReadAsync(5);
        Assert.True(read.IsCompleted);
        Assert.Equal("hello", S(read.GetAwaiter().GetResult()));
        Assert.Equal(" world", S(reader.ReadAsync(100).GetAwaiter().GetResult()));
        Assert.Empty(reader.ReadAsync(0).GetAwaiter().GetResult());
        Assert.False(reader.AtEof);
        reader.FeedEof();
        Assert.True(reader.AtEof);
        Assert.Empty(reader.ReadAsync(10).GetAwaiter().GetResult());
        Assert.Empty(reader.ReadAsync().GetAwaiter().GetResult());
    }

    [Fact]
    public void ReadAsync_Waiting_SeesEverythingFedInTheSameIteration()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadAsync(100));
            await Settle();
            Assert.True(reader.HasWaiter);
            reader.FeedData(B("ab"));
            reader.FeedData(B("cd"));
            Assert.Equal("abcd", S(await read));
            Assert.False(reader.HasWaiter);
        });
    }

    [Fact]
    public void ReadAsync_Waiting_ResumesInTheNextIterationBeforeLaterCallbacks()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        var order = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask read = loop.CreateTask(async () =>
            {
                await reader.ReadAsync(1);
                order.Add("read");
            });
            await Settle();
            reader.FeedData(B("x"));
            loop.CallSoon(() => order.Add("later"));
            await read;
        });

        Assert.Equal(["read", "later"], order);
    }

    [Fact]
    public void ReadAsync_ToEof_CollectsEverythingAndKeepsTheTransportFlowing()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader(limit: 4);
        var transport = new FakeReadTransport();
        reader.SetTransport(transport);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> all = loop.CreateTask(async () => await reader.ReadAsync());
            for (int i = 0; i < 10; i++)
            {
                await Settle(1);
                Assert.False(transport.Paused);
                reader.FeedData(B("0123456789"));     // above 2 × limit at once: paused, then resumed by the read
            }

            reader.FeedEof();
            Assert.Equal(string.Concat(Enumerable.Repeat("0123456789", 10)), S(await all));
            Assert.False(transport.Paused);
        });
    }

    [Fact]
    public void ReadExactlyAsync_AcrossChunks_ReturnsExactlyN()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadExactlyAsync(5));
            await Settle();
            reader.FeedData(B("ab"));
            await Settle();
            Assert.False(read.IsDone);
            reader.FeedData(B("cdefg"));
            Assert.Equal("abcde", S(await read));
            Assert.Equal("fg", S(await reader.ReadAsync(10)));
            Assert.Empty(await reader.ReadExactlyAsync(0));
        });
    }

    [Fact]
    public void ReadExactlyAsync_EofFirst_ThrowsIncompleteReadErrorWithPartialAndEmptiesBuffer()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData(B("abc"));
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadExactlyAsync(10));
            await Settle();
            reader.FeedEof();
            IncompleteReadError error = await Assert.ThrowsAsync<IncompleteReadError>(async () => await read);
            Assert.Equal("abc", S(error.Partial));
            Assert.Equal(10, error.Expected);
            Assert.IsAssignableFrom<EndOfStreamException>(error);
            Assert.Equal("3 bytes read on a total of 10 expected bytes", error.Message);
            Assert.True(reader.AtEof);
        });
    }

    [Fact]
    public void ReadExactlyAsync_NegativeCount_Throws()
    {
        var reader = new AsyncStreamReader();
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.ReadExactlyAsync(-1));
    }

    [Fact]
    public void ReadExactlyAsync_MoreThanTheLimit_ResumesThePausedTransportAndCompletes()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader(limit: 4);
        var transport = new FakeReadTransport();
        reader.SetTransport(transport);
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData(B("0123456789"));      // 10 > 2 × 4: paused
            Assert.True(transport.Paused);
            Assert.True(reader.IsPaused);
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadExactlyAsync(20));
            await Settle();
            Assert.False(transport.Paused);        // waiting while paused would deadlock
            reader.FeedData(B("abcdefghij"));
            Assert.True(transport.Paused);
            Assert.Equal("0123456789abcdefghij", S(await read));
            Assert.False(transport.Paused);
            Assert.Equal(2, transport.Pauses);
            Assert.Equal(2, transport.Resumes);
        });
    }

    [Fact]
    public void FeedData_AboveTwiceTheLimit_PausesAndReadingDownToTheLimitResumes()
    {
        var reader = new AsyncStreamReader(limit: 10);
        var transport = new FakeReadTransport();
        reader.SetTransport(transport);
        reader.FeedData(new byte[20]);
        Assert.False(transport.Paused);                   // 20 is not above 2 × 10
        reader.FeedData(new byte[1]);
        Assert.True(transport.Paused);
        reader.FeedData(new byte[5]);
        Assert.Equal(1, transport.Pauses);                // paused once
        _ = reader.ReadAsync(16).GetAwaiter().GetResult(); // 10 left: at the limit
        Assert.False(transport.Paused);
        Assert.Equal(1, transport.Resumes);
    }

    [Fact]
    public void FeedData_TransportCannotPause_IsForgottenAndDataBuffered()
    {
        var reader = new AsyncStreamReader(limit: 1);
        var transport = new FakeReadTransport { CanPause = false };
        reader.SetTransport(transport);
        reader.FeedData(new byte[3]);
        reader.FeedData(new byte[3]);
        Assert.Equal(6, reader.BufferedCount);
        Assert.False(reader.IsPaused);
        Assert.Equal(1, transport.PauseAttempts);
    }

    [Fact]
    public void SetTransport_Twice_Throws()
    {
        var reader = new AsyncStreamReader();
        reader.SetTransport(new FakeReadTransport());
        Assert.Throws<InvalidOperationException>(() => reader.SetTransport(new FakeReadTransport()));
    }

    [Fact]
    public void FeedData_AfterEof_ThrowsAndEmptyDataIsIgnored()
    {
        var reader = new AsyncStreamReader();
        reader.FeedData([]);
        Assert.Equal(0, reader.BufferedCount);
        reader.FeedEof();
        reader.FeedEof();
        Assert.Throws<InvalidOperationException>(() => reader.FeedData(B("x")));
    }

    [Fact]
    public void ReadUntilAsync_SeparatorSplitAcrossChunks_ReturnsDataWithSeparator()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadUntilAsync(B("\r\n\r\n")));
            await Settle();
            reader.FeedData(B("GET / HTTP/1.1\r\n\r"));
            await Settle();
            Assert.False(read.IsDone);
            reader.FeedData(B("\nbody"));
            Assert.Equal("GET / HTTP/1.1\r\n\r\n", S(await read));
            Assert.Equal("body", S(await reader.ReadAsync(100)));
        });
    }

    [Fact]
    public void ReadUntilAsync_EmptySeparator_Throws()
    {
        var reader = new AsyncStreamReader();
        Assert.Throws<ArgumentException>(() => reader.ReadUntilAsync(ReadOnlyMemory<byte>.Empty));
        Assert.Throws<ArgumentException>(() => reader.ReadUntilAsync(Array.Empty<ReadOnlyMemory<byte>>()));
        Assert.Throws<ArgumentException>(() => reader.ReadUntilAsync([B("x"), ReadOnlyMemory<byte>.Empty]));
    }

    [Fact]
    public void ReadUntilAsync_EofBeforeSeparator_ThrowsIncompleteReadErrorWithEverythingBuffered()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadUntilAsync(B("END")));
            await Settle();
            reader.FeedData(B("dataEN"));
            reader.FeedEof();
            IncompleteReadError error = await Assert.ThrowsAsync<IncompleteReadError>(async () => await read);
            Assert.Equal("dataEN", S(error.Partial));    // may hold part of the separator
            Assert.Null(error.Expected);
            Assert.True(reader.AtEof);
        });
    }

    [Fact]
    public void ReadUntilAsync_NotFoundWithinLimit_ThrowsLimitOverrunAndKeepsTheData()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader(limit: 5);
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData(B("abcdefg"));
            LimitOverrunError error = await Assert.ThrowsAsync<LimitOverrunError>(async () => await reader.ReadUntilAsync(B("!")));
            Assert.Equal(7, error.Consumed);              // no separator in these 7 bytes
            Assert.Equal("Separator is not found, and chunk exceed the limit", error.Message);
            Assert.Equal(7, reader.BufferedCount);

            // With a two-byte separator the last byte may start one: one byte fewer is consumed.
            error = await Assert.ThrowsAsync<LimitOverrunError>(async () => await reader.ReadUntilAsync(B("!?")));
            Assert.Equal(6, error.Consumed);
            Assert.Equal("abcdefg", S(await reader.ReadExactlyAsync(7)));
        });
    }

    [Fact]
    public void ReadUntilAsync_FoundBeyondLimit_ThrowsLimitOverrunWithItsPositionAndKeepsTheData()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader(limit: 5);
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData(B("abcdef\nxyz"));
            LimitOverrunError error = await Assert.ThrowsAsync<LimitOverrunError>(async () => await reader.ReadUntilAsync(B("\n")));
            Assert.Equal(6, error.Consumed);
            Assert.Equal("Separator is found, but chunk is longer than limit", error.Message);
            Assert.Equal(10, reader.BufferedCount);
            Assert.Equal("abcdef\n", S(await reader.ReadExactlyAsync(7)));

            // A chunk exactly as long as the limit is fine.
            reader.FeedData(B("12\n"));
            Assert.Equal("xyz12\n", S(await reader.ReadUntilAsync(B("\n"))));
        });
    }

    [Fact]
    public void ReadUntilAsync_WaitingPastTheLimit_ThrowsLimitOverrunWhenTheBufferOutgrowsIt()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader(limit: 4);
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadUntilAsync(B("\n")));
            await Settle();
            reader.FeedData(B("abc"));
            await Settle();
            Assert.False(read.IsDone);
            reader.FeedData(B("de"));
            LimitOverrunError error = await Assert.ThrowsAsync<LimitOverrunError>(async () => await read);
            Assert.Equal(5, error.Consumed);
            Assert.Equal(5, reader.BufferedCount);
            Assert.False(reader.HasWaiter);
        });
    }

    [Fact]
    public void ReadUntilAsync_SeveralSeparators_TheMatchEndingFirstWinsThenTheShortest()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData(B("a--b;c--;d"));
            ReadOnlyMemory<byte>[] separators = [B("--;"), B(";"), B("--")];
            Assert.Equal("a--", S(await reader.ReadUntilAsync(separators)));
            Assert.Equal("b;", S(await reader.ReadUntilAsync(separators)));
            Assert.Equal("c--", S(await reader.ReadUntilAsync(separators)));   // "--" ends before "--;"
            Assert.Equal(";", S(await reader.ReadUntilAsync(separators)));
            Assert.Equal("d", S(await reader.ReadAsync(10)));
        });
    }

    [Fact]
    public void ReadUntilAsync_SeveralSeparatorsEndingTogether_TheShortestWins()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData(B("ab;;cd"));
            Assert.Equal("ab;", S(await reader.ReadUntilAsync([B(";;"), B(";")])));
            Assert.Equal(";", S(await reader.ReadUntilAsync([B(";;"), B(";")])));
            Assert.Equal("cd", S(await reader.ReadAsync(10)));
        });
    }

    [Fact]
    public void ReadLineAsync_Lines_ThenUnterminatedRest_ThenEmpty()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData(B("one\ntwo\nthr"));
            Assert.Equal("one\n", S(await reader.ReadLineAsync()));
            Assert.Equal("two\n", S(await reader.ReadLineAsync()));
            LoopTask<byte[]> rest = loop.CreateTask(async () => await reader.ReadLineAsync());
            await Settle();
            reader.FeedData(B("ee"));
            reader.FeedEof();
            Assert.Equal("three", S(await rest));
            Assert.Empty(await reader.ReadLineAsync());
            Assert.Empty(await reader.ReadLineAsync());
        });
    }

    [Fact]
    public void ReadLineAsync_LineLongerThanLimitWithItsNewline_RemovesThatLineAndThrows()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader(limit: 3);
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData(B("toolong\nok\n"));
            LimitOverrunError error = await Assert.ThrowsAsync<LimitOverrunError>(async () => await reader.ReadLineAsync());
            Assert.Equal(7, error.Consumed);
            Assert.Equal("ok\n", S(await reader.ReadLineAsync()));
        });
    }

    [Fact]
    public void ReadLineAsync_NoNewlineWithinLimit_ClearsTheBufferAndThrows()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader(limit: 3);
        var transport = new FakeReadTransport();
        reader.SetTransport(transport);
        loop.RunUntilComplete(async () =>
        {
            reader.FeedData(B("abcdefgh"));
            Assert.True(transport.Paused);
            await Assert.ThrowsAsync<LimitOverrunError>(async () => await reader.ReadLineAsync());
            Assert.Equal(0, reader.BufferedCount);
            Assert.False(transport.Paused);
            reader.FeedData(B("gh\n"));
            Assert.Equal("gh\n", S(await reader.ReadLineAsync()));
        });
    }

    [Fact]
    public void ReadLinesAsync_EnumeratesUntilEof()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        var lines = new List<string>();
        loop.RunUntilComplete(async () =>
        {
            LoopTask feeder = loop.CreateTask(async () =>
            {
                foreach (string chunk in (string[])["a\nb", "\n", "c"])
                {
                    await Settle(1);
                    reader.FeedData(B(chunk));
                }

                reader.FeedEof();
            });
            await foreach (byte[] line in reader.ReadLinesAsync())
            {
                lines.Add(S(line));
            }

            await feeder;
        });

        Assert.Equal(["a\n", "b\n", "c"], lines);
    }

    [Fact]
    public void SetException_WaitingRead_FailsWithItAndLaterReadsToo()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        var failure = new IOException("reset");
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadExactlyAsync(3));
            await Settle();
            reader.SetException(failure);
            Assert.Same(failure, await Assert.ThrowsAsync<IOException>(async () => await read));
            Assert.Same(failure, reader.Exception);
            reader.FeedData(B("abc"));
            Assert.Same(failure, await Assert.ThrowsAsync<IOException>(async () => await reader.ReadAsync(1)));
            Assert.Same(failure, await Assert.ThrowsAsync<IOException>(async () => await reader.ReadLineAsync()));
            Assert.Same(failure, await Assert.ThrowsAsync<IOException>(async () => await reader.ReadExactlyAsync(0)));
            Assert.Same(failure, await Assert.ThrowsAsync<IOException>(async () => await reader.ReadAsync()));
        });
    }

    [Fact]
    public void SetException_AfterDataInTheSameIteration_TheWokenReadStillGetsTheData()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadAsync(10));
            await Settle();
            reader.FeedData(B("abc"));
            reader.SetException(new IOException("reset"));   // the waiter was already woken by the data
            Assert.Equal("abc", S(await read));
            await Assert.ThrowsAsync<IOException>(async () => await reader.ReadAsync(10));
        });
    }

    [Fact]
    public void SetException_WokenReadThatMustWaitAgain_FailsInsteadOfHanging()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadExactlyAsync(10));
            await Settle();
            reader.FeedData(B("abc"));
            reader.SetException(new IOException("reset"));
            await Assert.ThrowsAsync<IOException>(async () => await read);
        });
    }

    [Fact]
    public void SecondRead_WhileOneWaits_ThrowsAndTheFirstStillCompletes()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> first = loop.CreateTask(async () => await reader.ReadLineAsync());
            await Settle();
            InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => reader.ReadAsync(1));
            Assert.Contains("another read is already waiting for incoming data", error.Message, StringComparison.Ordinal);
            Assert.Throws<InvalidOperationException>(() => reader.ReadUntilAsync(B("x")));
            reader.FeedData(B("line\nmore"));
            Assert.Equal("line\n", S(await first));
            Assert.Equal("more", S(await reader.ReadAsync(10)));
        });
    }

    [Fact]
    public void CancelTask_PendingRead_EndsCancelledAndKeepsTheBufferForTheNextRead()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadUntilAsync(B("\n")));
            await Settle();
            reader.FeedData(B("partial"));
            await Settle();
            Assert.True(read.Cancel("stop"));
            CancelledError error = await Assert.ThrowsAsync<CancelledError>(async () => await read);
            Assert.Equal("stop", error.Message);
            Assert.True(read.IsCancelled);
            Assert.False(reader.HasWaiter);
            Assert.Equal(7, reader.BufferedCount);
            LoopTask<byte[]> again = loop.CreateTask(async () => await reader.ReadUntilAsync(B("\n")));
            await Settle();
            reader.FeedData(B(" line\n"));
            Assert.Equal("partial line\n", S(await again));
        });
    }

    [Fact]
    public void CancelTask_ReadWokenButNotYetResumed_EndsCancelledAndLeavesTheData()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadExactlyAsync(3));
            await Settle();
            reader.FeedData(B("abc"));        // the read's step is queued...
            read.Cancel();                      // ...and the cancel comes first
            await Assert.ThrowsAsync<CancelledError>(async () => await read);
            Assert.Equal("abc", S(await reader.ReadExactlyAsync(3)));
        });
    }

    [Fact]
    public void CancelTask_ReadCaughtInside_TaskGoesOnReading()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<string> task = loop.CreateTask(async () =>
            {
                try
                {
                    await reader.ReadAsync(5);
                    return "not cancelled";
                }
                catch (CancelledError)
                {
                    return S(await reader.ReadAsync(5));
                }
            });
            await Settle();
            task.Cancel();
            await Settle();
            reader.FeedData(B("after"));
            Assert.Equal("after", await task);
        });
    }

    [Fact]
    public void CancellationToken_PendingRead_EndsCancelledAndLaterReadsWork()
    {
        EventLoop loop = NewLoop();
        var reader = new AsyncStreamReader();
        using var source = new CancellationTokenSource();
        loop.RunUntilComplete(async () =>
        {
            LoopTask<byte[]> read = loop.CreateTask(async () => await reader.ReadAsync(5, source.Token));
            await Settle();
            await source.CancelAsync();
            await Assert.ThrowsAsync<CancelledError>(async () => await read);
            Assert.False(reader.HasWaiter);
            await Assert.ThrowsAsync<CancelledError>(async () => await reader.ReadAsync(5, source.Token));
            reader.FeedData(B("x"));
            Assert.Equal("x", S(await reader.ReadAsync(5)));
        });
    }

    [Fact]
    public void AsFuture_WaitForTimesOut_CancelsTheReadAndTheReaderStaysUsable()
    {
        EventLoop loop = NewVirtualLoop(out _);
        var reader = new AsyncStreamReader();
        loop.RunUntilComplete(async () =>
        {
            await Assert.ThrowsAsync<TimeoutException>(async () => await LoopTask.WaitFor(reader.ReadLineAsync().AsFuture(), TimeSpan.FromSeconds(5)));
            Assert.False(reader.HasWaiter);
            reader.FeedData(B("hi\n"));
            Future<byte[]> ready = reader.ReadLineAsync();
            Assert.True(ready.IsDone);
            Assert.Equal("hi\n", S(await ready));
            reader.FeedEof();
            byte[][] both = await LoopTask.Gather(reader.ReadAsync(1).AsFuture(), reader.ReadLineAsync().AsFuture());
            Assert.All(both, Assert.Empty);
        });
    }

    [Fact]
    public void Read_WaitingWithNoRunningLoop_Throws()
    {
        var reader = new AsyncStreamReader();
        Assert.Throws<InvalidOperationException>(() => reader.ReadAsync(1));
        Assert.False(reader.HasWaiter);
    }

    [Fact]
    public void ToString_DescribesState()
    {
        var reader = new AsyncStreamReader(limit: 10);
        reader.FeedData(B("abc"));
        reader.FeedEof();
        Assert.Equal("<AsyncStreamReader 3 bytes eof limit=10>", reader.ToString());
    }
}

public sealed class StreamReaderEpollTests : StreamReaderTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

public sealed class StreamReaderPortableTests : StreamReaderTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
