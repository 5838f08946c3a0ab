// math.c: the libm basics, on the x87 (extended precision, then one rounding
// to double): sqrt, fabs, floor, ceil, trunc, round, fmod, ldexp, frexp, modf,
// exp, exp2, log, log2, log10, pow, sin, cos, sincos, tan, asin, acos, atan, atan2,
// sinh, cosh, tanh, hypot, and the float sqrtf, fabsf.  The exact ones (sqrt,
// fabs, floor ... fmod, ldexp, frexp, modf) equal glibc bit for bit; the
// others are within about an ulp of glibc's (the x87 works with 64 bits and
// rounds once; sin, cos and tan reduce their argument in three parts of
// pi/2, exact up to |x| = 2^30, beyond that the x87's 66-bit pi).  Invalid
// arguments give the default NaN, as glibc's; errors set no errno.  Not in
// the runtime built with -mgeneral-regs-only.

#ifdef __SSE2__
#include <math.h>
#include <stdint.h>

typedef long double ld;

// The default NaN (negative), as an invalid SSE operation makes it: glibc's "-nan".
static double invalid(void) { volatile double z = 0; return z / z; }

static uint64_t bits(double x) { union { double d; uint64_t u; } v = { x }; return v.u; }
static double from(uint64_t u) { union { uint64_t u; double d; } v = { u }; return v.d; }

double fabs(double x) { return from(bits(x) & ~(1ULL << 63)); }
float fabsf(float x) { union { float f; uint32_t u; } v = { x }; v.u &= 0x7fffffff; return v.f; }

double
sqrt(double x)
{
	__asm__("sqrtsd %1, %0" : "=x"(x) : "x"(x));
	return x;
}

float
sqrtf(float x)
{
	__asm__("sqrtss %1, %0" : "=x"(x) : "x"(x));
	return x;
}

// The integer part toward zero, by clearing the fraction bits.
double
trunc(double x)
{
	uint64_t u = bits(x);
	int e = (int)(u >> 52 & 0x7ff) - 1023;
	if (e >= 52)
		return x;   // integral, infinite or NaN
	if (e < 0)
		return from(u & 1ULL << 63);
	return from(u & ~((1ULL << (52 - e)) - 1));
}

double
floor(double x)
{
	double t = trunc(x);
	return t != x && x < 0 ? t - 1 : t;
}

double
ceil(double x)
{
	double t = trunc(x);
	return t != x && x > 0 ? t + 1 : t;
}

double
round(double x)
{
	double t = trunc(x);
	double d = x - t;   // exact
	if (d >= 0.5)
		return t + 1;
	if (d <= -0.5)
		return t - 1;
	return t;
}

double
modf(double x, double *ip)
{
	double t = trunc(x);
	*ip = t;
	if (x != x)
		return x;
	if (t == x)
		return from(bits(x) & 1ULL << 63);   // +-0 (also for infinities)
	return x - t;
}

double
frexp(double x, int *e)
{
	uint64_t u = bits(x);
	int be = (int)(u >> 52 & 0x7ff);
	*e = 0;
	if (be == 0x7ff || x == 0)
		return x;
	if (be == 0) {   // denormal: scale up first
		x *= 0x1p64;
		u = bits(x);
		be = (int)(u >> 52 & 0x7ff);
		*e = -64;
	}
	*e += be - 1022;
	return from((u & ~(0x7ffULL << 52)) | 1022ULL << 52);
}

// FSCALE of an extended value: x * 2^n, one rounding to double at the end.
static double
scale(ld x, ld n)
{
	ld r;
	__asm__("fscale" : "=t"(r) : "0"(x), "u"(n));
	return (double)r;
}

double ldexp(double x, int e) { return scale(x, e); }

// FPREM until complete: the exact remainder with the dividend's sign.
double
fmod(double x, double y)
{
	ld r = x;
	unsigned short sw;
	do
		__asm__("fprem\n\tfnstsw %1" : "+t"(r), "=a"(sw) : "u"((ld)y));
	while (sw & 0x400);
	return (double)r;
}

// 2^t for an extended t: 2^frac via F2XM1, then FSCALE by the integer part.
static ld
exp2l_(ld t)
{
	ld n, f, r;
	if (t != t)
		return t;
	if (t > 20000)
		return __builtin_infl();
	if (t < -20000)
		return 0;
	__asm__("frndint" : "=t"(n) : "0"(t));
	f = t - n;
	__asm__("f2xm1" : "=t"(r) : "0"(f));
	r += 1;
	__asm__("fscale" : "=t"(r) : "0"(r), "u"(n));
	return r;
}

double
exp(double x)
{
	ld l2e;
	__asm__("fldl2e" : "=t"(l2e));
	return (double)exp2l_(x * l2e);
}

double exp2(double x) { return (double)exp2l_(x); }

// y * log2(x) by FYL2X.
static ld
yl2x(ld x, ld y)
{
	ld r;
	__asm__("fyl2x" : "=t"(r) : "0"(x), "u"(y) : "st(1)");
	return r;
}

static double
logbase(double x, ld factor)
{
	if (x != x)
		return x;
	if (x < 0)
		return invalid();
	if (x == 0)
		return -__builtin_inf();
	if (x == __builtin_inf())
		return x;
	return (double)yl2x(x, factor);
}

double log(double x) { ld c; __asm__("fldln2" : "=t"(c)); return logbase(x, c); }
double log2(double x) { return logbase(x, 1); }
double log10(double x) { ld c; __asm__("fldlg2" : "=t"(c)); return logbase(x, c); }

static int
is_integer(double y)
{
	return trunc(y) == y;
}

static int
is_odd_integer(double y)
{
	if (!is_integer(y) || fabs(y) >= 0x1p53)
		return 0;
	return (int64_t)y & 1;
}

// C99 F.9.4.4 for the special cases, else 2^(y log2 |x|) in extended precision.
double
pow(double x, double y)
{
	if (y == 0 || x == 1)
		return 1;
	if (x != x || y != y)
		return x + y;
	double ax = fabs(x);
	if (y == __builtin_inf())
		return ax == 1 ? 1 : ax > 1 ? y : 0;
	if (y == -__builtin_inf())
		return ax == 1 ? 1 : ax < 1 ? -y : 0;
	if (x == 0) {
		int odd = is_odd_integer(y);
		if (y < 0)
			return odd ? 1 / x : __builtin_inf();
		return odd ? x : 0;
	}
	if (ax == __builtin_inf()) {
		int odd = is_odd_integer(y);
		double r = y < 0 ? 0 : __builtin_inf();
		return x < 0 && odd ? -r : r;
	}
	if (x < 0 && !is_integer(y))
		return invalid();
	double r = (double)exp2l_(yl2x(ax, y));
	return x < 0 && is_odd_integer(y) ? -r : r;
}

// x = k pi/2 + r, |r| about pi/4 at most, with pi/2 in three parts (Cody and
// Waite): k P1 and k P2 are exact for |k| below 2^31, so r keeps its precision
// near the multiples of pi/2, where the x87's own reduction (a 66-bit pi) does
// not; beyond 2^30 the x87 reduces.
static ld
reduce(double x, int *quadrant)
{
	static const ld P1 = 0xc90fdaa200000000p-63L, P2 = 0x85a308d300000000p-97L, P3 = 0x98cc51701b839a25p-132L;
	static const ld TWO_OVER_PI = 0xa2f9836e4e441529p-64L;
	*quadrant = 0;
	if (!(fabs(x) > 0.7853981633974483) || fabs(x) > 0x1p30)
		return x;
	ld k;
	ld t = x * TWO_OVER_PI;
	__asm__("frndint" : "=t"(k) : "0"(t));
	*quadrant = (int)((long long)k & 3);
	return ((x - k * P1) - k * P2) - k * P3;
}

void
sincos(double x, double *s, double *c)
{
	int q;
	ld r = reduce(x, &q), sv, cv;
	__asm__("fsincos" : "=t"(cv), "=u"(sv) : "0"(r));
	switch (q) {
	case 0: *s = (double)sv; *c = (double)cv; break;
	case 1: *s = (double)cv; *c = (double)-sv; break;
	case 2: *s = (double)-sv; *c = (double)-cv; break;
	default: *s = (double)-cv; *c = (double)sv; break;
	}
}

double
sin(double x)
{
	double s, c;
	sincos(x, &s, &c);
	return s;
}

double
cos(double x)
{
	double s, c;
	sincos(x, &s, &c);
	return c;
}

double
tan(double x)
{
	int q;
	ld r = reduce(x, &q), t, one;
	__asm__("fptan" : "=t"(one), "=u"(t) : "0"(r));
	return (double)(q & 1 ? -1 / t : t);
}

// atan2 by FPATAN (ST(1) = y, ST(0) = x): the IEEE cases of signed zeros and infinities included.
static ld
patan(ld y, ld x)
{
	ld r;
	__asm__("fpatan" : "=t"(r) : "0"(x), "u"(y) : "st(1)");
	return r;
}

double atan2(double y, double x) { return (double)patan(y, x); }
double atan(double x) { return (double)patan(x, 1); }

double
asin(double x)
{
	if (fabs(x) > 1)
		return invalid();
	ld lx = x;
	ld c = (1 - lx) * (1 + lx), s;
	__asm__("fsqrt" : "=t"(s) : "0"(c));
	return (double)patan(lx, s);
}

double
acos(double x)
{
	if (fabs(x) > 1)
		return invalid();
	ld lx = x;
	ld c = (1 - lx) * (1 + lx), s;
	__asm__("fsqrt" : "=t"(s) : "0"(c));
	return (double)patan(s, lx);
}

// e^x - 1 in extended precision (F2XM1 keeps small values exact enough).
static ld
expm1l_(ld x)
{
	ld l2e, t, r;
	__asm__("fldl2e" : "=t"(l2e));
	t = x * l2e;
	if (t > -1 && t < 1) {
		__asm__("f2xm1" : "=t"(r) : "0"(t));
		return r;
	}
	return exp2l_(t) - 1;
}

double
sinh(double x)
{
	ld a = fabs(x), e = expm1l_(a);
	ld r = (e + e / (e + 1)) / 2;
	return (double)(x < 0 ? -r : r);
}

double
cosh(double x)
{
	ld e = exp2l_(fabs(x) * 1.44269504088896340735992468100189214L);
	return (double)((e + 1 / e) / 2);
}

double
tanh(double x)
{
	if (fabs(x) > 40)
		return x < 0 ? -1 : 1;
	ld e = expm1l_(2 * (ld)fabs(x));
	ld r = e / (e + 2);
	return (double)(x < 0 ? -r : r);
}

double
hypot(double x, double y)
{
	if (fabs(x) == __builtin_inf() || fabs(y) == __builtin_inf())
		return __builtin_inf();
	ld s = (ld)x * x + (ld)y * y, r;
	__asm__("fsqrt" : "=t"(r) : "0"(s));
	return (double)r;
}
#endif
