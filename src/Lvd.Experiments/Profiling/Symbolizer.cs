using ELFSharp.ELF;
using ELFSharp.ELF.Sections;

namespace Lvd.Experiments.Profiling;

/// <summary>
/// Names code addresses with the symbol table of an ELF image: the function (or assembly
/// label) that starts at or below the address. A sized symbol covers [value, value + size);
/// an unsized one (an assembly label) runs up to the next symbol.
/// </summary>
public sealed class Symbolizer
{
    private readonly record struct Sym(ulong Start, ulong Size, string Name);
    private readonly record struct Alias(ulong Start, ulong Length, ulong ImageAddress);

    private readonly Sym[] _syms;
    private readonly List<Alias> _aliases = [];

    public IReadOnlyDictionary<string, ulong> ByName { get; }

    private Symbolizer(Sym[] syms, Dictionary<string, ulong> byName)
    {
        _syms = syms;
        ByName = byName;
    }

    /// <summary>An empty symbolizer: every address is unnamed.</summary>
    public static Symbolizer None { get; } = new([], []);

    public static Symbolizer FromElf(string path)
    {
        using var elf = ELFReader.Load(path);
        if (elf is not ELF<ulong> elf64 || !elf64.TryGetSection(".symtab", out var sec) || sec is not ISymbolTable table) return None;
        var syms = new List<Sym>();
        foreach (var entry in table.Entries)
        {
            if (entry is not SymbolEntry<ulong> e || string.IsNullOrEmpty(e.Name) || e.Value == 0) continue;
            if (e.Type is not (SymbolType.Function or SymbolType.NotSpecified)) continue;
            if (e.PointedSection is not { } s || (s.Flags & SectionFlags.Allocatable) == 0) continue;
            syms.Add(new Sym(e.Value, e.Size, e.Name));
        }
        // At one address prefer the sized symbol (a C function) over a label.
        syms.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : b.Size.CompareTo(a.Size));
        var byName = new Dictionary<string, ulong>();
        foreach (var s in syms) byName.TryAdd(s.Name, s.Start);
        var unique = new List<Sym>();
        foreach (var s in syms)
            if (unique.Count == 0 || unique[^1].Start != s.Start) unique.Add(s);
        return new Symbolizer([.. unique], byName);
    }

    /// <summary>
    /// Code of the image that runs copied elsewhere: addresses in [start, start + length)
    /// are named as image address <paramref name="imageAddress"/> + offset.
    /// </summary>
    public void AddAlias(ulong start, ulong length, ulong imageAddress) => _aliases.Add(new Alias(start, length, imageAddress));

    /// <summary>The symbol covering the address, or null.</summary>
    public string? Lookup(ulong address)
    {
        foreach (var a in _aliases)
            if (address - a.Start < a.Length) { address = a.ImageAddress + (address - a.Start); break; }
        int lo = 0, hi = _syms.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_syms[mid].Start <= address) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        if (found < 0) return null;
        var sym = _syms[found];
        if (sym.Size != 0 && address - sym.Start >= sym.Size) return null;
        return sym.Name;
    }
}
