using System.Runtime.InteropServices;

namespace Lvd.Machine.Decoding;

/// <summary>
/// One instruction in our compact, pre-resolved form: register indexes, immediates, operand
/// size and a handler id, so execution never consults the decoder again. Blocks are
/// position-independent (keyed by physical address): branch targets and RIP-relative
/// displacements are stored relative to the next instruction.
/// Register indexes 0-15 are RAX..R15; 16-19 are AH, CH, DH, BH (8-bit operands only).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Op
{
    public Handler H;
    /// <summary>Operand size in bytes (1, 2, 4, 8) of the destination.</summary>
    public byte Size;
    /// <summary>Secondary size: source size of movzx/movsx, the address size of string ops.</summary>
    public byte Size2;
    public byte Len;
    /// <summary>First register operand (usually the destination).</summary>
    public byte R1;
    /// <summary>Second register operand (usually the source).</summary>
    public byte R2;
    public byte Base;
    public byte Index;
    public byte Scale;
    /// <summary>0 none, 1 FS, 2 GS: a segment base added to the effective address.</summary>
    public byte Seg;
    public byte Sub;
    public OpForm Form;
    /// <summary>Byte offset of the instruction from the block start.</summary>
    public ushort Offset;
    /// <summary>Modeled cycles of this instruction (the block charges the sum up front).</summary>
    public int Cost;
    /// <summary>Sum of the costs of the ops after this one: refunded when the block exits early.</summary>
    public int CostAfter;
    public long Disp;
    public long Imm;

    public const byte NoReg = 0xff;
    public const byte RipReg = 16;
}

[Flags]
internal enum OpForm : byte
{
    None = 0,
    MemDst = 1,
    MemSrc = 2,
    ImmSrc = 4,
    Addr32 = 8,
    CountCl = 16,
    PortDx = 32,
    Lock = 64,
    /// <summary>The memory operand references the stack segment (RSP/RBP base, no override).</summary>
    StackSeg = 128,
}
