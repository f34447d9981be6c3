using System.Buffers;

namespace Aio.Net;

/// <summary>
/// The bytes a transport accepted but the kernel did not take yet: a FIFO of segments rented from
/// <see cref="ArrayPool{T}.Shared"/>. Small writes are appended to the free tail of the last
/// segment, so a burst of small writes fills a few large segments instead of allocating one per
/// write. Loop thread only.
/// </summary>
internal sealed class WriteBuffer
{
    /// <summary>The smallest segment rented; larger writes rent a segment of their own size.</summary>
    private const int MinSegment = 16 * 1024;

    private Segment[] _ring = new Segment[4];
    private int _head;
    private int _count;

    /// <summary>Bytes buffered and not yet consumed.</summary>
    public int Size { get; private set; }

    /// <summary>Whether nothing is buffered.</summary>
    public bool IsEmpty => _count == 0;

    /// <summary>The unsent bytes of the first segment; empty when <see cref="IsEmpty"/>.</summary>
    public ReadOnlySpan<byte> Head
    {
        get
        {
            if (_count == 0)
            {
                return default;
            }

            ref Segment head = ref _ring[_head];
            return head.Array.AsSpan(head.Start, head.End - head.Start);
        }
    }

    /// <summary>The unsent bytes of the first segment as memory (valid until the next Consume or Clear); empty when <see cref="IsEmpty"/>.</summary>
    public ReadOnlyMemory<byte> HeadMemory
    {
        get
        {
            if (_count == 0)
            {
                return default;
            }

            ref Segment head = ref _ring[_head];
            return head.Array.AsMemory(head.Start, head.End - head.Start);
        }
    }

    /// <summary>Copies <paramref name="data"/> to the end of the buffer.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        if (_count > 0)
        {
            ref Segment tail = ref _ring[(_head + _count - 1) % _ring.Length];
            int free = tail.Array.Length - tail.End;
            if (free > 0)
            {
                int n = Math.Min(free, data.Length);
                data[..n].CopyTo(tail.Array.AsSpan(tail.End));
                tail.End += n;
                Size += n;
                data = data[n..];
                if (data.IsEmpty)
                {
                    return;
                }
            }
        }

        byte[] array = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, MinSegment));
        data.CopyTo(array);
        if (_count == _ring.Length)
        {
            Grow();
        }

        _ring[(_head + _count) % _ring.Length] = new Segment(array, 0, data.Length);
        _count++;
        Size += data.Length;
    }

    /// <summary>Drops the first <paramref name="bytes"/> bytes of <see cref="Head"/> (at most all of it).</summary>
    public void Consume(int bytes)
    {
        ref Segment head = ref _ring[_head];
        head.Start += bytes;
        Size -= bytes;
        if (head.Start == head.End)
        {
            ArrayPool<byte>.Shared.Return(head.Array);
            head = default;
            _head = (_head + 1) % _ring.Length;
            _count--;
        }
    }

    /// <summary>Drops everything and returns the segments to the pool. Idempotent.</summary>
    public void Clear()
    {
        while (_count > 0)
        {
            ref Segment head = ref _ring[_head];
            ArrayPool<byte>.Shared.Return(head.Array);
            head = default;
            _head = (_head + 1) % _ring.Length;
            _count--;
        }

        _head = 0;
        Size = 0;
    }

    private void Grow()
    {
        var ring = new Segment[_ring.Length * 2];
        for (int i = 0; i < _count; i++)
        {
            ring[i] = _ring[(_head + i) % _ring.Length];
        }

        _ring = ring;
        _head = 0;
    }

    private struct Segment(byte[] array, int start, int end)
    {
        public readonly byte[] Array = array;
        public int Start = start;
        public int End = end;
    }
}
