using Lvd.Machine.Decoding;

namespace Lvd.Machine.Execution;

/// <summary>
/// The x87 computational and stack instructions (SDM Vol. 1 ch. 8, Vol. 2) on the register stack
/// of Cpu.Fpu.cs, the arithmetic in <see cref="SoftFloat"/> (binary80, precision and rounding
/// control). Exceptions (SDM 8.5): every flag is recorded in FSW; a masked one gives the masked
/// response (the indefinite, a rounded or denormal result ...); an unmasked IE, DE or ZE leaves
/// the destination and the stack unchanged, an unmasked OE or UE stores a register result with
/// its exponent adjusted by 24576 (nothing to memory), and either sets FSW.ES so that the next
/// waiting x87 instruction raises #MF (Cpu.Fpu.cs, CR0.NE). Stack faults are IE with FSW.SF, C1
/// telling overflow (1) from underflow (0). FIP and FDP hold the last non-control instruction's
/// address and memory operand; FOP is kept 0 (see docs).
/// </summary>
public sealed partial class Cpu
{
    public const ushort FswIE = 1, FswDE = 2, FswZE = 4, FswOE = 8, FswUE = 16, FswPE = 32, FswSF = 64,
        FswC0 = 1 << 8, FswC1 = 1 << 9, FswC2 = 1 << 10, FswC3 = 1 << 14;

    /// <summary>The FCW rounding control and exception masks coded as MXCSR bits for <see cref="SoftFloat"/>.</summary>
    private uint X87Mode => (uint)((Fcw >> 10) & 3) << 13 | (uint)(Fcw & 0x3f) << 7;

    /// <summary>The precision control's significand width (SDM Table 8-2; the reserved 01 acts as 64 bits).</summary>
    private int X87Precision => ((Fcw >> 8) & 3) switch { 0 => 24, 2 => 53, _ => 64 };

    private int StPhys(int i) => (X87Top + i) & 7;
    private bool StEmpty(int i) => ((Ftw >> (2 * StPhys(i))) & 3) == 3;

    private F80 St(int i)
    {
        int p = StPhys(i);
        return new F80(FpuSignificand[p], FpuSignExp[p]);
    }

    private void SetSt(int i, F80 v)
    {
        int p = StPhys(i);
        FpuSignificand[p] = v.Sig;
        FpuSignExp[p] = v.SE;
        Ftw = (ushort)((Ftw & ~(3 << (2 * p))) | (TagOf(p) << (2 * p)));
    }

    private void SetTop(int top) => Fsw = (ushort)((Fsw & ~0x3800) | ((top & 7) << 11));

    private void Pop(int n)
    {
        for (int i = 0; i < n; i++)
        {
            Ftw |= (ushort)(3 << (2 * StPhys(0)));
            SetTop(X87Top + 1);
        }
    }

    private void Push(F80 v)
    {
        SetTop(X87Top - 1);
        SetSt(0, v);
    }

    /// <summary>Whether the flags let a result be written: no unmasked IE, DE or ZE (nor OE/UE for a memory destination).</summary>
    private bool X87Deliver(uint flags, bool memory = false)
    {
        uint stop = FswIE | FswDE | FswZE | (memory ? (uint)(FswOE | FswUE) : 0);
        return (flags & ~(uint)Fcw & stop) == 0;
    }

    /// <summary>A store to memory stopped by an unmasked OE or UE: nothing written, so no PE and no rounding C1.</summary>
    private uint StoreStopped(uint flags) =>
        (flags & ~(uint)Fcw & (FswOE | FswUE)) != 0 ? flags & ~(FswPE | SoftFloat.RoundedUp) : flags;

    /// <summary>
    /// Records an operation's flags: the exceptions and SF sticky, C1 from the rounding or the stack fault
    /// (<paramref name="keepC1"/>: FCOMI and FCMOV leave C1 alone but for a stack fault), ES/B.
    /// </summary>
    private void X87Commit(uint flags, bool keepC1 = false)
    {
        // An unmasked IE, DE or ZE stops the operation before its result exists: no OE, UE, PE or rounding C1
        // (as the host CPU reports).
        if ((flags & ~(uint)Fcw & (FswIE | FswDE | FswZE)) != 0 && (flags & FswSF) == 0)
            flags &= FswIE | FswDE | FswZE;
        if (keepC1 && (flags & FswSF) == 0) flags = (flags & ~SoftFloat.RoundedUp) | (uint)(Fsw & FswC1);
        Fsw = (ushort)(((uint)Fsw & ~(uint)FswC1) | (flags & 0x7f) | (flags & SoftFloat.RoundedUp));
        UpdateX87Summary();
    }

    /// <summary>Stack underflow (an empty register read): IE, SF, C1 = 0; true when IE is masked (the indefinite is the result).</summary>
    private bool StackUnderflow(ref uint flags)
    {
        flags = (flags | FswIE | FswSF) & ~SoftFloat.RoundedUp;
        return (Fcw & FswIE) != 0;
    }

    /// <summary>Stack overflow (a push onto a full register): IE, SF, C1 = 1 (and no other flag); true when IE is masked.</summary>
    private bool StackOverflow(ref uint flags)
    {
        flags = FswIE | FswSF | SoftFloat.RoundedUp;
        return (Fcw & FswIE) != 0;
    }

    /// <summary>An unmasked overflow or underflow of a register result: the exponent scale that brings it back in range (SDM 8.5.4-5).</summary>
    private int X87Rebias(uint flags)
    {
        uint unmasked = flags & ~(uint)Fcw;
        return (unmasked & FswOE) != 0 ? -24576 : (unmasked & FswUE) != 0 ? 24576 : 0;
    }

    /// <summary>
    /// The rounding of a rebiased result (unmasked OE/UE) decides PE and C1; a result out of range even
    /// rebiased is the infinity (overflow, as the host CPU gives) with PE and C1.
    /// </summary>
    private static uint Rebiased(uint flags, uint rebiasFlags, ref F80 r)
    {
        flags = (flags & ~(uint)(FswPE | SoftFloat.RoundedUp)) | (rebiasFlags & (FswPE | SoftFloat.RoundedUp));
        if ((rebiasFlags & FswOE) != 0)
        {
            r = new F80(1UL << 63, (ushort)(r.SE | 0x7fff));
            flags |= FswPE | SoftFloat.RoundedUp;
        }
        return flags;
    }

    private F80 ReadF80(ulong ea) => new(Read64(ea), Read16(ea + 8));

    private void WriteF80(ulong ea, F80 v)
    {
        ProbeWrite(ea, 10);
        Write64(ea, v.Sig);
        Write16(ea + 8, v.SE);
    }

    /// <summary>A memory source operand as binary80: m32/m64 real (SNaNs kept for the operation's NaN rules), m16/m32/m64 integer.</summary>
    private F80 ReadX87Operand(ref Op op, ulong ea, ref uint flags, out bool denormal)
    {
        denormal = false;
        if (op.Size2 == X87Mem.Int)
        {
            long i = op.Size switch { 2 => (short)Read16(ea), 4 => (int)Read32(ea), _ => (long)Read64(ea) };
            return SoftFloat.FromInt80(i);
        }
        if (op.Size == 10) return ReadF80(ea);
        ulong v = op.Size == 8 ? Read64(ea) : Read32(ea);
        denormal = SoftFloat.IsDenormal(v, op.Size == 8);
        return SoftFloat.FromFloat(v, op.Size == 8, false, ref flags);
    }

    private void ExecuteX87(ref Op op, ulong next)
    {
        CheckX87Available();
        int pops = (int)(op.Imm & X87Bits.PopMask);
        bool control = op.Sub is VecOp.Fnstenv or VecOp.Fldenv or VecOp.Fnsave or VecOp.Frstor;
        if (!control || (op.Imm & X87Bits.Wait) != 0 || op.Sub is VecOp.Fldenv or VecOp.Frstor) CheckPendingX87();
        bool mem = (op.Form & (OpForm.MemSrc | OpForm.MemDst)) != 0;
        ulong ea = mem ? Ea(ref op, next) : 0;
        if (!control)
        {
            Fip = next - op.Len;
            if (mem) Fdp = ea;
        }
        uint flags = 0;
        uint mode = X87Mode;
        switch (op.Sub)
        {
            case VecOp.Fld:
            case VecOp.Fild:
            case VecOp.Fbld:
            case VecOp.Fconst:
            {
                F80 v;
                bool ok = true;
                if (op.Sub == VecOp.Fconst)
                {
                    int which = (int)(op.Imm >> 8);
                    v = which == 5 ? SoftFloat.One : which == 6 ? default : SoftFloat.Constant(which, mode);
                }
                else if (op.Sub == VecOp.Fbld) v = ReadBcd(ea);
                else if (mem && op.Size != 10 && op.Size2 == X87Mem.Float)
                    v = SoftFloat.FromFloat(op.Size == 8 ? Read64(ea) : Read32(ea), op.Size == 8, true, ref flags);
                else if (mem) v = ReadX87Operand(ref op, ea, ref flags, out _);
                else if (StEmpty(op.R1)) { ok = StackUnderflow(ref flags); v = SoftFloat.Indefinite; }
                else v = St(op.R1);
                // A full ST(7) overflows, but an empty source register is reported first (C1 = 0).
                if (!StEmpty(7) && (flags & FswSF) == 0) { ok = StackOverflow(ref flags); v = SoftFloat.Indefinite; }
                // An unmasked DE (a denormal m32/m64 source) still loads (as the host CPU does); an unmasked IE does not.
                if (ok && (flags & ~(uint)Fcw & FswIE) == 0) Push(v);
                X87Commit(flags);
                return;
            }
            case VecOp.Fst:
            case VecOp.Fist:
            case VecOp.Fisttp:
            case VecOp.Fbstp:
                Store(ref op, ea, pops);
                return;
            case VecOp.Farith:
            {
                byte kind = (byte)(op.Imm >> 8);
                int dst = mem ? 0 : op.R1;
                bool denormal = false;
                F80 b = mem ? ReadX87Operand(ref op, ea, ref flags, out denormal) : default;
                if (StEmpty(dst) || (!mem && StEmpty(op.R2)))
                {
                    if (StackUnderflow(ref flags)) { SetSt(dst, SoftFloat.Indefinite); Pop(pops); }
                    X87Commit(flags);
                    return;
                }
                if (!mem) b = St(op.R2);
                F80 a = St(dst);
                if ((op.Imm & X87Bits.Reverse) != 0) (a, b) = (b, a);
                int pc = X87Precision;
                bool reverse = (op.Imm & X87Bits.Reverse) != 0;
                bool aDen = denormal && reverse, bDen = denormal && !reverse;
                F80 r = SoftFloat.Arith80(kind, a, b, pc, mode, 0, ref flags, aDen, bDen);
                int rebias = X87Rebias(flags);
                if (rebias != 0)
                {
                    uint f2 = 0;
                    r = SoftFloat.Arith80(kind, a, b, pc, mode, rebias, ref f2, aDen, bDen);
                    flags = Rebiased(flags, f2, ref r);
                }
                if (X87Deliver(flags)) { SetSt(dst, r); Pop(pops); }
                X87Commit(flags);
                return;
            }
            case VecOp.Fcom:
            case VecOp.Ftst:
                Compare(ref op, ea, mem, pops);
                return;
            case VecOp.Fxam:
            {
                int cls = StEmpty(0) ? 5 : SoftFloat.Examine(St(0));
                ushort c = (ushort)(((cls & 4) != 0 ? FswC3 : 0) | ((cls & 2) != 0 ? FswC2 : 0) | ((cls & 1) != 0 ? FswC0 : 0)
                    | (St(0).Neg ? FswC1 : 0));
                Fsw = (ushort)((Fsw & ~(FswC0 | FswC1 | FswC2 | FswC3)) | c);
                return;
            }
            case VecOp.Fchs:
            case VecOp.Fabs:
            case VecOp.Fsqrt:
            case VecOp.Frndint:
            case VecOp.F2xm1:
            {
                if (StEmpty(0))
                {
                    if (StackUnderflow(ref flags)) SetSt(0, SoftFloat.Indefinite);
                    X87Commit(flags);
                    return;
                }
                F80 a = St(0), r;
                switch (op.Sub)
                {
                    case VecOp.Fchs: r = a.Negate(); break;
                    case VecOp.Fabs: r = a.Abs(); break;
                    case VecOp.Fsqrt:
                        r = SoftFloat.Sqrt80(a, X87Precision, mode, 0, ref flags);
                        int rebias = X87Rebias(flags);
                        if (rebias != 0)
                        {
                            uint f2 = 0;
                            r = SoftFloat.Sqrt80(a, X87Precision, mode, rebias, ref f2);
                            flags = Rebiased(flags, f2, ref r);
                        }
                        break;
                    case VecOp.Frndint: r = SoftFloat.RoundInt80(a, mode, ref flags); break;
                    default:
                    {
                        r = SoftFloat.F2xm1(a, mode, ref flags);
                        int rb = X87Rebias(flags);
                        if (rb != 0) { uint f2 = 0; r = SoftFloat.F2xm1(a, mode, ref f2, rb); flags = Rebiased(flags, f2, ref r); }
                        break;
                    }
                }
                if (X87Deliver(flags)) SetSt(0, r);
                X87Commit(flags);
                return;
            }
            case VecOp.Fscale:
            case VecOp.Fprem:
            case VecOp.Fyl2x:
            case VecOp.Fyl2xp1:
            case VecOp.Fpatan:
                TwoOperand(ref op, pops, mode);
                return;
            case VecOp.Fxtract:
            case VecOp.Fptan:
            case VecOp.Fsincos:
            case VecOp.Fsin:
            case VecOp.Fcos:
                OneToTwo(op.Sub, mode);
                return;
            case VecOp.Fxch:
            {
                int i = op.R2;
                if (StEmpty(0) || StEmpty(i))
                {
                    if (!StackUnderflow(ref flags)) { X87Commit(flags); return; }
                    if (StEmpty(0)) SetSt(0, SoftFloat.Indefinite);
                    if (StEmpty(i)) SetSt(i, SoftFloat.Indefinite);
                }
                F80 t = St(0);
                SetSt(0, St(i));
                SetSt(i, t);
                X87Commit(flags);
                return;
            }
            case VecOp.Fcmov:
            {
                if (StEmpty(0) || StEmpty(op.R2))
                {
                    if (StackUnderflow(ref flags)) SetSt(0, SoftFloat.Indefinite);
                    X87Commit(flags);
                    return;
                }
                if (Cond((int)(op.Imm >> 8))) SetSt(0, St(op.R2));
                X87Commit(flags, true);
                return;
            }
            case VecOp.Ffree:
                Ftw |= (ushort)(3 << (2 * StPhys(op.R1)));
                Pop(pops);
                Fsw &= unchecked((ushort)~FswC1);
                return;
            case VecOp.Fincstp:
            case VecOp.Fdecstp:
                SetTop(X87Top + (op.Sub == VecOp.Fincstp ? 1 : -1));
                Fsw &= unchecked((ushort)~FswC1);
                return;
            case VecOp.Fnop:
                return;
            case VecOp.Fnstenv:
                StoreEnv(ea);
                Fcw |= 0x3f;
                return;
            case VecOp.Fldenv:
                LoadEnv(ea);
                return;
            case VecOp.Fnsave:
            {
                ProbeWrite(ea, 108);
                StoreEnv(ea);
                for (int i = 0; i < 8; i++) WriteF80(ea + 28 + 10 * (ulong)i, St(i));
                Fcw = 0x037f; Fsw = 0; Ftw = 0xffff; Fop = 0; Fip = 0; Fdp = 0;
                return;
            }
            case VecOp.Frstor:
            {
                Span<ulong> sig = stackalloc ulong[8];
                Span<ushort> se = stackalloc ushort[8];
                for (int i = 0; i < 8; i++) { sig[i] = Read64(ea + 28 + 10 * (ulong)i); se[i] = Read16(ea + 36 + 10 * (ulong)i); }
                LoadEnv(ea);
                for (int i = 0; i < 8; i++)
                {
                    int p = StPhys(i);
                    FpuSignificand[p] = sig[i];
                    FpuSignExp[p] = se[i];
                }
                RetagNonEmpty();
                return;
            }
        }
        throw GuestFault.Ud();
    }

    /// <summary>FST/FSTP/FIST/FISTP/FISTTP/FBSTP: memory first (a fault changes nothing), then flags and the pop.</summary>
    private void Store(ref Op op, ulong ea, int pops)
    {
        uint flags = 0;
        bool mem = (op.Form & OpForm.MemDst) != 0;
        bool write;
        F80 a = St(0);
        if (StEmpty(0)) { write = StackUnderflow(ref flags); a = SoftFloat.Indefinite; }
        else write = true;
        if (!mem)
        {
            if (write) SetSt(op.R1, a);
            if (write) Pop(pops);
            X87Commit(flags);
            return;
        }
        bool empty = (flags & FswSF) != 0;
        uint mode = X87Mode;
        if (op.Sub == VecOp.Fbstp)
        {
            if (write) write = WriteBcd(ea, a, empty, mode, ref flags);
        }
        else if (op.Sub != VecOp.Fst)
        {
            int bits = op.Size * 8;
            ulong v = empty ? 1UL << (bits - 1) : SoftFloat.ToInt80(a, bits, op.Sub == VecOp.Fisttp, mode, ref flags);
            write &= X87Deliver(flags, true);
            flags = StoreStopped(flags);
            if (write) WriteMem(ea, op.Size, v);
        }
        else if (op.Size == 10)
        {
            if (write) WriteF80(ea, a);
        }
        else
        {
            bool dbl = op.Size == 8;
            ulong v = empty ? (dbl ? 0xfff8000000000000UL : 0xffc00000UL) : SoftFloat.ToFloat(a, dbl, mode, ref flags);
            write &= X87Deliver(flags, true);
            flags = StoreStopped(flags);
            if (write) { if (dbl) Write64(ea, v); else Write32(ea, (uint)v); }
        }
        if (write) Pop(pops);
        X87Commit(flags);
    }

    /// <summary>FCOM*, FUCOM*, FICOM*, FCOMI*, FUCOMI*, FTST: C3/C2/C0 (or ZF/PF/CF) from the comparison.</summary>
    private void Compare(ref Op op, ulong ea, bool mem, int pops)
    {
        uint flags = 0;
        bool unordered = (op.Imm & X87Bits.Unordered) != 0, eflags = (op.Imm & X87Bits.Eflags) != 0;
        int src = pops == 2 ? 1 : op.R2;
        bool denormal = false;
        F80 b = op.Sub == VecOp.Ftst || !mem ? default : ReadX87Operand(ref op, ea, ref flags, out denormal);
        int c;
        bool ok = true;
        if (StEmpty(0) || (op.Sub != VecOp.Ftst && !mem && StEmpty(src)))
        {
            ok = StackUnderflow(ref flags);
            c = SoftFloat.Unordered;
        }
        else
        {
            if (op.Sub != VecOp.Ftst && !mem) b = St(src);
            c = SoftFloat.Compare80(St(0), b, !unordered, ref flags, denormal);
            ok = X87Deliver(flags);
        }
        // The condition codes (or EFLAGS) are set even when an unmasked exception stops the pop (host CPU).
        {
            if (eflags)
            {
                ulong f = c switch { SoftFloat.Unordered => FlagZF | FlagPF | FlagCF, SoftFloat.Less => FlagCF, SoftFloat.Equal => FlagZF, _ => 0 };
                SetFlagBits(ArithFlags, f);
            }
            else
            {
                ushort cc = c switch
                {
                    SoftFloat.Unordered => (ushort)(FswC3 | FswC2 | FswC0),
                    SoftFloat.Less => FswC0,
                    SoftFloat.Equal => FswC3,
                    _ => 0,
                };
                Fsw = (ushort)((Fsw & ~(FswC0 | FswC2 | FswC3)) | cc);
            }
            if (ok) Pop(pops);
        }
        X87Commit(flags, eflags);
    }

    /// <summary>FSCALE, FPREM, FPREM1 (ST(0) from ST(0) and ST(1)) and FYL2X, FYL2XP1, FPATAN (ST(1) from both, then a pop).</summary>
    private void TwoOperand(ref Op op, int pops, uint mode)
    {
        uint flags = 0;
        int dst = op.Sub is VecOp.Fscale or VecOp.Fprem ? 0 : 1;
        if (StEmpty(0) || StEmpty(1))
        {
            if (StackUnderflow(ref flags)) { SetSt(dst, SoftFloat.Indefinite); Pop(pops); }
            if (op.Sub == VecOp.Fprem) Fsw &= unchecked((ushort)~FswC2);
            X87Commit(flags);
            return;
        }
        F80 a = St(0), b = St(1), r;
        ushort cc = 0;
        bool setCc = false;
        switch (op.Sub)
        {
            case VecOp.Fscale:
                r = SoftFloat.Scale80(a, b, mode, 0, ref flags);
                int rebias = X87Rebias(flags);
                if (rebias != 0) { uint f2 = 0; r = SoftFloat.Scale80(a, b, mode, rebias, ref f2); flags = Rebiased(flags, f2, ref r); }
                break;
            case VecOp.Fprem:
            {
                r = SoftFloat.Prem(a, b, (op.Imm & X87Bits.Reverse) != 0, ref flags, out int q, out bool partial);
                if (q < 0) { Fsw &= unchecked((ushort)~FswC2); break; } // invalid or NaN: no quotient bits
                setCc = true;
                cc = (ushort)((partial ? FswC2 : 0) | ((q & 4) != 0 ? FswC0 : 0) | ((q & 2) != 0 ? FswC3 : 0));
                if ((q & 1) != 0) flags |= SoftFloat.RoundedUp; // C1 = Q0
                break;
            }
            case VecOp.Fyl2x: r = SoftFloat.Fyl2x(a, b, mode, ref flags); break;
            case VecOp.Fyl2xp1: r = SoftFloat.Fyl2xp1(a, b, mode, ref flags); break;
            default: r = SoftFloat.Fpatan(a, b, mode, ref flags); break;
        }
        int rb = op.Sub is VecOp.Fyl2x or VecOp.Fyl2xp1 or VecOp.Fpatan ? X87Rebias(flags) : 0;
        if (rb != 0)
        {
            uint f2 = 0;
            r = op.Sub switch
            {
                VecOp.Fyl2x => SoftFloat.Fyl2x(a, b, mode, ref f2, rb),
                VecOp.Fyl2xp1 => SoftFloat.Fyl2xp1(a, b, mode, ref f2, rb),
                _ => SoftFloat.Fpatan(a, b, mode, ref f2, rb),
            };
            flags = Rebiased(flags, f2, ref r);
        }
        if (X87Deliver(flags))
        {
            SetSt(dst, r);
            Pop(pops);
            if (setCc) Fsw = (ushort)((Fsw & ~(FswC0 | FswC2 | FswC3)) | cc);
        }
        else if (op.Sub == VecOp.Fprem) Fsw &= unchecked((ushort)~FswC2); // stopped: no reduction reported
        X87Commit(flags);
    }

    /// <summary>FXTRACT, FPTAN, FSINCOS (ST(0) replaced, then a push) and FSIN, FCOS; C2 set when the operand is out of range.</summary>
    private void OneToTwo(byte sub, uint mode)
    {
        uint flags = 0;
        bool pushes = sub is VecOp.Fxtract or VecOp.Fptan or VecOp.Fsincos;
        if (sub != VecOp.Fxtract && (StEmpty(0) || pushes && !StEmpty(7))) Fsw &= unchecked((ushort)~FswC2); // a stack fault clears C2
        if (StEmpty(0))
        {
            if (StackUnderflow(ref flags))
            {
                SetSt(0, SoftFloat.Indefinite);
                if (pushes) Push(SoftFloat.Indefinite);
            }
            X87Commit(flags);
            return;
        }
        if (pushes && !StEmpty(7))
        {
            if (StackOverflow(ref flags)) { SetSt(0, SoftFloat.Indefinite); Push(SoftFloat.Indefinite); }
            X87Commit(flags);
            return;
        }
        F80 a = St(0), r0, r1;
        if (sub == VecOp.Fxtract)
        {
            (r0, r1) = SoftFloat.Xtract(a, ref flags);
        }
        else
        {
            int which = sub switch { VecOp.Fsin => 0, VecOp.Fcos => 1, VecOp.Fsincos => 2, _ => 3 };
            bool inRange = SoftFloat.Trig(which, a, mode, ref flags, out r0, out r1);
            int rb = X87Rebias(flags);
            if (rb != 0 && inRange)
            {
                // Only a tiny result (the sine, the tangent) can underflow; the other (cos, 1.0) is not rescaled.
                uint f2 = 0;
                SoftFloat.Trig(which, a, mode, ref f2, out F80 s0, out _, rb);
                flags = Rebiased(flags, f2, ref s0);
                r0 = s0;
            }
            Fsw = (ushort)((Fsw & ~FswC2) | (inRange ? 0 : FswC2));
            if (!inRange) { X87Commit(flags & ~SoftFloat.RoundedUp); return; }
        }
        if (X87Deliver(flags))
        {
            SetSt(0, r0);
            if (pushes) Push(r1);
        }
        X87Commit(flags);
    }

    /// <summary>FBLD: 18 packed BCD digits and a sign byte, exactly.</summary>
    private F80 ReadBcd(ulong ea)
    {
        long v = 0;
        for (int i = 8; i >= 0; i--)
        {
            byte b = Read8(ea + (ulong)i);
            v = v * 100 + (b >> 4) * 10 + (b & 15);
        }
        bool neg = (Read8(ea + 9) & 0x80) != 0;
        F80 r = SoftFloat.FromInt80(v);
        return neg ? r.Negate() : r;
    }

    /// <summary>
    /// FBSTP: ST(0) rounded to an integer in the FCW mode as 18 BCD digits; out of range or not a number gives
    /// the BCD indefinite with IE.
    /// </summary>
    private bool WriteBcd(ulong ea, F80 a, bool empty, uint mode, ref uint flags)
    {
        ulong v = empty ? 1UL << 63 : SoftFloat.ToInt80(a, 64, false, mode, ref flags);
        long s = (long)v;
        bool invalid = empty || (flags & FswIE) != 0 || s > 999_999_999_999_999_999 || s < -999_999_999_999_999_999;
        if (invalid && !empty) flags = (flags | FswIE) & ~(uint)(FswPE | SoftFloat.RoundedUp);
        if (!X87Deliver(flags, true)) return false;
        ProbeWrite(ea, 10);
        if (invalid) { WriteF80(ea, SoftFloat.Indefinite); return true; }
        ulong mag = (ulong)(s < 0 ? -s : s);
        for (int i = 0; i < 9; i++)
        {
            byte b = (byte)(mag % 10);
            mag /= 10;
            b |= (byte)((mag % 10) << 4);
            mag /= 10;
            Write8(ea + (ulong)i, b);
        }
        Write8(ea + 9, (byte)(a.Neg ? 0x80 : 0));
        return true;
    }

    /// <summary>The 28-byte protected-mode environment (SDM Vol. 1 Figure 8-9), in 64-bit mode too: selectors stored as 0, FOP 0.</summary>
    private void StoreEnv(ulong ea)
    {
        ProbeWrite(ea, 28);
        ushort tags = 0;
        for (int p = 0; p < 8; p++) tags |= (ushort)((((Ftw >> (2 * p)) & 3) == 3 ? 3 : TagOf(p)) << (2 * p));
        Write32(ea, 0xffff0000u | Fcw);
        Write32(ea + 4, 0xffff0000u | Fsw);
        Write32(ea + 8, 0xffff0000u | tags);
        Write32(ea + 12, (uint)Fip);
        Write32(ea + 16, (uint)(Fop & 0x7ff) << 16);
        Write32(ea + 20, (uint)Fdp);
        Write32(ea + 24, 0xffff0000u);
    }

    private void LoadEnv(ulong ea)
    {
        ushort cw = Read16(ea), sw = Read16(ea + 4), tw = Read16(ea + 8);
        uint ip = Read32(ea + 12), opw = Read32(ea + 16), dp = Read32(ea + 20);
        Fcw = (ushort)(cw | 0x40);
        Fsw = sw;
        Ftw = tw;
        Fip = ip;
        Fop = (ushort)((opw >> 16) & 0x7ff);
        Fdp = dp;
        RetagNonEmpty();
        UpdateX87Summary();
    }

    /// <summary>A loaded tag word only says empty or not (as FXSAVE's abridged one): the other tags follow the registers.</summary>
    private void RetagNonEmpty()
    {
        ushort t = 0;
        for (int p = 0; p < 8; p++) t |= (ushort)((((Ftw >> (2 * p)) & 3) == 3 ? 3 : TagOf(p)) << (2 * p));
        Ftw = t;
    }
}
