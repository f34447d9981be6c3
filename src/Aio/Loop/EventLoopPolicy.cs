// Event loop policies, as asyncio had them before 3.14 deprecated the class (seed 003): a
// process-wide policy decides what NewEventLoop builds and remembers one "current" loop per thread.
// GetEventLoop returns the running loop if there is one; otherwise the thread's current loop; on
// the main thread only, it creates and remembers one when none was ever set. Other threads must
// set one first, so no thread gets a loop nobody will run by accident. A closed loop stays
// current until replaced, as in asyncio: using it then fails with "event loop is closed".
//
// The global loop (score.asyncio's use_global_loop) is one process-wide fallback, consulted before
// any of that when a thread has no current loop: a shared loop running in its own thread
// (Aio.Hosting.SharedEventLoop) installs itself there so every thread that has none finds it. It is
// static, not per policy instance, because it describes the process, and replacing the policy must
// not make it disappear. It never wins over a loop a thread set for itself, nor over the running loop.
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

    private static EventLoop? s_globalLoop;

    /// <summary>Creates a policy whose loops use <paramref name="options"/> (null: defaults).</summary>
    public EventLoopPolicy(EventLoopOptions? options = null)
    {
        Options = options ?? new EventLoopOptions();
    }

    /// <summary>The options every loop built by <see cref="NewEventLoop"/> gets, the backend among them.</summary>
    public EventLoopOptions Options { get; }

    /// <summary>
    /// A process-wide fallback loop [score.asyncio's use_global_loop]: when set,
    /// <see cref="GetEventLoop"/> returns it in every thread whose current loop is null (never set,
    /// or cleared with <c>SetEventLoop(null)</c>), on any policy that does not override
    /// <see cref="GetEventLoop"/>, instead of creating a loop (main thread) or throwing (other
    /// threads). A thread's own current loop, and the running loop, still come first. Null (the
    /// default) turns the fallback off. <see cref="Aio.Hosting.SharedEventLoop"/> sets it when
    /// <see cref="Aio.Hosting.SharedEventLoopOptions.UseGlobalLoop"/> is on, and clears it when
    /// disposed. Thread-safe; the setter does not close the loop it replaces.
    /// </summary>
    public static EventLoop? GlobalLoop
    {
        get => Volatile.Read(ref s_globalLoop);
        set => Volatile.Write(ref s_globalLoop, value);
    }

    /// <summary>Creates a loop [policy.new_event_loop]; it is not made current.</summary>
    public virtual EventLoop NewEventLoop() => new(Options);

    /// <summary>
    /// The calling thread's current loop [policy.get_event_loop]. When the thread has none: the
    /// <see cref="GlobalLoop"/> if one is set; else, on the main thread, a new loop that is created
    /// and remembered if none was ever set.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// Not the main thread, no loop was set for it, and no <see cref="GlobalLoop"/> is set.
    /// </exception>
    public virtual EventLoop GetEventLoop()
    {
        Slot slot = CurrentSlot();
        if (slot.Loop is null && GlobalLoop is { } global)
        {
            return global;
        }

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

    /// <summary>Makes <paramref name="loop"/> the global loop if none is set (or it already is); false if another loop is.</summary>
    internal static bool TryInstallGlobalLoop(EventLoop loop)
    {
        EventLoop? previous = Interlocked.CompareExchange(ref s_globalLoop, loop, null);
        return previous is null || ReferenceEquals(previous, loop);
    }

    /// <summary>Clears the global loop if it is still <paramref name="loop"/> (someone may have replaced it).</summary>
    internal static void UninstallGlobalLoop(EventLoop loop) => Interlocked.CompareExchange(ref s_globalLoop, null, loop);

    private Slot CurrentSlot() => (t_slots ??= new()).GetValue(this, static _ => new Slot());

    private sealed class Slot
    {
        public EventLoop? Loop;
        public bool SetCalled;
    }
}
