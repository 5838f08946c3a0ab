namespace Lvd.Machine.Execution;

/// <summary>
/// IEEE 754 binary32/binary64 arithmetic as SSE computes it, in integers (.NET cannot change the
/// host's rounding mode): every operation forms its exact result (an integer significand times
/// a power of two, plus a sticky bit) and <see cref="RoundPack"/> rounds it once, in the MXCSR
/// rounding mode, with x86's rules: tininess after rounding (SDM Vol. 1 4.9.1.5), FTZ and DAZ
/// (10.2.3.3-4), the six flags, the default QNaN and the SSE NaN operand rules (Table 4-7).
/// Values travel in the low 32 or 64 bits of a ulong; flags are MXCSR bits 5:0.
/// </summary>
internal static partial class SoftFloat
{
    public const int Less = 0, Equal = 1, Greater = 2, Unordered = 3;
    private const int OpAdd = 50, OpSub = 51, OpMul = 52, OpDiv = 53, OpSqrt = 56; // Decoding.VecOp

    /// <summary>
    /// A binary format: fraction bits below the (hidden or, for binary80, explicit) integer bit, exponent
    /// bits, and for the x87 the precision control's significand width (<paramref name="Prec"/>, 0 = the
    /// format's own) and an exponent scale applied before rounding (the bias adjustment of an unmasked
    /// x87 overflow or underflow, SDM Vol. 1 8.5.4-5).
    /// </summary>
    private readonly record struct Fmt(int FracBits, int ExpBits, int Prec = 0, int Scale = 0)
    {
        public int Bias => (1 << (ExpBits - 1)) - 1;
        public int ExpMax => (1 << ExpBits) - 1;
        public int Precision => Prec != 0 ? Prec : FracBits + 1;
        public ulong FracMask => (1UL << FracBits) - 1;
        public ulong SignBit => 1UL << (FracBits + ExpBits);
        public ulong QuietBit => 1UL << (FracBits - 1);
        public ulong DefaultNaN => SignBit | ((ulong)ExpMax << FracBits) | QuietBit;
        public ulong Inf => (ulong)ExpMax << FracBits;
    }

    private static readonly Fmt F32 = new(23, 8), F64 = new(52, 11);

    private enum Kind { Zero, Finite, Inf, QNaN, SNaN, Unsupported }

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
        ulong m = Round(neg, exp, sig, sticky, f, mx, ref flags, out int biased);
        if (biased == f.ExpMax) return Infinity(f, neg);
        return (neg ? f.SignBit : 0) | ((ulong)biased << f.FracBits) | (m & f.FracMask);
    }

    /// <summary>Flag set beside the MXCSR/FSW exception bits when rounding increased the magnitude (the x87's C1).</summary>
    public const uint RoundedUp = 1 << 9;

    /// <summary>
    /// The one rounding of every format: (-1)^neg * sig * 2^exp (+ sticky) to <paramref name="f"/>'s
    /// precision in the MXCSR-coded mode <paramref name="mx"/>, with tininess after rounding (SDM Vol. 1
    /// 4.9.1.5), FTZ, and the flags PE, UE, OE (and <see cref="RoundedUp"/>). Returns the significand
    /// (at most Precision bits; below 2^(Precision-1) for a denormal, whose <paramref name="biased"/>
    /// exponent is 0) or, with <paramref name="biased"/> = ExpMax, an infinity.
    /// </summary>
    private static ulong Round(bool neg, int exp, UInt128 sig, bool sticky, Fmt f, uint mx, ref uint flags, out int biased)
    {
        biased = 0;
        exp += f.Scale;
        if (sig == 0)
        {
            if (!sticky) return 0;
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
            return 0;
        }
        if (inexact && RoundedAway(sig, sticky, q - exp, m)) flags |= RoundedUp;
        if (m >> p != 0) { m >>= 1; q++; }
        if (inexact) flags |= Cpu.MxPE;
        if (tiny && (inexact || (mx & Cpu.MxUE << 7) == 0)) flags |= Cpu.MxUE;
        if (m == 0) return 0;
        ulong mm = (ulong)m;
        if ((mm >> (p - 1)) == 0) return mm; // denormal
        biased = q + (p - 1) + f.Bias;
        if (biased >= f.ExpMax)
        {
            flags |= Cpu.MxOE | Cpu.MxPE;
            bool toInf = rm == 0 || (rm == 1 && neg) || (rm == 2 && !neg);
            if (toInf) { flags |= RoundedUp; biased = f.ExpMax; return 0; }
            flags &= ~RoundedUp;
            biased = f.ExpMax - 1;
            return p == 64 ? ulong.MaxValue : (1UL << p) - 1;
        }
        return mm;
    }

    /// <summary>Whether the rounded significand <paramref name="m"/> exceeds the exact value (sig + sticky) >> shift.</summary>
    private static bool RoundedAway(UInt128 sig, bool sticky, int shift, UInt128 m)
    {
        if (shift <= 0) return m != sig << -shift;
        if (shift >= 128) return m != 0;
        return m != sig >> shift;
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
        return Pack(ArithCore(op, x, y, f, mx, ref flags), f);
    }

    /// <summary>
    /// A rounded result before packing, in a <see cref="Num"/>: Zero, Inf, QNaN (the default NaN) or
    /// Finite with the significand in Sig and the biased exponent (0 for a denormal) in Exp.
    /// </summary>
    private static Num Rounded(bool neg, int exp, UInt128 sig, bool sticky, Fmt f, uint mx, ref uint flags)
    {
        ulong m = Round(neg, exp, sig, sticky, f, mx, ref flags, out int biased);
        if (biased == f.ExpMax) return Special(Kind.Inf, neg);
        if (m == 0) return Special(Kind.Zero, neg);
        return new Num { Kind = Kind.Finite, Neg = neg, Sig = m, Exp = biased };
    }

    private static Num Special(Kind k, bool neg) => new() { Kind = k, Neg = neg };

    private static ulong Pack(in Num r, Fmt f) => r.Kind switch
    {
        Kind.Zero => Zero(f, r.Neg),
        Kind.Inf => Infinity(f, r.Neg),
        Kind.QNaN => f.DefaultNaN,
        _ => (r.Neg ? f.SignBit : 0) | ((ulong)r.Exp << f.FracBits) | (r.Sig & f.FracMask),
    };

    /// <summary>
    /// ADD/SUB/MUL/DIV of two non-NaN operands (the invalid cases give the default NaN with IE): the
    /// arithmetic both SSE and the x87 share; their NaN and denormal-operand rules stay with the callers.
    /// </summary>
    private static Num ArithCore(byte op, in Num x, in Num y, Fmt f, uint mx, ref uint flags)
    {
        int rm = Rounding(mx);
        switch (op)
        {
            case OpAdd:
            case OpSub:
            {
                bool yNeg = y.Neg ^ (op == OpSub);
                if (x.Kind == Kind.Inf || y.Kind == Kind.Inf)
                {
                    if (x.Kind == Kind.Inf && y.Kind == Kind.Inf && x.Neg != yNeg) { flags |= Cpu.MxIE; return Special(Kind.QNaN, true); }
                    return Special(Kind.Inf, x.Kind == Kind.Inf ? x.Neg : yNeg);
                }
                if (x.Kind == Kind.Zero && y.Kind == Kind.Zero)
                    return Special(Kind.Zero, x.Neg == yNeg ? x.Neg : rm == 1);
                if (x.Kind == Kind.Zero) return Rounded(yNeg, y.Exp, y.Sig, false, f, mx, ref flags);
                if (y.Kind == Kind.Zero) return Rounded(x.Neg, x.Exp, x.Sig, false, f, mx, ref flags);
                return AddFinite(x.Neg, x.Exp, x.Sig, yNeg, y.Exp, y.Sig, f, mx, ref flags);
            }
            case OpMul:
            {
                bool neg = x.Neg ^ y.Neg;
                if (x.Kind == Kind.Inf || y.Kind == Kind.Inf)
                {
                    if (x.Kind == Kind.Zero || y.Kind == Kind.Zero) { flags |= Cpu.MxIE; return Special(Kind.QNaN, true); }
                    return Special(Kind.Inf, neg);
                }
                if (x.Kind == Kind.Zero || y.Kind == Kind.Zero) return Special(Kind.Zero, neg);
                return Rounded(neg, x.Exp + y.Exp, (UInt128)x.Sig * y.Sig, false, f, mx, ref flags);
            }
            default:
            {
                bool neg = x.Neg ^ y.Neg;
                if (x.Kind == Kind.Inf)
                {
                    if (y.Kind == Kind.Inf) { flags |= Cpu.MxIE; return Special(Kind.QNaN, true); }
                    return Special(Kind.Inf, neg);
                }
                if (y.Kind == Kind.Inf) return Special(Kind.Zero, neg);
                if (y.Kind == Kind.Zero)
                {
                    if (x.Kind == Kind.Zero) { flags |= Cpu.MxIE; return Special(Kind.QNaN, true); }
                    flags |= Cpu.MxZE;
                    return Special(Kind.Inf, neg);
                }
                if (x.Kind == Kind.Zero) return Special(Kind.Zero, neg);
                // Both significands normalized to bit 63 (denormals too), the dividend shifted so that the
                // first 64-bit quotient digit fits; a second digit gives 126+ bits, the remainder the sticky bit.
                int sx = 64 - BitLength(x.Sig), sy = 64 - BitLength(y.Sig);
                ulong xs = x.Sig << sx, ys = y.Sig << sy;
                int sh = xs >= ys ? 63 : 64;
                UInt128 n = (UInt128)xs << sh;
                UInt128 q1 = n / ys, n2 = (n % ys) << 64;
                UInt128 quo = (q1 << 64) | (n2 / ys);
                bool sticky = n2 % ys != 0;
                return Rounded(neg, x.Exp - sx - (y.Exp - sy) - 64 - sh, quo, sticky, f, mx, ref flags);
            }
        }
    }

    private static Num AddFinite(bool an, int ae, ulong asig, bool bn, int be, ulong bsig, Fmt f, uint mx, ref uint flags)
    {
        // Both significands with their leading bit at bit 125 (61+ guard bits below any result's
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
        if (an == bn) return Rounded(an, ea, A + B, false, f, mx, ref flags);
        UInt128 diff = A - B;
        if (diff == 0) return Special(Kind.Zero, Rounding(mx) == 1);
        return Rounded(an, ea, diff, false, f, mx, ref flags);
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
        return Pack(SqrtFinite(x, f, mx, ref flags), f);
    }

    /// <summary>The square root of a positive finite operand, rounded once.</summary>
    private static Num SqrtFinite(in Num x, Fmt f, uint mx, ref uint flags)
    {
        if (f.Precision > 60) return SqrtWide(x, f, mx, ref flags);
        UInt128 s = x.Sig;
        int e = x.Exp;
        int shift = 120 - BitLength(x.Sig);
        if (((e - shift) & 1) != 0) shift--;
        s <<= shift;
        e -= shift;
        UInt128 r = ISqrt(s);
        return Rounded(false, e / 2, r, r * r != s, f, mx, ref flags);
    }

    /// <summary>The binary80 square root: 66+ root bits need a radicand wider than 128 bits.</summary>
    private static Num SqrtWide(in Num x, Fmt f, uint mx, ref uint flags)
    {
        int shift = 160 - BitLength(x.Sig);
        if (((x.Exp - shift) & 1) != 0) shift++;
        var s = new System.Numerics.BigInteger(x.Sig) << shift;
        var r = BigSqrt(s);
        return Rounded(false, (x.Exp - shift) / 2, (UInt128)r, r * r != s, f, mx, ref flags);
    }

    private static System.Numerics.BigInteger BigSqrt(System.Numerics.BigInteger s)
    {
        if (s.IsZero) return s;
        var r = System.Numerics.BigInteger.One << (int)((s.GetBitLength() + 1) / 2);
        while (true)
        {
            var n = (r + s / r) >> 1;
            if (n >= r) break;
            r = n;
        }
        while (r * r > s) r--;
        return r;
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
    public static ulong ToInt(ulong a, bool dbl, int bits, bool truncate, uint mx, ref uint flags) =>
        RoundToInt(Unpack(a, dbl ? F64 : F32, mx), bits, truncate ? 3 : Rounding(mx), ref flags, out _);

    /// <summary>
    /// An unpacked value to a signed <paramref name="bits"/>-bit integer rounded in <paramref name="rm"/> (the SSE
    /// conversions and the x87's FIST): NaN, infinity, an unsupported encoding or out of range give the integer
    /// indefinite with IE; inexact sets PE, and <paramref name="roundedUp"/> says whether the magnitude was rounded up.
    /// </summary>
    private static ulong RoundToInt(Num x, int bits, int rm, ref uint flags, out bool roundedUp)
    {
        roundedUp = false;
        ulong indefinite = 1UL << (bits - 1);
        if (x.Kind is Kind.QNaN or Kind.SNaN or Kind.Inf or Kind.Unsupported) { flags |= Cpu.MxIE; return indefinite; }
        if (x.Kind == Kind.Zero) return 0;
        if (x.Exp > 64) { flags |= Cpu.MxIE; return indefinite; }
        UInt128 m = RoundAt(x.Sig, false, -x.Exp, x.Neg, rm, out bool inexact);
        UInt128 limit = x.Neg ? (UInt128)1 << (bits - 1) : ((UInt128)1 << (bits - 1)) - 1;
        if (m > limit) { flags |= Cpu.MxIE; return indefinite; }
        if (inexact) { flags |= Cpu.MxPE; roundedUp = RoundedAway(x.Sig, false, -x.Exp, m); }
        ulong r = x.Neg ? (ulong)(-(Int128)m) : (ulong)m;
        return bits == 64 ? r : r & ((1UL << bits) - 1);
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
