namespace Aio;

public sealed partial class EventLoop
{
    private static EventLoopPolicy? s_policy;

    /// <summary>
    /// The process-wide policy [asyncio.get_event_loop_policy / set_event_loop_policy]. Setting
    /// null restores a default policy. Thread-safe.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.AllowNull]
    public static EventLoopPolicy Policy
    {
        get
        {
            EventLoopPolicy? policy = Volatile.Read(ref s_policy);
            return policy ?? Interlocked.CompareExchange(ref s_policy, new EventLoopPolicy(), null) ?? s_policy;
        }

        set => Volatile.Write(ref s_policy, value);
    }

    /// <summary>The loop running on the calling thread [asyncio.get_running_loop].</summary>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static EventLoop GetRunningLoop() => t_running ?? throw new InvalidOperationException(
        "No event loop is running on this thread; call this from code the loop runs, or use EventLoop.TryGetRunningLoop().");

    /// <summary>The loop running on the calling thread, or null [asyncio._get_running_loop].</summary>
    public static EventLoop? TryGetRunningLoop() => t_running;

    /// <summary>
    /// The running loop if there is one, else the policy's current loop for this thread
    /// [asyncio.get_event_loop]; a thread with none gets <see cref="EventLoopPolicy.GlobalLoop"/> when
    /// it is set. Otherwise, on the main thread one is created when none was set; on other threads
    /// one must have been set.
    /// </summary>
    /// <exception cref="InvalidOperationException">No loop runs, was set on this (non-main) thread, or is the global loop.</exception>
    public static EventLoop GetEventLoop() => t_running ?? Policy.GetEventLoop();

    /// <summary>Makes <paramref name="loop"/> current for the calling thread through the policy [asyncio.set_event_loop].</summary>
    public static void SetEventLoop(EventLoop? loop) => Policy.SetEventLoop(loop);

    /// <summary>Creates a loop through the policy [asyncio.new_event_loop]. It is not made current.</summary>
    public static EventLoop NewEventLoop() => Policy.NewEventLoop();
}
