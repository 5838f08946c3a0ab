using System.Runtime.CompilerServices;
using Lvd.Machine.Decoding;

namespace Lvd.Machine.Execution;

/// <summary>Register and operand access by size, effective addresses and the stack, shared by every instruction family.</summary>
public sealed partial class Cpu
{
    /// <summary>Reads a register operand: indexes 16-19 are AH, CH, DH, BH.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong GetReg(int idx, int size)
    {
        if (size == 8) return R(idx);
        if (size == 1) return idx < 16 ? (byte)R(idx) : (byte)(R(idx - 16) >> 8);
        return R(idx) & Mask(size);
    }

    /// <summary>Writes a register operand with x86-64 rules: 32-bit writes zero-extend, 8/16-bit merge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetReg(int idx, int size, ulong v)
    {
        switch (size)
        {
            case 8: R(idx) = v; break;
            case 4: R(idx) = (uint)v; break;
            case 2: R(idx) = (R(idx) & ~0xffffUL) | (ushort)v; break;
            default:
                if (idx < 16) R(idx) = (R(idx) & ~0xffUL) | (byte)v;
                else R(idx - 16) = (R(idx - 16) & ~0xff00UL) | ((ulong)(byte)v << 8);
                break;
        }
    }

    /// <summary>Source operand: immediate, memory or register, at the op's size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadSrc(ref Op op, ulong next)
    {
        if ((op.Form & OpForm.ImmSrc) != 0) return (ulong)op.Imm & Mask(op.Size);
        if ((op.Form & OpForm.MemSrc) != 0) return ReadMem(Ea(ref op, next), op.Size);
        return GetReg(op.R2, op.Size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadDst(ref Op op, ulong ea) =>
        (op.Form & OpForm.MemDst) != 0 ? ReadMem(ea, op.Size) : GetReg(op.R1, op.Size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteDst(ref Op op, ulong ea, ulong v)
    {
        if ((op.Form & OpForm.MemDst) != 0) WriteMem(ea, op.Size, v);
        else SetReg(op.R1, op.Size, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong DstEa(ref Op op, ulong next) => (op.Form & OpForm.MemDst) != 0 ? Ea(ref op, next) : 0;

    // ---- effective addresses ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Ea(ref Op op, ulong next)
    {
        ulong a = (ulong)op.Disp;
        if (op.Base != Op.NoReg) a += op.Base == Op.RipReg ? next : R(op.Base);
        if (op.Index != Op.NoReg) a += R(op.Index) << op.Scale;
        if ((op.Form & OpForm.Addr32) != 0) a = (uint)a;
        if (op.Seg != 0) a += SegBase(op.Seg);
        return a;
    }

    /// <summary>The base an FS (1) or GS (2) override adds to an address in 64-bit mode (compiled regions read it too).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong SegBase(int seg) => Segs[seg == 1 ? (int)SegReg.FS : (int)SegReg.GS].Base;

    // ---- stack ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Push64(ulong v)
    {
        ulong sp = R(RSP) - 8;
        Write64(sp, v);
        R(RSP) = sp;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Pop64()
    {
        ulong sp = R(RSP);
        ulong v = Read64(sp);
        R(RSP) = sp + 8;
        return v;
    }
}
