namespace Lvd.Machine.Execution;

/// <summary>
/// IEEE 754 binary32/binary64 arithmetic as SSE computes it, in integers (.NET cannot change the
/// host's rounding mode): every operation forms its exact result (an integer significand times
/// a power of two, plus a sticky bit) and <see cref="RoundPack"/> rounds it once, in the MXCSR
/// rounding mode, with x86's rules: tininess after rounding (SDM Vol. 1 4.9.1.5), FTZ and DAZ
/// (10.2.3.3-4), the six flags, the default QNaN and the SSE NaN operand rules (Table 4-7).
/// Values travel in the low 32 or 64 bits of a ulong; flags are MXCSR bits 5:0.
/// </summary>
internal static class SoftFloat
{
    public const int Less = 0, Equal = 1, Greater = 2, Unordered = 3;
    private const int OpAdd = 50, OpSub = 51, OpMul = 52, OpDiv = 53, OpSqrt = 56; // Decoding.VecOp

    private readonly record struct Fmt(int FracBits, int ExpBits)
    {
        public int Bias => (1 << (ExpBits - 1)) - 1;
        public int ExpMax => (1 << ExpBits) - 1;
        public int Precision => FracBits + 1;
        public ulong FracMask => (1UL << FracBits) - 1;
        public ulong SignBit => 1UL << (FracBits + ExpBits);
        public ulong QuietBit => 1UL << (FracBits - 1);
        public ulong DefaultNaN => SignBit | ((ulong)ExpMax << FracBits) | QuietBit;
        public ulong Inf => (ulong)ExpMax << FracBits;
    }

    private static readonly Fmt F32 = new(23, 8), F64 = new(52, 11);

    private enum Kind { Zero, Finite, Inf, QNaN, SNaN }

    /// <summary>An unpacked operand: value = (-1)^Neg * Sig * 2^Exp for finite values.</summary>
    private struct Num
    {
        public Kind Kind;
        public bool Neg;
        public ulong Sig;
        public int Exp;
        public bool Denormal;
    }

    private static Num Unpack(ulong v, Fmt f, uint mx)
    {
        var n = new Num { Neg = (v & f.SignBit) != 0 };
        int e = (int)((v >> f.FracBits) & (ulong)f.ExpMax);
        ulong frac = v & f.FracMask;
        if (e == f.ExpMax) n.Kind = frac == 0 ? Kind.Inf : (frac & f.QuietBit) != 0 ? Kind.QNaN : Kind.SNaN;
        else if (e == 0)
        {
            if (frac == 0 || (mx & Cpu.MxDAZ) != 0) n.Kind = Kind.Zero;
            else { n.Kind = Kind.Finite; n.Sig = frac; n.Exp = 1 - f.Bias - f.FracBits; n.Denormal = true; }
        }
        else { n.Kind = Kind.Finite; n.Sig = frac | (1UL << f.FracBits); n.Exp = e - f.Bias - f.FracBits; }
        return n;
    }

    private static bool IsNaN(in Num n) => n.Kind is Kind.QNaN or Kind.SNaN;
    private static ulong Zero(Fmt f, bool neg) => neg ? f.SignBit : 0;
    private static ulong Infinity(Fmt f, bool neg) => f.Inf | (neg ? f.SignBit : 0);

    /// <summary>SSE's NaN result of a two-operand operation: the first NaN operand, quieted (SDM Table 4-7).</summary>
    private static ulong PropagateNaN(ulong a, in Num na, ulong b, in Num nb, Fmt f, ref uint flags)
    {
        if (na.Kind == Kind.SNaN || nb.Kind == Kind.SNaN) flags |= Cpu.MxIE;
        return (IsNaN(na) ? a : b) | f.QuietBit;
    }

    private static int Rounding(uint mx) => (int)(mx >> 13) & 3; // 0 nearest, 1 down, 2 up, 3 toward zero

    /// <summary>
    /// Rounds (-1)^neg * sig * 2^exp (+ a sticky fraction below sig's last bit) to format
    /// <paramref name="f"/> and packs it, setting PE, UE, OE as x86 does.
    /// </summary>
    private static ulong RoundPack(bool neg, int exp, UInt128 sig, bool sticky, Fmt f, uint mx, ref uint flags)
    {
        if (sig == 0)
        {
            if (!sticky) return Zero(f, neg);
            sig = 1; exp -= 2; sticky = false; // far below any quantum: only its sign and direction matter
        }
        int p = f.Precision;
        int len = 128 - (int)UInt128.LeadingZeroCount(sig);
        int lead = exp + len - 1;                 // value in [2^lead, 2^(lead+1))
        int emin = 1 - f.Bias;
        int rm = Rounding(mx);

        // Tininess after rounding: the result rounded with an unbounded exponent is below 2^emin.
        bool tiny = false;
        if (lead < emin)
        {
            tiny = true;
            if (lead == emin - 1)
            {
                UInt128 m1 = RoundAt(sig, sticky, lead - (p - 1) - exp, neg, rm, out _);
                if (m1 >> p != 0) tiny = false;
            }
        }
        int q = Math.Max(lead, emin) - (p - 1);   // the exponent of the result's last bit
        UInt128 m = RoundAt(sig, sticky, q - exp, neg, rm, out bool inexact);
        if (tiny && (mx & Cpu.MxFTZ) != 0 && (mx & Cpu.MxUE << 7) != 0)
        {
            flags |= Cpu.MxUE | Cpu.MxPE;
            return Zero(f, neg);
        }
        if (m >> p != 0) { m >>= 1; q++; }
        if (inexact) flags |= Cpu.MxPE;
        if (tiny && (inexact || (mx & Cpu.MxUE << 7) == 0)) flags |= Cpu.MxUE;
        if (m == 0) return Zero(f, neg);
        ulong mm = (ulong)m;
        if ((mm >> (p - 1)) == 0) return (neg ? f.SignBit : 0) | mm; // subnormal
        int biased = q + (p - 1) + f.Bias;
        if (biased >= f.ExpMax)
        {
            flags |= Cpu.MxOE | Cpu.MxPE;
            bool toInf = rm == 0 || (rm == 1 && neg) || (rm == 2 && !neg);
            return toInf ? Infinity(f, neg) : (neg ? f.SignBit : 0) | ((ulong)(f.ExpMax - 1) << f.FracBits) | f.FracMask;
        }
        return (neg ? f.SignBit : 0) | ((ulong)biased << f.FracBits) | (mm & f.FracMask);
    }

    /// <summary>sig (+ sticky) shifted right by <paramref name="shift"/> bits, rounded in mode rm.</summary>
    private static UInt128 RoundAt(UInt128 sig, bool sticky, int shift, bool neg, int rm, out bool inexact)
    {
        if (shift <= 0) { inexact = sticky; return sticky && (rm == 1 && neg || rm == 2 && !neg) ? (sig << -shift) + 1 : sig << -shift; }
        UInt128 m, rem, half;
        if (shift >= 128) { m = 0; rem = sig; half = shift == 128 ? (UInt128)1 << 127 : 0; if (shift > 128) { sticky |= rem != 0; rem = 0; } }
        else { m = sig >> shift; rem = sig & (((UInt128)1 << shift) - 1); half = (UInt128)1 << (shift - 1); }
        inexact = rem != 0 || sticky;
        if (!inexact) return m;
        bool up = rm switch
        {
            0 => half != 0 && (rem > half || (rem == half && (sticky || (m & 1) != 0))),
            1 => neg,
            2 => !neg,
            _ => false,
        };
        return up ? m + 1 : m;
    }

    /// <summary>ADD/SUB/MUL/DIV/SQRT (the <c>VecOp</c> codes); SQRT takes its operand in <paramref name="b"/>.</summary>
    public static ulong Arith(byte op, ulong a, ulong b, bool dbl, uint mx, ref uint flags)
    {
        var f = dbl ? F64 : F32;
        if (op == OpSqrt) return Sqrt(b, f, mx, ref flags);
        var x = Unpack(a, f, mx);
        var y = Unpack(b, f, mx);
        if (IsNaN(x) || IsNaN(y)) return PropagateNaN(a, x, b, y, f, ref flags);
        // A finite dividend over zero is ZE alone, even when the dividend is denormal (as the host CPU does).
        bool zeroDivide = op == OpDiv && y.Kind == Kind.Zero && x.Kind == Kind.Finite;
        if ((x.Denormal || y.Denormal) && !zeroDivide) flags |= Cpu.MxDE;
        int rm = Rounding(mx);
        switch (op)
        {
            case OpAdd:
            case OpSub:
            {
                bool yNeg = y.Neg ^ (op == OpSub);
                if (x.Kind == Kind.Inf || y.Kind == Kind.Inf)
                {
                    if (x.Kind == Kind.Inf && y.Kind == Kind.Inf && x.Neg != yNeg) { flags |= Cpu.MxIE; return f.DefaultNaN; }
                    return x.Kind == Kind.Inf ? Infinity(f, x.Neg) : Infinity(f, yNeg);
                }
                if (x.Kind == Kind.Zero && y.Kind == Kind.Zero)
                    return Zero(f, x.Neg == yNeg ? x.Neg : rm == 1);
                if (x.Kind == Kind.Zero) return RoundPack(yNeg, y.Exp, y.Sig, false, f, mx, ref flags);
                if (y.Kind == Kind.Zero) return RoundPack(x.Neg, x.Exp, x.Sig, false, f, mx, ref flags);
                return AddFinite(x.Neg, x.Exp, x.Sig, yNeg, y.Exp, y.Sig, f, mx, ref flags);
            }
            case OpMul:
            {
                bool neg = x.Neg ^ y.Neg;
                if (x.Kind == Kind.Inf || y.Kind == Kind.Inf)
                {
                    if (x.Kind == Kind.Zero || y.Kind == Kind.Zero) { flags |= Cpu.MxIE; return f.DefaultNaN; }
                    return Infinity(f, neg);
                }
                if (x.Kind == Kind.Zero || y.Kind == Kind.Zero) return Zero(f, neg);
                return RoundPack(neg, x.Exp + y.Exp, (UInt128)x.Sig * y.Sig, false, f, mx, ref flags);
            }
            default:
            {
                bool neg = x.Neg ^ y.Neg;
                if (x.Kind == Kind.Inf)
                {
                    if (y.Kind == Kind.Inf) { flags |= Cpu.MxIE; return f.DefaultNaN; }
                    return Infinity(f, neg);
                }
                if (y.Kind == Kind.Inf) return Zero(f, neg);
                if (y.Kind == Kind.Zero)
                {
                    if (x.Kind == Kind.Zero) { flags |= Cpu.MxIE; return f.DefaultNaN; }
                    flags |= Cpu.MxZE;
                    return Infinity(f, neg);
                }
                if (x.Kind == Kind.Zero) return Zero(f, neg);
                UInt128 n = (UInt128)x.Sig << 64;
                UInt128 quo = n / y.Sig;
                bool sticky = n % y.Sig != 0;
                return RoundPack(neg, x.Exp - 64 - y.Exp, quo, sticky, f, mx, ref flags);
            }
        }
    }

    private static ulong AddFinite(bool an, int ae, ulong asig, bool bn, int be, ulong bsig, Fmt f, uint mx, ref uint flags)
    {
        // Both significands with their leading bit at bit 125 (72+ guard bits below any result's
        // last bit); the smaller operand is shifted right with its lost bits jammed into bit 0,
        // which keeps the one rounding exact.
        int sa = 126 - BitLength(asig), sb = 126 - BitLength(bsig);
        UInt128 A = (UInt128)asig << sa, B = (UInt128)bsig << sb;
        int ea = ae - sa, eb = be - sb;
        if (ea < eb || (ea == eb && A < B)) { (A, B) = (B, A); (ea, eb) = (eb, ea); (an, bn) = (bn, an); }
        int dshift = ea - eb;
        if (dshift > 0)
        {
            if (dshift >= 127) B = B != 0 ? UInt128.One : UInt128.Zero;
            else { bool lost = (B & (((UInt128)1 << dshift) - 1)) != 0; B >>= dshift; if (lost) B |= 1; }
        }
        if (an == bn) return RoundPack(an, ea, A + B, false, f, mx, ref flags);
        UInt128 diff = A - B;
        if (diff == 0) return Zero(f, Rounding(mx) == 1);
        return RoundPack(an, ea, diff, false, f, mx, ref flags);
    }

    private static int BitLength(ulong v) => 64 - System.Numerics.BitOperations.LeadingZeroCount(v);

    private static ulong Sqrt(ulong b, Fmt f, uint mx, ref uint flags)
    {
        var x = Unpack(b, f, mx);
        if (IsNaN(x)) { if (x.Kind == Kind.SNaN) flags |= Cpu.MxIE; return b | f.QuietBit; }
        if (x.Kind == Kind.Zero) return Zero(f, x.Neg);
        if (x.Neg) { flags |= Cpu.MxIE; return f.DefaultNaN; } // no DE for a negative denormal (host CPU)
        if (x.Kind == Kind.Inf) return b;
        if (x.Denormal) flags |= Cpu.MxDE;
        UInt128 s = x.Sig;
        int e = x.Exp;
        int shift = 120 - BitLength(x.Sig);
        if (((e - shift) & 1) != 0) shift--;
        s <<= shift;
        e -= shift;
        UInt128 r = ISqrt(s);
        return RoundPack(false, e / 2, r, r * r != s, f, mx, ref flags);
    }

    private static UInt128 ISqrt(UInt128 s)
    {
        UInt128 r = (UInt128)Math.Sqrt((double)s);
        // Newton steps from the double estimate, then the exact floor.
        for (int i = 0; i < 4 && r != 0; i++) r = (r + s / r) >> 1;
        while (r * r > s) r--;
        while ((r + 1) * (r + 1) <= s) r++;
        return r;
    }

    /// <summary>MINPS/MAXPS: the second operand when either is a NaN (IE for QNaNs too) or both are zeros (SDM MINPS).</summary>
    public static ulong MinMax(ulong a, ulong b, bool dbl, bool max, uint mx, ref uint flags)
    {
        var f = dbl ? F64 : F32;
        var x = Unpack(a, f, mx);
        var y = Unpack(b, f, mx);
        // Under DAZ the operand returned is the flushed one, also when the other is a NaN.
        ulong av = x.Kind == Kind.Zero ? Zero(f, x.Neg) : a, bv = y.Kind == Kind.Zero ? Zero(f, y.Neg) : b;
        if (IsNaN(x) || IsNaN(y)) { flags |= Cpu.MxIE; return bv; }
        if (x.Denormal || y.Denormal) flags |= Cpu.MxDE;
        int c = CompareOrdered(x, y);
        if (c == Equal) return bv;
        return (c == Greater) == max ? av : bv;
    }

    private static int CompareOrdered(in Num x, in Num y)
    {
        if (x.Kind == Kind.Zero && y.Kind == Kind.Zero) return Equal;
        int sx = Sign(x), sy = Sign(y);
        if (sx != sy) return sx < sy ? Less : Greater;
        int mag = CompareMagnitude(x, y);
        if (sx < 0) mag = -mag;
        return mag < 0 ? Less : mag > 0 ? Greater : Equal;
    }

    private static int Sign(in Num n) => n.Kind == Kind.Zero ? 0 : n.Neg ? -1 : 1;

    private static int CompareMagnitude(in Num x, in Num y)
    {
        if (x.Kind == Kind.Inf || y.Kind == Kind.Inf) return x.Kind == y.Kind ? 0 : x.Kind == Kind.Inf ? 1 : -1;
        int lx = x.Exp + BitLength(x.Sig), ly = y.Exp + BitLength(y.Sig);
        if (lx != ly) return lx.CompareTo(ly);
        UInt128 mx = (UInt128)x.Sig << (64 - BitLength(x.Sig)), my = (UInt128)y.Sig << (64 - BitLength(y.Sig));
        return mx.CompareTo(my);
    }

    /// <summary>Compares a and b; IE for an SNaN, or for a QNaN too when <paramref name="signalQuiet"/> (COMISS, CMPLTPS ...).</summary>
    public static int Compare(ulong a, ulong b, bool dbl, uint mx, bool signalQuiet, ref uint flags)
    {
        var f = dbl ? F64 : F32;
        var x = Unpack(a, f, mx);
        var y = Unpack(b, f, mx);
        if (IsNaN(x) || IsNaN(y))
        {
            if (signalQuiet || x.Kind == Kind.SNaN || y.Kind == Kind.SNaN) flags |= Cpu.MxIE;
            return Unordered;
        }
        if (x.Denormal || y.Denormal) flags |= Cpu.MxDE;
        return CompareOrdered(x, y);
    }

    /// <summary>CVTSI2SS/SD, CVTDQ2PS/PD: a signed integer rounded in the MXCSR mode.</summary>
    public static ulong FromInt(long v, bool dbl, uint mx, ref uint flags)
    {
        var f = dbl ? F64 : F32;
        if (v == 0) return 0;
        bool neg = v < 0;
        ulong mag = neg ? (ulong)-(v + 1) + 1 : (ulong)v;
        return RoundPack(neg, 0, mag, false, f, mx, ref flags);
    }

    /// <summary>
    /// CVT(T)SS2SI and friends: to a signed integer of <paramref name="bits"/> bits, rounded in the
    /// MXCSR mode or truncated; NaN and out of range give the integer indefinite with IE.
    /// </summary>
    public static ulong ToInt(ulong a, bool dbl, int bits, bool truncate, uint mx, ref uint flags)
    {
        var f = dbl ? F64 : F32;
        var x = Unpack(a, f, mx);
        ulong indefinite = bits == 64 ? 1UL << 63 : 1UL << 31;
        if (x.Kind is Kind.QNaN or Kind.SNaN or Kind.Inf) { flags |= Cpu.MxIE; return indefinite; }
        if (x.Kind == Kind.Zero) return 0;
        if (x.Exp > 64) { flags |= Cpu.MxIE; return indefinite; }
        int rm = truncate ? 3 : Rounding(mx);
        UInt128 m = RoundAt(x.Sig, false, -x.Exp, x.Neg, rm, out bool inexact);
        UInt128 limit = x.Neg ? (UInt128)1 << (bits - 1) : ((UInt128)1 << (bits - 1)) - 1;
        if (m > limit) { flags |= Cpu.MxIE; return indefinite; }
        if (inexact) flags |= Cpu.MxPE;
        ulong r = x.Neg ? (ulong)(-(Int128)m) : (ulong)m;
        return bits == 64 ? r : (uint)r;
    }

    /// <summary>CVTSS2SD / CVTSD2SS (and the packed forms): SNaN quieted with IE, denormal operand DE.</summary>
    public static ulong Convert(ulong a, bool fromDbl, bool toDbl, uint mx, ref uint flags)
    {
        Fmt fa = fromDbl ? F64 : F32, ft = toDbl ? F64 : F32;
        var x = Unpack(a, fa, mx);
        switch (x.Kind)
        {
            case Kind.SNaN:
            case Kind.QNaN:
            {
                if (x.Kind == Kind.SNaN) flags |= Cpu.MxIE;
                ulong payload = a & fa.FracMask;
                payload = toDbl ? payload << (ft.FracBits - fa.FracBits) : payload >> (fa.FracBits - ft.FracBits);
                return (x.Neg ? ft.SignBit : 0) | ft.Inf | ft.QuietBit | payload;
            }
            case Kind.Inf: return Infinity(ft, x.Neg);
            case Kind.Zero: return Zero(ft, x.Neg);
        }
        if (x.Denormal) flags |= Cpu.MxDE;
        return RoundPack(x.Neg, x.Exp, x.Sig, false, ft, mx, ref flags);
    }
}
