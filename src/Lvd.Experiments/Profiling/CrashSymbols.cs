using System.Text;
using System.Text.RegularExpressions;

namespace Lvd.Experiments.Profiling;

/// <summary>
/// Names the code addresses of crash reports and kernel panics: function+offset from the ELF
/// symbol tables (ELFSharp, <see cref="Symbolizer"/>), and file:line from the DWARF line tables
/// of the guest builds (all of them are built with -g, guest/flags) through binutils'
/// `addr2line`, a host tool that comes with gcc; without it the names stand alone.
/// </summary>
public static partial class CrashSymbols
{
    /// <summary>The host tool that reads DWARF line tables.</summary>
    public const string Addr2Line = "addr2line";

    [GeneratedRegex(@"\b(?<what>RIP|rip) 0x(?<a>[0-9a-f]+)")]
    private static partial Regex RipWord();

    [GeneratedRegex(@"^(?<indent>\s+)(?<frame>#\d+|#-) 0x(?<a>[0-9a-f]+)\s*$")]
    private static partial Regex FrameLine();

    [GeneratedRegex(@"^lvd: domain (?<n>\S+) killed on cpu \d+: .*?\bat rip 0x(?<a>[0-9a-f]+)")]
    private static partial Regex KillLine();

    /// <summary>
    /// A machine crash report with every "RIP 0x..." named: "RIP 0x401136 [main+0x16 at prog.c:7]".
    /// </summary>
    public static string AnnotateReport(string report, Symbolizer symbols, string? repoRoot = null)
    {
        var wanted = RipWord().Matches(report).Select(m => ulong.Parse(m.Groups["a"].Value, System.Globalization.NumberStyles.HexNumber)).ToList();
        var names = Resolve(symbols, wanted.Select(a => (a, false, (string?)null)), repoRoot);
        return RipWord().Replace(report, m =>
        {
            ulong a = ulong.Parse(m.Groups["a"].Value, System.Globalization.NumberStyles.HexNumber);
            return names.TryGetValue((a, false, null), out var n) ? $"{m.Value} [{n}]" : m.Value;
        });
    }

    /// <summary>Whether <see cref="KernelReport"/> has anything to say (cheap: no symbols read).</summary>
    public static bool HasKernelReport(string log, IReadOnlyCollection<string> domains) =>
        log.Contains("\npanic: ", StringComparison.Ordinal) || log.Contains("\ntrap: ", StringComparison.Ordinal) ||
        domains.Any(d => log.Contains($"lvd: domain {d} killed on cpu ", StringComparison.Ordinal));

    /// <summary>
    /// The kernel's own reports in its log, symbolized: the backtrace of a panic or a trap
    /// (panic(), trap.c: "#N 0x..." lines, the trap's rip), and the rip of each kill of the
    /// domains named in <paramref name="domains"/> (named with that domain's image). Null when
    /// the log has none of them.
    /// </summary>
    public static string? KernelReport(string log, Symbolizer symbols, IReadOnlyCollection<string> domains, string? repoRoot = null)
    {
        var lines = log.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        // (line index, address, is a return address, domain) of every address to name.
        var items = new List<(int Line, ulong Address, bool Return, string? Module)>();
        int? panicAt = null;
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("panic: ", StringComparison.Ordinal) || lines[i].StartsWith("trap: ", StringComparison.Ordinal))
                panicAt ??= i;
            if (KillLine().Match(lines[i]) is { Success: true } k && domains.Contains(k.Groups["n"].Value))
                items.Add((i, Hex(k.Groups["a"].Value), false, k.Groups["n"].Value));
        }
        if (panicAt is int p)
            for (int i = p + 1; i < lines.Length; i++)
            {
                // trap.c's "#- RIP" repeats the trap's rip line: the frames say it all.
                if (FrameLine().Match(lines[i]) is { Success: true } f)
                    items.Add((i, Hex(f.Groups["a"].Value), f.Groups["frame"].Value != "#-", null));
                else if (!lines[i].StartsWith("  ", StringComparison.Ordinal)) break;   // the report's indented lines end it
            }
        if (items.Count == 0) return null;
        var names = Resolve(symbols, items.Select(x => (x.Address, x.Return, x.Module)), repoRoot);
        var sb = new StringBuilder("lvd: the kernel's report, symbolized (ELF symbols; file:line from the DWARF line tables through addr2line):\n");
        int? header = null;
        foreach (var x in items)
        {
            int head = x.Module != null ? x.Line : panicAt!.Value;
            if (header != head)
            {
                sb.Append("  ").Append(lines[head].Trim()).Append('\n');
                header = head;
            }
            string label = x.Module != null ? "rip" : FrameLine().Match(lines[x.Line]) is { Success: true } f ? f.Groups["frame"].Value : "rip";
            string name = names.TryGetValue((x.Address, x.Return, x.Module), out var n) ? n : "[no symbol]";
            sb.Append($"    {label} 0x{x.Address:x} {name}\n");
        }
        return sb.ToString();
    }

    private static ulong Hex(string s) => ulong.Parse(s, System.Globalization.NumberStyles.HexNumber);

    /// <summary>"func+0x1c at file.c:12" for each address that has a symbol (one addr2line run per ELF).</summary>
    private static Dictionary<(ulong, bool, string?), string> Resolve(Symbolizer symbols, IEnumerable<(ulong Address, bool Return,
        string? Module)> addresses, string? repoRoot)
    {
        var located = new Dictionary<(ulong, bool, string?), Symbolizer.Location>();
        // A return address may be the first byte after its function (a call to a noreturn
        // function ends it): it is named by the call's last byte, one before.
        foreach (var a in addresses.Distinct())
        {
            var l = a.Return ? symbols.Locate(a.Address - 1, a.Module) : symbols.Locate(a.Address, a.Module);
            if (l is { } x) located[a] = a.Return ? x with { Offset = x.Offset + 1, ElfAddress = x.ElfAddress + 1 } : x;
        }
        // A return address's line is its call's: ask for the byte before it.
        var lines = SourceLines(located.Select(kv => (kv.Value.Elf, kv.Key.Item2 ? kv.Value.ElfAddress - 1 : kv.Value.ElfAddress)), repoRoot);
        var result = new Dictionary<(ulong, bool, string?), string>();
        foreach (var (key, l) in located)
        {
            string text = l.Offset == 0 ? l.Name : $"{l.Name}+0x{l.Offset:x}";
            ulong at = key.Item2 ? l.ElfAddress - 1 : l.ElfAddress;
            if (l.Elf != null && lines.TryGetValue((l.Elf, at), out var line)) text += " at " + line;
            result[key] = text;
        }
        return result;
    }

    /// <summary>
    /// file:line of link-time addresses of ELF images (paths relative to the repository), from addr2line; what it
    /// cannot tell is left out.
    /// </summary>
    public static Dictionary<(string Elf, ulong Address), string> SourceLines(IEnumerable<(string? Elf, ulong Address)> wanted,
        string? repoRoot = null)
    {
        var result = new Dictionary<(string, ulong), string>();
        foreach (var group in wanted.Where(w => w.Elf != null).Distinct().GroupBy(w => w.Elf!))
        {
            var addresses = group.Select(g => g.Address).ToList();
            HostProcess.Result r;
            try { r = HostProcess.Run(Addr2Line, ["-e", group.Key, .. addresses.Select(a => $"0x{a:x}")], TimeSpan.FromSeconds(30)); }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException) { continue; }
            if (r.ExitCode != 0 || r.TimedOut) continue;
            var output = Encoding.UTF8.GetString(r.Stdout).Split('\n');
            for (int i = 0; i < addresses.Count && i < output.Length; i++)
            {
                string line = output[i].Trim();
                int disc = line.IndexOf(" (discriminator", StringComparison.Ordinal);
                if (disc >= 0) line = line[..disc];
                if (line.Length == 0 || line.StartsWith("??", StringComparison.Ordinal) || line.EndsWith(":?",
                    StringComparison.Ordinal) || line.EndsWith(":0", StringComparison.Ordinal))
                    continue;
                if (repoRoot != null && line.StartsWith(Path.GetFullPath(repoRoot) + "/", StringComparison.Ordinal))
                    line = line[(Path.GetFullPath(repoRoot).Length + 1)..];
                result[(group.Key, addresses[i])] = line;
            }
        }
        return result;
    }
}
