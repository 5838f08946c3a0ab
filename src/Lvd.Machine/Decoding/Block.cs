namespace Lvd.Machine.Decoding;

/// <summary>
/// A decoded basic block: straight-line instructions ending at a control transfer, a system
/// instruction that can change the mode, or a page boundary. Keyed by the physical address
/// of its first byte; it never crosses a page, so one code page owns it.
/// </summary>
public sealed class Block
{
    public readonly Op[] Ops;
    public readonly ulong PhysAddr;
    public readonly int ByteLength;
    public bool Valid = true;
    /// <summary>How many times it ran (profiling, future JIT tiering).</summary>
    public long Executions;

    public Block(Op[] ops, ulong physAddr, int byteLength)
    {
        Ops = ops;
        PhysAddr = physAddr;
        ByteLength = byteLength;
    }
}
