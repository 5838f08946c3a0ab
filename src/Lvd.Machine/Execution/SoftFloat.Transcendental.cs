using System.Numerics;

namespace Lvd.Machine.Execution;

/// <summary>
/// The x87 constants and transcendental instructions (F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN,
/// FCOS, FSINCOS): each result is computed with about 200 significant bits (series in a small
/// binary floating type) and rounded once to binary80 in the FCW rounding mode. The trigonometric
/// instructions reduce their argument with pi truncated to 66 bits, as the hardware does, so they
/// give the correctly rounded function of the hardware's reduced argument. Real CPUs are not
/// correctly rounded here (Intel documents a bound in ulps); the differential suite states the
/// bound against the host CPU (docs/MACHINE.md, x87). The constants FLDPI ... FLDLN2 are rounded from the same
/// values (SDM Vol. 1 8.3.8: correctly rounded in the current rounding mode).
/// </summary>
internal static partial class SoftFloat
{
    private const int W = 200;
    private const int PiBits = 640;
    /// <summary>A bound on every series (each converges in well under 100 terms on its reduced argument).</summary>
    private const int MaxTerms = 400;

    /// <summary>A working value M * 2^E with at most <see cref="W"/> significant bits.</summary>
    private readonly record struct Big(BigInteger M, int E)
    {
        public static Big Norm(BigInteger m, int e)
        {
            long len = BigInteger.Abs(m).GetBitLength();
            if (len > W) { int sh = (int)(len - W); m >>= sh; e += sh; }
            return new Big(m, e);
        }

        public bool IsZero => M.IsZero;
        public bool Neg => M.Sign < 0;
        /// <summary>floor(log2 |value|).</summary>
        public int Log2 => (int)BigInteger.Abs(M).GetBitLength() - 1 + E;
        public static Big operator *(Big a, Big b) => Norm(a.M * b.M, a.E + b.E);
        public static Big operator -(Big a) => new(-a.M, a.E);
        public static Big operator +(Big a, Big b)
        {
            if (a.IsZero) return b;
            if (b.IsZero) return a;
            // A negligible term still tells its direction: one unit at the W-th bit (f(x) = x - x^3/6 ... for tiny x
            // must round below x in the directed modes).
            if (a.Log2 - b.Log2 > W + 8) return Nudge(a, b.M.Sign);
            if (b.Log2 - a.Log2 > W + 8) return Nudge(b, a.M.Sign);
            if (a.E < b.E) (a, b) = (b, a);
            return Norm((a.M << (a.E - b.E)) + b.M, b.E);
        }
        public static Big operator -(Big a, Big b) => a + -b;

        private static Big Nudge(Big a, int sign)
        {
            int pad = Math.Max(0, W - (int)BigInteger.Abs(a.M).GetBitLength());
            return new Big((a.M << pad) + sign, a.E - pad);
        }
        public static Big operator /(Big a, Big b) => Norm((a.M << (2 * W)) / b.M, a.E - 2 * W - b.E);
        public Big Div(int k)
        {
            int sh = Math.Max(64, W + 8 - (int)BigInteger.Abs(M).GetBitLength());
            return Norm((M << sh) / k, E - sh);
        }
        public Big Half => new(M, E - 1);
        public static Big Int(long v) => Norm(v, 0);

        public Big Sqrt()
        {
            int e = E - 2 * W;
            var m = M << (2 * W);
            if ((e & 1) != 0) { m <<= 1; e--; }
            return Norm(BigSqrt(m), e / 2);
        }

        /// <summary>Whether the series term is negligible next to <paramref name="sum"/>.</summary>
        public bool Below(Big sum) => IsZero || (!sum.IsZero && Log2 < sum.Log2 - W - 4);
    }

    private static readonly BigInteger PiFixed = ComputePi();
    private static readonly Big Pi = Big.Norm(PiFixed, -PiBits);
    private static readonly Big Ln2 = AtanhInv(3) + AtanhInv(3);
    private static readonly Big Ln10 = Big.Int(3) * Ln2 + AtanhInv(9) + AtanhInv(9);

    /// <summary>pi * 2^640 by Machin's formula pi = 16 atan(1/5) - 4 atan(1/239).</summary>
    private static BigInteger ComputePi()
    {
        const int g = PiBits + 32;
        static BigInteger AtanInv(int n, int bits)
        {
            BigInteger one = BigInteger.One << bits, sum = 0, term = one / n;
            int n2 = n * n;
            for (int k = 0; !term.IsZero; k++)
            {
                sum += (k & 1) == 0 ? term / (2 * k + 1) : -(term / (2 * k + 1));
                term /= n2;
            }
            return sum;
        }
        return (16 * AtanInv(5, g) - 4 * AtanInv(239, g)) >> 32;
    }

    /// <summary>atanh(1/n) = sum 1/((2k+1) n^(2k+1)).</summary>
    private static Big AtanhInv(int n)
    {
        Big one = Big.Int(1), term = one.Div(n), sum = default;
        for (int k = 0; (!term.Below(sum) || k == 0) && k < MaxTerms; k++)
        {
            sum += term.Div(2 * k + 1);
            term = term.Div(n * n);
        }
        return sum;
    }

    private static Big ToBig(in Num x) => Big.Norm(x.Neg ? -(BigInteger)x.Sig : x.Sig, x.Exp);

    private static F80 FromBig(Big v, uint mx, ref uint flags, int scale = 0) =>
        v.IsZero ? new(0, 0) : RoundBig(v.Neg, BigInteger.Abs(v.M), v.E, true, mx, ref flags, scale);

    /// <summary>FLDPI, FLDL2T, FLDL2E, FLDLG2, FLDLN2 (index 0-4) rounded in mode <paramref name="mx"/>.</summary>
    public static F80 Constant(int which, uint mx)
    {
        Big v = which switch
        {
            0 => Pi,
            1 => Ln10 / Ln2,
            2 => Big.Int(1) / Ln2,
            3 => Ln2 / Ln10,
            _ => Ln2,
        };
        uint none = 0;
        return FromBig(v, mx, ref none);
    }

    /// <summary>exp(t) - 1 by its Taylor series (|t| below 1).</summary>
    private static Big Expm1(Big t)
    {
        Big term = t, sum = t;
        for (int k = 2; ; k++)
        {
            term = (term * t).Div(k);
            if (term.Below(sum) || k > MaxTerms) return sum + term;
            sum += term;
        }
    }

    /// <summary>2 atanh(u) = 2 (u + u^3/3 + u^5/5 ...), |u| well below 1.</summary>
    private static Big TwoAtanh(Big u)
    {
        Big u2 = u * u, pow = u, sum = u;
        for (int k = 1; ; k++)
        {
            pow *= u2;
            Big term = pow.Div(2 * k + 1);
            if (term.Below(sum) || k > MaxTerms) { sum += term; return sum + sum; }
            sum += term;
        }
    }

    /// <summary>ln x for x above 0: x = m 2^e with m in [sqrt(1/2), sqrt 2).</summary>
    private static Big Ln(Big x)
    {
        int e = x.Log2;
        var m = new Big(x.M, x.E - e);
        if ((m * m).Log2 >= 1) { e++; m = m.Half; }
        Big one = Big.Int(1);
        Big lnm = TwoAtanh((m - one) / (m + one));
        return e == 0 ? lnm : Big.Int(e) * Ln2 + lnm;
    }

    /// <summary>atan z: reduced to |z| at most 1, then halved three times (atan z = 2 atan(z / (1 + sqrt(1 + z^2)))).</summary>
    private static Big Atan(Big z)
    {
        Big one = Big.Int(1);
        if (z.Log2 >= 0 && BigInteger.Abs(z.M) > (BigInteger.One << -z.E))
        {
            Big r = Pi.Half - Atan(one / new Big(BigInteger.Abs(z.M), z.E));
            return z.Neg ? -r : r;
        }
        for (int i = 0; i < 3; i++) z /= one + (one + z * z).Sqrt();
        Big z2 = z * z, pow = z, sum = z;
        for (int k = 1; ; k++)
        {
            pow *= z2;
            Big term = pow.Div(2 * k + 1);
            if (term.Below(sum) || k > MaxTerms) { sum = (k & 1) != 0 ? sum - term : sum + term; break; }
            sum = (k & 1) != 0 ? sum - term : sum + term;
        }
        return new Big(sum.M, sum.E + 3);
    }

    private static Big SinSeries(Big r)
    {
        Big r2 = r * r, term = r, sum = r;
        for (int k = 1; ; k++)
        {
            term = (term * r2).Div((2 * k) * (2 * k + 1));
            if (term.Below(sum) || k > MaxTerms) return (k & 1) != 0 ? sum - term : sum + term;
            sum = (k & 1) != 0 ? sum - term : sum + term;
        }
    }

    private static Big CosSeries(Big r)
    {
        Big r2 = r * r, one = Big.Int(1), term = one, sum = one;
        for (int k = 1; ; k++)
        {
            term = (term * r2).Div((2 * k - 1) * (2 * k));
            if (term.Below(sum) || k > MaxTerms) return (k & 1) != 0 ? sum - term : sum + term;
            sum = (k & 1) != 0 ? sum - term : sum + term;
        }
    }

    /// <summary>
    /// x = k p/2 + r with |r| at most about pi/4 for |x| below 2^63, where p is pi truncated to 66 bits
    /// (the x87's reduction constant, SDM Vol. 1 8.3.10): r is exact, so sin(r) is what the hardware
    /// computes and not sin(x) far from zero; returns r and k mod 4.
    /// </summary>
    private static Big Reduce(in Num x, out int quadrant)
    {
        quadrant = 0;
        Big bx = ToBig(x);
        if (bx.Log2 < -2) return bx;
        BigInteger xf = (BigInteger)x.Sig << (PiBits + x.Exp);
        // As the hardware (Intel documents it, the AMD host does the same): pi/2 with pi to 66 bits.
        BigInteger halfPi = (PiFixed >> (PiBits - 64) << (PiBits - 64)) >> 1;
        BigInteger k = (xf + (halfPi >> 1)) / halfPi;
        BigInteger r = xf - k * halfPi;
        quadrant = (int)(k & 3);
        return Big.Norm(x.Neg ? -r : r, -PiBits);
    }

    /// <summary>sin and cos of a finite x with |x| below 2^63.</summary>
    private static (Big Sin, Big Cos) SinCos(in Num x)
    {
        Big r = Reduce(x, out int q);
        if (x.Neg) q = (4 - q) & 3;
        Big s = SinSeries(r), c = CosSeries(r);
        return q switch { 0 => (s, c), 1 => (c, -s), 2 => (-s, -c), _ => (-c, s) };
    }

    /// <summary>The operand of a one-operand transcendental: unsupported (IE, indefinite) and NaNs decided here.</summary>
    private static bool SpecialOperand(F80 a, in Num x, ref uint flags, out F80 r)
    {
        r = default;
        if (IsUnsupported(x)) { flags |= Cpu.MxIE; r = Indefinite; return true; }
        if (IsNaN(x)) { if (x.Kind == Kind.SNaN) flags |= Cpu.MxIE; r = Quiet(a); return true; }
        if (x.Denormal) flags |= Cpu.MxDE;
        return false;
    }

    /// <summary>F2XM1: 2^x - 1 (defined for |x| at most 1).</summary>
    public static F80 F2xm1(F80 a, uint mx, ref uint flags, int scale = 0)
    {
        var x = Unpack80(a);
        if (SpecialOperand(a, x, ref flags, out F80 r)) return r;
        if (x.Kind == Kind.Zero) return a;
        if (x.Kind == Kind.Inf) return x.Neg ? One.Negate() : a;
        Big bx = ToBig(x);
        if (bx.M == (x.Neg ? -1 : 1) * (BigInteger.One << -bx.E)) return x.Neg ? new(1UL << 63, 0xbffe) : One; // x = +-1: exact
        if (bx.Log2 >= 0)
        {
            // Outside the defined range |x| <= 1: 2^n (2^f) - 1 with n = trunc(x), saturating far out.
            if (bx.Log2 >= 15) return x.Neg ? One.Negate() : new(1UL << 63, 0x7fff);
            int n = (int)(x.Exp >= 0 ? (long)(x.Sig << x.Exp) : (long)(x.Sig >> -x.Exp));
            if (x.Neg) n = -n;
            Big frac = bx - Big.Int(n), p = Expm1(frac * Ln2) + Big.Int(1);
            return FromBig(new Big(p.M, p.E + n) - Big.Int(1), mx, ref flags, scale);
        }
        return FromBig(Expm1(bx * Ln2), mx, ref flags, scale);
    }

    /// <summary>FYL2X: y * log2 x (y = ST(1), x = ST(0)).</summary>
    public static F80 Fyl2x(F80 xa, F80 ya, uint mx, ref uint flags, int scale = 0)
    {
        var x = Unpack80(xa);
        var y = Unpack80(ya);
        if (x.Neg && (x.Kind is Kind.Finite or Kind.Inf) && !IsNaN(y) && !IsUnsupported(y)) { flags |= Cpu.MxIE; return Indefinite; }
        if (SpecialOperands(xa, x, ya, y, ref flags, out F80 r)) return r;
        if (x.Neg && x.Kind != Kind.Zero) { flags = (flags & ~Cpu.MxDE) | Cpu.MxIE; return Indefinite; }
        bool yNeg = y.Neg;
        if (x.Kind == Kind.Zero)
        {
            // log2 0 = -inf: -inf * y
            if (y.Kind == Kind.Zero) { flags |= Cpu.MxIE; return Indefinite; }
            if (y.Kind == Kind.Finite) flags |= Cpu.MxZE;
            return new(1UL << 63, (ushort)(yNeg ? 0x7fff : 0xffff));
        }
        if (x.Kind == Kind.Inf)
        {
            if (y.Kind == Kind.Zero) { flags |= Cpu.MxIE; return Indefinite; }
            return new(1UL << 63, (ushort)(yNeg ? 0xffff : 0x7fff));
        }
        Big bx = ToBig(x);
        int e = bx.Log2;
        bool powerOfTwo = BigInteger.Abs(bx.M) == BigInteger.One << (e - bx.E);
        bool isOne = powerOfTwo && e == 0;
        if (y.Kind == Kind.Inf)
        {
            if (isOne) { flags |= Cpu.MxIE; return Indefinite; }
            return new(1UL << 63, (ushort)(yNeg ^ (e < 0) ? 0xffff : 0x7fff));
        }
        if (y.Kind == Kind.Zero || isOne)
            return new(0, (ushort)(yNeg ^ (e < 0) ? 0x8000 : 0));
        if (powerOfTwo) return Arith80(OpMul, ya, FromInt80(e), 64, mx, scale, ref flags);
        Big l = Ln(bx) / Ln2;
        return FromBig(ToBig(y) * l, mx, ref flags, scale);
    }

    /// <summary>FYL2XP1: y * log2(x + 1) (y = ST(1), x = ST(0); defined for |x| below 1 - sqrt(2)/2).</summary>
    public static F80 Fyl2xp1(F80 xa, F80 ya, uint mx, ref uint flags, int scale = 0)
    {
        var x = Unpack80(xa);
        var y = Unpack80(ya);
        if (x.Kind == Kind.Inf && x.Neg && !IsNaN(y) && !IsUnsupported(y)) { flags |= Cpu.MxIE; return Indefinite; }
        if (SpecialOperands(xa, x, ya, y, ref flags, out F80 r)) return r;
        bool neg = x.Neg ^ y.Neg;
        if (x.Kind == Kind.Zero)
        {
            if (y.Kind == Kind.Inf) { flags |= Cpu.MxIE; return Indefinite; }
            return new(0, (ushort)(neg ? 0x8000 : 0));
        }
        if (x.Kind == Kind.Inf)
        {
            if (x.Neg || y.Kind == Kind.Zero) { flags |= Cpu.MxIE; return Indefinite; }
            return new(1UL << 63, (ushort)(neg ? 0xffff : 0x7fff));
        }
        Big bx = ToBig(x), one = Big.Int(1);
        if ((bx + one).Neg || (bx + one).IsZero) { flags |= Cpu.MxIE; return Indefinite; }
        if (y.Kind == Kind.Inf) return new(1UL << 63, (ushort)(neg ? 0xffff : 0x7fff));
        if (y.Kind == Kind.Zero) return new(0, (ushort)(neg ? 0x8000 : 0));
        Big l = (bx.Log2 >= -2 ? Ln(bx + one) : TwoAtanh(bx / (bx + one + one))) / Ln2;
        return FromBig(ToBig(y) * l, mx, ref flags, scale);
    }

    /// <summary>FPATAN: atan2(y, x) (y = ST(1), x = ST(0)), with the IEEE signed-zero and infinity cases.</summary>
    public static F80 Fpatan(F80 xa, F80 ya, uint mx, ref uint flags, int scale = 0)
    {
        var x = Unpack80(xa);
        var y = Unpack80(ya);
        if (SpecialOperands(xa, x, ya, y, ref flags, out F80 r)) return r;
        Big res;
        if (y.Kind == Kind.Zero || (y.Kind == Kind.Finite && x.Kind == Kind.Inf))
        {
            if (!x.Neg) return new(0, (ushort)(y.Neg ? 0x8000 : 0));
            res = Pi;
        }
        else if (y.Kind == Kind.Inf)
        {
            res = x.Kind != Kind.Inf ? Pi.Half : x.Neg ? Big.Int(3) * Pi.Half.Half : Pi.Half.Half;
        }
        else if (x.Kind == Kind.Zero) res = Pi.Half;
        else
        {
            Big ay = Big.Norm(y.Sig, y.Exp), ax = Big.Norm(x.Sig, x.Exp);
            Big q = Atan(ay / ax);
            res = x.Neg ? Pi - q : q;
        }
        if (y.Neg) res = -res;
        return FromBig(res, mx, ref flags, scale);
    }

    /// <summary>
    /// FSIN, FCOS, FSINCOS, FPTAN (<paramref name="which"/> 0, 1, 2, 3): false (FSW.C2, nothing changed)
    /// when |x| is 2^63 or more; an infinity is invalid. FSINCOS and FPTAN give two results.
    /// </summary>
    public static bool Trig(int which, F80 a, uint mx, ref uint flags, out F80 r0, out F80 r1, int scale = 0)
    {
        r1 = One;
        var x = Unpack80(a);
        if (SpecialOperand(a, x, ref flags, out r0)) { r1 = r0; return true; }
        if (x.Kind == Kind.Inf) { flags |= Cpu.MxIE; r0 = r1 = Indefinite; return true; }
        if (x.Kind == Kind.Finite && x.Exp + BitLength(x.Sig) - 1 >= 63) { r0 = a; return false; }
        if (x.Kind == Kind.Zero)
        {
            r0 = which == 1 ? One : a;
            return true;
        }
        var (s, c) = SinCos(x);
        switch (which)
        {
            case 0: r0 = FromBig(s, mx, ref flags, scale); break;
            case 1: r0 = FromBig(c, mx, ref flags, scale); break;
            case 2:
            {
                // C1 tells the rounding of the sine (as the host CPU does).
                uint cosFlags = 0;
                r0 = FromBig(s, mx, ref flags, scale);
                r1 = FromBig(c, mx, ref cosFlags);
                flags |= cosFlags & ~RoundedUp;
                break;
            }
            default: r0 = FromBig(s / c, mx, ref flags, scale); break;
        }
        return true;
    }
}
