using System.Diagnostics;

namespace Aio;

/// <summary>
/// Handles an error the loop could not deliver to anyone [loop.set_exception_handler]. Runs on the
/// loop thread. If it throws, the loop logs that failure and the original context through the
/// default handler and goes on.
/// </summary>
/// <param name="loop">The loop that caught the error.</param>
/// <param name="context">What happened.</param>
public delegate void ExceptionHandler(EventLoop loop, ExceptionContext context);

/// <summary>
/// What the loop knows about an error it caught [the exception handler's context dict]:
/// a message, and where available the exception, the handle whose callback threw, and the
/// future or task involved.
/// </summary>
public sealed class ExceptionContext
{
    /// <summary>Creates a context with a message and optionally the exception.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is null.</exception>
    public ExceptionContext(string message, Exception? exception = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        Message = message;
        Exception = exception;
    }

    /// <summary>A human-readable description ["message"].</summary>
    public string Message { get; }

    /// <summary>The exception, if any ["exception"].</summary>
    public Exception? Exception { get; }

    /// <summary>The handle whose callback failed, if any ["handle"].</summary>
    public Handle? Handle { get; init; }

    /// <summary>The callback that failed when it had no handle (state-passing scheduling), if any.</summary>
    public object? Callback { get; init; }

    /// <summary>The future or task involved, if any ["future"/"task"].</summary>
    public object? Future { get; init; }

    /// <summary>In debug mode, where the failing callback was scheduled ["source_traceback"].</summary>
    public StackTrace? SourceTraceback => Handle?.CreationStackTrace;

    /// <inheritdoc />
    public override string ToString()
    {
        var text = new System.Text.StringBuilder(Message);
        if (Handle is not null)
        {
            text.Append("\nhandle: ").Append(Handle);
        }
        else if (Callback is Delegate callback)
        {
            text.Append("\ncallback: ").Append(Aio.Handle.DescribeCallback(callback));
        }

        if (Future is not null)
        {
            text.Append("\nfuture: ").Append(Future);
        }

        if (SourceTraceback is not null)
        {
            text.Append("\nscheduled at:\n").Append(SourceTraceback);
        }

        return text.ToString();
    }
}
