namespace Aio;

/// <summary>
/// An async method with a result, running on the loop as an asyncio Task [asyncio.Task]; see
/// <see cref="LoopTask"/>. Await it for the result, or read <see cref="Future{T}.Result"/> once done.
/// Loop thread only.
/// </summary>
public sealed class LoopTask<T> : Future<T>, ILoopTask, ITaskOwner
{
    private readonly TaskCore _core;
    private readonly Delegate _body;

    internal LoopTask(EventLoop loop, Delegate body, string? name)
        : base(loop)
    {
        _body = body;
        _core = new TaskCore(this, name);
    }

    /// <inheritdoc />
    public string Name
    {
        get => _core.Name;
        set => _core.Name = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <inheritdoc />
    public CancellationToken CancellationToken => _core.Token;

    Future ITaskOwner.Future => this;

    TaskCore ITaskOwner.Core => _core;

    internal TaskCore Core => _core;

    /// <inheritdoc />
    public override bool Cancel(string? message = null) => _core.Cancel(message);

    /// <inheritdoc />
    public int Cancelling() => _core.Cancelling();

    /// <inheritdoc />
    public int Uncancel() => _core.Uncancel();

    /// <inheritdoc />
    public override string ToString() => $"<LoopTask {Name} {LoopTask.StateText(this)}>";

    Task ITaskOwner.StartBody() => _body switch
    {
        Func<Task<T>> plain => plain(),
        _ => ((Func<CancellationToken, Task<T>>)_body)(_core.Token),
    };

    void ITaskOwner.CompleteFrom(Task body) => SetResult(((Task<T>)body).GetAwaiter().GetResult());

    void ITaskOwner.CancelFuture(string? message) => TryCancel(message);

    void ITaskOwner.FailFuture(Exception exception) => SetException(exception);
}
