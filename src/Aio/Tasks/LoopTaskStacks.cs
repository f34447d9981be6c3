// task.get_stack() / print_stack() as far as .NET can tell. A suspended async method is a state
// machine (a compiler-generated type named after the method, such as "<ReadAllAsync>d__4") held by
// a box; the box's MoveNext delegate is what a pending Aio future keeps as its continuation. So the
// future a task waits on (ITaskInternals.PendingAwaits) names the innermost async method suspended on it, and an
// async LoopTask method's task is itself such a box, naming the task's own method. Frames between
// the two (async methods awaiting async methods) are not reachable without reading private fields
// of the runtime's boxes, which Aio does not do; a task awaiting a foreign (.NET) task shows only
// its own method, if known. When several delegate-bodied tasks await one future, nothing tells
// which continuation is whose: the first that is not another task's box is named. A failed task shows its exception's frames, a finished one none.
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>
/// Where a task is [task.get_stack(), task.print_stack()]. Extension methods of <see cref="ILoopTask"/>;
/// loop thread only (they read the task's state).
/// </summary>
public static class LoopTaskStacks
{
    /// <summary>
    /// The task's frames, outermost first [task.get_stack(limit=)]: for a pending task the async
    /// method it is suspended in, preceded by the task's own method when it is an
    /// <c>async LoopTask</c> method, each as "Namespace.Type.Method" (a lambda as "Type.Method (lambda)")
    /// and the innermost followed by what it awaits; for a failed task the frames of its exception
    /// (without counting as retrieving it); for a finished or cancelled one, none.
    /// </summary>
    /// <param name="task">The task.</param>
    /// <param name="limit">At most this many frames: the newest for a pending task, the oldest for a failed one (as asyncio). Null: all.</param>
    /// <exception cref="ArgumentNullException"><paramref name="task"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is negative.</exception>
    public static IReadOnlyList<string> GetStack(this ILoopTask task, int? limit = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (limit is { } max)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(max, nameof(limit));
        }

        var frames = new List<string>();
        if (task is not Future future)
        {
            return frames;
        }

        if (future.PeekException() is { } error)
        {
            foreach (StackFrame frame in new StackTrace(error, fNeedFileInfo: false).GetFrames())
            {
                if (DiagnosticMethodInfo.Create(frame) is { } method)
                {
                    frames.Add($"{method.DeclaringTypeName}.{method.Name}");
                }
            }

            return limit is { } oldest && frames.Count > oldest ? frames[..oldest] : frames;
        }

        if (task.IsDone)
        {
            return frames;
        }

        if (MethodOf(task.GetType()) is { } own)
        {
            frames.Add(own);
        }

        if (task is ITaskInternals core)
        {
            // One frame per Aio await pending on the task's behalf (several when helpers run concurrently).
            foreach (Future awaited in core.PendingAwaits)
            {
                string? inner = SuspendedMethod(task, awaited);
                if (inner is not null && (frames.Count == 0 || frames[^1] != inner))
                {
                    frames.Add(inner);
                }

                if (frames.Count > 0)
                {
                    frames[^1] += $", awaiting {awaited}";
                }
            }
        }

        return limit is { } newest && frames.Count > newest ? frames[^newest..] : frames;
    }

    /// <summary>
    /// Writes the task's frames [task.print_stack(limit=, file=)]: "Stack for &lt;task&gt; (most recent
    /// call last):" and one indented line per frame, or "No stack for &lt;task&gt;". Default writer:
    /// <see cref="Console.Error"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="task"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is negative.</exception>
    public static void PrintStack(this ILoopTask task, int? limit = null, TextWriter? writer = null)
    {
        IReadOnlyList<string> frames = GetStack(task, limit);
        writer ??= Console.Error;
        if (frames.Count == 0)
        {
            writer.WriteLine($"No stack for {task}");
            return;
        }

        writer.WriteLine($"{(task is Future { IsFaulted: true } ? "Traceback" : "Stack")} for {task} (most recent call last):");
        foreach (string frame in frames)
        {
            writer.WriteLine("  " + frame);
        }
    }

    /// <summary>
    /// The async method suspended on <paramref name="awaited"/> on behalf of <paramref name="task"/>:
    /// the task itself when it is an async LoopTask method's box, else the first continuation that
    /// is no other task's box (several delegate-bodied tasks awaiting one future cannot be told apart).
    /// </summary>
    private static string? SuspendedMethod(ILoopTask task, Future awaited)
    {
        object? callbacks = awaited.PeekCallbacks();
        IEnumerable<object> all = callbacks switch
        {
            List<object> list => list,
            null => [],
            _ => [callbacks],
        };
        foreach (object callback in all)
        {
            object target = callback is Delegate { Target: { } owner } ? owner : callback;
            if (ReferenceEquals(target, task))
            {
                return MethodOf(target.GetType());
            }
        }

        foreach (object callback in all)
        {
            object target = callback is Delegate { Target: { } owner } ? owner : callback;
            if (target is not ILoopTask && MethodOf(target.GetType()) is { } method)
            {
                return method;
            }
        }

        return null;
    }

    /// <summary>The method of a state-machine box type (a generic with an <see cref="IAsyncStateMachine"/> argument), or null.</summary>
    private static string? MethodOf(Type boxType)
    {
        if (!boxType.IsGenericType)
        {
            return null;
        }

        foreach (Type argument in boxType.GetGenericArguments())
        {
            if (typeof(IAsyncStateMachine).IsAssignableFrom(argument))
            {
                return Describe(argument);
            }
        }

        return null;
    }

    /// <summary>"Namespace.Type.Method" from a state machine type such as Type+&lt;Method&gt;d__3 (lambdas: "Type.Method (lambda)").</summary>
    private static string Describe(Type stateMachine)
    {
        string name = stateMachine.Name;
        string method = Unmangle(name);
        Type? owner = stateMachine.DeclaringType;
        while (owner is not null && owner.Name.StartsWith('<'))
        {
            owner = owner.DeclaringType; // a closure class: the method's type is further out
        }

        return owner is null ? method : $"{owner.FullName}.{method}";
    }

    private static string Unmangle(string name)
    {
        if (!name.StartsWith('<'))
        {
            return name;
        }

        int depth = 0;
        for (int i = 0; i < name.Length; i++)
        {
            depth += name[i] == '<' ? 1 : name[i] == '>' ? -1 : 0;
            if (depth == 0)
            {
                string inner = name[1..i];
                return inner.StartsWith('<') ? Unmangle(inner) + " (lambda)" : inner;
            }
        }

        return name;
    }
}
