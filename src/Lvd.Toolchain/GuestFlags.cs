namespace Lvd.Toolchain;

/// <summary>
/// The gcc flags of everything that runs in the guest, read from guest/flags: the one
/// definition, shared with the guest build scripts (guest/common.sh), where each flag is
/// explained. The file is a list of [section]s of whitespace-separated flags, '#' comments.
/// </summary>
public sealed class GuestFlags
{
    /// <summary>The file, relative to the repository root.</summary>
    public static readonly string RelativePath = Path.Combine("guest", "flags");

    private readonly List<(string Section, string Flag)> _flags;

    private GuestFlags(List<(string, string)> flags) => _flags = flags;

    /// <exception cref="GuestCompilerException">No guest/flags, or a flag outside any section.</exception>
    public static GuestFlags Load(string repoRoot)
    {
        string path = Path.Combine(repoRoot, RelativePath);
        if (!File.Exists(path)) throw new GuestCompilerException($"{path}: no guest flag file");
        var flags = new List<(string, string)>();
        string? section = null;
        int n = 0;
        foreach (string raw in File.ReadLines(path))
        {
            n++;
            int hash = raw.IndexOf('#');
            string line = (hash >= 0 ? raw[..hash] : raw).Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                section = line[1..^1];
                continue;
            }
            if (section == null) throw new GuestCompilerException($"{path}:{n}: a flag before the first [section]");
            foreach (string flag in line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                flags.Add((section, flag));
        }
        return new GuestFlags(flags);
    }

    /// <summary>The flags of these sections, in the file's order (as guest_flags in guest/common.sh).</summary>
    /// <exception cref="GuestCompilerException">A section the file does not have.</exception>
    public string[] Of(params string[] sections)
    {
        foreach (string s in sections)
            if (!_flags.Any(f => f.Section == s))
                throw new GuestCompilerException($"{RelativePath} has no [{s}] section");
        return _flags.Where(f => sections.Contains(f.Section)).Select(f => f.Flag).ToArray();
    }
}
