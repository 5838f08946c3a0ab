using System.Numerics;
using System.Runtime.CompilerServices;
using Lvd.Machine.Decoding;

namespace Lvd.Machine.Execution;

/// <summary>Integer arithmetic, logic, shifts, multiply/divide and bit instructions.</summary>
public sealed partial class Cpu
{
    /// <summary>The ALU result without touching flags (ADC/SBB take the carry-in explicitly).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong AluValue(int sub, ulong a, ulong b, bool carry) => sub switch
    {
        AluOp.Add => a + b,
        AluOp.Or => a | b,
        AluOp.Adc => a + b + (carry ? 1UL : 0),
        AluOp.Sbb => a - b - (carry ? 1UL : 0),
        AluOp.And => a & b,
        AluOp.Xor => a ^ b,
        _ => a - b, // sub, cmp
    };

    /// <summary>Lazy-flag kind of each ALU sub-op, indexed by <see cref="AluOp"/>.</summary>
    private static ReadOnlySpan<byte> AluFlagOps =>
        [(byte)FlagOp.Add, (byte)FlagOp.Logic, (byte)FlagOp.Adc, (byte)FlagOp.Sbb, (byte)FlagOp.Logic, (byte)FlagOp.Sub, (byte)FlagOp.Logic,
            (byte)FlagOp.Sub];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AluFlags(int sub, int size, ulong a, ulong b, ulong r, bool carry)
    {
        _lfCarry = carry;
        SetLazy((FlagOp)AluFlagOps[sub & 7], size, a, b, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ExecAlu(ref Op op, ulong next)
    {
        int sub = op.Sub, size = op.Size;
        ulong b = ReadSrc(ref op, next);
        bool carry = (sub == AluOp.Adc || sub == AluOp.Sbb) && GetCF();
        if ((op.Form & OpForm.MemDst) != 0)
        {
            ulong ea = Ea(ref op, next);
            ulong a = ReadMem(ea, size);
            ulong r = AluValue(sub, a, b, carry) & Mask(size);
            // Flags are set only after the write succeeded, so a faulting write restarts cleanly.
            if (sub != AluOp.Cmp) WriteMem(ea, size, r);
            AluFlags(sub, size, a, b, r, carry);
        }
        else
        {
            ulong a = GetReg(op.R1, size);
            ulong r = AluValue(sub, a, b, carry) & Mask(size);
            if (sub != AluOp.Cmp) SetReg(op.R1, size, r);
            AluFlags(sub, size, a, b, r, carry);
        }
    }

    /// <summary>Read-modify-write of the destination with flags set only once the write succeeded.</summary>
    private void Unary(ref Op op, ulong next)
    {
        ulong ea = DstEa(ref op, next);
        ulong a = ReadDst(ref op, ea);
        int size = op.Size;
        ulong m = Mask(size);
        switch (op.H)
        {
            case Handler.Inc:
            {
                ulong r = (a + 1) & m;
                WriteDst(ref op, ea, r);
                bool cf = GetCF();
                _lfCarry = cf; SetLazy(FlagOp.Inc, size, a, 1, r);
                break;
            }
            case Handler.Dec:
            {
                ulong r = (a - 1) & m;
                WriteDst(ref op, ea, r);
                bool cf = GetCF();
                _lfCarry = cf; SetLazy(FlagOp.Dec, size, a, 1, r);
                break;
            }
            case Handler.Neg:
            {
                ulong r = (0 - a) & m;
                WriteDst(ref op, ea, r);
                SetLazy(FlagOp.Sub, size, 0, a, r);
                break;
            }
            default: // Not: no flags
                WriteDst(ref op, ea, ~a & m);
                break;
        }
    }

    private void Test(ref Op op, ulong next)
    {
        ulong b = ReadSrc(ref op, next);
        ulong a = (op.Form & OpForm.MemDst) != 0 ? ReadMem(Ea(ref op, next), op.Size) : GetReg(op.R1, op.Size);
        SetLazy(FlagOp.Logic, op.Size, a, b, a & b);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Shift(ref Op op, ulong next)
    {
        int size = op.Size, bits = size * 8;
        int count = (int)((op.Form & OpForm.CountCl) != 0 ? R(RCX) : (ulong)op.Imm) & (size == 8 ? 63 : 31);
        ulong ea = DstEa(ref op, next);
        ulong a = ReadDst(ref op, ea);
        if (count == 0)
        {
            // No flag change; a 32-bit register destination is still written (zero-extended).
            if ((op.Form & OpForm.MemDst) == 0 && size == 4) SetReg(op.R1, 4, a);
            return;
        }
        ulong m = Mask(size), sign = SignBit(size);
        ulong r;
        bool cf, of;
        switch (op.Sub)
        {
            case ShiftOp.Rol:
            {
                int rc = count & (bits - 1);
                r = rc == 0 ? a : ((a << rc) | (a >> (bits - rc))) & m;
                WriteDst(ref op, ea, r);
                cf = (r & 1) != 0;
                of = ((r & sign) != 0) ^ cf;
                SetFlagBits(FlagCF | FlagOF, (cf ? FlagCF : 0) | (of ? FlagOF : 0));
                return;
            }
            case ShiftOp.Ror:
            {
                int rc = count & (bits - 1);
                r = rc == 0 ? a : ((a >> rc) | (a << (bits - rc))) & m;
                WriteDst(ref op, ea, r);
                cf = (r & sign) != 0;
                of = cf ^ ((r & (sign >> 1)) != 0);
                SetFlagBits(FlagCF | FlagOF, (cf ? FlagCF : 0) | (of ? FlagOF : 0));
                return;
            }
            case ShiftOp.Rcl:
            case ShiftOp.Rcr:
            {
                int rc = size == 1 ? count % 9 : size == 2 ? count % 17 : count;
                bool c = GetCF();
                r = a;
                for (int i = 0; i < rc; i++)
                {
                    if (op.Sub == ShiftOp.Rcl)
                    {
                        bool outBit = (r & sign) != 0;
                        r = ((r << 1) | (c ? 1UL : 0)) & m;
                        c = outBit;
                    }
                    else
                    {
                        bool outBit = (r & 1) != 0;
                        r = (r >> 1) | (c ? sign : 0);
                        c = outBit;
                    }
                }
                WriteDst(ref op, ea, r);
                of = op.Sub == ShiftOp.Rcl ? ((r & sign) != 0) ^ c : ((r & sign) != 0) ^ ((r & (sign >> 1)) != 0);
                SetFlagBits(FlagCF | FlagOF, (c ? FlagCF : 0) | (of ? FlagOF : 0));
                return;
            }
            case ShiftOp.Shl:
            case ShiftOp.Sal:
                r = count >= 64 ? 0 : (a << count) & m;
                cf = count <= bits && ((a >> (bits - count)) & 1) != 0;
                of = ((r & sign) != 0) ^ cf;
                break;
            case ShiftOp.Shr:
                r = count >= 64 ? 0 : a >> count;
                cf = ((a >> (count - 1)) & 1) != 0;
                of = (a & sign) != 0;
                break;
            default: // Sar
            {
                long sa = SignExtend(a, size);
                r = (ulong)(sa >> Math.Min(count, 63)) & m;
                cf = ((sa >> Math.Min(count - 1, 63)) & 1) != 0;
                of = false;
                break;
            }
        }
        WriteDst(ref op, ea, r);
        _lfCarry = cf;
        SetLazy(FlagOp.ResultCfOf, size, a, of ? 1UL : 0, r);
    }

    private void DoubleShift(ref Op op, ulong next)
    {
        int size = op.Size, bits = size * 8;
        int count = (int)((op.Form & OpForm.CountCl) != 0 ? R(RCX) : (ulong)op.Imm) & (size == 8 ? 63 : 31);
        ulong ea = DstEa(ref op, next);
        ulong a = ReadDst(ref op, ea);
        ulong b = GetReg(op.R2, size);
        if (count == 0)
        {
            if ((op.Form & OpForm.MemDst) == 0 && size == 4) SetReg(op.R1, 4, a);
            return;
        }
        ulong m = Mask(size), sign = SignBit(size);
        ulong r;
        bool cf;
        if (size == 2 && count > 16)
        {
            // Undefined result (SDM); model as a 32-bit concatenated shift.
            ulong wide = op.H == Handler.Shld ? (a << 16) | b : (b << 16) | a;
            wide = op.H == Handler.Shld ? wide << count : wide >> count;
            r = (op.H == Handler.Shld ? wide >> 16 : wide) & m;
            cf = false;
        }
        else if (op.H == Handler.Shld)
        {
            r = count == bits ? b : ((a << count) | (b >> (bits - count))) & m;
            cf = ((a >> (bits - count)) & 1) != 0;
        }
        else
        {
            r = count == bits ? b : ((a >> count) | (b << (bits - count))) & m;
            cf = ((a >> (count - 1)) & 1) != 0;
        }
        WriteDst(ref op, ea, r);
        bool of = ((r ^ a) & sign) != 0;
        _lfCarry = cf;
        SetLazy(FlagOp.ResultCfOf, size, a, of ? 1UL : 0, r);
    }

    private void Mul1(ref Op op, ulong next, bool signed)
    {
        ulong src = (op.Form & OpForm.MemDst) != 0 ? ReadMem(Ea(ref op, next), op.Size) : GetReg(op.R1, op.Size);
        int size = op.Size;
        ulong lo, hi;
        bool overflow;
        switch (size)
        {
            case 1:
            {
                ulong acc = R(RAX) & 0xff;
                ulong p = signed ? (ulong)(ushort)(short)((sbyte)acc * (sbyte)src) : acc * src;
                R(RAX) = (R(RAX) & ~0xffffUL) | (p & 0xffff);
                lo = p & 0xff;
                overflow = signed ? (short)p != (sbyte)p : (p >> 8) != 0;
                break;
            }
            case 2:
            {
                ulong acc = R(RAX) & 0xffff;
                ulong p = signed ? (ulong)(uint)((short)acc * (short)src) : acc * src;
                SetReg(RAX, 2, p);
                SetReg(RDX, 2, p >> 16);
                lo = p & 0xffff;
                overflow = signed ? (int)p != (short)p : (p >> 16) != 0;
                break;
            }
            case 4:
            {
                ulong acc = (uint)R(RAX);
                ulong p = signed ? (ulong)((long)(int)acc * (int)src) : acc * src;
                R(RAX) = (uint)p;
                R(RDX) = p >> 32;
                lo = (uint)p;
                overflow = signed ? (long)p != (int)p : (p >> 32) != 0;
                break;
            }
            default:
            {
                if (signed)
                {
                    long h = Math.BigMul((long)R(RAX), (long)src, out long l);
                    lo = (ulong)l; hi = (ulong)h;
                    overflow = h != (l >> 63);
                }
                else
                {
                    hi = Math.BigMul(R(RAX), src, out lo);
                    overflow = hi != 0;
                }
                R(RAX) = lo; R(RDX) = hi;
                break;
            }
        }
        _lfCarry = overflow;
        SetLazy(FlagOp.ResultCfOf, size, 0, overflow ? 1UL : 0, lo);
    }

    /// <summary>
    /// The truncated signed product of two- and three-operand IMUL at <paramref name="size"/> bytes, and whether it did not
    /// fit (CF=OF): one definition for the interpreter (<see cref="ImulN"/>) and compiled regions (Translation/).
    /// </summary>
    internal static ulong ImulValue(long sa, long sb, int size, out bool overflow)
    {
        if (size == 8)
        {
            long h = Math.BigMul(sa, sb, out long l);
            overflow = h != (l >> 63);
            return (ulong)l;
        }
        long p = sa * sb;
        ulong r = (ulong)p & Mask(size);
        overflow = SignExtend(r, size) != p;
        return r;
    }

    /// <summary>Two- and three-operand IMUL: truncated signed product, CF=OF when it did not fit.</summary>
    private void ImulN(ref Op op, ulong next)
    {
        int size = op.Size;
        ulong a, b;
        if (op.H == Handler.Imul3)
        {
            a = (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), size) : GetReg(op.R2, size);
            b = (ulong)op.Imm;
        }
        else
        {
            a = GetReg(op.R1, size);
            b = (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), size) : GetReg(op.R2, size);
        }
        ulong r = ImulValue(SignExtend(a, size), SignExtend(b & Mask(size), size), size, out bool overflow);
        SetReg(op.R1, size, r);
        _lfCarry = overflow;
        SetLazy(FlagOp.ResultCfOf, size, 0, overflow ? 1UL : 0, r);
    }

    private void Divide(ref Op op, ulong next, bool signed)
    {
        int size = op.Size;
        DivideValue((op.Form & OpForm.MemDst) != 0 ? ReadMem(Ea(ref op, next), size) : GetReg(op.R1, size), size, signed);
    }

    /// <summary>DIV/IDIV of RDX:RAX (AX for bytes) by <paramref name="src"/>: one definition for the interpreter and the
    /// slow path of compiled regions (Translation/), which make only the divisions that cannot fault themselves.</summary>
    internal void DivideValue(ulong src, int size, bool signed)
    {
        if (src == 0) throw GuestFault.De();
        switch (size)
        {
            case 1:
            {
                ulong dividend = R(RAX) & 0xffff;
                if (signed)
                {
                    int n = (short)dividend, d = (sbyte)src;
                    int q = n / d, rem = n % d;
                    if (q > 127 || q < -128) throw GuestFault.De();
                    R(RAX) = (R(RAX) & ~0xffffUL) | ((ulong)(byte)rem << 8) | (byte)q;
                }
                else
                {
                    ulong q = dividend / src, rem = dividend % src;
                    if (q > 0xff) throw GuestFault.De();
                    R(RAX) = (R(RAX) & ~0xffffUL) | (rem << 8) | q;
                }
                break;
            }
            case 2:
            {
                ulong dividend = ((R(RDX) & 0xffff) << 16) | (R(RAX) & 0xffff);
                if (signed)
                {
                    int n = (int)dividend, d = (short)src;
                    if (n == int.MinValue && d == -1) throw GuestFault.De();
                    int q = n / d, rem = n % d;
                    if (q > short.MaxValue || q < short.MinValue) throw GuestFault.De();
                    SetReg(RAX, 2, (ulong)q); SetReg(RDX, 2, (ulong)rem);
                }
                else
                {
                    ulong q = dividend / src, rem = dividend % src;
                    if (q > 0xffff) throw GuestFault.De();
                    SetReg(RAX, 2, q); SetReg(RDX, 2, rem);
                }
                break;
            }
            case 4:
            {
                ulong dividend = ((R(RDX) & 0xffffffff) << 32) | (R(RAX) & 0xffffffff);
                if (signed)
                {
                    long n = (long)dividend, d = (int)src;
                    if (n == long.MinValue && d == -1) throw GuestFault.De();
                    long q = n / d, rem = n % d;
                    if (q > int.MaxValue || q < int.MinValue) throw GuestFault.De();
                    R(RAX) = (uint)q; R(RDX) = (uint)rem;
                }
                else
                {
                    ulong q = dividend / src, rem = dividend % src;
                    if (q > 0xffffffff) throw GuestFault.De();
                    R(RAX) = q; R(RDX) = rem;
                }
                break;
            }
            default:
            {
                if (signed)
                {
                    Int128 n = (Int128)(((UInt128)R(RDX) << 64) | R(RAX));
                    Int128 d = (long)src;
                    if (n == Int128.MinValue && d == -1) throw GuestFault.De();
                    Int128 q = n / d, rem = n % d;
                    if (q > long.MaxValue || q < long.MinValue) throw GuestFault.De();
                    R(RAX) = (ulong)(long)q; R(RDX) = (ulong)(long)rem;
                }
                else
                {
                    if (R(RDX) >= src) throw GuestFault.De();
                    if (R(RDX) == 0)
                    {
                        // The common case (a 64-bit dividend): no 128-bit arithmetic needed.
                        (ulong q64, ulong r64) = Math.DivRem(R(RAX), src);
                        R(RAX) = q64; R(RDX) = r64;
                        break;
                    }
                    UInt128 n = ((UInt128)R(RDX) << 64) | R(RAX);
                    UInt128 q = n / src, rem = n % src;
                    R(RAX) = (ulong)q; R(RDX) = (ulong)rem;
                }
                break;
            }
        }
    }

    private void BitTest(ref Op op, ulong next)
    {
        int size = op.Size, bits = size * 8;
        ulong ea = 0;
        ulong a;
        int bit;
        if ((op.Form & OpForm.ImmSrc) != 0)
        {
            bit = (int)((ulong)op.Imm & (ulong)(bits - 1));
            if ((op.Form & OpForm.MemDst) != 0) ea = Ea(ref op, next);
        }
        else
        {
            ulong off = GetReg(op.R2, size);
            bit = (int)(off & (ulong)(bits - 1));
            if ((op.Form & OpForm.MemDst) != 0)
            {
                // A register bit offset addresses memory beyond the operand (signed, SDM BT).
                long soff = SignExtend(off, size);
                ea = Ea(ref op, next) + (ulong)((soff >> (size == 8 ? 6 : size == 4 ? 5 : 4)) * size);
            }
        }
        a = (op.Form & OpForm.MemDst) != 0 ? ReadMem(ea, size) : GetReg(op.R1, size);
        bool cf = ((a >> bit) & 1) != 0;
        if (op.Sub != 0)
        {
            ulong r = op.Sub switch { 1 => a | (1UL << bit), 2 => a & ~(1UL << bit), _ => a ^ (1UL << bit) };
            if ((op.Form & OpForm.MemDst) != 0) WriteMem(ea, size, r); else SetReg(op.R1, size, r);
        }
        SetFlagBits(FlagCF, cf ? FlagCF : 0);
    }

    private void BitScan(ref Op op, ulong next)
    {
        int size = op.Size, bits = size * 8;
        ulong src = ReadSrc(ref op, next);
        switch (op.H)
        {
            case Handler.Bsf:
            case Handler.Bsr:
                if (src == 0) { SetFlagBits(FlagZF, FlagZF); return; } // destination unchanged
                SetReg(op.R1, size, op.H == Handler.Bsf ? (ulong)BitOperations.TrailingZeroCount(src)
                    : (ulong)(63 - BitOperations.LeadingZeroCount(src)));
                SetFlagBits(FlagZF, 0);
                return;
            case Handler.Tzcnt:
            case Handler.Lzcnt:
            {
                ulong r = src == 0 ? (ulong)bits
                    : op.H == Handler.Tzcnt ? (ulong)BitOperations.TrailingZeroCount(src)
                    : (ulong)(BitOperations.LeadingZeroCount(src) - (64 - bits));
                SetReg(op.R1, size, r);
                SetFlagBits(FlagCF | FlagZF, (src == 0 ? FlagCF : 0) | (r == 0 ? FlagZF : 0));
                return;
            }
            default: // Popcnt
            {
                ulong r = (ulong)BitOperations.PopCount(src);
                SetReg(op.R1, size, r);
                SetFlagBits(ArithFlags, src == 0 ? FlagZF : 0);
                return;
            }
        }
    }

    private void Bmi(ref Op op, ulong next)
    {
        int size = op.Size;
        ulong m = Mask(size);
        ulong r;
        bool cf;
        switch (op.H)
        {
            case Handler.Andn:
            {
                ulong src1 = GetReg(op.R2, size);
                ulong src2 = (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), size) : GetReg((int)op.Imm, size);
                r = ~src1 & src2 & m;
                cf = false;
                break;
            }
            case Handler.Bextr:
            {
                ulong src = (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), size) : GetReg(op.R2, size);
                ulong ctl = GetReg((int)op.Imm, size);
                int start = (int)(ctl & 0xff), len = (int)((ctl >> 8) & 0xff);
                r = start >= 64 ? 0 : src >> start;
                if (len < 64) r &= (1UL << len) - 1;
                r &= m;
                cf = false;
                break;
            }
            default:
            {
                ulong src = ReadSrc(ref op, next);
                r = op.H switch
                {
                    Handler.Blsi => (0 - src) & src,
                    Handler.Blsmsk => (src - 1) ^ src,
                    _ => (src - 1) & src,
                } & m;
                cf = op.H == Handler.Blsr || op.H == Handler.Blsmsk ? src == 0 : src != 0;
                break;
            }
        }
        SetReg(op.R1, size, r);
        // SDM: ZF, SF from the result, CF as computed, OF cleared; AF, PF undefined.
        _lfCarry = cf;
        SetLazy(FlagOp.ResultCfOf, size, 0, 0, r);
    }

    private void Cmpxchg(ref Op op, ulong next)
    {
        int size = op.Size;
        ulong ea = DstEa(ref op, next);
        ulong dst = ReadDst(ref op, ea);
        ulong acc = GetReg(RAX, size);
        if (acc == dst)
        {
            WriteDst(ref op, ea, GetReg(op.R2, size));
        }
        else
        {
            if ((op.Form & OpForm.MemDst) != 0) WriteMem(ea, size, dst); // the processor always writes back
            SetReg(RAX, size, dst);
        }
        SetLazy(FlagOp.Sub, size, acc, dst, (acc - dst) & Mask(size));
    }

    private void Xadd(ref Op op, ulong next)
    {
        int size = op.Size;
        ulong ea = DstEa(ref op, next);
        ulong dst = ReadDst(ref op, ea);
        ulong src = GetReg(op.R2, size);
        ulong sum = (dst + src) & Mask(size);
        if ((op.Form & OpForm.MemDst) != 0) WriteMem(ea, size, sum);
        SetReg(op.R2, size, dst);
        if ((op.Form & OpForm.MemDst) == 0) SetReg(op.R1, size, sum);
        SetLazy(FlagOp.Add, size, dst, src, sum);
    }

    /// <summary>CMPXCHG8B (Size 8) and CMPXCHG16B (Size 16).</summary>
    private void Cmpxchg16b(ref Op op, ulong next)
    {
        ulong ea = Ea(ref op, next);
        if (op.Size == 8)
        {
            ulong m = Read64(ea);
            ulong expect = ((R(RDX) & 0xffffffff) << 32) | (R(RAX) & 0xffffffff);
            bool equal = m == expect;
            if (equal) Write64(ea, ((R(RCX) & 0xffffffff) << 32) | (R(RBX) & 0xffffffff));
            else { Write64(ea, m); R(RAX) = (uint)m; R(RDX) = m >> 32; }
            SetFlagBits(FlagZF, equal ? FlagZF : 0);
            return;
        }
        if ((ea & 15) != 0) throw GuestFault.Gp();
        ulong lo = Read64(ea), hi = Read64(ea + 8);
        bool eq = lo == R(RAX) && hi == R(RDX);
        if (eq) { ProbeWrite(ea, 16); Write64(ea, R(RBX)); Write64(ea + 8, R(RCX)); }
        else { ProbeWrite(ea, 16); Write64(ea, lo); Write64(ea + 8, hi); R(RAX) = lo; R(RDX) = hi; }
        SetFlagBits(FlagZF, eq ? FlagZF : 0);
    }
}
