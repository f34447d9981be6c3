using System.Runtime.CompilerServices;

namespace Aio;

/// <summary>
/// An async method with a result, running on the loop as an asyncio Task [asyncio.Task]: an
/// <c>async LoopTask&lt;T&gt;</c> method or a delegate given to
/// <see cref="EventLoop.CreateTask{T}(Func{Task{T}}, string?, bool)"/>; see <see cref="LoopTask"/>.
/// Await it for the result, or read <see cref="Future{T}.Result"/> once done. Loop thread only.
/// </summary>
[AsyncMethodBuilder(typeof(LoopTaskMethodBuilder<>))]
public class LoopTask<T> : Future<T>, ILoopTask, ITaskInternals
{
    private TaskState _state;

    internal LoopTask(EventLoop loop, string? name)
        : base(loop) => _state = new TaskState(name);

    /// <summary>Reports a task collected while pending ("Task was destroyed but it is pending!").</summary>
    ~LoopTask() => _state.ReportDestroyed(this, Name);

    /// <inheritdoc />
    public string Name
    {
        get => _state.Name;
        set => _state.Name = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <inheritdoc />
    public CancellationToken CancellationToken => _state.Token;

    bool ITaskInternals.MustCancel => _state.MustCancel;

    IEnumerable<Future> ITaskInternals.PendingAwaits => _state.PendingAwaits;

    /// <inheritdoc />
    public override bool Cancel(string? message = null) => _state.Cancel(this, message);

    /// <inheritdoc />
    public int Cancelling() => _state.Cancelling;

    /// <inheritdoc />
    public int Uncancel() => _state.Uncancel();

    /// <inheritdoc />
    public override string ToString() => $"<LoopTask {Name} {LoopTask.StateText(this)}>";

    void ITaskInternals.Register() => _state.Register(this);

    void ITaskInternals.DisposeToken() => _state.DisposeToken();

    void ITaskInternals.WaitOn(object entry) => _state.WaitOn(this, entry);

    AwaitEnd ITaskInternals.Resume(object entry, out string? cancelMessage) => _state.Resume(this, entry, out cancelMessage);

    void ITaskInternals.ResumeDeferringCancel(object entry) => _state.ResumeDeferringCancel(this, entry);

    void ITaskInternals.CancelAtNextAwait() => _state.CancelAtNextAwait(this);

    void ITaskInternals.FinishWith(Exception exception) => _state.FinishWith(this, exception);

    void ITaskInternals.FinishCancelled() => _state.FinishCancelled(this);

    void ITaskInternals.FinishFrom(Task body)
    {
        T result;
        try
        {
            result = ((Task<T>)body).GetAwaiter().GetResult();
        }
        catch (Exception exception)
        {
            _state.FinishWith(this, exception);
            return;
        }

        Succeed(result);
    }

    /// <summary>The body returned <paramref name="result"/>: the task succeeds (or ends cancelled by a request no await took).</summary>
    internal void Succeed(T result)
    {
        if (_state.TrySucceed(this))
        {
            StoreResult(result);
            CompleteSucceeded();
        }
    }
}
