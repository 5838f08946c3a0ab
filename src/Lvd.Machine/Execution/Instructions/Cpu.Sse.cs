using System.Runtime.InteropServices;
using Lvd.Machine.Decoding;

namespace Lvd.Machine.Execution;

/// <summary>
/// SSE and SSE2 semantics (SDM Vol. 2): moves, bitwise, shuffles, the SSE2 integer set, and the
/// floating-point lanes through <see cref="SoftFloat"/> (exact IEEE results and MXCSR flags in
/// every rounding mode, FTZ/DAZ). Register operands are XMM indexes unless the operation names
/// a general register. A floating-point instruction with an unmasked exception writes nothing
/// and raises #XM (#UD without CR4.OSXMMEXCPT).
/// </summary>
public sealed partial class Cpu
{
    private ref ulong XmmLo(int i) => ref Xmm[2 * i];
    private ref ulong XmmHi(int i) => ref Xmm[2 * i + 1];

    private ulong VecAddress(ref Op op, ulong next)
    {
        ulong ea = Ea(ref op, next);
        // SDM 2.4 (legacy SSE): a 16-byte operand of anything but the unaligned moves must be aligned.
        if ((op.Size2 & VecFmt.Aligned) != 0 && (ea & 15) != 0) throw GuestFault.Gp();
        return ea;
    }

    /// <summary>The source operand (XMM R2 or memory of Op.Size bytes, zero-extended to 128 bits).</summary>
    private void ReadVecSrc(ref Op op, ulong next, out ulong lo, out ulong hi)
    {
        if ((op.Form & OpForm.MemSrc) == 0) { lo = XmmLo(op.R2); hi = XmmHi(op.R2); return; }
        ulong ea = VecAddress(ref op, next);
        hi = 0;
        switch (op.Size)
        {
            case 16: lo = Read64(ea); hi = Read64(ea + 8); break;
            case 8: lo = Read64(ea); break;
            case 4: lo = Read32(ea); break;
            default: lo = Read16(ea); break;
        }
    }

    private void Store128(ref Op op, ulong next, ulong lo, ulong hi)
    {
        ulong ea = VecAddress(ref op, next);
        ProbeWrite(ea, 16);
        Write64(ea, lo);
        Write64(ea + 8, hi);
    }

    private void ExecuteSse(ref Op op, ulong next)
    {
        int d = op.R1;
        switch (op.Sub)
        {
            case VecOp.Mov128:
                if ((op.Form & OpForm.MemDst) != 0) { Store128(ref op, next, XmmLo(op.R2), XmmHi(op.R2)); return; }
                ReadVecSrc(ref op, next, out XmmLo(d), out XmmHi(d));
                return;
            case VecOp.MovScalar:
            {
                bool dbl = (op.Size2 & 3) == VecFmt.Sd;
                if ((op.Form & OpForm.MemDst) != 0)
                {
                    if (dbl) Write64(Ea(ref op, next), XmmLo(op.R2)); else Write32(Ea(ref op, next), (uint)XmmLo(op.R2));
                    return;
                }
                if ((op.Form & OpForm.MemSrc) != 0) { ReadVecSrc(ref op, next, out XmmLo(d), out XmmHi(d)); return; }
                ulong s = XmmLo(op.R2);
                XmmLo(d) = dbl ? s : (XmmLo(d) & 0xffffffff00000000UL) | (uint)s;
                return;
            }
            case VecOp.MovdTo:
            {
                ulong v = (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), op.Size) : GetReg(op.R2, op.Size);
                XmmLo(d) = v; XmmHi(d) = 0;
                return;
            }
            case VecOp.MovdFrom:
            {
                ulong v = op.Size == 8 ? XmmLo(op.R2) : (uint)XmmLo(op.R2);
                if ((op.Form & OpForm.MemDst) != 0) WriteMem(Ea(ref op, next), op.Size, v); else SetReg(d, op.Size, v);
                return;
            }
            case VecOp.MovqLoad:
                if ((op.Form & OpForm.MemDst) != 0) { Write64(Ea(ref op, next), XmmLo(op.R2)); return; }
                ReadVecSrc(ref op, next, out ulong q, out _);
                XmmLo(d) = q; XmmHi(d) = 0;
                return;
            case VecOp.MovLo:
                if ((op.Form & OpForm.MemDst) != 0) Write64(Ea(ref op, next), XmmLo(op.R2)); else XmmLo(d) = Read64(Ea(ref op, next));
                return;
            case VecOp.MovHi:
                if ((op.Form & OpForm.MemDst) != 0) Write64(Ea(ref op, next), XmmHi(op.R2)); else XmmHi(d) = Read64(Ea(ref op, next));
                return;
            case VecOp.Movhlps: XmmLo(d) = XmmHi(op.R2); return;
            case VecOp.Movlhps: XmmHi(d) = XmmLo(op.R2); return;
            case VecOp.Movmsk:
            {
                ulong lo = XmmLo(op.R2), hi = XmmHi(op.R2);
                R(d) = op.Size2 == 8 ? (lo >> 63) | ((hi >> 63) << 1)
                    : ((lo >> 31) & 1) | ((lo >> 62) & 2) | (((hi >> 31) & 1) << 2) | (((hi >> 63) & 1) << 3);
                return;
            }
            case VecOp.Pmovmskb:
            {
                ulong lo = XmmLo(op.R2), hi = XmmHi(op.R2), m = 0;
                for (int i = 0; i < 8; i++) m |= ((lo >> (8 * i + 7)) & 1) << i | ((hi >> (8 * i + 7)) & 1) << (i + 8);
                R(d) = m;
                return;
            }
            case VecOp.Maskmovdqu:
            {
                ulong ea = Ea(ref op, next);
                for (int i = 0; i < 16; i++)
                {
                    ulong mask = i < 8 ? XmmLo(op.R2) >> (8 * i) : XmmHi(op.R2) >> (8 * (i - 8));
                    ulong data = i < 8 ? XmmLo(d) >> (8 * i) : XmmHi(d) >> (8 * (i - 8));
                    if ((mask & 0x80) != 0) Write8(ea + (ulong)i, (byte)data);
                }
                return;
            }
            case VecOp.And: case VecOp.Andn: case VecOp.Or: case VecOp.Xor:
            {
                ReadVecSrc(ref op, next, out ulong lo, out ulong hi);
                ref ulong a = ref XmmLo(d);
                ref ulong b = ref XmmHi(d);
                switch (op.Sub)
                {
                    case VecOp.And: a &= lo; b &= hi; break;
                    case VecOp.Andn: a = ~a & lo; b = ~b & hi; break;
                    case VecOp.Or: a |= lo; b |= hi; break;
                    default: a ^= lo; b ^= hi; break;
                }
                return;
            }
        }
        if (op.Sub >= VecOp.Add && op.Sub < VecOp.Shufps) { ExecuteSseFloat(ref op, next); return; }
        ExecuteSseInteger(ref op, next);
    }

    /// <summary>Shuffles, unpacks and the SSE2 integer instructions, lane by lane over the 16 bytes.</summary>
    private void ExecuteSseInteger(ref Op op, ulong next)
    {
        int d = op.R1;
        Span<ulong> a = stackalloc ulong[2];
        Span<ulong> b = stackalloc ulong[2];
        Span<ulong> r = stackalloc ulong[2];
        a[0] = XmmLo(d); a[1] = XmmHi(d);
        bool immOnly = (op.Form & OpForm.MemSrc) == 0 && op.R2 == Op.NoReg;
        if (op.Sub == VecOp.Pinsrw)
            b[0] = (op.Form & OpForm.MemSrc) != 0 ? Read16(Ea(ref op, next)) : R(op.R2);
        else if (op.Sub == VecOp.Pextrw) { b[0] = XmmLo(op.R2); b[1] = XmmHi(op.R2); }
        else if (!immOnly) ReadVecSrc(ref op, next, out b[0], out b[1]);
        r[0] = a[0]; r[1] = a[1];
        var ab = MemoryMarshal.Cast<ulong, byte>(a); var bb = MemoryMarshal.Cast<ulong, byte>(b); var rb = MemoryMarshal.Cast<ulong, byte>(r);
        var aw = MemoryMarshal.Cast<ulong, ushort>(a); var bw = MemoryMarshal.Cast<ulong, ushort>(b); var rw = MemoryMarshal.Cast<ulong, ushort>(r);
        var ad = MemoryMarshal.Cast<ulong, uint>(a); var bd = MemoryMarshal.Cast<ulong, uint>(b); var rd = MemoryMarshal.Cast<ulong, uint>(r);
        int imm = (int)(op.Imm & 0xff);
        int e = op.Size2 & 0x7f;
        switch (op.Sub)
        {
            case VecOp.Shufps:
                rd[0] = ad[imm & 3]; rd[1] = ad[(imm >> 2) & 3]; rd[2] = bd[(imm >> 4) & 3]; rd[3] = bd[(imm >> 6) & 3];
                break;
            case VecOp.Shufpd: r[0] = a[imm & 1]; r[1] = b[(imm >> 1) & 1]; break;
            case VecOp.Pshufd: for (int i = 0; i < 4; i++) rd[i] = bd[(imm >> (2 * i)) & 3]; break;
            case VecOp.Pshuflw: for (int i = 0; i < 4; i++) rw[i] = bw[(imm >> (2 * i)) & 3]; r[1] = b[1]; break;
            case VecOp.Pshufhw: r[0] = b[0]; for (int i = 0; i < 4; i++) rw[4 + i] = bw[4 + ((imm >> (2 * i)) & 3)]; break;
            case VecOp.Unpckl:
            case VecOp.Unpckh:
            {
                int half = op.Sub == VecOp.Unpckh ? 8 : 0;
                for (int i = 0; i < 8 / e; i++)
                {
                    ab.Slice(half + i * e, e).CopyTo(rb.Slice(2 * i * e, e));
                    bb.Slice(half + i * e, e).CopyTo(rb.Slice((2 * i + 1) * e, e));
                }
                break;
            }
            case VecOp.Padd:
            case VecOp.Psub:
            {
                bool sub = op.Sub == VecOp.Psub;
                for (int i = 0; i < 16 / e; i++)
                {
                    ulong x = Lane(ab, i, e), y = Lane(bb, i, e);
                    SetLane(rb, i, e, sub ? x - y : x + y);
                }
                break;
            }
            case VecOp.Padds: case VecOp.Psubs: case VecOp.Paddus: case VecOp.Psubus:
            {
                bool signed = op.Sub is VecOp.Padds or VecOp.Psubs, sub = op.Sub is VecOp.Psubs or VecOp.Psubus;
                long min = signed ? -(1L << (8 * e - 1)) : 0, max = signed ? (1L << (8 * e - 1)) - 1 : (1L << (8 * e)) - 1;
                for (int i = 0; i < 16 / e; i++)
                {
                    long x = signed ? SignedLane(ab, i, e) : (long)Lane(ab, i, e), y = signed ? SignedLane(bb, i, e) : (long)Lane(bb, i, e);
                    SetLane(rb, i, e, (ulong)Math.Clamp(sub ? x - y : x + y, min, max));
                }
                break;
            }
            case VecOp.Pcmpeq:
                for (int i = 0; i < 16 / e; i++) SetLane(rb, i, e, Lane(ab, i, e) == Lane(bb, i, e) ? ulong.MaxValue : 0);
                break;
            case VecOp.Pcmpgt:
                for (int i = 0; i < 16 / e; i++) SetLane(rb, i, e, SignedLane(ab, i, e) > SignedLane(bb, i, e) ? ulong.MaxValue : 0);
                break;
            case VecOp.Psll: case VecOp.Psrl: case VecOp.Psra:
            {
                ulong count = immOnly ? (ulong)imm : b[0];
                int bits = 8 * e;
                for (int i = 0; i < 16 / e; i++)
                {
                    ulong x = Lane(ab, i, e);
                    ulong v = op.Sub switch
                    {
                        VecOp.Psll => count >= (ulong)bits ? 0 : x << (int)count,
                        VecOp.Psrl => count >= (ulong)bits ? 0 : x >> (int)count,
                        _ => (ulong)(SignedLane(ab, i, e) >> (int)Math.Min(count, (ulong)bits - 1)),
                    };
                    SetLane(rb, i, e, v);
                }
                break;
            }
            case VecOp.Pslldq:
            case VecOp.Psrldq:
            {
                int n = Math.Min(imm, 16);
                rb.Clear();
                if (op.Sub == VecOp.Pslldq) ab[..(16 - n)].CopyTo(rb[n..]); else ab[n..].CopyTo(rb);
                break;
            }
            case VecOp.Packsswb:
                for (int i = 0; i < 8; i++)
                {
                    rb[i] = (byte)(sbyte)Math.Clamp((int)(short)aw[i], -128, 127);
                    rb[8 + i] = (byte)(sbyte)Math.Clamp((int)(short)bw[i], -128, 127);
                }
                break;
            case VecOp.Packuswb:
                for (int i = 0; i < 8; i++)
                {
                    rb[i] = (byte)Math.Clamp((int)(short)aw[i], 0, 255);
                    rb[8 + i] = (byte)Math.Clamp((int)(short)bw[i], 0, 255);
                }
                break;
            case VecOp.Packssdw:
                for (int i = 0; i < 4; i++)
                {
                    rw[i] = (ushort)(short)Math.Clamp((int)ad[i], short.MinValue, short.MaxValue);
                    rw[4 + i] = (ushort)(short)Math.Clamp((int)bd[i], short.MinValue, short.MaxValue);
                }
                break;
            case VecOp.Pmaddwd:
                for (int i = 0; i < 4; i++)
                    rd[i] = (uint)((short)aw[2 * i] * (short)bw[2 * i] + (short)aw[2 * i + 1] * (short)bw[2 * i + 1]);
                break;
            case VecOp.Pmulhw: for (int i = 0; i < 8; i++) rw[i] = (ushort)(((short)aw[i] * (short)bw[i]) >> 16); break;
            case VecOp.Pmulhuw: for (int i = 0; i < 8; i++) rw[i] = (ushort)(((uint)aw[i] * bw[i]) >> 16); break;
            case VecOp.Pmullw: for (int i = 0; i < 8; i++) rw[i] = (ushort)(aw[i] * bw[i]); break;
            case VecOp.Pmuludq: r[0] = (ulong)ad[0] * bd[0]; r[1] = (ulong)ad[2] * bd[2]; break;
            case VecOp.Pminub: for (int i = 0; i < 16; i++) rb[i] = Math.Min(ab[i], bb[i]); break;
            case VecOp.Pmaxub: for (int i = 0; i < 16; i++) rb[i] = Math.Max(ab[i], bb[i]); break;
            case VecOp.Pminsw: for (int i = 0; i < 8; i++) rw[i] = (ushort)Math.Min((short)aw[i], (short)bw[i]); break;
            case VecOp.Pmaxsw: for (int i = 0; i < 8; i++) rw[i] = (ushort)Math.Max((short)aw[i], (short)bw[i]); break;
            case VecOp.Pavgb: for (int i = 0; i < 16; i++) rb[i] = (byte)((ab[i] + bb[i] + 1) >> 1); break;
            case VecOp.Pavgw: for (int i = 0; i < 8; i++) rw[i] = (ushort)((aw[i] + bw[i] + 1) >> 1); break;
            case VecOp.Psadbw:
                for (int h = 0; h < 2; h++)
                {
                    int s = 0;
                    for (int i = 0; i < 8; i++) s += Math.Abs(ab[8 * h + i] - bb[8 * h + i]);
                    r[h] = (ulong)s;
                }
                break;
            case VecOp.Pinsrw: rw[imm & 7] = (ushort)b[0]; break;
            case VecOp.Pextrw: R(d) = MemoryMarshal.Cast<ulong, ushort>(b)[imm & 7]; return;
            default:
                throw GuestFault.Ud();
        }
        XmmLo(d) = r[0]; XmmHi(d) = r[1];
    }

    private static ulong Lane(Span<byte> v, int i, int e) => e switch
    {
        1 => v[i],
        2 => MemoryMarshal.Cast<byte, ushort>(v)[i],
        4 => MemoryMarshal.Cast<byte, uint>(v)[i],
        _ => MemoryMarshal.Cast<byte, ulong>(v)[i],
    };

    private static long SignedLane(Span<byte> v, int i, int e) => e switch
    {
        1 => (sbyte)v[i],
        2 => (short)MemoryMarshal.Cast<byte, ushort>(v)[i],
        4 => (int)MemoryMarshal.Cast<byte, uint>(v)[i],
        _ => (long)MemoryMarshal.Cast<byte, ulong>(v)[i],
    };

    private static void SetLane(Span<byte> v, int i, int e, ulong x)
    {
        switch (e)
        {
            case 1: v[i] = (byte)x; break;
            case 2: MemoryMarshal.Cast<byte, ushort>(v)[i] = (ushort)x; break;
            case 4: MemoryMarshal.Cast<byte, uint>(v)[i] = (uint)x; break;
            default: MemoryMarshal.Cast<byte, ulong>(v)[i] = x; break;
        }
    }

    /// <summary>
    /// The floating-point instructions. Lanes are computed into a scratch result with the flags of
    /// all lanes; the destination (register or EFLAGS) is written only when no unmasked
    /// exception was raised (SDM 11.5.1).
    /// </summary>
    private void ExecuteSseFloat(ref Op op, ulong next)
    {
        int d = op.R1;
        int fmt = op.Size2 & 3;
        bool dbl = fmt is VecFmt.Pd or VecFmt.Sd, scalar = fmt >= VecFmt.Ss;
        uint mx = Mxcsr, flags = 0;
        ulong a0 = d < 16 ? XmmLo(d) : 0, a1 = d < 16 ? XmmHi(d) : 0;
        ulong b0, b1;
        if (op.Sub == VecOp.CvtSi2F)
        {
            b0 = (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), op.Size) : GetReg(op.R2, op.Size);
            b1 = 0;
        }
        else ReadVecSrc(ref op, next, out b0, out b1);
        ulong r0 = a0, r1 = a1;
        switch (op.Sub)
        {
            case VecOp.Add: case VecOp.Sub: case VecOp.Mul: case VecOp.Div: case VecOp.Min: case VecOp.Max: case VecOp.Sqrt:
            case VecOp.Cmp:
                r0 = Lanes(op.Sub, a0, b0, dbl, scalar, (int)op.Imm, mx, ref flags);
                if (!scalar) r1 = Lanes(op.Sub, a1, b1, dbl, false, (int)op.Imm, mx, ref flags);
                break;
            case VecOp.Comi:
            case VecOp.Ucomi:
            {
                int c = SoftFloat.Compare(LaneBits(a0, dbl), LaneBits(b0, dbl), dbl, mx, op.Sub == VecOp.Comi, ref flags);
                RaiseSimdIfUnmasked(flags);
                ulong f = c switch { SoftFloat.Unordered => FlagZF | FlagPF | FlagCF, SoftFloat.Less => FlagCF, SoftFloat.Equal => FlagZF, _ => 0 };
                SetFlagBits(ArithFlags, f);
                return;
            }
            case VecOp.CvtSi2F:
            {
                long v = op.Size == 8 ? (long)b0 : (int)b0;
                ulong res = SoftFloat.FromInt(v, dbl, mx, ref flags);
                r0 = dbl ? res : (a0 & 0xffffffff00000000UL) | res;
                break;
            }
            case VecOp.CvtF2Si:
            case VecOp.CvttF2Si:
            {
                ulong res = SoftFloat.ToInt(LaneBits(b0, dbl), dbl, (int)op.Imm * 8, op.Sub == VecOp.CvttF2Si, mx, ref flags);
                RaiseSimdIfUnmasked(flags);
                SetReg(d, (int)op.Imm, res);
                return;
            }
            case VecOp.CvtF2F:
            {
                ulong res = SoftFloat.Convert(LaneBits(b0, dbl), dbl, !dbl, mx, ref flags);
                r0 = dbl ? (a0 & 0xffffffff00000000UL) | res : res;
                break;
            }
            case VecOp.Cvtps2pd:
                r0 = SoftFloat.Convert((uint)b0, false, true, mx, ref flags);
                r1 = SoftFloat.Convert(b0 >> 32, false, true, mx, ref flags);
                break;
            case VecOp.Cvtpd2ps:
                r0 = SoftFloat.Convert(b0, true, false, mx, ref flags) | SoftFloat.Convert(b1, true, false, mx, ref flags) << 32;
                r1 = 0;
                break;
            case VecOp.Cvtdq2ps:
                r0 = SoftFloat.FromInt((int)b0, false, mx, ref flags) | SoftFloat.FromInt((int)(b0 >> 32), false, mx, ref flags) << 32;
                r1 = SoftFloat.FromInt((int)b1, false, mx, ref flags) | SoftFloat.FromInt((int)(b1 >> 32), false, mx, ref flags) << 32;
                break;
            case VecOp.Cvtdq2pd:
                r0 = SoftFloat.FromInt((int)b0, true, mx, ref flags);
                r1 = SoftFloat.FromInt((int)(b0 >> 32), true, mx, ref flags);
                break;
            case VecOp.Cvtps2dq:
            case VecOp.Cvttps2dq:
            {
                bool t = op.Sub == VecOp.Cvttps2dq;
                r0 = SoftFloat.ToInt((uint)b0, false, 32, t, mx, ref flags) | SoftFloat.ToInt(b0 >> 32, false, 32, t, mx, ref flags) << 32;
                r1 = SoftFloat.ToInt((uint)b1, false, 32, t, mx, ref flags) | SoftFloat.ToInt(b1 >> 32, false, 32, t, mx, ref flags) << 32;
                break;
            }
            case VecOp.Cvtpd2dq:
            case VecOp.Cvttpd2dq:
            {
                bool t = op.Sub == VecOp.Cvttpd2dq;
                r0 = SoftFloat.ToInt(b0, true, 32, t, mx, ref flags) | SoftFloat.ToInt(b1, true, 32, t, mx, ref flags) << 32;
                r1 = 0;
                break;
            }
            default:
                throw GuestFault.Ud();
        }
        RaiseSimdIfUnmasked(flags);
        XmmLo(d) = r0; XmmHi(d) = r1;
    }

    private static ulong LaneBits(ulong v, bool dbl) => dbl ? v : (uint)v;

    /// <summary>One 64-bit half of a floating-point operation: one double lane or two single lanes (only the low one if scalar).</summary>
    private static ulong Lanes(byte sub, ulong a, ulong b, bool dbl, bool scalar, int imm, uint mx, ref uint flags)
    {
        if (dbl) return Lane(sub, a, b, true, imm, mx, ref flags);
        ulong lo = Lane(sub, (uint)a, (uint)b, false, imm, mx, ref flags);
        ulong hi = scalar ? a >> 32 : Lane(sub, a >> 32, b >> 32, false, imm, mx, ref flags);
        return lo | hi << 32;
    }

    private static ulong Lane(byte sub, ulong a, ulong b, bool dbl, int imm, uint mx, ref uint flags)
    {
        switch (sub)
        {
            case VecOp.Min:
            case VecOp.Max:
                return SoftFloat.MinMax(a, b, dbl, sub == VecOp.Max, mx, ref flags);
            case VecOp.Cmp:
            {
                // CMPPS predicate imm8[2:0] (SDM Table 3-7): LT, LE, NLT, NLE signal on QNaN too.
                int p = imm & 7;
                bool signal = p is 1 or 2 or 5 or 6;
                int c = SoftFloat.Compare(a, b, dbl, mx, signal, ref flags);
                bool t = p switch
                {
                    0 => c == SoftFloat.Equal,
                    1 => c == SoftFloat.Less,
                    2 => c is SoftFloat.Less or SoftFloat.Equal,
                    3 => c == SoftFloat.Unordered,
                    4 => c != SoftFloat.Equal,
                    5 => c != SoftFloat.Less,
                    6 => c is SoftFloat.Greater or SoftFloat.Unordered,
                    _ => c != SoftFloat.Unordered,
                };
                return t ? (dbl ? ulong.MaxValue : uint.MaxValue) : 0;
            }
            default:
                return SoftFloat.Arith(sub, a, b, dbl, mx, ref flags);
        }
    }
}
