using System.Diagnostics;

namespace Aio;

/// <summary>
/// A callback scheduled on an <see cref="EventLoop"/> [asyncio.Handle]. Returned by
/// <see cref="EventLoop.CallSoon(Action)"/> and its relatives; cancel it to keep the callback from running.
/// </summary>
/// <remarks>
/// <see cref="Cancel"/> is not thread-safe: call it on the loop thread (in debug mode a call from
/// another thread throws). To cancel from another thread, post the cancel with
/// <see cref="EventLoop.CallSoonThreadSafe(Action)"/>.
/// </remarks>
public class Handle : ILoopWorkItem
{
    private Delegate? _callback;
    private object? _state;

    internal Handle(EventLoop loop, Delegate callback, object? state)
    {
        Loop = loop;
        _callback = callback;
        _state = state;
        if (loop.DebugEnabled)
        {
            CreationStackTrace = CallerStackTrace();
        }
    }

    /// <summary>The loop this handle belongs to.</summary>
    public EventLoop Loop { get; }

    /// <summary>Whether <see cref="Cancel"/> was called.</summary>
    public bool IsCancelled { get; private set; }

    /// <summary>In debug mode, where the callback was scheduled; otherwise null.</summary>
    public StackTrace? CreationStackTrace { get; }

    /// <summary>The callback, or null once the handle is cancelled.</summary>
    public Delegate? Callback => _callback;

    /// <summary>
    /// Keeps the callback from running if it has not run yet. Idempotent; cancelling a handle whose
    /// callback already ran has no effect. Loop thread only.
    /// </summary>
    public virtual void Cancel()
    {
        if (IsCancelled)
        {
            return;
        }

        Loop.CheckThread(nameof(Cancel));
        IsCancelled = true;
        _callback = null;
        _state = null;
    }

    /// <summary>Runs the callback unless cancelled. Exceptions propagate to the loop's dispatcher.</summary>
    internal void Run()
    {
        switch (_callback)
        {
            case null:
                return;
            case Action action:
                action();
                return;
            default:
                ((Action<object?>)_callback)(_state);
                return;
        }
    }

    void ILoopWorkItem.Execute(object? state) => Run();

    /// <inheritdoc />
    public override string ToString()
    {
        string name = _callback is null ? "<cancelled>" : DescribeCallback(_callback);
        return $"<{GetType().Name} {name}>";
    }

    /// <summary>The current stack without Aio's own frames on top: it starts where the user scheduled.</summary>
    private static StackTrace CallerStackTrace()
    {
        StackFrame[] frames = new StackTrace(1, fNeedFileInfo: true).GetFrames();
        int first = 0;
        while (first < frames.Length - 1 && IsOwnFrame(frames[first]))
        {
            first++;
        }

        return new StackTrace(frames[first..]);
    }

    private static bool IsOwnFrame(StackFrame frame) =>
        DiagnosticMethodInfo.Create(frame)?.DeclaringAssemblyName is { } assembly &&
        (assembly == OwnAssembly || assembly.StartsWith(OwnAssembly + ",", StringComparison.Ordinal));

    private static readonly string OwnAssembly = typeof(Handle).Assembly.GetName().Name!;

    internal static string DescribeCallback(Delegate callback) =>
        callback.Method.DeclaringType is { } type ? $"{type.Name}.{callback.Method.Name}" : callback.Method.Name;
}
