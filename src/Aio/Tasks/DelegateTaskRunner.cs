// Runs a task whose body is a delegate returning a .NET Task (loop.CreateTask(Func<Task>) and its
// overloads). Its first step runs as a loop callback (or synchronously, for an eager task): it makes
// the task current through RunningTask's AsyncLocal, calls the delegate, and watches the Task the
// delegate returns. The async method's builder captures the execution context at each await and
// restores it when the method resumes, so the task stays current in every later step, whichever
// awaitable resumed it. An async LoopTask method needs none of this (see MethodTask).
namespace Aio;

/// <summary>The first step and the completion watch of a delegate-bodied task. Loop thread only.</summary>
internal sealed class DelegateTaskRunner : ILoopWorkItem
{
    private readonly ITaskInternals _task;
    private readonly Delegate _body;
    private Task? _bodyTask;

    private DelegateTaskRunner(ITaskInternals task, Delegate body)
    {
        _task = task;
        _body = body;
    }

    /// <summary>Registers <paramref name="task"/> and schedules its first step, or runs it now when eager and the loop is running here.</summary>
    public static void Start(ITaskInternals task, Delegate body, bool eager)
    {
        var runner = new DelegateTaskRunner(task, body);
        EventLoop loop = task.Loop;
        task.Register();
        if (eager && loop.IsOnLoopThread)
        {
            runner.Step();
        }
        else
        {
            loop.CheckClosed();
            loop.TryPost(runner, null);
        }
    }

    void ILoopWorkItem.Execute(object? state) => Step();

    private void Step()
    {
        if (_task.IsDone)
        {
            return;
        }

        if (_task.MustCancel)
        {
            _task.FinishCancelled();
            return;
        }

        ITaskInternals? previous = RunningTask.Enter(_task);
        try
        {
            _bodyTask = _body switch
            {
                Func<Task> plain => plain(),
                Func<CancellationToken, Task> withToken => withToken(_task.CancellationToken),
                _ => throw new InvalidOperationException("A task body is a Func<Task> or Func<CancellationToken, Task>."),
            };
        }
        catch (Exception exception)
        {
            // A delegate that is not async threw before returning a task.
            _task.FinishWith(exception);
            return;
        }
        finally
        {
            RunningTask.Exit(previous);
        }

        if (_bodyTask.IsCompleted)
        {
            Complete();
        }
        else
        {
            // ExecuteSynchronously: when the body completes on the loop thread, finish the task right
            // there. (An awaiter continuation would be sent to the thread pool: .NET refuses to inline
            // continuations while a SynchronizationContext such as the loop's is current.)
            _bodyTask.ContinueWith(OnBodyCompleted, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private static void OnBodyCompleted(Task body, object? state)
    {
        var runner = (DelegateTaskRunner)state!;
        EventLoop loop = runner._task.Loop;
        if (loop.IsOnLoopThread)
        {
            runner.Complete();
        }
        else if (!loop.TryPost((Action)runner.Complete, null))
        {
            // The loop closed under a body that finished elsewhere: nobody can observe the task.
            runner._bodyTask = null;
            runner._task.DisposeToken();
        }
    }

    private void Complete()
    {
        Task body = _bodyTask!;
        _bodyTask = null;
        _task.FinishFrom(body);
    }
}
