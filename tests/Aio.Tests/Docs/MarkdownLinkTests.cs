using System.Text.RegularExpressions;

namespace Aio.Tests.Docs;

/// <summary>
/// The repository holds its own documentation (docs/design.md, "Rules that experience added"):
/// every link in its Markdown files — inline links and images, reference definitions, HTML
/// <c>href</c>/<c>src</c> — points to a file or folder inside the repository that exists, or to a
/// heading anchor; none leaves it (no relative path above the root, no absolute path, no URL), and
/// no Markdown text names the workspace outside the repository (<c>../shared/</c>).
/// </summary>
public sealed partial class MarkdownLinkTests
{
    private static readonly string[] SkippedFolders = ["bin", "obj", ".git", "node_modules", "BenchmarkDotNet.Artifacts", "TestResults"];

    [Fact]
    public void MarkdownLinks_AllPointInsideTheRepository()
    {
        string root = Path.GetFullPath(PortingCookbookExamples.FindRepositoryRoot());
        List<string> files = [.. MarkdownFiles(root)];
        Assert.Contains(files, file => Path.GetFileName(file) == "README.md");

        List<string> problems = [];
        foreach (string file in files)
        {
            string text = File.ReadAllText(file);
            string relativeFile = Path.GetRelativePath(root, file);
            foreach (string target in LinkTargets(text))
            {
                if (Check(root, file, target) is { } problem)
                {
                    problems.Add($"{relativeFile}: ({target}) {problem}");
                }
            }

            if (text.Contains("../shared/", StringComparison.Ordinal))
            {
                problems.Add($"{relativeFile}: names ../shared/, outside the repository; the design lives in docs/design.md");
            }
        }

        Assert.True(problems.Count == 0, "Markdown links leaving the repository or broken:\n" + string.Join("\n", problems));
    }

    [Theory]
    [InlineData("[design](../shared/DESIGN.md)", "../shared/DESIGN.md")]
    [InlineData("![chart](docs/benchmarks.svg \"title\")", "docs/benchmarks.svg")]
    [InlineData("[asyncio]: https://docs.python.org/3/library/asyncio.html", "https://docs.python.org/3/library/asyncio.html")]
    [InlineData("<a href=\"/etc/passwd\">x</a>", "/etc/passwd")]
    [InlineData("[mapping](<docs/asyncio mapping.md>)", "docs/asyncio mapping.md")]
    public void LinkTargets_EachLinkForm_IsFound(string markdown, string expected)
    {
        Assert.Equal([expected], LinkTargets(markdown));
    }

    [Theory]
    [InlineData("../shared/DESIGN.md", "leaves the repository")]
    [InlineData("https://example.org/", "URL")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("docs/missing.md", "does not exist")]
    public void Check_OutsideOrBrokenTargets_AreReported(string target, string expected)
    {
        string root = Path.GetFullPath(PortingCookbookExamples.FindRepositoryRoot());

        Assert.Contains(expected, Check(root, Path.Combine(root, "README.md"), target), StringComparison.Ordinal);
        Assert.Null(Check(root, Path.Combine(root, "README.md"), "docs/design.md#contributing"));
        Assert.Null(Check(root, Path.Combine(root, "docs", "design.md"), "asyncio-mapping.md"));
    }

    private static IEnumerable<string> MarkdownFiles(string directory)
    {
        foreach (string file in Directory.EnumerateFiles(directory, "*.md"))
        {
            yield return file;
        }

        foreach (string sub in Directory.EnumerateDirectories(directory))
        {
            if (!SkippedFolders.Contains(Path.GetFileName(sub)))
            {
                foreach (string file in MarkdownFiles(sub))
                {
                    yield return file;
                }
            }
        }
    }

    private static List<string> LinkTargets(string markdown)
    {
        List<string> targets = [];
        foreach (Match match in InlineLink().Matches(markdown))
        {
            targets.Add(match.Groups["angle"].Success ? match.Groups["angle"].Value : match.Groups["plain"].Value);
        }

        foreach (Match match in ReferenceDefinition().Matches(markdown))
        {
            targets.Add(match.Groups["target"].Value);
        }

        foreach (Match match in HtmlLink().Matches(markdown))
        {
            targets.Add(match.Groups["target"].Value);
        }

        return targets;
    }

    /// <summary>Null when <paramref name="target"/>, linked from <paramref name="file"/>, is fine; else what is wrong.</summary>
    private static string? Check(string root, string file, string target)
    {
        if (target.StartsWith('#'))
        {
            return null;
        }

        if (UrlScheme().IsMatch(target))
        {
            return "is a URL: the repository links only to its own files (name an outside page in text)";
        }

        string path = Uri.UnescapeDataString(target.Split('#')[0].Split('?')[0]);
        if (path.StartsWith('/') || Path.IsPathRooted(path))
        {
            return "is an absolute path: link relative to the file";
        }

        string resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, path));
        string relative = Path.GetRelativePath(root, resolved);
        if (relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            return "leaves the repository";
        }

        return File.Exists(resolved) || Directory.Exists(resolved) ? null : "does not exist";
    }

    // [text](target "title") and ![alt](target); the target may be <in angle brackets>.
    [GeneratedRegex(@"\]\(\s*(?:<(?<angle>[^>]*)>|(?<plain>[^\s)]+))(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex InlineLink();

    // [label]: target
    [GeneratedRegex(@"^[ ]{0,3}\[[^\]]+\]:\s*<?(?<target>[^\s>]+)>?", RegexOptions.Multiline)]
    private static partial Regex ReferenceDefinition();

    [GeneratedRegex(@"(?:href|src)\s*=\s*""(?<target>[^""]*)""", RegexOptions.IgnoreCase)]
    private static partial Regex HtmlLink();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex UrlScheme();
}
