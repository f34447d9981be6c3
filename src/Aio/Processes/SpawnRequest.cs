// What to start, validated and resolved once, the same way for both backends, so that a missing
// program, a bad argument or a missing directory fails identically before any backend is involved.
//
// Program lookup follows POSIX exec as Python's subprocess does it: a name with a slash is a path
// (relative to the child's working directory); a bare name is searched in the PATH of the child's
// environment (this process's PATH when that environment has none), taking the first regular file
// with an execute bit.
using System.Collections;

namespace Aio.Processes;

/// <summary>A validated spawn: the program's full path, argv, the whole environment, the directory, the streams.</summary>
internal sealed class SpawnRequest
{
    private SpawnRequest(string path, string[] argv, KeyValuePair<string, string>[] environment, string? workingDirectory, SubprocessOptions options)
    {
        Path = path;
        Argv = argv;
        Environment = environment;
        WorkingDirectory = workingDirectory;
        Options = options;
    }

    /// <summary>The program file to execute.</summary>
    public string Path { get; }

    /// <summary>argv, starting with the program as the caller named it.</summary>
    public string[] Argv { get; }

    /// <summary>The child's environment, complete.</summary>
    public KeyValuePair<string, string>[] Environment { get; }

    /// <summary>The child's working directory (full path), or null for this process's.</summary>
    public string? WorkingDirectory { get; }

    public SubprocessOptions Options { get; }

    /// <summary>Validates and resolves a spawn of <paramref name="program"/> with <paramref name="arguments"/>.</summary>
    /// <exception cref="ArgumentException">An empty program, a NUL character, a bad environment name, a bad stdio choice.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A limit that is not positive.</exception>
    /// <exception cref="DirectoryNotFoundException">The working directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">The program is not found, or not executable.</exception>
    public static SpawnRequest Create(string program, IEnumerable<string>? arguments, SubprocessOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Limit, "options.Limit");
        foreach ((SubprocessStdio value, string name) in new[] { (options.Stdin, nameof(SubprocessOptions.Stdin)), (options.Stdout, nameof(SubprocessOptions.Stdout)) })
        {
            if (value == SubprocessStdio.Stdout || !Enum.IsDefined(value))
            {
                throw new ArgumentException($"{name} = {value} is not allowed: SubprocessStdio.Stdout applies to Stderr only; use Inherit, Pipe or Null.", nameof(options));
            }
        }
        if (!Enum.IsDefined(options.Stderr))
        {
            throw new ArgumentException($"Stderr = {options.Stderr} is not a SubprocessStdio value.", nameof(options));
        }

        string[] argv = [program, .. arguments ?? []];
        foreach (string argument in argv)
        {
            ArgumentNullException.ThrowIfNull(argument, nameof(arguments));
            CheckNoNul(argument, nameof(arguments), "An argument");
        }

        KeyValuePair<string, string>[] environment = options.Environment is { } given ? [.. given] : CurrentEnvironment();
        foreach ((string name, string value) in environment)
        {
            if (string.IsNullOrEmpty(name) || name.Contains('=', StringComparison.Ordinal))
            {
                throw new ArgumentException($"Environment variable name '{name}' is empty or contains '='.", nameof(options));
            }

            CheckNoNul(name, nameof(options), "An environment variable name");
            CheckNoNul(value ?? throw new ArgumentException($"Environment variable '{name}' has a null value; use \"\".", nameof(options)), nameof(options), "An environment variable value");
        }

        string? directory = null;
        if (options.WorkingDirectory is { } cwd)
        {
            CheckNoNul(cwd, nameof(options), "The working directory");
            directory = System.IO.Path.GetFullPath(cwd);
            if (!Directory.Exists(directory))
            {
                throw new DirectoryNotFoundException($"The working directory '{cwd}' does not exist.");
            }
        }

        return new SpawnRequest(Resolve(program, environment, directory), argv, environment, directory, options);
    }

    private static void CheckNoNul(string text, string parameter, string what)
    {
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{what} contains a NUL character, which a C string cannot carry.", parameter);
        }
    }

    private static KeyValuePair<string, string>[] CurrentEnvironment()
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
        {
            list.Add(new((string)entry.Key, (string?)entry.Value ?? ""));
        }

        return [.. list];
    }

    private static string Resolve(string program, KeyValuePair<string, string>[] environment, string? directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return program; // Process.Start applies Windows' own search rules
        }

        if (program.Contains('/', StringComparison.Ordinal))
        {
            string path = System.IO.Path.GetFullPath(program, directory ?? System.Environment.CurrentDirectory);
            return IsExecutable(path) ? path : throw NotFound(program, $"'{path}' is not an executable file");
        }

        string? searchPath = null;
        foreach ((string name, string value) in environment)
        {
            if (name == "PATH")
            {
                searchPath = value;
            }
        }

        searchPath ??= System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (string entry in searchPath.Split(':'))
        {
            string folder = entry.Length == 0 ? "." : entry;
            string candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, program), directory ?? System.Environment.CurrentDirectory);
            if (IsExecutable(candidate))
            {
                return candidate;
            }
        }

        throw NotFound(program, $"no executable '{program}' in PATH ({searchPath})");
    }

    private static bool IsExecutable(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path))
        {
            return false;
        }

        const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (File.GetUnixFileMode(path) & AnyExecute) != 0;
    }

    private static FileNotFoundException NotFound(string program, string detail) =>
        new($"Cannot start '{program}': {detail}. Give the full path, or set PATH in SubprocessOptions.Environment.", program);
}
