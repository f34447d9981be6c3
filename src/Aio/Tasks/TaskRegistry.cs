// The loop's pending tasks [asyncio's _scheduled_tasks WeakSet], kept weakly: a pending task stays
// alive through whatever it awaits (the future's callback holds it), so only a task that can never
// resume is collected, and its finalizer then reports it ("Task was destroyed but it is pending!").
//
// One weak GC handle per pending task in a slot array with a free list, the slot's index kept in the
// task: registering and unregistering cost a handle and no managed allocation, where a
// ConditionalWeakTable costs a dependent handle plus a container entry that grows and rehashes. A
// lock makes the few cross-thread readers (all_tasks from a shutdown path, a finalizer freeing the
// slot of a collected task) safe; on the loop thread it is never contended.
using System.Runtime.InteropServices;

namespace Aio;

/// <summary>Weak set of a loop's pending tasks. Every member is thread-safe.</summary>
internal sealed class TaskRegistry
{
    private readonly Lock _gate = new();
    private GCHandle[] _slots = new GCHandle[16];
    private int[] _free = new int[16];
    private int _freeCount;
    private int _used;

    /// <summary>Adds <paramref name="task"/>; returns its slot, for <see cref="Remove"/>.</summary>
    public int Add(ILoopTask task)
    {
        GCHandle handle = GCHandle.Alloc(task, GCHandleType.Weak);
        lock (_gate)
        {
            int slot;
            if (_freeCount > 0)
            {
                slot = _free[--_freeCount];
            }
            else
            {
                if (_used == _slots.Length)
                {
                    Array.Resize(ref _slots, _used * 2);
                    Array.Resize(ref _free, _used * 2);
                }

                slot = _used++;
            }

            _slots[slot] = handle;
            return slot;
        }
    }

    /// <summary>Removes the task in <paramref name="slot"/> (a value <see cref="Add"/> returned, once).</summary>
    public void Remove(int slot)
    {
        GCHandle handle;
        lock (_gate)
        {
            handle = _slots[slot];
            _slots[slot] = default;
            _free[_freeCount++] = slot;
        }

        handle.Free();
    }

    /// <summary>The registered tasks that are still alive and not done.</summary>
    public List<ILoopTask> Pending()
    {
        var pending = new List<ILoopTask>();
        lock (_gate)
        {
            for (int i = 0; i < _used; i++)
            {
                if (_slots[i].IsAllocated && _slots[i].Target is ILoopTask { IsDone: false } task)
                {
                    pending.Add(task);
                }
            }
        }

        return pending;
    }
}
