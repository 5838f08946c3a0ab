namespace Lvd.Tests;

/// <summary>
/// The layout rules a reader relies on (issue 10, docs/ARCHITECTURE.md): C# lines within
/// .editorconfig's max_line_length, every source folder named in ARCHITECTURE.md, and the
/// machine naming no client of it.
/// </summary>
public sealed class LayoutTests
{
    private static bool IsBuildOutput(string path) =>
        path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
        || path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")
        || path.EndsWith($"{Path.DirectorySeparatorChar}obj") || path.EndsWith($"{Path.DirectorySeparatorChar}bin");

    private static IEnumerable<string> CSharpSources() =>
        new[] { "src", "tests" }.SelectMany(d => Directory.EnumerateFiles(Guest.Path(d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !IsBuildOutput(f));

    [Fact]
    public void CSharpLinesFitTheEditorconfigLimit()
    {
        var limitLine = File.ReadLines(Guest.Path(".editorconfig")).Single(l => l.StartsWith("max_line_length"));
        int limit = int.Parse(limitLine.Split('=')[1].Trim());
        Assert.Equal(150, limit);
        var tooLong = new List<string>();
        foreach (string f in CSharpSources())
        {
            int n = 0;
            bool inRaw = false;   // the lines of a multi-line raw string literal are data (expected output), not layout
            foreach (string line in File.ReadLines(f))
            {
                n++;
                bool rawLine = inRaw;
                if (CountOf(line, "\"\"\"") % 2 == 1) inRaw = !inRaw;
                if (line.Length > limit && !rawLine) tooLong.Add($"{Path.GetRelativePath(Guest.Root, f)}:{n}: {line.Length} columns");
            }
        }
        Assert.True(tooLong.Count == 0, "lines over the limit (scripts/wrap-long-lines.py):\n" + string.Join('\n', tooLong));
    }

    private static int CountOf(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    [Fact]
    public void EverySourceFolderIsNamedInTheArchitecture()
    {
        // A newcomer finds each subsystem from the folder names and ARCHITECTURE.md says what
        // each holds. Per-driver and per-domain folders are described once, as a kind.
        string arch = File.ReadAllText(Guest.Path("docs", "ARCHITECTURE.md"));
        string[] perInstance = ["guest/domains/", "guest/drivers/", "guest/libc/include/"];
        var unnamed = new List<string>();
        foreach (string top in new[] { "src", "guest" })
            foreach (string dir in Directory.EnumerateDirectories(Guest.Path(top), "*", SearchOption.AllDirectories))
            {
                string rel = Path.GetRelativePath(Guest.Root, dir).Replace('\\', '/');
                if (IsBuildOutput(dir + Path.DirectorySeparatorChar) || perInstance.Any(rel.StartsWith)) continue;
                string name = Path.GetFileName(dir);
                if (!arch.Contains(name + "/") && !arch.Contains("/" + name)) unnamed.Add(rel);
            }
        Assert.True(unnamed.Count == 0, "folders docs/ARCHITECTURE.md does not name:\n" + string.Join('\n', unnamed));
    }

    [Fact]
    public void DocumentLinksStayInsideTheRepositoryAndExist()
    {
        // A clone is all a reader has: a relative link must name a file of the repository.
        var md = new List<string> { Guest.Path("README.md") };
        foreach (string top in new[] { "docs", "guest", "src", "tests", "idl", "config", "scripts" })
            if (Directory.Exists(Guest.Path(top)))
                md.AddRange(Directory.EnumerateFiles(Guest.Path(top), "*.md", SearchOption.AllDirectories).Where(f => !IsBuildOutput(f)));
        var broken = new List<string>();
        string root = Path.GetFullPath(Guest.Root) + Path.DirectorySeparatorChar;
        foreach (string f in md)
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(f), @"\]\(([^)\s]+)\)"))
            {
                string target = m.Groups[1].Value.Split('#')[0];
                if (target.Length == 0 || System.Text.RegularExpressions.Regex.IsMatch(target, "^[a-z]+:")) continue;   // anchors, URLs
                string full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(f)!, target));
                if (!full.StartsWith(root, StringComparison.Ordinal) || !(File.Exists(full) || Directory.Exists(full)))
                    broken.Add($"{Path.GetRelativePath(Guest.Root, f)}: {target}");
            }
        Assert.True(broken.Count == 0, "links that leave the repository or name nothing:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void TheMachineNamesNoClientInItsTypes()
    {
        // The hardware layer raises VM exits and reports how a run ended; policy and exit
        // statuses belong to the hypervisor and the tools (Lvd.Experiments.ProgramReport).
        var machine = typeof(Lvd.Machine.Machine).Assembly;
        foreach (var t in machine.GetExportedTypes())
        {
            Assert.DoesNotContain("Hypervisor", t.Name);
            foreach (var m in t.GetMembers())
                Assert.False(m.Name.Contains("Hypervisor") || m.Name.StartsWith("Status"), $"{t.FullName}.{m.Name}");
        }
        Assert.Contains(nameof(RunOutcome.StoppedByVmxRoot), Enum.GetNames<RunOutcome>());
    }
}
