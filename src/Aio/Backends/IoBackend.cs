// The I/O multiplexer behind an EventLoop.
//
// The loop owns scheduling (ready queue, timers, inbox, wake-up flag); a backend owns only two
// things: blocking the loop thread until I/O is ready or someone wakes it, and tracking which
// descriptors the loop wants readiness for. Poll reports readiness through IIoReadySink on the
// loop thread, inside the Poll call, so the loop can queue the reader/writer callbacks for the
// current iteration. Readiness is level-triggered, as in asyncio: a descriptor that stays
// readable is reported again on every Poll until its callback drains it or it is removed.
//
// Wake may be called from any thread, any number of times; the loop calls it at most once per
// sleep (see Inbox), so a backend need not coalesce, but must remember a wake that arrives
// before Poll starts waiting (an eventfd or a set event does).
namespace Aio.Backends;

/// <summary>Receives readiness from <see cref="IoBackend.Poll"/> on the loop thread.</summary>
internal interface IIoReadySink
{
    /// <summary>Called once per ready registration per poll.</summary>
    void OnIoReady(IoRegistration registration, bool readable, bool writable);
}

/// <summary>The I/O multiplexer contract that every backend implements.</summary>
internal abstract class IoBackend : IDisposable
{
    /// <summary>A short name for logs and benchmarks: "epoll" or "portable".</summary>
    public abstract string Name { get; }

    /// <summary>Whether raw file descriptors (not only sockets) can be watched.</summary>
    public abstract bool SupportsRawDescriptors { get; }

    /// <summary>
    /// Blocks the loop thread until a registration is ready, <see cref="Wake"/> is called, or
    /// <paramref name="timeoutMs"/> elapses (-1: no limit; 0: do not block). Reports every ready
    /// registration to <paramref name="sink"/> before returning. Loop thread only.
    /// </summary>
    public abstract void Poll(int timeoutMs, IIoReadySink sink);

    /// <summary>Makes a blocked or upcoming <see cref="Poll"/> return. Any thread.</summary>
    public abstract void Wake();

    /// <summary>
    /// Applies <paramref name="registration"/>'s current interest (<see cref="IoRegistration.WantsRead"/>,
    /// <see cref="IoRegistration.WantsWrite"/>); a registration that wants neither is removed.
    /// Loop thread only.
    /// </summary>
    public abstract void Update(IoRegistration registration);

    /// <summary>Releases the multiplexer. Registrations are dropped; the descriptors are not closed.</summary>
    public abstract void Dispose();
}
