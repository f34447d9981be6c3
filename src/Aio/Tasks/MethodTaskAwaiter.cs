// How an async LoopTask method awaits Aio's own awaitables with no continuation delegate: the
// builder hands the awaiter the method's task (a loop work item), and completion queues that task.
using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>An Aio awaiter that resumes an async LoopTask method by queueing its task directly (no delegate).</summary>
internal interface IMethodTaskAwaiter
{
    /// <summary>Queues <paramref name="task"/> (its next step) on the loop when the awaited thing is done, as UnsafeOnCompleted.</summary>
    void OnCompleted(IMethodTask task);
}

/// <summary>
/// Calls <see cref="IMethodTaskAwaiter.OnCompleted"/> on an awaiter of type <typeparamref name="TAwaiter"/>
/// without boxing it, whatever the JIT's optimization level: a method builder knows the awaiter
/// only as an <see cref="INotifyCompletion"/>, and casting a struct to the interface would box it
/// (32 B per await) wherever the JIT does not elide that box (tier 0, debug builds). Made once per
/// awaiter type: a delegate over a constrained generic call, or null for awaiters that are not Aio's.
/// </summary>
internal static class MethodTaskAwaiter<TAwaiter>
{
    /// <summary>The awaiter's <see cref="IMethodTaskAwaiter.OnCompleted"/> taken by reference, or null.</summary>
    public static readonly OnCompletedByRef? OnCompleted = Make();

    /// <summary>Registers <paramref name="task"/> with the awaiter.</summary>
    public delegate void OnCompletedByRef(ref TAwaiter awaiter, IMethodTask task);

    private static OnCompletedByRef? Make() =>
        typeof(IMethodTaskAwaiter).IsAssignableFrom(typeof(TAwaiter))
            ? typeof(MethodTaskAwaiter<TAwaiter>).GetMethod(nameof(CallConstrained), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(typeof(TAwaiter))
                .CreateDelegate<OnCompletedByRef>()
            : null;

    /// <summary>Calls the awaiter's OnCompleted through the constraint (no box).</summary>
    private static void CallConstrained<TMethodTaskAwaiter>(ref TMethodTaskAwaiter awaiter, IMethodTask task)
        where TMethodTaskAwaiter : IMethodTaskAwaiter => awaiter.OnCompleted(task);
}
