using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>
/// One entry of the ready queue: a callback object and its state. The callback is an
/// <see cref="Action{T}"/> of object, an <see cref="Action"/> (await continuations), an
/// <see cref="ILoopWorkItem"/> (handles, tasks), a future's done callback (state: the future) or a
/// <see cref="SendOrPostCallback"/>, so scheduling allocates nothing beyond what the caller passes.
/// </summary>
internal readonly struct ReadyItem
{
    public readonly object Callback;
    public readonly object? State;

    public ReadyItem(object callback, object? state)
    {
        Callback = callback;
        State = state;
    }

    /// <summary>Runs the entry. Exceptions propagate to the loop's dispatcher.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Run()
    {
        object callback = Callback;
        if (callback is Action<object?> action)
        {
            action(State);
        }
        else if (callback is Action continuation)
        {
            continuation();
        }
        else if (callback is ILoopWorkItem item)
        {
            item.Execute(State);
        }
        else if (callback is Action<Future> doneCallback)
        {
            doneCallback((Future)State!);
        }
        else
        {
            ((SendOrPostCallback)callback)(State);
        }
    }
}

/// <summary>
/// The loop's FIFO of callbacks ready to run: a growable ring buffer of structs that allocates
/// only when it grows. Loop thread only.
/// </summary>
internal sealed class ReadyQueue
{
    private ReadyItem[] _items = new ReadyItem[256];
    private int _head;
    private int _count;

    public int Count => _count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Enqueue(object callback, object? state)
    {
        if (_count == _items.Length)
        {
            Grow();
        }

        _items[(_head + _count) & (_items.Length - 1)] = new ReadyItem(callback, state);
        _count++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadyItem Dequeue()
    {
        ref ReadyItem slot = ref _items[_head];
        ReadyItem item = slot;
        slot = default;
        _head = (_head + 1) & (_items.Length - 1);
        _count--;
        return item;
    }

    public void Clear()
    {
        Array.Clear(_items);
        _head = 0;
        _count = 0;
    }

    private void Grow()
    {
        var larger = new ReadyItem[_items.Length * 2];
        for (int i = 0; i < _count; i++)
        {
            larger[i] = _items[(_head + i) & (_items.Length - 1)];
        }

        _items = larger;
        _head = 0;
    }
}
