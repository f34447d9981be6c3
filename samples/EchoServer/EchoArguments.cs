using System.Globalization;

namespace Aio.Samples;

/// <summary>The echo samples' command line: <c>[--port N] [message]</c>.</summary>
public sealed class EchoArguments
{
    /// <summary>The port to serve on or connect to; 8888 as in the seed unless <c>--port</c> says otherwise.</summary>
    public int Port { get; private init; } = 8888;

    /// <summary>The positional argument, if any (the client's message).</summary>
    public string? Message { get; private init; }

    /// <summary>Parses <paramref name="args"/>; null (after printing <paramref name="usage"/>) when they are wrong.</summary>
    public static EchoArguments? Parse(string[] args, string usage, bool allowMessage)
    {
        ArgumentNullException.ThrowIfNull(args);
        int port = 8888;
        string? message = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--port" && i + 1 < args.Length
                && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) && parsed <= 65535)
            {
                port = parsed;
                i++;
            }
            else if (allowMessage && message is null && !args[i].StartsWith("--", StringComparison.Ordinal))
            {
                message = args[i];
            }
            else
            {
                Console.Error.WriteLine("usage: " + usage);
                return null;
            }
        }

        return new EchoArguments { Port = port, Message = message };
    }
}
