// A caller's CancellationToken on a loop-task factory (connect, start a server, resolve a name,
// start a process, upgrade to TLS...). There is one cancellation mechanism, asyncio's: the token is
// mapped onto the task's own Cancel(), so a token cancels exactly as task.Cancel() does, through the
// same cleanup path (each factory's finally/catch blocks close what they opened, so nothing stays
// registered and no descriptor leaks). The mapping lives only while the task runs: the registration
// is disposed when the task is done.
//
// Already cancelled when the factory is called: the task is created lazily instead of eagerly and
// cancelled before its first step, so its body never runs (nothing is opened at all) and it ends
// cancelled on the next iteration, as an asyncio task cancelled before it started.
//
// Cancelled later from the loop thread (a callback, a protocol, the task's own body): Cancel() runs
// at once, exactly as a direct call would. From any other thread: Cancel() is posted to the loop.
namespace Aio;

/// <summary>Links a caller's token to a future or task: cancelling the token cancels it, until it is done.</summary>
internal static class CancellationLink
{
    private static readonly Action<object?> CancelOnLoop = static state =>
    {
        var future = (Future)state!;
        EventLoop loop = future.Loop;
        if (loop.IsOnLoopThread)
        {
            future.Cancel();
        }
        else
        {
            loop.TryCallSoonThreadSafe(static target => ((Future)target!).Cancel(), future);
        }
    };

    /// <summary>
    /// Creates a factory's task, eager unless <paramref name="cancellationToken"/> is cancelled
    /// already (then the body never runs), and links the token to it.
    /// </summary>
    public static LoopTask<T> CreateCancellableTask<T>(this EventLoop loop, Func<Task<T>> body, string name, CancellationToken cancellationToken)
    {
        LoopTask<T> task = loop.CreateTask(body, name, eager: !cancellationToken.IsCancellationRequested);
        Link(task, cancellationToken);
        return task;
    }

    /// <summary>As <see cref="CreateCancellableTask{T}(EventLoop, Func{Task{T}}, string, CancellationToken)"/>; the body receives the task's own token.</summary>
    public static LoopTask<T> CreateCancellableTask<T>(this EventLoop loop, Func<CancellationToken, Task<T>> body, string name, CancellationToken cancellationToken)
    {
        LoopTask<T> task = loop.CreateTask(body, name, eager: !cancellationToken.IsCancellationRequested);
        Link(task, cancellationToken);
        return task;
    }

    /// <summary>
    /// Cancels <paramref name="future"/> when <paramref name="cancellationToken"/> is cancelled (at once
    /// when it already is), until the future is done. Loop thread.
    /// </summary>
    public static void Link(Future future, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled || future.IsDone)
        {
            return;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            future.Cancel();
            return;
        }

        CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(CancelOnLoop, future);
        if (future.IsDone)
        {
            registration.Dispose();
            return;
        }

        future.AddDoneCallback(_ => registration.Dispose());
    }
}
