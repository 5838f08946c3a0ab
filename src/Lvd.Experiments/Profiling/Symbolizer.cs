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

    private readonly record struct Image(string Module, Symbolizer Symbols, ulong Low, ulong High);

    private readonly Sym[] _syms;
    /// <summary>The ELF image the symbols came from (for source lines), or null.</summary>
    public string? ElfPath { get; private init; }
    private readonly List<Alias> _aliases = [];
    private readonly List<Image> _images = [];

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
        return new Symbolizer([.. unique], byName) { ElfPath = Path.GetFullPath(path) };
    }

    /// <summary>Where a code address is: its symbol, the offset into it, and the ELF and link-time address to ask for a source line.</summary>
    public readonly record struct Location(string Name, ulong Offset, string? Elf, ulong ElfAddress);

    /// <summary>
    /// The symbol covering the address with its offset, or null. With <paramref name="module"/>
    /// only that loaded image (AddImage) is searched for an address inside the images' range.
    /// </summary>
    public Location? Locate(ulong address, string? module = null)
    {
        foreach (var im in _images)
        {
            if (address < im.Low || address >= im.High || (module != null && im.Module != module)) continue;
            if (im.Symbols.Locate(address) is { } l) return l with { Name = $"{im.Module}:{l.Name}" };
        }
        if (!TryOwn(address, out int found, out ulong at)) return null;
        var sym = _syms[found];
        return new Location(sym.Name, at - sym.Start, ElfPath, at);
    }

    /// <summary>"function+0xoffset" ("function" at its first byte) of the symbol covering the address, or null.</summary>
    public string? NameWithOffset(ulong address) =>
        Locate(address) is { } l ? l.Offset == 0 ? l.Name : $"{l.Name}+0x{l.Offset:x}" : null;

    /// <summary>This image's own symbol covering the address (through an alias, if one holds it) and the image address it stands for.</summary>
    private bool TryOwn(ulong address, out int found, out ulong at)
    {
        at = address;
        foreach (var a in _aliases)
            if (at - a.Start < a.Length) { at = a.ImageAddress + (at - a.Start); break; }
        found = Find(at);
        return found >= 0 && (_syms[found].Size == 0 || at - _syms[found].Start < _syms[found].Size);
    }

    private int Find(ulong address)
    {
        int lo = 0, hi = _syms.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_syms[mid].Start <= address) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found;
    }

    /// <summary>
    /// Code of the image that runs copied elsewhere: addresses in [start, start + length)
    /// are named as image address <paramref name="imageAddress"/> + offset.
    /// </summary>
    public void AddAlias(ulong start, ulong length, ulong imageAddress) => _aliases.Add(new Alias(start, length, imageAddress));

    /// <summary>
    /// Another image's symbols, named "module:symbol": an LVD domain's ELF (build/domains/NAME.elf).
    /// Domains are all linked at one address range and a sample carries no EPTP index, so when
    /// several loaded images cover an address every one of their names is given ("a:f|b:g").
    /// </summary>
    public void AddImage(string module, string elfPath)
    {
        var s = FromElf(elfPath);
        if (s._syms.Length == 0) return;
        // The image's code: from its first symbol to the end of its last (or a page past an unsized one).
        var last = s._syms[^1];
        _images.Add(new Image(module, s, s._syms[0].Start, last.Start + Math.Max(last.Size, 4096)));
    }

    /// <summary>The symbol covering the address, or null.</summary>
    public string? Lookup(ulong address)
    {
        if (_images.Count > 0)
        {
            string? names = null;
            foreach (var im in _images)
            {
                if (address < im.Low || address >= im.High || im.Symbols.Lookup(address) is not { } n) continue;
                names = names == null ? $"{im.Module}:{n}" : $"{names}|{im.Module}:{n}";
            }
            if (names != null) return names;
        }
        return TryOwn(address, out int found, out _) ? _syms[found].Name : null;
    }
}
