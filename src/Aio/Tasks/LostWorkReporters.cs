namespace Aio;

/// <summary>
/// Reports a future's exception that nobody retrieved ["exception was never retrieved"]. Allocated
/// only when a future fails and referenced only by it; when the future is collected with the
/// reporter still armed, the finalizer posts the report to the loop's exception handler (or logs it
/// when the loop is closed).
/// </summary>
internal sealed class UnobservedErrorReporter
{
    private readonly EventLoop _loop;
    private readonly string _message;
    private readonly Exception _exception;
    private readonly string _future;

    public UnobservedErrorReporter(EventLoop loop, string message, Exception exception, string future)
    {
        _loop = loop;
        _message = message;
        _exception = exception;
        _future = future;
    }

    /// <summary>The failure being watched.</summary>
    public Exception Exception => _exception;

    ~UnobservedErrorReporter() => ReportFromFinalizer(_loop, new ExceptionContext(_message, _exception) { Future = _future });

    /// <summary>Hands a report from the finalizer thread to the loop, or logs it when the loop is closed.</summary>
    internal static void ReportFromFinalizer(EventLoop loop, ExceptionContext context)
    {
        if (!loop.TryCallSoonThreadSafe(static state =>
            {
                var (loop, context) = ((EventLoop, ExceptionContext))state!;
                loop.CallExceptionHandler(context);
            }, (loop, context)))
        {
            loop.DefaultExceptionHandler(context);
        }
    }

#pragma warning disable CA1816 // Not a Dispose: disarming the finalizer is this type's whole purpose.
    public void Disarm() => GC.SuppressFinalize(this);
#pragma warning restore CA1816
}
