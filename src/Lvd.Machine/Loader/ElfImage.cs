using ELFSharp.ELF;
using ELFSharp.ELF.Segments;

namespace Lvd.Machine.Loader;

/// <summary>The loadable parts of a static x86-64 ELF executable, read with ELFSharp.</summary>
public sealed class ElfImage
{
    public sealed record LoadSegment(ulong Address, ulong PhysicalAddress, ulong MemorySize, byte[] FileBytes, bool Executable, bool Writable);

    public ulong Entry { get; }
    public IReadOnlyList<LoadSegment> Segments { get; }
    public IReadOnlyDictionary<string, ulong> Symbols { get; }

    private ElfImage(ulong entry, List<LoadSegment> segments, Dictionary<string, ulong> symbols)
    {
        Entry = entry;
        Segments = segments;
        Symbols = symbols;
    }

    public static ElfImage Read(string path)
    {
        if (HostFile.CheckReadable(path) is string why) throw new LoadException(why);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new LoadException($"{path}: cannot read ({e.Message})"); }
        if (bytes.Length < 4 || bytes[0] != 0x7f || bytes[1] != 'E' || bytes[2] != 'L' || bytes[3] != 'F')
            throw new LoadException($"{path}: not an ELF file");
        try
        {
            using var ms = new MemoryStream(bytes);
            if (!ELFReader.TryLoad(ms, false, out IELF elf))
                throw new LoadException($"{path}: not a readable ELF file");
            using (elf)
            {
                if (elf.Class != Class.Bit64) throw new LoadException($"{path}: 32-bit ELF; the machine runs x86-64 (ELF64) images only");
                if (elf.Machine != ELFSharp.ELF.Machine.AMD64)
                    throw new LoadException($"{path}: ELF for {elf.Machine}; the machine runs x86-64 images only");
                if (elf.Type != FileType.Executable)
                    throw new LoadException($"{path}: ELF type {elf.Type}; build a static, non-PIE executable (use ./lvd cc)");
                var elf64 = (ELF<ulong>)elf;
                var segs = new List<LoadSegment>();
                foreach (var s in elf64.Segments)
                {
                    if (s.Type == SegmentType.Interpreter)
                        throw new LoadException($"{path}: dynamically linked; build a static executable (use ./lvd cc)");
                    if (s.Type != SegmentType.Load || s.Size == 0) continue;
                    if ((ulong)s.FileSize > s.Size)
                        throw new LoadException($"{path}: a segment at 0x{s.Address:x} has more file bytes ({s.FileSize}) than memory bytes " +
                            $"({s.Size})");
                    segs.Add(new LoadSegment(s.Address, s.PhysicalAddress, s.Size, s.GetFileContents(),
                        (s.Flags & SegmentFlags.Execute) != 0, (s.Flags & SegmentFlags.Write) != 0));
                }
                if (segs.Count == 0) throw new LoadException($"{path}: no loadable segments");
                // As Linux's binfmt_elf refuses an entry it cannot return to: no x86-64 CPU can be at a
                // non-canonical RIP (a jump there is a #GP at the jump), and VM entry refuses one (SDM 26.3.1.4).
                if (!Execution.Cpu.IsCanonicalAddress(elf64.EntryPoint))
                    throw new LoadException($"{path}: entry point 0x{elf64.EntryPoint:x} is not a canonical address");
                var syms = new Dictionary<string, ulong>();
                if (elf64.TryGetSection(".symtab", out var symSec) && symSec is ELFSharp.ELF.Sections.ISymbolTable table)
                {
                    foreach (var sym in table.Entries)
                        if (sym is ELFSharp.ELF.Sections.SymbolEntry<ulong> e && !string.IsNullOrEmpty(e.Name)) syms.TryAdd(e.Name, e.Value);
                }
                return new ElfImage(elf64.EntryPoint, segs, syms);
            }
        }
        catch (LoadException) { throw; }
        catch (Exception e) { throw new LoadException($"{path}: malformed ELF ({e.Message})"); }
    }
}
