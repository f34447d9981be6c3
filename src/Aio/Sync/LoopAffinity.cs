// Loop affinity of the synchronization primitives [asyncio.mixins._LoopBoundMixin, 3.10+].
//
// A primitive is created anywhere (no loop needed), and is bound to the loop running on the
// thread that first uses it. From then on a use from code running on another loop throws, and so
// does a use from any other thread while its loop runs: the primitives hold no OS lock, so they
// are safe only on their loop's thread. Operations that do not suspend (TryAcquire, Release, Set,
// Notify, Abort...) are also allowed when no loop runs on the calling thread and the bound loop is
// not running (setup and teardown code between runs, as asyncio allows); operations that may
// suspend need the running loop, since their future belongs to it.
namespace Aio.Sync;

/// <summary>The loop a primitive is bound to. A mutable struct: keep it in a non-readonly field.</summary>
internal struct LoopAffinity
{
    private EventLoop? _loop;

    /// <summary>The bound loop, or null before the first use on a running loop.</summary>
    public readonly EventLoop? Loop => _loop;

    /// <summary>For an operation that may suspend: returns the running loop, binding to it on first use.</summary>
    /// <exception cref="InvalidOperationException">No loop runs on this thread, or the primitive is bound to another loop.</exception>
    public EventLoop ForWait(object primitive)
    {
        EventLoop running = EventLoop.TryGetRunningLoop() ?? throw new InvalidOperationException(
            $"{Describe(primitive)} can be waited on only from code running on an event loop (a LoopTask or a loop callback), and no loop is running on this thread.");
        Bind(running, primitive);
        return running;
    }

    /// <summary>For an operation that does not suspend: checks the thread, binding to the running loop on first use.</summary>
    /// <exception cref="InvalidOperationException">The primitive is bound to another loop, or its loop runs on another thread.</exception>
    public void ForAccess(object primitive)
    {
        EventLoop? running = EventLoop.TryGetRunningLoop();
        if (running is not null)
        {
            Bind(running, primitive);
        }
        else if (_loop is { IsRunning: true })
        {
            throw new InvalidOperationException(
                $"{Describe(primitive)} belongs to an event loop that is running on another thread, and it is not thread-safe; hand the call to that loop with CallSoonThreadSafe.");
        }
    }

    private void Bind(EventLoop running, object primitive)
    {
        if (_loop is null)
        {
            _loop = running;
        }
        else if (!ReferenceEquals(_loop, running))
        {
            throw new InvalidOperationException(
                $"{Describe(primitive)} is bound to a different event loop: a primitive belongs to the loop it was first used on; create one per loop.");
        }
    }

    private static string Describe(object primitive) => "This " + ReadableName(primitive.GetType());

    /// <summary>A type's name as C# writes it: "AsyncQueue&lt;Int32&gt;", not "AsyncQueue`1".</summary>
    internal static string ReadableName(Type type)
    {
        if (!type.IsGenericType)
        {
            return type.Name;
        }

        string name = type.Name;
        int tick = name.IndexOf('`', StringComparison.Ordinal);
        if (tick >= 0)
        {
            name = name[..tick];
        }

        return name + "<" + string.Join(", ", type.GetGenericArguments().Select(ReadableName)) + ">";
    }
}
