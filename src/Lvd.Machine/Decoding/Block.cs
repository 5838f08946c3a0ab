namespace Lvd.Machine.Decoding;

/// <summary>
/// A decoded basic block: straight-line instructions ending at a control transfer, a system
/// instruction that can change the mode, or a page boundary. Keyed by the physical address
/// of its first byte; only its last instruction may cross into the next page (<see cref="Straddles"/>).
/// </summary>
internal sealed class Block
{
    public readonly Op[] Ops;
    public readonly ulong PhysAddr;
    public readonly int ByteLength;
    /// <summary>Modeled cycles of all ops, charged when the block starts.</summary>
    public readonly long Cost;
    /// <summary>The block model's cycles beyond <see cref="Cost"/>, in 1/65,536 cycles (0 without a timing table).</summary>
    public readonly int Fraction;
    public bool Valid = true;
    /// <summary>How many times it ran (profiling, future JIT tiering).</summary>
    public long Executions;
    /// <summary>
    /// The successor cache: the last two blocks that followed this one on the same physical page
    /// (Cpu.NextBlock). Copied with the code cache by snapshots, so a restored machine links as the saved one did.
    /// </summary>
    public Block? Next0, Next1;
    /// <summary>
    /// The compiled region that starts here (Translation/), installed by the region compiler with one store; host state,
    /// not the machine's: snapshots neither copy nor digest it, a restored block starts without one.
    /// </summary>
    [Diagnostics.NotMachineState] public Translation.RegionCode? Region;
    /// <summary>This block's index in <see cref="Region"/>.</summary>
    [Diagnostics.NotMachineState] public int RegionIndex;
    /// <summary>Part of a region being compiled (not made the entry of another).</summary>
    [Diagnostics.NotMachineState] public bool RegionQueued;
    /// <summary>
    /// Its last instruction continues on the next page, whose bytes came from physical page <see cref="Page2"/>: cached
    /// apart (CodeCache.LookupStraddling) and owned by both pages, used again only while the next linear page still
    /// translates there (Cpu.DecodeBlock); never linked as a successor nor part of a compiled region.
    /// </summary>
    public bool Straddles;
    /// <summary>The physical page (page-aligned) of a straddling block's bytes beyond its first page.</summary>
    public ulong Page2;
    /// <summary>Decoded at bitness 32 (compatibility or protected mode); cached apart from 64-bit blocks.</summary>
    public bool Mode32 { get; init; }

    public Block(Op[] ops, ulong physAddr, int byteLength, int fraction = 0)
    {
        Fraction = fraction;
        Ops = ops;
        PhysAddr = physAddr;
        ByteLength = byteLength;
        int after = 0;
        for (int i = ops.Length - 1; i >= 0; i--)
        {
            ops[i].CostAfter = after;
            after += ops[i].Cost;
        }
        Cost = after;
    }
}
