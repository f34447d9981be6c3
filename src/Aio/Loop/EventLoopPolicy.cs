// Event loop policies, as asyncio had them before 3.14 deprecated the class (seed 003): a
// process-wide policy decides what NewEventLoop builds and remembers one "current" loop per thread.
// GetEventLoop returns the running loop if there is one; otherwise the thread's current loop; on
// the main thread only, it creates and remembers one when none was ever set. Other threads must
// set one first, so no thread gets a loop nobody will run by accident. A closed loop stays
// current until replaced, as in asyncio: using it then fails with "event loop is closed".
namespace Aio;

/// <summary>
/// Decides which loop <see cref="EventLoop.NewEventLoop"/> builds and which loop is current in
/// each thread [asyncio.DefaultEventLoopPolicy]. Subclass it to change either; install it with
/// <see cref="EventLoop.Policy"/>. Thread-safe: each thread sees its own current loop.
/// </summary>
public class EventLoopPolicy
{
    [ThreadStatic]
    private static System.Runtime.CompilerServices.ConditionalWeakTable<EventLoopPolicy, Slot>? t_slots;

    /// <summary>Creates a policy whose loops use <paramref name="options"/> (null: defaults).</summary>
    public EventLoopPolicy(EventLoopOptions? options = null)
    {
        Options = options ?? new EventLoopOptions();
    }

    /// <summary>The options every loop built by <see cref="NewEventLoop"/> gets, the backend among them.</summary>
    public EventLoopOptions Options { get; }

    /// <summary>Creates a loop [policy.new_event_loop]; it is not made current.</summary>
    public virtual EventLoop NewEventLoop() => new(Options);

    /// <summary>
    /// The calling thread's current loop [policy.get_event_loop]. On the main thread, creates and
    /// remembers one if none was ever set.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not the main thread and no loop was set for it.</exception>
    public virtual EventLoop GetEventLoop()
    {
        Slot slot = CurrentSlot();
        if (slot.Loop is null && !slot.SetCalled && IsMainThread())
        {
            SetEventLoop(NewEventLoop());
        }

        return slot.Loop ?? throw new InvalidOperationException(
            $"There is no current event loop in thread '{Thread.CurrentThread.Name ?? Environment.CurrentManagedThreadId.ToString(System.Globalization.CultureInfo.InvariantCulture)}'; " +
            "create one with EventLoop.NewEventLoop() and make it current with EventLoop.SetEventLoop(loop).");
    }

    /// <summary>Makes <paramref name="eventLoop"/> the calling thread's current loop, or clears it with null [policy.set_event_loop].</summary>
    public virtual void SetEventLoop(EventLoop? eventLoop)
    {
        Slot slot = CurrentSlot();
        slot.SetCalled = true;
        slot.Loop = eventLoop;
    }

    /// <summary>
    /// Whether the calling thread is the process's main thread, where <see cref="GetEventLoop"/>
    /// may create a loop. Default: the thread .NET started <c>Main</c> on.
    /// </summary>
    protected virtual bool IsMainThread() => Environment.CurrentManagedThreadId == 1;

    private Slot CurrentSlot() => (t_slots ??= new()).GetValue(this, static _ => new Slot());

    private sealed class Slot
    {
        public EventLoop? Loop;
        public bool SetCalled;
    }
}
