// The stream reader [asyncio.StreamReader]: a byte buffer that a protocol feeds and one reader at a
// time consumes, with asyncio's rules for limits, separators and the end of the stream.
//
// Reads as asyncio's coroutines, without a coroutine per read. Each read method first tries to
// complete against the buffer it finds; if it can (data buffered, EOF, an error) it returns an
// awaitable that already holds the result and allocates nothing but the returned bytes. Otherwise it
// becomes the reader's single pending operation (asyncio's _waiter): an AsyncStreamReadOperation,
// which is a Future<byte[]> so that awaiting it from a LoopTask lets task cancellation reach it.
// FeedData, FeedEof and SetException "wake" the operation as they would wake asyncio's waiter: a
// step is queued on the loop (once per wake) and the step re-runs the read's rules against the
// buffer as it is when the step runs, which is when asyncio's coroutine would resume. Whatever
// arrived in the same iteration is therefore seen together, as in asyncio. When the step completes
// the read it resumes the awaiting code right there, in the same callback, so a read that waited
// takes exactly one loop iteration after the data arrived, as a coroutine resumed by its waiter does.
// The reader keeps that operation and starts its next waiting read on it again (versioned; see
// AsyncStreamReadOperation), so waiting allocates nothing in the steady state; ReadAsync(Memory<byte>)
// copies into the caller's memory and returns the count, so a read allocates nothing at all.
//
// The rules themselves (AsyncStreamReader.Rules.cs) are CPython's read, readexactly, readuntil
// (with 3.13's several separators) and readline, transcribed loop for loop; a few places where
// CPython would wait forever after set_exception raise that exception instead.
//
// Flow control as asyncio: feeding more than twice the limit pauses the transport's reading;
// consuming down to the limit resumes it; and a read that must wait resumes it first, or a read of
// more than the limit (ReadExactly) could never complete.
//
// The buffer is a rented array holding the bytes in [_start, _end): consuming advances _start,
// appending compacts or grows, and an emptied buffer goes back to the pool.
using System.Buffers;
using System.Runtime.CompilerServices;

namespace Aio.Net;

/// <summary>
/// Reads bytes that a connection delivers [asyncio.StreamReader]: read up to n bytes or to the end,
/// read a line, exactly n bytes, or up to a separator, with a limit on line and chunk length (64 KiB
/// by default). Get one from <see cref="Streams.OpenConnectionAsync(string, int, int, CancellationToken)"/> or a
/// <see cref="Streams.StartServerAsync"/> callback, or create one and feed it yourself
/// (<see cref="FeedData"/>, <see cref="FeedEof"/>, <see cref="SetException"/>). One read may wait at a
/// time; a read that waits belongs to the loop running on the calling thread, and cancelling the
/// task that awaits it ends it with <see cref="CancelledError"/> and leaves the buffer intact (except
/// for <see cref="ReadAsync(int, CancellationToken)"/> to the end, which, as asyncio's, drops what it had collected).
/// Not thread-safe: use it on its loop's thread only.
/// </summary>
public sealed partial class AsyncStreamReader
{
    /// <summary>The default limit, 64 KiB [asyncio.streams._DEFAULT_LIMIT].</summary>
    public const int DefaultLimit = 64 * 1024;

    private const int MinimumCapacity = 4096;

    private byte[] _buffer = [];
    private int _start;
    private int _end;
    private bool _eof;
    private bool _paused;
    private Exception? _exception;
    private IReadTransport? _transport;
    private AsyncStreamReadOperation? _waiter;
    private AsyncStreamReadOperation? _operation;

    /// <summary>Creates an empty reader [StreamReader(limit=)].</summary>
    /// <param name="limit">
    /// The longest line or chunk that <see cref="ReadLineAsync"/> and <see cref="ReadUntilAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
    /// return, not counting the separator; the buffer pauses the transport above twice this.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is zero or negative.</exception>
    public AsyncStreamReader(int limit = DefaultLimit)
    {
        if (limit <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "The limit must be positive.");
        }

        Limit = limit;
    }

    /// <summary>The line and chunk limit given at creation.</summary>
    public int Limit { get; }

    /// <summary>Whether the buffer is empty and <see cref="FeedEof"/> was called [reader.at_eof()].</summary>
    public bool AtEof => _eof && Count == 0;

    /// <summary>The error given to <see cref="SetException"/>, or null [reader.exception()].</summary>
    public Exception? Exception => _exception;

    /// <summary>The transport the reader pauses and resumes, once set.</summary>
    public IReadTransport? Transport => _transport;

    /// <summary>How many bytes are buffered (for tests and diagnostics).</summary>
    internal int BufferedCount => Count;

    /// <summary>Whether the reader paused its transport's reading (for tests and diagnostics).</summary>
    internal bool IsPaused => _paused;

    /// <summary>Whether a read is waiting for data (for tests and diagnostics).</summary>
    internal bool HasWaiter => _waiter is not null;

    /// <summary>The operation the next waiting read may reuse (for tests and diagnostics).</summary>
    internal object? ReusableOperation => _operation;

    private int Count => _end - _start;

    private ReadOnlySpan<byte> Buffered => _buffer.AsSpan(_start, _end - _start);

    /// <summary>
    /// Sets the transport the reader pauses when its buffer grows past twice the limit and resumes
    /// when it drains [reader.set_transport]. The stream functions call it for you.
    /// </summary>
    /// <exception cref="InvalidOperationException">A transport is already set.</exception>
    public void SetTransport(IReadTransport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        if (_transport is not null)
        {
            throw new InvalidOperationException("The reader already has a transport.");
        }

        _transport = transport;
    }

    /// <summary>The connection was upgraded to TLS: pause and resume <paramref name="transport"/> from now on (paused now if the reader is).</summary>
    internal void ReplaceTransport(IReadTransport transport)
    {
        _transport = transport;
        if (_paused)
        {
            transport.PauseReading();
        }
    }

    /// <summary>
    /// Appends <paramref name="data"/> to the buffer and wakes a waiting read [reader.feed_data]; the
    /// read resumes in a later loop callback, never inside this call. An empty span does nothing. When
    /// the buffer then holds more than twice <see cref="Limit"/>, the transport's reading is paused (a
    /// transport that throws <see cref="NotSupportedException"/> is forgotten, and the reader just buffers).
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="FeedEof"/> was called.</exception>
    public void FeedData(ReadOnlySpan<byte> data)
    {
        if (_eof)
        {
            throw new InvalidOperationException("FeedData after FeedEof: the stream has ended.");
        }

        if (data.IsEmpty)
        {
            return;
        }

        Append(data);
        _waiter?.Wake(null);
        if (_transport is not null && !_paused && Count > 2 * (long)Limit)
        {
            try
            {
                _transport.PauseReading();
                _paused = true;
            }
            catch (NotSupportedException)
            {
                _transport = null;
            }
        }
    }

    /// <summary>Marks the end of the stream and wakes a waiting read [reader.feed_eof()]. Idempotent.</summary>
    public void FeedEof()
    {
        _eof = true;
        _waiter?.Wake(null);
    }

    /// <summary>
    /// Records a connection error [reader.set_exception]: a waiting read ends with
    /// <paramref name="exception"/>, and every later read throws it.
    /// </summary>
    public void SetException(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        _exception = exception;
        _waiter?.Wake(exception);
    }

    /// <summary>
    /// Reads up to <paramref name="n"/> bytes [await reader.read(n)]: with n &gt; 0, as soon as at least
    /// one byte is buffered, at most n of them; with n = 0, nothing at once; with n = -1 (or any negative
    /// value), everything up to the end of the stream. At the end of the stream the result is empty.
    /// The limit does not apply.
    /// </summary>
    /// <param name="n">The most bytes to return; negative: read to the end.</param>
    /// <param name="cancellationToken">Cancels a waiting read, as cancelling its task does.</param>
    /// <returns>An awaitable of the bytes; it throws the reader's <see cref="Exception"/> if one is set.</returns>
    /// <exception cref="InvalidOperationException">The read must wait while another read is waiting, or no loop runs on this thread.</exception>
    public AsyncStreamReadAwaitable ReadAsync(int n = -1, CancellationToken cancellationToken = default) =>
        Start(new ReadRequest(n < 0 ? ReadKind.ReadAll : ReadKind.Read, n), "ReadAsync", cancellationToken);

    /// <summary>
    /// Reads up to <paramref name="buffer"/>'s length into it [await reader.read(n), the .NET way:
    /// <see cref="Stream.ReadAsync(Memory{byte}, CancellationToken)"/>'s shape]: as soon as at least one
    /// byte is buffered, as many as are there and fit, copied into <paramref name="buffer"/>; no array is
    /// made, and in the steady state nothing is allocated (a read that waits reuses the reader's one
    /// waiting read). The result is the count: 0 only at the end of the stream or for an empty
    /// <paramref name="buffer"/> (which returns at once). The limit does not apply; flow control is
    /// as for the other reads (taking the buffer down to the limit resumes a paused transport).
    /// A waiting read is an Aio await: cancelling its task, or <paramref name="cancellationToken"/>,
    /// ends it with <see cref="CancelledError"/> and leaves the buffer and <paramref name="buffer"/>
    /// untouched. Await the result once, on the loop's thread.
    /// </summary>
    /// <param name="buffer">Where to copy the bytes; it must stay valid until the read completes.</param>
    /// <param name="cancellationToken">Cancels a waiting read, as cancelling its task does.</param>
    /// <returns>The number of bytes copied; it throws the reader's <see cref="Exception"/> if one is set.</returns>
    /// <exception cref="InvalidOperationException">The read must wait while another read is waiting, or no loop runs on this thread.</exception>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromException<int>(new CancelledError(AsyncStreamReadOperation.TokenCancelMessage));
        }

        var request = new ReadRequest(ReadKind.ReadInto, 0) { Destination = buffer };
        switch (Evaluate(ref request, out _, out Exception? error))
        {
            case Outcome.Done:
                return new ValueTask<int>(request.Transferred);
            case Outcome.Failed:
                return ValueTask.FromException<int>(error!);
        }

        AsyncStreamReadOperation waiter = BeginWait(request, "ReadAsync", cancellationToken);
        return new ValueTask<int>(waiter, waiter.Version);
    }

    /// <summary>
    /// Reads one line, ending with <c>\n</c> [await reader.readline()]. At the end of the stream it
    /// returns the unterminated rest, or an empty array when nothing is left.
    /// </summary>
    /// <param name="cancellationToken">Cancels a waiting read, as cancelling its task does.</param>
    /// <returns>
    /// An awaitable of the line. It throws <see cref="LimitOverrunError"/> when the line (without the
    /// newline) is longer than <see cref="Limit"/>, after removing that line from the buffer if its
    /// newline arrived, or clearing the buffer if not (asyncio raises ValueError here), and the reader's
    /// <see cref="Exception"/> if one is set.
    /// </returns>
    /// <exception cref="InvalidOperationException">The read must wait while another read is waiting, or no loop runs on this thread.</exception>
    public AsyncStreamReadAwaitable ReadLineAsync(CancellationToken cancellationToken = default) =>
        Start(new ReadRequest(ReadKind.ReadLine, 0) { Separator = NewLine }, "ReadLineAsync", cancellationToken);

    /// <summary>
    /// Reads exactly <paramref name="n"/> bytes [await reader.readexactly(n)]; 0 returns an empty array
    /// at once. The limit does not apply.
    /// </summary>
    /// <param name="n">How many bytes to read.</param>
    /// <param name="cancellationToken">Cancels a waiting read, as cancelling its task does.</param>
    /// <returns>
    /// An awaitable of the bytes. It throws <see cref="IncompleteReadError"/> (with the bytes that were
    /// there, which leave the buffer) when the stream ends first, and the reader's <see cref="Exception"/>
    /// if one is set.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The read must wait while another read is waiting, or no loop runs on this thread.</exception>
    public AsyncStreamReadAwaitable ReadExactlyAsync(int n, CancellationToken cancellationToken = default)
    {
        if (n < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "ReadExactlyAsync cannot read a negative number of bytes.");
        }

        return Start(new ReadRequest(ReadKind.ReadExactly, n), "ReadExactlyAsync", cancellationToken);
    }

    /// <summary>
    /// Reads up to and including <paramref name="separator"/> [await reader.readuntil(separator)].
    /// The separator's bytes must not change while the read waits.
    /// </summary>
    /// <param name="separator">One or more bytes.</param>
    /// <param name="cancellationToken">Cancels a waiting read, as cancelling its task does.</param>
    /// <returns>
    /// An awaitable of the data with the separator at its end. It throws
    /// <see cref="IncompleteReadError"/> (with everything buffered, which leaves the buffer) when the
    /// stream ends before the separator; <see cref="LimitOverrunError"/> when the separator is not
    /// found within <see cref="Limit"/> bytes, or is found beyond them, leaving the data in the buffer
    /// so it can be read another way; and the reader's <see cref="Exception"/> if one is set.
    /// </returns>
    /// <exception cref="ArgumentException"><paramref name="separator"/> is empty.</exception>
    /// <exception cref="InvalidOperationException">The read must wait while another read is waiting, or no loop runs on this thread.</exception>
    public AsyncStreamReadAwaitable ReadUntilAsync(ReadOnlyMemory<byte> separator, CancellationToken cancellationToken = default)
    {
        if (separator.IsEmpty)
        {
            throw new ArgumentException("The separator must be at least one byte long.", nameof(separator));
        }

        return Start(new ReadRequest(ReadKind.ReadUntil, 0) { Separator = separator }, "ReadUntilAsync", cancellationToken);
    }

    /// <summary>
    /// Reads up to and including the first of several separators to end in the data
    /// [await reader.readuntil((sep1, sep2, ...)), Python 3.13]: the match that ends first wins, and
    /// among matches ending at the same place the shortest. Otherwise as
    /// <see cref="ReadUntilAsync(ReadOnlyMemory{byte}, CancellationToken)"/>.
    /// </summary>
    /// <param name="separators">At least one separator, each at least one byte; copied.</param>
    /// <param name="cancellationToken">Cancels a waiting read, as cancelling its task does.</param>
    /// <returns>An awaitable of the data with the matched separator at its end.</returns>
    /// <exception cref="ArgumentException"><paramref name="separators"/> is empty or holds an empty separator.</exception>
    /// <exception cref="InvalidOperationException">The read must wait while another read is waiting, or no loop runs on this thread.</exception>
    public AsyncStreamReadAwaitable ReadUntilAsync(IReadOnlyList<ReadOnlyMemory<byte>> separators, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(separators);
        if (separators.Count == 0)
        {
            throw new ArgumentException("At least one separator is needed.", nameof(separators));
        }

        var sorted = new ReadOnlyMemory<byte>[separators.Count];
        for (int i = 0; i < sorted.Length; i++)
        {
            if (separators[i].IsEmpty)
            {
                throw new ArgumentException("Every separator must be at least one byte long.", nameof(separators));
            }

            sorted[i] = separators[i].ToArray();
        }

        // Shortest first, as CPython sorts them: among matches ending at the same place the shortest wins.
        Array.Sort(sorted, static (a, b) => a.Length.CompareTo(b.Length));
        return Start(new ReadRequest(ReadKind.ReadUntil, 0) { Separator = sorted[0], Separators = sorted }, "ReadUntilAsync", cancellationToken);
    }

    /// <summary>
    /// Reads line after line until the end of the stream [async for line in reader]; each line as
    /// <see cref="ReadLineAsync"/> returns it, the last possibly without its newline.
    /// </summary>
    /// <param name="cancellationToken">Cancels a waiting read, as cancelling its task does.</param>
    public async IAsyncEnumerable<byte[]> ReadLinesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            byte[] line = await ReadLineAsync(cancellationToken);
            if (line.Length == 0)
            {
                yield break;
            }

            yield return line;
        }
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var text = new System.Text.StringBuilder("<AsyncStreamReader");
        if (Count > 0)
        {
            text.Append(' ').Append(Count).Append(" bytes");
        }

        if (_eof)
        {
            text.Append(" eof");
        }

        if (Limit != DefaultLimit)
        {
            text.Append(" limit=").Append(Limit);
        }

        if (_waiter is not null)
        {
            text.Append(" waiter");
        }

        if (_exception is not null)
        {
            text.Append(" exception=").Append(_exception.GetType().Name);
        }

        if (_paused)
        {
            text.Append(" paused");
        }

        return text.Append('>').ToString();
    }

    /// <summary>
    /// Waits until data is buffered or the stream ended, for the <see cref="System.IO.Stream"/> adapter;
    /// the awaitable's bytes are empty and meaningless.
    /// </summary>
    internal AsyncStreamReadAwaitable WaitForDataAsync(CancellationToken cancellationToken) =>
        Start(new ReadRequest(ReadKind.WaitForData, 0), "ReadAsync", cancellationToken);

    /// <summary>Copies up to <paramref name="destination"/>'s length of buffered bytes out; returns how many.</summary>
    internal int ReadBuffered(Span<byte> destination)
    {
        int count = Math.Min(destination.Length, Count);
        Buffered[..count].CopyTo(destination);
        Consume(count);
        MaybeResumeTransport();
        return count;
    }

    /// <summary>The operation was handed out as a future: never start another read on it.</summary>
    internal void Forget(AsyncStreamReadOperation operation)
    {
        if (ReferenceEquals(_operation, operation))
        {
            _operation = null;
        }
    }

    /// <summary>The waiting operation ended (completed or cancelled): the reader has no waiter any more.</summary>
    internal void Detach(AsyncStreamReadOperation operation)
    {
        if (ReferenceEquals(_waiter, operation))
        {
            _waiter = null;
        }
    }

    /// <summary>Runs the request's rules once more for its waiting operation; Wait keeps it waiting.</summary>
    internal Outcome Resume(ref ReadRequest request, out byte[]? result, out Exception? error)
    {
        Outcome outcome = Evaluate(ref request, out result, out error);
        if (outcome == Outcome.Wait)
        {
            PrepareWait();
        }

        return outcome;
    }

    private AsyncStreamReadAwaitable Start(ReadRequest request, string operation, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return new AsyncStreamReadAwaitable(new CancelledError(AsyncStreamReadOperation.TokenCancelMessage));
        }

        switch (Evaluate(ref request, out byte[]? result, out Exception? error))
        {
            case Outcome.Done:
                return new AsyncStreamReadAwaitable(result!);
            case Outcome.Failed:
                return new AsyncStreamReadAwaitable(error!);
        }

        return new AsyncStreamReadAwaitable(BeginWait(request, operation, cancellationToken));
    }

    /// <summary>The read must wait: it becomes the reader's waiter, on the reader's reusable operation when it can be.</summary>
    private AsyncStreamReadOperation BeginWait(ReadRequest request, string operation, CancellationToken cancellationToken)
    {
        // asyncio's _wait_for_data: one waiter at a time, and never wait with the transport paused.
        if (_waiter is not null)
        {
            throw new InvalidOperationException(
                $"{operation} called while another read is already waiting for incoming data; an AsyncStreamReader serves one reader at a time.");
        }

        EventLoop loop = EventLoop.TryGetRunningLoop() ?? throw new InvalidOperationException(
            $"{operation} must wait for data, which needs code running on an event loop, and no loop is running on this thread.");
        PrepareWait();
        AsyncStreamReadOperation? waiter = _operation;
        if (waiter is null || !waiter.CanReuse || waiter.Loop != loop)
        {
            waiter = new AsyncStreamReadOperation(loop, this);
            _operation = waiter;
        }

        waiter.Begin(request);
        _waiter = waiter;
        waiter.Arm(cancellationToken);
        return waiter;
    }

    /// <summary>A read is about to wait: a paused transport would never deliver what it waits for.</summary>
    private void PrepareWait()
    {
        if (_paused)
        {
            _paused = false;
            _transport!.ResumeReading();
        }
    }

    /// <summary>asyncio's _maybe_resume_transport: resume once the buffer is back to the limit.</summary>
    private void MaybeResumeTransport()
    {
        if (_paused && Count <= Limit)
        {
            _paused = false;
            _transport!.ResumeReading();
        }
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        int count = Count;
        if (data.Length > _buffer.Length - _end)
        {
            if (count + (long)data.Length <= _buffer.Length && _start >= _buffer.Length / 2)
            {
                // Enough room once the consumed head is reclaimed, and most of the array is that head.
                Buffered.CopyTo(_buffer);
            }
            else
            {
                long wanted = Math.Max(Math.Max(count + (long)data.Length, 2L * _buffer.Length), MinimumCapacity);
                byte[] grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(wanted, Array.MaxLength));
                Buffered.CopyTo(grown);
                ReturnBuffer();
                _buffer = grown;
            }

            _start = 0;
            _end = count;
        }

        data.CopyTo(_buffer.AsSpan(_end));
        _end += data.Length;
    }

    /// <summary>Removes and returns the first <paramref name="count"/> buffered bytes.</summary>
    private byte[] Take(int count)
    {
        if (count == 0)
        {
            return [];
        }

        byte[] taken = Buffered[..count].ToArray();
        Consume(count);
        return taken;
    }

    private void Consume(int count)
    {
        _start += count;
        if (_start == _end)
        {
            ReturnBuffer();
            _buffer = [];
            _start = 0;
            _end = 0;
        }
    }

    private void ReturnBuffer()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}
