using System.Text.RegularExpressions;

namespace Aio.Tests.Docs;

/// <summary>
/// docs/asyncio-mapping.md promises a row for every asyncio, aiorun and score.asyncio name: this
/// reads the checked-in list (asyncio-names.txt) and fails for each name no row's first cell declares.
/// A first cell declares the leading dotted name of each code span (<c>`loop.call_soon(cb)`</c>
/// declares <c>loop.call_soon</c>; <c>await</c>/<c>async with</c>/<c>async for … in</c> are skipped),
/// a bare name after a dotted one in the same cell inherits its prefix (<c>`queue.qsize()`, `empty()`</c>),
/// and <c>name=</c> inside a call declares a parameter (<c>`aiorun.run(loop=)`</c> → <c>aiorun.run.loop</c>).
/// The second cell must not be empty.
/// </summary>
public sealed partial class AsyncioMappingTests
{
    [Fact]
    public void Mapping_EveryListedName_HasARow()
    {
        string root = RepositoryRoot();
        string[] names = [.. File.ReadAllLines(Path.Combine(root, "tests", "Aio.Tests", "Docs", "asyncio-names.txt"))
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))];
        HashSet<string> declared = Declared(File.ReadAllLines(Path.Combine(root, "docs", "asyncio-mapping.md")));

        string[] missing = [.. names.Where(name => !declared.Contains(name))];
        Assert.True(missing.Length == 0, $"{missing.Length} of {names.Length} names have no row in docs/asyncio-mapping.md: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Declared_CellForms_AreRecognised()
    {
        HashSet<string> declared = Declared(
        [
            "| `queue.qsize()`, `empty()` | `Count` | |",
            "| `await reader.readline()` | x | |",
            "| `aiorun.run(main(), loop=)` | y | |",
            "| `asyncio.Lock` | |  |",
        ]);
        Assert.Contains("queue.qsize", declared);
        Assert.Contains("queue.empty", declared);
        Assert.Contains("reader.readline", declared);
        Assert.Contains("aiorun.run", declared);
        Assert.Contains("aiorun.run.loop", declared);
        Assert.DoesNotContain("asyncio.Lock", declared); // no Aio cell
    }

    private static HashSet<string> Declared(IEnumerable<string> lines)
    {
        var declared = new HashSet<string>(StringComparer.Ordinal);
        foreach (string line in lines)
        {
            if (!line.StartsWith('|') || line.StartsWith("|---", StringComparison.Ordinal))
            {
                continue;
            }

            string[] cells = SplitCells(line);
            if (cells.Length < 2 || cells[1].Trim().Length == 0)
            {
                continue;
            }

            string? prefix = null;
            foreach (Match span in CodeSpan().Matches(cells[0]))
            {
                string code = Keywords().Replace(span.Groups[1].Value.Trim(), "");
                Match name = LeadingName().Match(code);
                if (!name.Success)
                {
                    continue;
                }

                string full = name.Value;
                int dot = full.LastIndexOf('.');
                if (dot > 0)
                {
                    prefix = full[..dot];
                    declared.Add(full);
                }
                else
                {
                    declared.Add(full);
                    if (prefix is not null)
                    {
                        declared.Add(prefix + "." + full);
                    }
                }

                string rest = code[name.Length..];
                if (rest.StartsWith('('))
                {
                    foreach (Match parameter in Parameter().Matches(rest))
                    {
                        declared.Add((dot > 0 ? full : prefix is null ? full : prefix + "." + full) + "." + parameter.Groups[1].Value);
                        declared.Add(full + "." + parameter.Groups[1].Value);
                    }
                }
            }
        }

        return declared;
    }

    /// <summary>Table cells, splitting on pipes outside code spans.</summary>
    private static string[] SplitCells(string line)
    {
        var cells = new List<string>();
        var current = new System.Text.StringBuilder();
        bool inCode = false;
        foreach (char c in line.Trim().Trim('|'))
        {
            if (c == '`')
            {
                inCode = !inCode;
            }

            if (c == '|' && !inCode)
            {
                cells.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        cells.Add(current.ToString());
        return [.. cells];
    }

    private static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Aio.slnx")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("Aio.slnx not found above the test binaries.");
    }

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^(await\s+|async\s+with\s+|async\s+for\s+\w+\s+in\s+|with\s+)")]
    private static partial Regex Keywords();

    [GeneratedRegex(@"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")]
    private static partial Regex LeadingName();

    [GeneratedRegex(@"([A-Za-z_]\w*)=")]
    private static partial Regex Parameter();
}
