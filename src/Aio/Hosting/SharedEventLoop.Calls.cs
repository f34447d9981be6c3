// Calling into the shared loop from code that is not on it: score.asyncio's await_ and
// await_multiple, plus async variants.
//
// Every call holds a loop token for its duration, so it works whether or not someone else keeps
// the loop running: the loop starts if needed and, when the call's token was the last, stops again
// afterwards (waiting for pending tasks as any last release does). Applications that call often
// should hold a token of their own for their lifetime (a hosted service does), so calls do not
// start and stop the thread each time.
//
// A call is a batch of delegates. One thread-safe post creates a LoopTask per delegate, in order,
// in a single loop callback, so they run concurrently on the loop (score.asyncio ran them one after
// another); each task's done callback records its outcome, and the last one completes a .NET task
// (continuations asynchronous, so nothing of the caller runs on the loop thread). The blocking
// forms wait for that task; they refuse to run on the loop thread, which would wait for itself.
// If the shared loop is disposed while a call is in flight, its task is abandoned with the loop and
// the call fails with ObjectDisposedException instead of waiting forever.
namespace Aio.Hosting;

public sealed partial class SharedEventLoop
{
    private readonly CancellationTokenSource _disposing = new();

    /// <summary>
    /// Runs <paramref name="body"/> on the loop as a <see cref="LoopTask{T}"/> and blocks the
    /// calling thread until it completes [ConfiguredAsyncioModule.await_]. Holds a loop token for
    /// the call (see <see cref="StartLoop"/>), so the loop need not be running. Thread-safe; not
    /// from the loop thread.
    /// </summary>
    /// <param name="body">The async delegate; it is invoked on the loop thread, and its awaits resume there.</param>
    /// <param name="cancellationToken">Cancels the loop task (its pending Aio await throws <see cref="CancelledError"/>, and its own token is cancelled).</param>
    /// <returns>The task's result.</returns>
    /// <exception cref="InvalidOperationException">Called on the loop thread: the loop could not run the delegate while this thread waits for it.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was already cancelled (nothing ran).</exception>
    /// <exception cref="ObjectDisposedException">The shared loop was (or got) disposed; a task in flight was abandoned with it.</exception>
    /// <remarks>Whatever the task failed with is rethrown unchanged, a cancelled task's <see cref="CancelledError"/> included.</remarks>
    public T Await<T>(Func<Task<T>> body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        ThrowIfBlockingOnLoopThread(nameof(Await));
        cancellationToken.ThrowIfCancellationRequested();
        using LoopToken token = StartLoop();
        return WaitForCalls(Submit([body], "Await", cancellationToken))[0].GetResult();
    }

    /// <inheritdoc cref="Await{T}(Func{Task{T}}, CancellationToken)"/>
    public void Await(Func<Task> body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        Await(WithResult(body), cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="body"/> on the loop as a <see cref="LoopTask{T}"/> and returns a .NET
    /// task with its outcome, for callers that are async but not on the loop (a request handler).
    /// Holds a loop token until the call completes. Thread-safe, from any thread.
    /// </summary>
    /// <param name="body">The async delegate; it is invoked on the loop thread, and its awaits resume there.</param>
    /// <param name="cancellationToken">Cancels the loop task (its pending Aio await throws <see cref="CancelledError"/>, and its own token is cancelled).</param>
    /// <returns>
    /// A task with the loop task's result, or its exception unchanged (a <see cref="CancelledError"/>
    /// makes it cancelled, and awaiting it rethrows that error). Its continuations never run on the loop thread
    /// unless they ask to. Already cancelled when <paramref name="cancellationToken"/> was.
    /// Faulted with <see cref="ObjectDisposedException"/> when the shared loop is (or gets) disposed.
    /// </returns>
    public Task<T> AwaitAsync<T>(Func<Task<T>> body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        return cancellationToken.IsCancellationRequested ? Task.FromCanceled<T>(cancellationToken) : AwaitOneAsync(body, cancellationToken);
    }

    /// <inheritdoc cref="AwaitAsync{T}(Func{Task{T}}, CancellationToken)"/>
    public Task AwaitAsync(Func<Task> body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        return AwaitAsync(WithResult(body), cancellationToken);
    }

    /// <summary>
    /// Runs every delegate of <paramref name="bodies"/> on the loop as its own task, all
    /// concurrently (created in order, in one loop callback), and blocks the calling thread until
    /// all have completed [ConfiguredAsyncioModule.await_multiple, but concurrent]. One failing
    /// does not stop the others. Holds a loop token for the call. Thread-safe; not from the loop thread.
    /// </summary>
    /// <param name="bodies">The async delegates, each invoked on the loop thread.</param>
    /// <param name="cancellationToken">Cancels every task still running; each cancelled one's outcome is its <see cref="CancelledError"/>.</param>
    /// <returns>One outcome per delegate, in the order given: its result, or its exception unchanged.</returns>
    /// <exception cref="InvalidOperationException">Called on the loop thread: the loop could not run the delegates while this thread waits for them.</exception>
    /// <exception cref="ArgumentException">A delegate is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was already cancelled (nothing ran).</exception>
    /// <exception cref="ObjectDisposedException">The shared loop was (or got) disposed; tasks in flight were abandoned with it.</exception>
    public CallOutcome<T>[] AwaitMultiple<T>(IEnumerable<Func<Task<T>>> bodies, CancellationToken cancellationToken = default)
    {
        Func<Task<T>>[] calls = CheckBodies(bodies);
        ThrowIfBlockingOnLoopThread(nameof(AwaitMultiple));
        cancellationToken.ThrowIfCancellationRequested();
        if (calls.Length == 0)
        {
            return [];
        }

        using LoopToken token = StartLoop();
        return WaitForCalls(Submit(calls, "AwaitMultiple", cancellationToken));
    }

    /// <summary>
    /// As <see cref="AwaitMultiple{T}(IEnumerable{Func{Task{T}}}, CancellationToken)"/>, for
    /// delegates without a result [await_multiple].
    /// </summary>
    /// <returns>One entry per delegate, in the order given: null where it succeeded, else its exception unchanged.</returns>
    /// <exception cref="InvalidOperationException">Called on the loop thread.</exception>
    /// <exception cref="ArgumentException">A delegate is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was already cancelled (nothing ran).</exception>
    /// <exception cref="ObjectDisposedException">The shared loop was (or got) disposed.</exception>
    public Exception?[] AwaitMultiple(IEnumerable<Func<Task>> bodies, CancellationToken cancellationToken = default) =>
        ErrorsOf(AwaitMultiple(WithResults(bodies), cancellationToken));

    /// <summary>
    /// As <see cref="AwaitMultiple{T}(IEnumerable{Func{Task{T}}}, CancellationToken)"/>, without
    /// blocking: for async callers that are not on the loop. Thread-safe, from any thread.
    /// </summary>
    /// <returns>
    /// A task with one outcome per delegate, in order; it never faults for a delegate's failure.
    /// Cancelled at once when <paramref name="cancellationToken"/> already was; faulted with
    /// <see cref="ObjectDisposedException"/> when the shared loop is (or gets) disposed.
    /// </returns>
    /// <exception cref="ArgumentException">A delegate is null.</exception>
    public Task<CallOutcome<T>[]> AwaitMultipleAsync<T>(IEnumerable<Func<Task<T>>> bodies, CancellationToken cancellationToken = default)
    {
        Func<Task<T>>[] calls = CheckBodies(bodies);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<CallOutcome<T>[]>(cancellationToken);
        }

        return calls.Length == 0 ? Task.FromResult<CallOutcome<T>[]>([]) : AwaitManyAsync(calls, cancellationToken);
    }

    /// <summary>
    /// As <see cref="AwaitMultipleAsync{T}(IEnumerable{Func{Task{T}}}, CancellationToken)"/>, for
    /// delegates without a result: null where one succeeded, else its exception unchanged.
    /// </summary>
    /// <exception cref="ArgumentException">A delegate is null.</exception>
    public async Task<Exception?[]> AwaitMultipleAsync(IEnumerable<Func<Task>> bodies, CancellationToken cancellationToken = default) =>
        ErrorsOf(await AwaitMultipleAsync(WithResults(bodies), cancellationToken).ConfigureAwait(false));

    private async Task<T> AwaitOneAsync<T>(Func<Task<T>> body, CancellationToken cancellationToken)
    {
        LoopToken token = StartLoop();
        try
        {
            CallOutcome<T>[] outcomes = await WaitForCallsAsync(Submit([body], "Await", cancellationToken)).ConfigureAwait(false);
            return outcomes[0].GetResult();
        }
        finally
        {
            await token.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task<CallOutcome<T>[]> AwaitManyAsync<T>(Func<Task<T>>[] bodies, CancellationToken cancellationToken)
    {
        LoopToken token = StartLoop();
        try
        {
            return await WaitForCallsAsync(Submit(bodies, "AwaitMultiple", cancellationToken)).ConfigureAwait(false);
        }
        finally
        {
            await token.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Posts the batch to the loop; the caller holds a token, so the loop runs.</summary>
    private Task<CallOutcome<T>[]> Submit<T>(Func<Task<T>>[] bodies, string name, CancellationToken cancellationToken)
    {
        var batch = new CallBatch<T>(Loop, bodies, name, cancellationToken);
        if (!Loop.TryCallSoonThreadSafe(static state => ((CallBatch<T>)state!).Start(), batch))
        {
            // Only Dispose closes the loop while a token is held.
            throw new ObjectDisposedException(nameof(SharedEventLoop), "The shared loop was disposed before the call could reach it.");
        }

        return batch.Completion.Task;
    }

    private CallOutcome<T>[] WaitForCalls<T>(Task<CallOutcome<T>[]> calls) =>
        WaitForCallsAsync(calls).GetAwaiter().GetResult();

    private async Task<CallOutcome<T>[]> WaitForCallsAsync<T>(Task<CallOutcome<T>[]> calls)
    {
        try
        {
            return await calls.WaitAsync(_disposing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_disposing.IsCancellationRequested)
        {
            if (calls.IsCompleted)
            {
                return await calls.ConfigureAwait(false);
            }

            throw new ObjectDisposedException(
                nameof(SharedEventLoop),
                "The shared loop was disposed while the call was in flight; its task was abandoned with the loop. Release tokens (and let calls finish) before disposing it.");
        }
    }

    private void ThrowIfBlockingOnLoopThread(string method)
    {
        if (IsLoopThread)
        {
            throw new InvalidOperationException(
                $"{method} blocks the calling thread until the loop has run the delegate, but this is the loop's own thread: " +
                "the loop could not run it while this thread waits, a deadlock. From code on the loop, await the delegate directly " +
                $"(await body()), or use {method}Async.");
        }
    }

    private static Func<Task<T>>[] CheckBodies<T>(IEnumerable<Func<Task<T>>> bodies)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        Func<Task<T>>[] calls = [.. bodies];
        if (Array.IndexOf(calls, null) is var index and >= 0)
        {
            throw new ArgumentException($"The delegate at index {index} is null; pass one async delegate per call.", nameof(bodies));
        }

        return calls;
    }

    private static Func<Task<bool>> WithResult(Func<Task> body) => async () =>
    {
        await body();
        return true;
    };

    private static IEnumerable<Func<Task<bool>>> WithResults(IEnumerable<Func<Task>> bodies)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        return [.. bodies.Select(body => body is null ? null! : WithResult(body))];
    }

    private static Exception?[] ErrorsOf(CallOutcome<bool>[] outcomes) => [.. outcomes.Select(outcome => outcome.Exception)];

    /// <summary>One call-in: a task per delegate, created together on the loop; completes when all are done.</summary>
    private sealed class CallBatch<T>(EventLoop loop, Func<Task<T>>[] bodies, string name, CancellationToken cancellationToken)
    {
        private readonly CallOutcome<T>[] _outcomes = new CallOutcome<T>[bodies.Length];
        private LoopTask<T>[] _tasks = [];
        private CancellationTokenRegistration _registration;
        private int _remaining;

        public TaskCompletionSource<CallOutcome<T>[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Creates the tasks. Loop thread.</summary>
        public void Start()
        {
            _tasks = new LoopTask<T>[bodies.Length];
            _remaining = bodies.Length;
            for (int i = 0; i < bodies.Length; i++)
            {
                int index = i;
                _tasks[i] = loop.CreateTask(bodies[i], bodies.Length == 1 ? name : $"{name}[{i}]");
                _tasks[i].AddDoneCallback(_ => OnDone(index));
            }

            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.Register(
                    static state => ((CallBatch<T>)state!).RequestCancel(), this);
            }
        }

        private void RequestCancel() => loop.TryCallSoonThreadSafe(static state => ((CallBatch<T>)state!).CancelAll(), this);

        private void CancelAll()
        {
            foreach (LoopTask<T> task in _tasks)
            {
                task.Cancel();
            }
        }

        private void OnDone(int index)
        {
            LoopTask<T> task = _tasks[index];
            _outcomes[index] = task.IsCancelled
                ? new CallOutcome<T>(new CancelledError(task.CancelMessage))
                : task.GetException() is { } error ? new CallOutcome<T>(error) : new CallOutcome<T>(task.Result);
            if (--_remaining == 0)
            {
                _registration.Dispose();
                Completion.TrySetResult(_outcomes);
            }
        }
    }
}
