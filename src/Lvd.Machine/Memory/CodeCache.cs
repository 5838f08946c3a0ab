using System.Runtime.CompilerServices;
using Lvd.Machine.Decoding;
using Lvd.Machine.Execution;

namespace Lvd.Machine.Memory;

/// <summary>
/// Decoded blocks of the whole machine, keyed by the physical address of their first byte
/// (so a page mapped at several linear addresses is decoded once). A page that holds a block
/// is flagged in <see cref="PhysicalMemory"/>; TLB write tags for it are revoked, so every
/// store to it takes the slow path, which invalidates the page's blocks (self-modifying code,
/// loaders, DMA).
/// </summary>
public sealed class CodeCache
{
    private const int DirectBits = 16;
    private readonly Block?[] _direct = new Block?[1 << DirectBits];
    private readonly Dictionary<ulong, Block> _blocks = new();
    private readonly Dictionary<ulong, List<Block>> _byPage = new();
    /// <summary>One-instruction blocks (interrupt shadow, RF), invalidated with their page like the others.</summary>
    private readonly Dictionary<ulong, Block> _singles = new();
    /// <summary>64-bit blocks whose last instruction crosses into the next page (<see cref="Block.Straddles"/>), apart: the
    /// fetch must translate that page each time (Cpu.DecodeBlock), so they are never found by <see cref="Lookup"/>.</summary>
    private readonly Dictionary<ulong, Block> _straddling = new();
    /// <summary>Blocks decoded at bitness 32 (compatibility and protected mode), apart: the same bytes mean other instructions.</summary>
    private readonly Dictionary<ulong, Block> _blocks32 = new(), _singles32 = new();
    private readonly PhysicalMemory _memory;
    private readonly List<Cpu> _cpus = new();

    public long BlocksDecoded { get; private set; }
    public long Invalidations { get; private set; }

    public CodeCache(PhysicalMemory memory)
    {
        _memory = memory;
        memory.CodeWritten = InvalidatePage;
    }

    internal void Attach(Cpu cpu) => _cpus.Add(cpu);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Slot(ulong pa) => (int)((pa ^ (pa >> DirectBits)) & ((1 << DirectBits) - 1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Block? Lookup(ulong pa)
    {
        var b = _direct[Slot(pa)];
        if (b != null && b.PhysAddr == pa) return b;
        if (_blocks.TryGetValue(pa, out b)) { _direct[Slot(pa)] = b; return b; }
        return null;
    }

    internal Block? LookupStraddling(ulong pa) => _straddling.TryGetValue(pa, out var b) ? b : null;

    /// <summary>A straddling block, owned by both of its pages (a write to either drops it).</summary>
    internal void AddStraddling(Block block)
    {
        _straddling[block.PhysAddr] = block;
        Register(block);
        RegisterOn(block, block.Page2 >> PhysicalMemory.PageShift);
    }

    internal Block? LookupSingle(ulong pa) => _singles.TryGetValue(pa, out var b) ? b : null;

    internal Block? Lookup32(ulong pa) => _blocks32.TryGetValue(pa, out var b) ? b : null;

    internal Block? LookupSingle32(ulong pa) => _singles32.TryGetValue(pa, out var b) ? b : null;

    internal void AddSingle(Block block)
    {
        (block.Mode32 ? _singles32 : _singles)[block.PhysAddr] = block;
        Register(block);
    }

    internal void Add(Block block)
    {
        if (block.Mode32)
        {
            _blocks32[block.PhysAddr] = block;
            Register(block);
            return;
        }
        _blocks[block.PhysAddr] = block;
        _direct[Slot(block.PhysAddr)] = block;
        Register(block);
    }

    private void Register(Block block)
    {
        BlocksDecoded++;
        RegisterOn(block, block.PhysAddr >> PhysicalMemory.PageShift);
    }

    private void RegisterOn(Block block, ulong ppn)
    {
        if (!_byPage.TryGetValue(ppn, out var list)) _byPage[ppn] = list = new List<Block>();
        list.Add(block);
        if (!_memory.IsCodePage(ppn))
        {
            _memory.MarkCodePage(ppn);
            foreach (var cpu in _cpus) cpu.RevokeWrite(ppn << PhysicalMemory.PageShift);
        }
    }

    /// <summary>Drops every block on a physical page (it was written).</summary>
    public void InvalidatePage(ulong ppn)
    {
        _memory.ClearCodePage(ppn);
        if (!_byPage.Remove(ppn, out var list)) return;
        Invalidations++;
        foreach (var b in list)
        {
            b.Valid = false;
            if (b.Mode32)
            {
                if (_singles32.TryGetValue(b.PhysAddr, out var s32) && s32 == b) _singles32.Remove(b.PhysAddr);
                else if (_blocks32.TryGetValue(b.PhysAddr, out var n32) && n32 == b) _blocks32.Remove(b.PhysAddr);
                continue;
            }
            if (b.Straddles)
            {
                if (_straddling.TryGetValue(b.PhysAddr, out var st) && st == b) _straddling.Remove(b.PhysAddr);
                // The other page's list lets it go too.
                ulong other = b.PhysAddr >> PhysicalMemory.PageShift == ppn ? b.Page2 >> PhysicalMemory.PageShift
                    : b.PhysAddr >> PhysicalMemory.PageShift;
                if (other != ppn && _byPage.TryGetValue(other, out var otherList)) otherList.Remove(b);
                continue;
            }
            if (_singles.TryGetValue(b.PhysAddr, out var single) && single == b) _singles.Remove(b.PhysAddr);
            else if (_blocks.TryGetValue(b.PhysAddr, out var normal) && normal == b) _blocks.Remove(b.PhysAddr);
            ref var d = ref _direct[Slot(b.PhysAddr)];
            if (d == b) d = null;
        }
        foreach (var cpu in _cpus) cpu.NoteCodeInvalidated(ppn);
    }
}
