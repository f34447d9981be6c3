using System.Diagnostics;
using System.IO.Pipes;
using System.Net;
using System.Net.Sockets;

namespace Aio.Tests.Loop;

/// <summary>
/// I/O readiness callbacks [loop.add_reader / add_writer / remove_reader / remove_writer] on a
/// connected loopback TCP pair: level-triggered, replaced and removed as in asyncio, never starved
/// by callbacks (docs/design.md, the loop contract).
/// </summary>
public abstract partial class IoReadinessTests : LoopTestBase
{
    /// <summary>A loopback TCP connection: <see cref="A"/> is the side under test, <see cref="B"/> its peer.</summary>
    protected sealed class SocketPair : IDisposable
    {
        private SocketPair(Socket a, Socket b)
        {
            A = a;
            B = b;
        }

        public Socket A { get; }

        public Socket B { get; }

        public static SocketPair Create()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                a.Connect(listener.LocalEndPoint!);
                Socket b = listener.Accept();
                return new SocketPair(a, b);
            }
            catch
            {
                a.Dispose();
                throw;
            }
        }

        /// <summary>Wraps two sockets already connected to each other.</summary>
        public static SocketPair FromConnected(Socket a, Socket b) => new(a, b);

        /// <summary>Sends from <see cref="B"/> and waits until <see cref="A"/> has the bytes.</summary>
        public void SendToA(int count)
        {
            B.Send(new byte[count]);
            Assert.True(A.Poll(PatienceMicroseconds, SelectMode.SelectRead), "the bytes never reached the other side");
        }

        public void Dispose()
        {
            A.Dispose();
            B.Dispose();
        }
    }

    private static int PatienceMicroseconds => (int)(Patience.Ticks / 10);

    // Set by a callback that kept the loop busy past Patience (the loop starved the watchdog's post).
    private volatile bool _spunTooLong;

    /// <summary>
    /// Runs <paramref name="loop"/> on this thread until something stops it; fails if that takes
    /// longer than <see cref="LoopTestBase.Patience"/> (a watchdog outside the loop stops it then;
    /// self-rescheduling callbacks made here stop it themselves, in case posts starve).
    /// </summary>
    protected void RunBounded(EventLoop loop)
    {
        bool timedOut = false;
        using (new Timer(_ => loop.TryCallSoonThreadSafe(() =>
               {
                   timedOut = true;
                   loop.Stop();
               }), null, Patience, Timeout.InfiniteTimeSpan))
        {
            loop.RunForever();
        }

        Assert.False(timedOut, $"the loop was not stopped within {Patience}");
        Assert.False(_spunTooLong, $"the loop was not stopped within {Patience}, and posts to it starved");
    }

    /// <summary>
    /// Schedules a self-rescheduling callback that counts loop iterations and runs
    /// <paramref name="step"/> with the iteration number in each; returns a reader of the count.
    /// </summary>
    protected Func<int> StartIterationCounter(EventLoop loop, Action<int> step)
    {
        int iteration = 0;
        var realTime = Stopwatch.StartNew();
        void Tick()
        {
            iteration++;
            step(iteration);
            if (realTime.Elapsed > Patience)
            {
                _spunTooLong = true;
                loop.Stop();
                return;
            }

            if (loop.IsRunning)
            {
                loop.CallSoon(Tick);
            }
        }

        loop.CallSoon(Tick);
        return () => iteration;
    }

    private static void Drain(Socket socket)
    {
        var buffer = new byte[256];
        while (socket.Available > 0)
        {
            _ = socket.Receive(buffer);
        }
    }

    [Fact]
    public void AddReader_PeerSends_ReaderFiresAfterTheSend()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        bool sent = false;
        bool sentBeforeReader = false;
        loop.AddReader(pair.A, () =>
        {
            sentBeforeReader = sent;
            Drain(pair.A);
            loop.Stop();
        });
        StartIterationCounter(loop, iteration =>
        {
            if (iteration == 3)
            {
                pair.B.Send([1, 2, 3]);
                sent = true;
            }
        });

        RunBounded(loop);

        Assert.True(sentBeforeReader, "the reader ran before the peer sent anything");
        Assert.True(loop.RemoveReader(pair.A));
    }

    [Fact]
    public void AddReader_NotDrained_FiresOnEveryIterationUntilDrained()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        pair.SendToA(16);
        var firedAt = new List<int>();
        Func<int> iteration = () => 0;
        int drainedAt = 0;
        loop.AddReader(pair.A, () =>
        {
            firedAt.Add(iteration());
            if (firedAt.Count == 5)
            {
                Drain(pair.A);
                drainedAt = iteration();
            }
        });
        iteration = StartIterationCounter(loop, i =>
        {
            if (drainedAt != 0 && i == drainedAt + 20)
            {
                loop.Stop();
            }
        });

        RunBounded(loop);

        Assert.Equal(5, firedAt.Count);
        Assert.Equal(firedAt.Distinct(), firedAt); // at most once per iteration
        if (Backend == LoopBackend.Epoll)
        {
            // The loop thread polls epoll itself: still readable means reported on the very next poll.
            Assert.Equal(Enumerable.Range(firedAt[0], 5), firedAt);
        }

        Assert.True(loop.RemoveReader(pair.A));
    }

    [Fact]
    public void RemoveReader_Installed_ReturnsTrueThenFalse()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        Assert.False(loop.RemoveReader(pair.A));

        loop.AddReader(pair.A, () => { });

        Assert.True(loop.RemoveReader(pair.A));
        Assert.False(loop.RemoveReader(pair.A));
    }

    [Fact]
    public void RemoveWriter_Installed_ReturnsTrueThenFalse()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        Assert.False(loop.RemoveWriter(pair.A));

        loop.AddWriter(pair.A, () => { });

        Assert.True(loop.RemoveWriter(pair.A));
        Assert.False(loop.RemoveWriter(pair.A));
    }

    [Fact]
    public void RemoveReader_DataPending_ReaderNeverRuns()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        pair.SendToA(4);
        int readerRuns = 0;
        int writerRuns = 0;
        loop.AddReader(pair.A, () => readerRuns++);
        Assert.True(loop.RemoveReader(pair.A));

        // The writer on the same socket is the barrier: a poll that reports it would also have
        // reported a reader still watched.
        loop.AddWriter(pair.A, () =>
        {
            if (++writerRuns == 3)
            {
                loop.Stop();
            }
        });
        RunBounded(loop);

        Assert.Equal(0, readerRuns);
        Assert.True(loop.RemoveWriter(pair.A));
    }

    [Fact]
    public void RemoveReader_KeepsWriter_WriterStillFires()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        int writerRuns = 0;
        loop.AddReader(pair.A, () => { });
        loop.AddWriter(pair.A, () =>
        {
            writerRuns++;
            loop.Stop();
        });

        Assert.True(loop.RemoveReader(pair.A));
        RunBounded(loop);

        Assert.Equal(1, writerRuns);
        Assert.True(loop.RemoveWriter(pair.A));
    }

    [Fact]
    public void AddReader_ReplacingReader_OldReaderNeverRuns()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        pair.SendToA(4);
        int oldRuns = 0;
        int newRuns = 0;
        loop.AddReader(pair.A, () => oldRuns++);
        loop.AddReader(pair.A, () =>
        {
            newRuns++;
            Drain(pair.A);
            loop.Stop();
        });

        RunBounded(loop);

        Assert.Equal(0, oldRuns);
        Assert.Equal(1, newRuns);
        Assert.True(loop.RemoveReader(pair.A));
        Assert.False(loop.RemoveReader(pair.A));
    }

    [Fact]
    public void AddReader_ReplacedWhilePendingInSameIteration_OldReaderDoesNotRun()
    {
        EventLoop loop = NewLoop();
        using var first = SocketPair.Create();
        using var second = SocketPair.Create();
        first.SendToA(4);
        second.SendToA(4);
        var log = new List<string>();

        // Both sockets are readable before the first poll, so both readers are normally queued for
        // the same iteration. Each replaces the other's reader: whichever runs first, the old
        // reader it replaced must not run, though it was already queued; its replacement runs on
        // a later iteration instead.
        void Install(SocketPair own, SocketPair other, string name, string otherName)
        {
            loop.AddReader(own.A, () =>
            {
                log.Add("old " + name);
                Drain(own.A);
                loop.AddReader(other.A, () =>
                {
                    log.Add("new " + otherName);
                    Drain(other.A);
                    loop.Stop();
                });
            });
        }

        Install(first, second, "first", "second");
        Install(second, first, "second", "first");

        RunBounded(loop);

        Assert.True(
            log.SequenceEqual(["old first", "new second"]) || log.SequenceEqual(["old second", "new first"]),
            "expected one old reader, then the other socket's replacement; got: " + string.Join(", ", log));
        Assert.True(loop.RemoveReader(first.A));
        Assert.True(loop.RemoveReader(second.A));
    }

    [Fact]
    public void AddWriter_Writable_WriterFires()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        int writerRuns = 0;
        loop.AddWriter(pair.A, () =>
        {
            writerRuns++;
            Assert.True(loop.RemoveWriter(pair.A));
            loop.Stop();
        });

        RunBounded(loop);

        Assert.Equal(1, writerRuns);
        Assert.False(loop.RemoveWriter(pair.A));
    }

    [Fact]
    public void AddWriter_StillWritable_FiresAgainOnLaterIterations()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        var firedAt = new List<int>();
        Func<int> iteration = () => 0;
        loop.AddWriter(pair.A, () =>
        {
            firedAt.Add(iteration());
            if (firedAt.Count == 3)
            {
                loop.Stop();
            }
        });
        iteration = StartIterationCounter(loop, _ => { });

        RunBounded(loop);

        Assert.Equal(3, firedAt.Count);
        Assert.Equal(firedAt.Distinct(), firedAt);
        Assert.True(loop.RemoveWriter(pair.A));
    }

    [Fact]
    public void RemoveReader_InWriterCallbackOfSameIteration_PendingReaderDoesNotRun()
    {
        EventLoop loop = NewLoop();
        using var writable = SocketPair.Create();
        using var readable = SocketPair.Create();
        readable.SendToA(4);
        int writerRuns = 0;
        int readerRuns = 0;

        // Both are ready before the first poll, so they are normally reported in the same
        // iteration. Each removes the other: whichever runs first, the other must not run, even
        // though it was already queued for this iteration.
        loop.AddWriter(writable.A, () =>
        {
            writerRuns++;
            _ = loop.RemoveReader(readable.A);
        });
        loop.AddReader(readable.A, () =>
        {
            readerRuns++;
            _ = loop.RemoveWriter(writable.A);
        });
        int firstRunAt = 0;
        StartIterationCounter(loop, i =>
        {
            if (firstRunAt == 0 && writerRuns + readerRuns > 0)
            {
                firstRunAt = i;
            }
            else if (firstRunAt != 0 && i == firstRunAt + 3)
            {
                loop.Stop();
            }
        });

        RunBounded(loop);

        Assert.True(writerRuns > 0 ^ readerRuns > 0, $"writer ran {writerRuns} times, reader {readerRuns} times: exactly one should have");
        Assert.True(loop.RemoveWriter(writable.A) ^ loop.RemoveReader(readable.A));
    }

    [Fact]
    public void RemoveReader_SocketDisposedFirst_ReturnsTrueThenFalse()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        loop.AddReader(pair.A, () => { });
        pair.A.Dispose();

        Assert.True(loop.RemoveReader(pair.A));
        Assert.False(loop.RemoveReader(pair.A));
    }

    [Fact]
    public void RemoveReaderAndWriter_SocketDisposedFirst_EachReturnsTrueThenFalse()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        loop.AddReader(pair.A, () => { });
        loop.AddWriter(pair.A, () => { });
        pair.A.Dispose();

        Assert.True(loop.RemoveReader(pair.A));
        Assert.True(loop.RemoveWriter(pair.A));
        Assert.False(loop.RemoveReader(pair.A));
        Assert.False(loop.RemoveWriter(pair.A));
    }

    [Fact]
    public void RemoveReader_SocketDisposedWhileLoopRan_ReturnsTrueAndLoopKeepsRunning()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        int readerRuns = 0;
        loop.AddReader(pair.A, () => readerRuns++);
        StartIterationCounter(loop, i =>
        {
            if (i == 2)
            {
                pair.A.Dispose();
            }
            else if (i == 10)
            {
                loop.Stop();
            }
        });

        RunBounded(loop);

        Assert.True(loop.RemoveReader(pair.A));
        Assert.False(loop.RemoveReader(pair.A));

        // The loop still serves I/O on other sockets.
        using var other = SocketPair.Create();
        other.SendToA(1);
        loop.AddReader(other.A, () =>
        {
            Drain(other.A);
            loop.Stop();
        });
        RunBounded(loop);
        Assert.True(loop.RemoveReader(other.A));
        Assert.Equal(0, readerRuns);
    }

    [Fact]
    public void CallSoon_SelfReschedulingForever_DoesNotStarveIo()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        int readerRuns = 0;
        loop.AddReader(pair.A, () =>
        {
            readerRuns++;
            Drain(pair.A);
            loop.Stop();
        });
        int spins = 0;
        StartIterationCounter(loop, i =>
        {
            spins = i;
            if (i == 2)
            {
                pair.B.Send([42]);
            }
        });

        RunBounded(loop);

        Assert.Equal(1, readerRuns);
        Assert.True(spins >= 2);
        Assert.True(loop.RemoveReader(pair.A));
    }

    [Fact]
    public void AddReader_ClosedLoop_Throws()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        loop.Close();

        Assert.Throws<InvalidOperationException>(() => loop.AddReader(pair.A, () => { }));
        Assert.Throws<InvalidOperationException>(() => loop.AddWriter(pair.A, () => { }));
        Assert.False(loop.RemoveReader(pair.A));
    }

    [Fact]
    public void AddReader_DisposedSocket_ThrowsObjectDisposed()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        pair.A.Dispose();

        Assert.Throws<ObjectDisposedException>(() => loop.AddReader(pair.A, () => { }));
        Assert.False(loop.RemoveReader(pair.A));
    }

    /// <summary>An anonymous pipe: <see cref="Reader"/> is the read end, <see cref="Writer"/> the write end.</summary>
    protected sealed class Pipe : IDisposable
    {
        public Pipe()
        {
            Writer = new AnonymousPipeServerStream(PipeDirection.Out);
            Reader = new AnonymousPipeClientStream(PipeDirection.In, Writer.ClientSafePipeHandle);
        }

        public AnonymousPipeServerStream Writer { get; }

        public AnonymousPipeClientStream Reader { get; }

        public void Dispose()
        {
            Reader.Dispose();
            Writer.Dispose();
        }
    }
}

public sealed partial class IoReadinessEpollTests : IoReadinessTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;

    [Fact]
    public void AddReader_RawPipeDescriptorWritten_ReaderFires()
    {
        EventLoop loop = NewLoop();
        using var pipe = new Pipe();
        bool written = false;
        byte? received = null;
        loop.AddReader(pipe.Reader.SafePipeHandle, () =>
        {
            Assert.True(written, "the reader ran before anything was written");
            received = (byte)pipe.Reader.ReadByte();
            loop.Stop();
        });
        StartIterationCounter(loop, i =>
        {
            if (i == 3)
            {
                pipe.Writer.WriteByte(7);
                pipe.Writer.Flush();
                written = true;
            }
        });

        RunBounded(loop);

        Assert.Equal((byte)7, received);
        Assert.True(loop.RemoveReader(pipe.Reader.SafePipeHandle));
        Assert.False(loop.RemoveReader(pipe.Reader.SafePipeHandle));
    }

    [Fact]
    public void AddWriter_RawPipeDescriptor_WriterFires()
    {
        EventLoop loop = NewLoop();
        using var pipe = new Pipe();
        int writerRuns = 0;
        loop.AddWriter(pipe.Writer.SafePipeHandle, () =>
        {
            writerRuns++;
            Assert.True(loop.RemoveWriter(pipe.Writer.SafePipeHandle));
            loop.Stop();
        });

        RunBounded(loop);

        Assert.Equal(1, writerRuns);
        Assert.False(loop.RemoveWriter(pipe.Writer.SafePipeHandle));
    }
}

public sealed class IoReadinessPortableTests : IoReadinessTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;

    [Fact]
    public void AddReader_RawDescriptor_ThrowsNotSupportedNamingEpoll()
    {
        EventLoop loop = NewLoop();
        using var pipe = new Pipe();

        var reader = Assert.Throws<NotSupportedException>(() => loop.AddReader(pipe.Reader.SafePipeHandle, () => { }));
        var writer = Assert.Throws<NotSupportedException>(() => loop.AddWriter(pipe.Writer.SafePipeHandle, () => { }));

        Assert.Contains("epoll", reader.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("epoll", writer.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(loop.RemoveReader(pipe.Reader.SafePipeHandle));
        Assert.False(loop.RemoveWriter(pipe.Writer.SafePipeHandle));
    }
}
