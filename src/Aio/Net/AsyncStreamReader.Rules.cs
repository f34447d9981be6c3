// The read rules of asyncio's StreamReader (CPython Lib/asyncio/streams.py), one case per method.
//
// Evaluate runs a request against the buffer as it is now and says Done (with the bytes), Failed
// (with the error) or Wait. It is called once when the read starts and again each time the waiting
// operation is woken, exactly where CPython's coroutine would resume after `await
// self._wait_for_data(...)`; the request carries the coroutine's locals that survive a wait (the
// readuntil scan offset, the blocks a read-to-EOF has collected). Where CPython would go back to
// waiting although an exception is set (it can only be woken by data or EOF then, and a lost
// connection brings neither), Evaluate fails with that exception instead.
using System.Buffers;

namespace Aio.Net;

public sealed partial class AsyncStreamReader
{
    private static readonly ReadOnlyMemory<byte> NewLine = new byte[] { (byte)'\n' };

    /// <summary>What a read is, as its operation remembers it.</summary>
    internal enum ReadKind : byte
    {
        /// <summary>read(n), n ≥ 0.</summary>
        Read,

        /// <summary>read(-1): to the end of the stream.</summary>
        ReadAll,

        /// <summary>readexactly(n).</summary>
        ReadExactly,

        /// <summary>readuntil(separator or separators).</summary>
        ReadUntil,

        /// <summary>readline(): readuntil(b'\n') with its error translation.</summary>
        ReadLine,

        /// <summary>Data buffered or EOF (the Stream adapter copies the data itself).</summary>
        WaitForData,

        /// <summary>read(n) into the caller's memory: n is the destination's length, the result its count.</summary>
        ReadInto,
    }

    /// <summary>The result of running a read's rules against the buffer.</summary>
    internal enum Outcome : byte
    {
        /// <summary>The read completed with bytes.</summary>
        Done,

        /// <summary>The read failed.</summary>
        Failed,

        /// <summary>The read needs more data or the end of the stream.</summary>
        Wait,
    }

    private Outcome Evaluate(ref ReadRequest request, out byte[]? result, out Exception? error)
    {
        result = null;
        error = null;
        switch (request.Kind)
        {
            case ReadKind.Read:
            case ReadKind.ReadAll:
            case ReadKind.ReadExactly:
            case ReadKind.WaitForData:
            case ReadKind.ReadInto:
                if (_exception is not null && !request.Started)
                {
                    error = _exception;
                    return Outcome.Failed;
                }

                request.Started = true;
                return request.Kind switch
                {
                    ReadKind.Read => EvaluateRead(request.Count, out result, out error),
                    ReadKind.ReadAll => EvaluateReadAll(ref request, out result, out error),
                    ReadKind.ReadExactly => EvaluateReadExactly(request.Count, out result, out error),
                    ReadKind.ReadInto => EvaluateReadInto(ref request, out result, out error),
                    _ => Count > 0 || _eof ? Done(out result) : WaitUnlessFailed(out error),
                };
            case ReadKind.ReadUntil:
                return EvaluateReadUntil(ref request, out result, out error);
            default:
                Outcome outcome = EvaluateReadUntil(ref request, out result, out error);
                return outcome == Outcome.Failed ? TranslateLineError(ref error, out result) : outcome;
        }
    }

    private static Outcome Done(out byte[] result)
    {
        result = [];
        return Outcome.Done;
    }

    /// <summary>read(n): at least one byte, at most n; empty at EOF.</summary>
    private Outcome EvaluateRead(int n, out byte[]? result, out Exception? error)
    {
        result = null;
        if (n == 0)
        {
            error = null;
            result = [];
            return Outcome.Done;
        }

        if (Count == 0 && !_eof)
        {
            return WaitUnlessFailed(out error);
        }

        error = null;
        result = Take(Math.Min(n, Count));
        MaybeResumeTransport();
        return Outcome.Done;
    }

    /// <summary>read(n) with n the destination's length, copied into it: as read(n), without the result array.</summary>
    private Outcome EvaluateReadInto(ref ReadRequest request, out byte[]? result, out Exception? error)
    {
        result = null;
        if (request.Destination.IsEmpty)
        {
            error = null;
            result = [];
            return Outcome.Done;
        }

        if (Count == 0 && !_eof)
        {
            return WaitUnlessFailed(out error);
        }

        error = null;
        result = [];
        request.Transferred = ReadBuffered(request.Destination.Span);
        return Outcome.Done;
    }

    /// <summary>read(-1): CPython loops read(limit) until it returns nothing; every block collected is kept in the request.</summary>
    private Outcome EvaluateReadAll(ref ReadRequest request, out byte[]? result, out Exception? error)
    {
        result = null;
        while (true)
        {
            if (_exception is not null)
            {
                // Each read(limit) of the loop checks the exception first; the blocks collected are lost.
                request.DropCollected();
                error = _exception;
                return Outcome.Failed;
            }

            if (Count == 0)
            {
                if (!_eof)
                {
                    error = null;
                    return Outcome.Wait;
                }

                error = null;
                result = request.TakeCollected();
                return Outcome.Done;
            }

            request.Collect(Buffered);
            Consume(Count);
            MaybeResumeTransport();
        }
    }

    /// <summary>readexactly(n).</summary>
    private Outcome EvaluateReadExactly(int n, out byte[]? result, out Exception? error)
    {
        result = null;
        error = null;
        if (n == 0)
        {
            result = [];
            return Outcome.Done;
        }

        if (Count < n)
        {
            if (_eof)
            {
                error = new IncompleteReadError(Take(Count), n);
                return Outcome.Failed;
            }

            return WaitUnlessFailed(out error);
        }

        result = Take(n);
        MaybeResumeTransport();
        return Outcome.Done;
    }

    /// <summary>readuntil(separator) and readuntil((separators...)), CPython 3.13.</summary>
    private Outcome EvaluateReadUntil(ref ReadRequest request, out byte[]? result, out Exception? error)
    {
        result = null;
        error = null;
        if (!request.Started)
        {
            request.Started = true;
            if (_exception is not null)
            {
                error = _exception;
                return Outcome.Failed;
            }
        }

        int minLength = request.Separator.Length;
        int maxLength = request.Separators is { } all ? all[^1].Length : minLength;
        int matchStart = -1;
        int matchEnd = -1;
        while (true)
        {
            int length = Count;

            // Enough new data for the shortest separator to fit beyond the part already scanned?
            if (length - request.Offset >= minLength)
            {
                ReadOnlySpan<byte> unscanned = Buffered[request.Offset..];
                if (request.Separators is null)
                {
                    int found = unscanned.IndexOf(request.Separator.Span);
                    if (found >= 0)
                    {
                        matchStart = request.Offset + found;
                        matchEnd = matchStart + minLength;
                    }
                }
                else
                {
                    foreach (ReadOnlyMemory<byte> separator in request.Separators)
                    {
                        int found = unscanned.IndexOf(separator.Span);
                        if (found >= 0 && (matchEnd < 0 || request.Offset + found + separator.Length < matchEnd))
                        {
                            matchStart = request.Offset + found;
                            matchEnd = matchStart + separator.Length;
                        }
                    }
                }

                if (matchEnd >= 0)
                {
                    break;
                }

                // No separator starts before this offset (the last maxLength - 1 bytes may hold the start of one).
                request.Offset = Math.Max(0, length + 1 - maxLength);
                if (request.Offset > Limit)
                {
                    error = new LimitOverrunError("Separator is not found, and chunk exceed the limit", request.Offset);
                    return Outcome.Failed;
                }
            }

            // A complete separator may have come with the last chunk, so EOF is checked after the scan.
            if (_eof)
            {
                error = new IncompleteReadError(Take(Count), null);
                return Outcome.Failed;
            }

            return WaitUnlessFailed(out error);
        }

        if (matchStart > Limit)
        {
            error = new LimitOverrunError("Separator is found, but chunk is longer than limit", matchStart);
            return Outcome.Failed;
        }

        result = Take(matchEnd);
        MaybeResumeTransport();
        return Outcome.Done;
    }

    /// <summary>
    /// readline()'s handling of readuntil's errors: the partial line at EOF is the result; a limit
    /// overrun drops the over-long line (or, with no newline in sight, the whole buffer) and is rethrown.
    /// </summary>
    private Outcome TranslateLineError(ref Exception? error, out byte[]? result)
    {
        result = null;
        switch (error)
        {
            case IncompleteReadError incomplete:
                result = incomplete.Partial;
                error = null;
                return Outcome.Done;
            case LimitOverrunError overrun:
                if (overrun.Consumed < Count && Buffered[overrun.Consumed] == (byte)'\n')
                {
                    Consume(overrun.Consumed + 1);
                }
                else
                {
                    Consume(Count);
                }

                MaybeResumeTransport();
                return Outcome.Failed;
            default:
                return Outcome.Failed;
        }
    }

    /// <summary>
    /// The read must wait; with an exception already set it fails with it instead (CPython would wait
    /// on a waiter nothing will wake).
    /// </summary>
    private Outcome WaitUnlessFailed(out Exception? error)
    {
        error = _exception;
        return error is null ? Outcome.Wait : Outcome.Failed;
    }

    /// <summary>A read in progress: its kind, its arguments, and the locals CPython's coroutine keeps across waits.</summary>
    internal struct ReadRequest(ReadKind kind, int count)
    {
        private ArrayBufferWriter<byte>? _collected;

        public readonly ReadKind Kind = kind;

        /// <summary>n of read(n) and readexactly(n).</summary>
        public readonly int Count = count;

        /// <summary>The separator, or the shortest of several.</summary>
        public ReadOnlyMemory<byte> Separator;

        /// <summary>Several separators, shortest first; null for one.</summary>
        public ReadOnlyMemory<byte>[]? Separators;

        /// <summary>Where a read into the caller's memory copies to.</summary>
        public Memory<byte> Destination;

        /// <summary>How many bytes a read into the caller's memory copied (its result).</summary>
        public int Transferred;

        /// <summary>readuntil's scan offset: no separator starts before it.</summary>
        public int Offset;

        /// <summary>Whether the read's opening checks ran (they run once, not after each wait).</summary>
        public bool Started;

        public void Collect(ReadOnlySpan<byte> block) => (_collected ??= new ArrayBufferWriter<byte>(block.Length)).Write(block);

        public byte[] TakeCollected()
        {
            byte[] all = _collected is null ? [] : _collected.WrittenSpan.ToArray();
            _collected = null;
            return all;
        }

        public void DropCollected() => _collected = null;
    }
}
