using Microsoft.Extensions.Logging;

namespace Aio;

public sealed partial class EventLoop
{
    private static readonly Action<ILogger, string, Exception?> LogUnhandled =
        LoggerMessage.Define<string>(LogLevel.Error, new EventId(1, "UnhandledException"), "{Context}");

    private ExceptionHandler? _exceptionHandler;

    /// <summary>
    /// Installs the handler for errors nobody else can receive [loop.set_exception_handler]; null
    /// restores the default, which logs. Loop thread only.
    /// </summary>
    public void SetExceptionHandler(ExceptionHandler? handler)
    {
        CheckThread(nameof(SetExceptionHandler));
        _exceptionHandler = handler;
    }

    /// <summary>The custom exception handler, or null when the default is in use [loop.get_exception_handler].</summary>
    public ExceptionHandler? GetExceptionHandler() => _exceptionHandler;

    /// <summary>
    /// Reports an error through the current handler [loop.call_exception_handler]. Never throws:
    /// if a custom handler throws, both its failure and the original context go to
    /// <see cref="DefaultExceptionHandler"/>.
    /// </summary>
    public void CallExceptionHandler(ExceptionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        ExceptionHandler? handler = _exceptionHandler;
        if (handler is null)
        {
            DefaultExceptionHandler(context);
            return;
        }

        try
        {
            handler(this, context);
        }
        catch (Exception failure)
        {
            DefaultExceptionHandler(new ExceptionContext("Unhandled error in exception handler", failure)
            {
                Handle = context.Handle,
                Callback = context.Callback,
                Future = context.Future,
            });
            DefaultExceptionHandler(context);
        }
    }

    /// <summary>
    /// The default handler [loop.default_exception_handler]: logs the context at error level
    /// through the loop's <see cref="ILogger"/> (standard error when no logger factory was given).
    /// Never throws.
    /// </summary>
    public void DefaultExceptionHandler(ExceptionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            LogUnhandled(Logger, context.ToString(), context.Exception);
        }
        catch (Exception)
        {
            // A broken logger must not take the loop down; there is nowhere left to report to.
        }
    }
}
