using System.Numerics;

namespace Lvd.Machine.Execution;

/// <summary>An x87 register value: the 64-bit significand with its explicit integer bit, and sign + 15-bit exponent.</summary>
internal readonly record struct F80(ulong Sig, ushort SE)
{
    public bool Neg => (SE & 0x8000) != 0;
    public F80 Negate() => new(Sig, (ushort)(SE ^ 0x8000));
    public F80 Abs() => new(Sig, (ushort)(SE & 0x7fff));
}

/// <summary>
/// binary80 (double extended) arithmetic as the x87 computes it, on the same exact-result-then-one-
/// rounding core as SSE (<see cref="Round"/>): precision control rounds the significand to 24, 53 or
/// 64 bits but keeps the 15-bit exponent range (SDM Vol. 1 8.1.5.2); denormals and pseudo-denormals
/// are operands that signal DE; unnormals, pseudo-NaNs and pseudo-infinities are unsupported formats
/// (IE, the real indefinite; SDM 8.2.2); the x87 NaN rules (Table 4-7: two NaNs give the larger
/// significand, a QNaN wins over an SNaN). The mode word <c>mx</c> is coded as MXCSR (rounding in
/// bits 14:13, the masks in 12:7), built from FCW by the caller; flags are FSW bits 5:0 plus
/// <see cref="RoundedUp"/> (the C1 of a rounded result).
/// </summary>
internal static partial class SoftFloat
{
    /// <summary>The real indefinite (SDM Table 8-10): the default QNaN, negative.</summary>
    public static readonly F80 Indefinite = new(0xC000000000000000, 0xFFFF);
    public static readonly F80 One = new(1UL << 63, 0x3fff);

    private const int ExtBias = 16383;
    private static Fmt Ext(int p, int scale = 0) => new(63, 15, p, scale);

    /// <summary>The exception flags a binary80 operation can set (FSW bits 5:0).</summary>
    private static bool IsUnsupported(in Num n) => n.Kind == Kind.Unsupported;

    private static Num Unpack80(F80 v)
    {
        var n = new Num { Neg = v.Neg };
        int e = v.SE & 0x7fff;
        ulong sig = v.Sig;
        bool integer = (sig >> 63) != 0;
        if (e == 0x7fff)
        {
            if (!integer) n.Kind = Kind.Unsupported;
            else if ((sig << 1) == 0) n.Kind = Kind.Inf;
            else n.Kind = (sig & (1UL << 62)) != 0 ? Kind.QNaN : Kind.SNaN;
        }
        else if (e == 0)
        {
            if (sig == 0) n.Kind = Kind.Zero;
            else { n.Kind = Kind.Finite; n.Sig = sig; n.Exp = 1 - ExtBias - 63; n.Denormal = true; } // also pseudo-denormals
        }
        else if (!integer) n.Kind = Kind.Unsupported; // unnormal
        else { n.Kind = Kind.Finite; n.Sig = sig; n.Exp = e - ExtBias - 63; }
        return n;
    }

    private static F80 Pack80(in Num r, int p) => r.Kind switch
    {
        Kind.Zero => new(0, (ushort)(r.Neg ? 0x8000 : 0)),
        Kind.Inf => new(1UL << 63, (ushort)(r.Neg ? 0xffff : 0x7fff)),
        Kind.QNaN => Indefinite,
        _ => new(r.Sig << (64 - p), (ushort)((r.Neg ? 0x8000 : 0) | r.Exp)),
    };

    private static F80 Quiet(F80 v) => new(v.Sig | 1UL << 62, v.SE);

    /// <summary>The x87 NaN result of a two-operand operation (SDM Vol. 1 Table 4-7).</summary>
    private static F80 PropagateNaN80(F80 a, in Num x, F80 b, in Num y, ref uint flags)
    {
        if (x.Kind == Kind.SNaN || y.Kind == Kind.SNaN) flags |= Cpu.MxIE;
        if (!IsNaN(y)) return Quiet(a);
        if (!IsNaN(x)) return Quiet(b);
        if (x.Kind != y.Kind) return x.Kind == Kind.QNaN ? a : b;
        if (a.Sig != b.Sig) return Quiet(a.Sig > b.Sig ? a : b);
        return Quiet(a.SE < b.SE ? a : b);
    }

    /// <summary>
    /// The special operands of a two-operand x87 operation: unsupported formats (IE, indefinite), NaNs
    /// (Table 4-7), else the denormal-operand flag; true when <paramref name="r"/> is the result.
    /// </summary>
    private static bool SpecialOperands(F80 a, in Num x, F80 b, in Num y, ref uint flags, out F80 r)
    {
        r = default;
        if (IsUnsupported(x) || IsUnsupported(y)) { flags |= Cpu.MxIE; r = Indefinite; return true; }
        if (IsNaN(x) || IsNaN(y)) { r = PropagateNaN80(a, x, b, y, ref flags); return true; }
        if (x.Denormal || y.Denormal) flags |= Cpu.MxDE;
        return false;
    }

    /// <summary>
    /// FADD/FSUB/FMUL/FDIV (the <c>VecOp</c> Add..Div codes): a op b rounded to precision <paramref name="p"/>;
    /// <paramref name="aDenormal"/>, <paramref name="bDenormal"/>: that operand was a binary32/64 denormal in memory (DE unless
    /// a NaN or a zero divisor decides).
    /// </summary>
    public static F80 Arith80(byte op, F80 a, F80 b, int p, uint mx, int scale, ref uint flags, bool aDenormal = false, bool bDenormal = false)
    {
        var x = Unpack80(a);
        var y = Unpack80(b);
        x.Denormal |= aDenormal;
        y.Denormal |= bDenormal;
        // A finite dividend over zero is ZE alone, even when the dividend is denormal (as the host CPU does).
        if (op == OpDiv && y.Kind == Kind.Zero && x.Kind == Kind.Finite) x.Denormal = false;
        if (SpecialOperands(a, x, b, y, ref flags, out F80 r)) return r;
        return Pack80(ArithCore(op, x, y, Ext(p, scale), mx, ref flags), p);
    }

    public static F80 Sqrt80(F80 a, int p, uint mx, int scale, ref uint flags)
    {
        var x = Unpack80(a);
        if (IsUnsupported(x)) { flags |= Cpu.MxIE; return Indefinite; }
        if (IsNaN(x)) { if (x.Kind == Kind.SNaN) flags |= Cpu.MxIE; return Quiet(a); }
        if (x.Kind == Kind.Zero) return a;
        if (x.Neg) { flags |= Cpu.MxIE; return Indefinite; } // no DE for a negative denormal (host CPU)
        if (x.Denormal) flags |= Cpu.MxDE;
        if (x.Kind == Kind.Inf) return a;
        return Pack80(SqrtFinite(x, Ext(p, scale), mx, ref flags), p);
    }

    /// <summary>
    /// FLD m32/m64 (and the m32/m64 operands of arithmetic): exact; a denormal gives DE; an SNaN is quieted
    /// with IE when <paramref name="quiet"/> (FLD), else kept signalling for the operation's NaN rules.
    /// </summary>
    public static F80 FromFloat(ulong v, bool dbl, bool quiet, ref uint flags)
    {
        var f = dbl ? F64 : F32;
        var x = Unpack(v, f, 0);
        switch (x.Kind)
        {
            case Kind.Zero: return new(0, (ushort)(x.Neg ? 0x8000 : 0));
            case Kind.Inf: return new(1UL << 63, (ushort)(x.Neg ? 0xffff : 0x7fff));
            case Kind.QNaN:
            case Kind.SNaN:
                if (x.Kind == Kind.SNaN && quiet) flags |= Cpu.MxIE;
                return new((1UL << 63) | (quiet ? 1UL << 62 : 0) | (v & f.FracMask) << (63 - f.FracBits), (ushort)(x.Neg ? 0xffff : 0x7fff));
        }
        if (x.Denormal && quiet) flags |= Cpu.MxDE;
        uint none = 0;
        return Pack80(Rounded(x.Neg, x.Exp, x.Sig, false, Ext(64), 0, ref none), 64);
    }

    /// <summary>Whether a binary32/64 value is a denormal (the DE of an arithmetic operand in memory).</summary>
    public static bool IsDenormal(ulong v, bool dbl)
    {
        var f = dbl ? F64 : F32;
        return ((v >> f.FracBits) & (ulong)f.ExpMax) == 0 && (v & f.FracMask) != 0;
    }

    /// <summary>FST m32/m64: rounded in the FCW mode (precision control does not apply); NaN payloads truncated.</summary>
    public static ulong ToFloat(F80 a, bool dbl, uint mx, ref uint flags)
    {
        var f = dbl ? F64 : F32;
        var x = Unpack80(a);
        switch (x.Kind)
        {
            case Kind.Unsupported: flags |= Cpu.MxIE; return f.DefaultNaN;
            case Kind.Zero: return Zero(f, x.Neg);
            case Kind.Inf: return Infinity(f, x.Neg);
            case Kind.QNaN:
            case Kind.SNaN:
                if (x.Kind == Kind.SNaN) flags |= Cpu.MxIE;
                return (x.Neg ? f.SignBit : 0) | f.Inf | f.QuietBit | ((a.Sig & ~(1UL << 63)) >> (63 - f.FracBits));
        }
        return RoundPack(x.Neg, x.Exp, x.Sig, false, f, mx, ref flags); // no DE for a denormal source (host CPU)
    }

    /// <summary>FILD and the integer operands of FIADD ...: exact.</summary>
    public static F80 FromInt80(long v)
    {
        if (v == 0) return new(0, 0);
        bool neg = v < 0;
        ulong mag = neg ? (ulong)-(v + 1) + 1 : (ulong)v;
        uint none = 0;
        return Pack80(Rounded(neg, 0, mag, false, Ext(64), 0, ref none), 64);
    }

    /// <summary>
    /// FIST/FISTP/FISTTP: to a <paramref name="bits"/>-bit integer rounded in the FCW mode or truncated;
    /// NaN, infinity, unsupported or out of range give the integer indefinite with IE.
    /// </summary>
    public static ulong ToInt80(F80 a, int bits, bool truncate, uint mx, ref uint flags)
    {
        ulong r = RoundToInt(Unpack80(a), bits, truncate ? 3 : Rounding(mx), ref flags, out bool up);
        if (up) flags |= RoundedUp;
        return r;
    }

    /// <summary>FCOM/FUCOM/FCOMI/FTST/FICOM: IE for an SNaN or unsupported operand, or for a QNaN too when <paramref name="signalQuiet"/>.</summary>
    public static int Compare80(F80 a, F80 b, bool signalQuiet, ref uint flags, bool denormalSource = false)
    {
        var x = Unpack80(a);
        var y = Unpack80(b);
        y.Denormal |= denormalSource;
        if (IsUnsupported(x) || IsUnsupported(y)) { flags |= Cpu.MxIE; return Unordered; }
        if (IsNaN(x) || IsNaN(y))
        {
            if (signalQuiet || x.Kind == Kind.SNaN || y.Kind == Kind.SNaN) flags |= Cpu.MxIE;
            return Unordered;
        }
        if (x.Denormal || y.Denormal) flags |= Cpu.MxDE;
        return CompareOrdered(x, y);
    }

    /// <summary>FRNDINT: to an integer in the FCW rounding mode (no precision control), PE when inexact.</summary>
    public static F80 RoundInt80(F80 a, uint mx, ref uint flags)
    {
        var x = Unpack80(a);
        if (IsUnsupported(x)) { flags |= Cpu.MxIE; return Indefinite; }
        if (IsNaN(x)) { if (x.Kind == Kind.SNaN) flags |= Cpu.MxIE; return Quiet(a); }
        if (x.Kind != Kind.Finite) return a;
        if (x.Denormal) flags |= Cpu.MxDE;
        if (x.Exp >= 0) return a;
        UInt128 m = RoundAt(x.Sig, false, -x.Exp, x.Neg, Rounding(mx), out bool inexact);
        if (inexact) { flags |= Cpu.MxPE; if (RoundedAway(x.Sig, false, -x.Exp, m)) flags |= RoundedUp; }
        if (m == 0) return new(0, (ushort)(x.Neg ? 0x8000 : 0));
        uint none = 0;
        return Pack80(Rounded(x.Neg, 0, m, false, Ext(64), 0, ref none), 64);
    }

    /// <summary>FSCALE: ST(0) * 2^trunc(ST(1)), rounded only where it leaves the range.</summary>
    public static F80 Scale80(F80 a, F80 b, uint mx, int scale, ref uint flags)
    {
        var x = Unpack80(a);
        var y = Unpack80(b);
        if (SpecialOperands(a, x, b, y, ref flags, out F80 r)) return r;
        if (y.Kind == Kind.Inf)
        {
            if (x.Kind == Kind.Zero && !y.Neg || x.Kind == Kind.Inf && y.Neg) { flags |= Cpu.MxIE; return Indefinite; }
            if (x.Kind == Kind.Finite) return y.Neg ? new(0, (ushort)(a.SE & 0x8000)) : new(1UL << 63, (ushort)(a.SE | 0x7fff));
            return a;
        }
        if (x.Kind != Kind.Finite) return a;
        int n = 0;
        if (y.Kind == Kind.Finite)
        {
            int lead = y.Exp + BitLength(y.Sig) - 1;
            if (lead >= 20) n = 1 << 20;
            else if (lead >= 0) n = (int)(y.Exp >= 0 ? y.Sig << y.Exp : y.Sig >> -y.Exp);
            if (y.Neg) n = -n;
        }
        return Pack80(Rounded(x.Neg, x.Exp + n, x.Sig, false, Ext(64, scale), mx, ref flags), 64);
    }

    /// <summary>FXTRACT: (exponent, significand) of ST(0); a zero gives -inf and the zero with ZE.</summary>
    public static (F80 Exponent, F80 Significand) Xtract(F80 a, ref uint flags)
    {
        var x = Unpack80(a);
        if (IsUnsupported(x)) { flags |= Cpu.MxIE; return (Indefinite, Indefinite); }
        if (IsNaN(x)) { if (x.Kind == Kind.SNaN) flags |= Cpu.MxIE; return (Quiet(a), Quiet(a)); }
        if (x.Kind == Kind.Zero) { flags |= Cpu.MxZE; return (new(1UL << 63, 0xffff), a); }
        if (x.Kind == Kind.Inf) return (new(1UL << 63, 0x7fff), a);
        if (x.Denormal) flags |= Cpu.MxDE;
        int lz = System.Numerics.BitOperations.LeadingZeroCount(x.Sig);
        int lead = x.Exp + 63 - lz;
        return (FromInt80(lead), new(x.Sig << lz, (ushort)((a.SE & 0x8000) | ExtBias)));
    }

    /// <summary>
    /// FPREM (truncated quotient) and FPREM1 (<paramref name="ieee"/>: quotient rounded to nearest even):
    /// the exact remainder when the exponents differ by less than 64, else a partial reduction by
    /// 2^(d - N) (<paramref name="partial"/>, FSW.C2); <paramref name="q"/> holds the quotient's low 3 bits
    /// (-1: an invalid or NaN operand, no quotient).
    /// </summary>
    public static F80 Prem(F80 a, F80 b, bool ieee, ref uint flags, out int q, out bool partial)
    {
        q = -1; partial = false;
        var x = Unpack80(a);
        var y = Unpack80(b);
        bool special = IsNaN(x) || IsNaN(y) || IsUnsupported(x) || IsUnsupported(y);
        if (!special && (x.Kind == Kind.Inf || y.Kind == Kind.Zero)) { flags |= Cpu.MxIE; return Indefinite; } // before DE
        if (SpecialOperands(a, x, b, y, ref flags, out F80 r)) return r;
        q = 0;
        if (x.Kind == Kind.Zero) return a;
        uint exact = 0;
        if (y.Kind == Kind.Inf) return Pack80(Rounded(x.Neg, x.Exp, x.Sig, false, Ext(64), 0, ref exact), 64); // a pseudo-denormal comes back normal
        int la = x.Exp + BitLength(x.Sig) - 1, lb = y.Exp + BitLength(y.Sig) - 1;
        int d = la - lb;
        int e = Math.Min(x.Exp, y.Exp);
        var A = new BigInteger(x.Sig) << (x.Exp - e);
        var B = new BigInteger(y.Sig) << (y.Exp - e);
        BigInteger quo;
        bool neg = x.Neg;
        if (d >= 64)
        {
            partial = true;
            int sh = d - PremPartialBits(d);
            var Bs = B << sh;
            quo = A / Bs;
            A -= quo * Bs;
        }
        else
        {
            quo = BigInteger.DivRem(A, B, out BigInteger rem);
            if (ieee)
            {
                BigInteger twice = rem << 1;
                if (twice > B || (twice == B && !quo.IsEven)) { quo += 1; rem = B - rem; neg = !neg; }
            }
            A = rem;
            q = (int)(quo & 7);
        }
        if (A.IsZero) return new(0, (ushort)(x.Neg ? 0x8000 : 0));
        int shift = (int)Math.Max(0, A.GetBitLength() - 64);
        uint none = 0;
        return Pack80(Rounded(neg, e + shift, (UInt128)(A >> shift), false, Ext(64), 0, ref none), 64);
    }

    /// <summary>
    /// The quotient bits N of a partial FPREM/FPREM1 step (SDM: implementation-dependent, 32 to 63): 32 + d mod 32,
    /// which leaves an exponent difference that is a multiple of 32 (measured on the host CPU).
    /// </summary>
    private static int PremPartialBits(int d) => 32 + d % 32;

    /// <summary>
    /// FXAM's class in C3:C2:C0 (SDM FXAM): unsupported 0, NaN 1, normal 2, infinity 3, zero 4, denormal 6
    /// (empty, 5, is the caller's).
    /// </summary>
    public static int Examine(F80 a)
    {
        var x = Unpack80(a);
        return x.Kind switch
        {
            Kind.Unsupported => 0,
            Kind.QNaN or Kind.SNaN => 1,
            Kind.Inf => 3,
            Kind.Zero => 4,
            _ => x.Denormal ? 6 : 2,
        };
    }

    /// <summary>
    /// Rounds a value given as (-1)^neg * sig * 2^exp (sig any width, plus sticky) to binary80 in the
    /// FCW rounding mode at full precision: the transcendental instructions and the constants.
    /// </summary>
    private static F80 RoundBig(bool neg, BigInteger sig, int exp, bool sticky, uint mx, ref uint flags, int scale = 0)
    {
        int len = (int)sig.GetBitLength();
        if (len > 126) { int sh = len - 126; sticky |= !(sig & ((BigInteger.One << sh) - 1)).IsZero; sig >>= sh; exp += sh; }
        return Pack80(Rounded(neg, exp, (UInt128)sig, sticky, Ext(64, scale), mx, ref flags), 64);
    }
}
