namespace WebWithLoop;

/// <summary>Runs the sample: <c>dotnet run --project samples/WebWithLoop -- --port 5080</c>.</summary>
public static class Program
{
    /// <summary>Builds and runs the web application until Ctrl+C or SIGTERM.</summary>
    public static async Task Main(string[] args)
    {
        await using WebApplication app = WebWithLoopApp.Create(args);
        await app.RunAsync();
    }
}
