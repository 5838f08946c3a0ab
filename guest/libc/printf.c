// printf.c: formatted output, one formatter behind the whole printf family.
//
// Conversions: d i u o x X c s p %, f F e E g G a A (L for long double with
// f F e E g G), with flags - 0 + space #, width and precision (numbers or *),
// and length modifiers hh h l ll z j t L.  The output matches glibc's for all
// of these (tests/check.sh printf compares): a binary floating-point value has
// a finite decimal expansion, which is computed exactly (big integers) and
// rounded once, half to even, as glibc does in the default rounding mode.
// In the runtime built with -mgeneral-regs-only (no SSE/x87: a double cannot
// even be passed) the floating-point conversions are echoed verbatim, as is
// any unknown conversion, as glibc does for conversions it does not know.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "libc.h"

// Where characters go: the serial console, or a caller's buffer of cap
// bytes.  n counts every character produced, written or not, because
// snprintf must return the length the whole output would have had.
struct sink {
	int console;
	char *buf;
	size_t cap;   // including room for the terminating NUL
	size_t n;
};

// One conversion specification, %[flags][width][.precision][length]conv.
struct spec {
	int left;     // '-': pad on the right
	int zero;     // '0': pad numbers with zeros
	int plus;     // '+': sign even when positive
	int space;    // ' ': space where a '+' would go
	int alt;      // '#': 0x prefix, or a leading 0 for octal
	int width;
	int prec;     // -1 when absent
};

enum { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T, LEN_BIGL };

static void
put(struct sink *s, char c)
{
	if (s->console)
		console_putc(c);
	else if (s->n + 1 < s->cap)
		s->buf[s->n] = c;
	s->n++;
}

static void
pad(struct sink *s, char c, int count)
{
	while (count-- > 0)
		put(s, c);
}

// Print v in the given base.  signed_conv says whether '+' and ' ' apply;
// neg whether a '-' goes in front of the magnitude v.
static void
printint(struct sink *s, struct spec *sp, unsigned long long v, int neg,
         int signed_conv, int base, int upper)
{
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char digits[24];   // 2^64 needs 22 octal digits
	const char *prefix = "";
	char sign = 0;
	int nd, prec, zeros, len;

	if (base == 16 && sp->alt && v != 0)
		prefix = upper ? "0X" : "0x";
	if (neg)
		sign = '-';
	else if (signed_conv && sp->plus)
		sign = '+';
	else if (signed_conv && sp->space)
		sign = ' ';

	// No digits at all for zero: the precision (default 1) supplies the
	// "0", so that "%.0d" of 0 prints nothing, as C requires.
	nd = 0;
	for (; v != 0; v /= base)
		digits[nd++] = set[v % base];

	prec = sp->prec < 0 ? 1 : sp->prec;
	if (base == 8 && sp->alt && prec <= nd)
		prec = nd + 1;   // '#' makes the first octal digit a 0
	zeros = prec > nd ? prec - nd : 0;
	len = (sign != 0) + (prefix[0] ? 2 : 0) + zeros + nd;

	// The 0 flag is ignored with a precision or with '-'.
	if (sp->zero && !sp->left && sp->prec < 0 && sp->width > len) {
		zeros += sp->width - len;
		len = sp->width;
	}

	if (!sp->left)
		pad(s, ' ', sp->width - len);
	if (sign)
		put(s, sign);
	for (; *prefix; prefix++)
		put(s, *prefix);
	pad(s, '0', zeros);
	while (nd > 0)
		put(s, digits[--nd]);
	if (sp->left)
		pad(s, ' ', sp->width - len);
}

static void
printstr(struct sink *s, struct spec *sp, const char *str)
{
	int n;

	// Never look past the precision: the argument need not be terminated.
	for (n = 0; (sp->prec < 0 || n < sp->prec) && str[n]; n++)
		;
	if (!sp->left)
		pad(s, ' ', sp->width - n);
	for (int i = 0; i < n; i++)
		put(s, str[i]);
	if (sp->left)
		pad(s, ' ', sp->width - n);
}

#ifdef __SSE2__
// ---- floating point ----
//
// A finite value is (-1)^neg * m * 2^e with m below 2^64 (a double's 53-bit
// significand or a long double's 64).  Its decimal digits come from big
// integers of 32-bit words: the integer part by division by 10^9, the
// fraction m' / 2^-e digit by digit (times 10, the digit is what passes bit
// -e), which ends: every binary fraction has a finite decimal expansion.

#define BIGW 520   // words: 2^16384 (a long double's integer part) and 2^-16445's fraction

struct big {
	uint32_t w[BIGW];
	int n;   // words in use; w[n-1] != 0 unless n == 0
};

static void
big_set(struct big *b, uint64_t v, int shift)
{
	b->n = 0;
	for (int i = 0; i < BIGW; i++)
		b->w[i] = 0;
	int word = shift / 32, bit = shift % 32;
	unsigned __int128 x = (unsigned __int128)v << bit;
	for (int i = 0; i < 3 && x != 0; i++, x >>= 32)
		b->w[word + i] = (uint32_t)x;
	b->n = word + 3;
	while (b->n > 0 && b->w[b->n - 1] == 0)
		b->n--;
}

// b = b * k + add; the words beyond n may grow by one.
static void
big_muladd(struct big *b, uint32_t k, uint32_t add)
{
	uint64_t carry = add;
	for (int i = 0; i < b->n; i++) {
		uint64_t t = (uint64_t)b->w[i] * k + carry;
		b->w[i] = (uint32_t)t;
		carry = t >> 32;
	}
	if (carry)
		b->w[b->n++] = (uint32_t)carry;
}

// b /= d, returning the remainder.
static uint32_t
big_divsmall(struct big *b, uint32_t d)
{
	uint64_t r = 0;
	for (int i = b->n - 1; i >= 0; i--) {
		uint64_t t = r << 32 | b->w[i];
		b->w[i] = (uint32_t)(t / d);
		r = t % d;
	}
	while (b->n > 0 && b->w[b->n - 1] == 0)
		b->n--;
	return (uint32_t)r;
}

// The exact decimal expansion: the integer part's digits (at least "0") and
// up to maxfrac digits of the fraction; *rest: 0 if the fraction ends there,
// 1 if more digits follow (non-zero ones: the expansion is exact).  The
// fraction's leading zeros count in maxfrac only after the first non-zero
// digit when sigfrac is set (for %e of tiny values).
static struct big fbig;
static char fdigits[5000 + 16500];

static int
expand(uint64_t m, int e, int maxfrac, int sigfrac, int *nint, int *nfrac, int *rest)
{
	char *d = fdigits;
	int n = 0;

	// Integer part.
	if (e >= 0)
		big_set(&fbig, m, e);
	else
		big_set(&fbig, e <= -64 ? 0 : m >> -e, 0);
	char tmp[5000];
	int nt = 0;
	while (fbig.n > 0) {
		uint32_t r = big_divsmall(&fbig, 1000000000);
		for (int i = 0; i < 9; i++, r /= 10)
			tmp[nt++] = (char)('0' + r % 10);
	}
	while (nt > 1 && tmp[nt - 1] == '0')
		nt--;
	if (nt == 0)
		tmp[nt++] = '0';
	for (int i = nt - 1; i >= 0; i--)
		d[n++] = tmp[i];
	*nint = n;

	// Fraction: m's low -e bits over 2^-e.
	int f = 0, sig = 0;
	*rest = 0;
	if (e < 0) {
		int shift = -e;
		big_set(&fbig, shift >= 64 ? m : m & ((1ULL << shift) - 1), 0);
		int word = shift / 32, bit = shift % 32;
		while (fbig.n > 0) {
			if (f >= maxfrac + sig) {
				*rest = 1;
				break;
			}
			big_muladd(&fbig, 10, 0);
			uint32_t digit = 0;
			if (word < fbig.n) {
				digit = fbig.w[word] >> bit;
				if (bit != 0 && word + 1 < fbig.n)
					digit |= fbig.w[word + 1] << (32 - bit);
				fbig.w[word] &= bit == 0 ? 0 : (1u << bit) - 1;
				for (int i = word + 1; i < fbig.n; i++)
					fbig.w[i] = 0;
				fbig.n = word + 1;
				while (fbig.n > 0 && fbig.w[fbig.n - 1] == 0)
					fbig.n--;
			}
			d[n + f++] = (char)('0' + digit);
			if (sigfrac && digit == 0 && f == sig + 1 && (*nint == 1 && d[0] == '0'))
				sig++;   // a leading zero of a value below 1: not significant
		}
	}
	*nfrac = f;
	return n + f;
}

// Rounds the digit string d[0..len) to keep digits, half to even on the exact
// value (d[keep] and beyond, rest = non-zero digits after len); returns 1 if
// the carry ran out of the front (d then holds "1000...").
static int
round_digits(char *d, int len, int keep, int rest)
{
	if (keep >= len)
		return 0;
	int up;
	if (d[keep] > '5')
		up = 1;
	else if (d[keep] < '5')
		up = 0;
	else {
		int more = rest;
		for (int i = keep + 1; i < len && !more; i++)
			more = d[i] != '0';
		up = more || (keep > 0 && (d[keep - 1] - '0') % 2 == 1);
	}
	if (!up)
		return 0;
	for (int i = keep - 1; i >= 0; i--) {
		if (d[i] != '9') {
			d[i]++;
			return 0;
		}
		d[i] = '0';
	}
	return 1;
}

// Prints sign, body (len bytes) with the width: zeros after the sign and
// prefix for '0', else spaces.
static void
emit(struct sink *s, struct spec *sp, char sign, const char *prefix, const char *body, int len, int zero_ok)
{
	int plen = 0;
	while (prefix[plen])
		plen++;
	int total = (sign != 0) + plen + len;
	if (!sp->left && !(sp->zero && zero_ok))
		pad(s, ' ', sp->width - total);
	if (sign)
		put(s, sign);
	for (int i = 0; i < plen; i++)
		put(s, prefix[i]);
	if (!sp->left && sp->zero && zero_ok)
		pad(s, '0', sp->width - total);
	for (int i = 0; i < len; i++)
		put(s, body[i]);
	if (sp->left)
		pad(s, ' ', sp->width - total);
}

static char fbody[5000 + 16600];

// %f: the integer digits, '.', prec fraction digits.
static int
body_f(uint64_t m, int e, int prec, int alt)
{
	int nint, nfrac, rest;
	int len = expand(m, e, prec + 1, 0, &nint, &nfrac, &rest);
	char *d = fdigits;
	while (nfrac < prec + 1) {   // pad the exact expansion
		d[len++] = '0';
		nfrac++;
	}
	int n = 0;
	if (round_digits(d, len, nint + prec, rest))
		fbody[n++] = '1';
	for (int i = 0; i < nint; i++)
		fbody[n++] = d[i];
	if (prec > 0 || alt)
		fbody[n++] = '.';
	for (int i = 0; i < prec; i++)
		fbody[n++] = d[nint + i];
	return n;
}

// Whether the last significant() rounded up to a new power of ten.
static int sig_carried;

// The first prec+1 significant digits of the value, rounded, in sig[], and
// the decimal exponent of the first one.
static int
significant(uint64_t m, int e, int prec, char *sig)
{
	int nint, nfrac, rest;
	int len = expand(m, e, prec + 2, 1, &nint, &nfrac, &rest);
	char *d = fdigits;
	int first = 0;
	while (first < len && d[first] == '0')
		first++;
	if (first == len) {   // zero
		for (int i = 0; i <= prec; i++)
			sig[i] = '0';
		return 0;
	}
	int x = nint - 1 - first;
	int avail = len - first;
	char *p = d + first;
	while (avail < prec + 2)
		p[avail++] = '0';
	sig_carried = 0;
	if (round_digits(p, avail, prec + 1, rest)) {
		sig_carried = 1;
		p[0] = '1';
		for (int i = 1; i <= prec; i++)
			p[i] = '0';
		x++;
	}
	for (int i = 0; i <= prec; i++)
		sig[i] = p[i];
	return x;
}

static int
exponent_text(char *out, char ech, int x, int mindigits)
{
	int n = 0;
	out[n++] = ech;
	out[n++] = x < 0 ? '-' : '+';
	if (x < 0)
		x = -x;
	char t[8];
	int nt = 0;
	do {
		t[nt++] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	if (nt < mindigits)
		t[nt++] = '0';
	while (nt > 0)
		out[n++] = t[--nt];
	return n;
}

// %e: d.ddd e+XX with prec digits after the point.
static int
body_e(uint64_t m, int e, int prec, int alt, int upper)
{
	static char sig[16600];
	int x = significant(m, e, prec, sig);
	int n = 0;
	fbody[n++] = sig[0];
	if (prec > 0 || alt)
		fbody[n++] = '.';
	for (int i = 1; i <= prec; i++)
		fbody[n++] = sig[i];
	return n + exponent_text(fbody + n, upper ? 'E' : 'e', x, 2);
}

// %g: P significant digits, %e style if the exponent is below -4 or at least
// P, trailing zeros removed without '#'.
static int
body_g(uint64_t m, int e, int prec, int alt, int upper)
{
	static char sig[16600];
	int p = prec < 0 ? 6 : prec == 0 ? 1 : prec;
	int x = m == 0 ? 0 : significant(m, e, p - 1, sig);
	int n;
	if (x < -4 || x >= p) {
		// glibc: with '#', a value that rounds up to 10^P (999999.5 as %#g) keeps no
		// fraction digits ("1.e+06"); matched here.
		n = body_e(m, e, alt && sig_carried && x == p ? 0 : p - 1, alt, upper);
	} else {
		n = body_f(m, e, p - 1 - x, alt);
	}
	if (!alt) {
		// Strip the fraction's trailing zeros (before any exponent).
		int epos = n;
		for (int i = 0; i < n; i++)
			if (fbody[i] == 'e' || fbody[i] == 'E')
				epos = i;
		int dot = -1;
		for (int i = 0; i < epos; i++)
			if (fbody[i] == '.')
				dot = i;
		if (dot >= 0) {
			int end = epos;
			while (end > dot + 1 && fbody[end - 1] == '0')
				end--;
			if (end == dot + 1)
				end = dot;
			int k = end;
			for (int i = epos; i < n; i++)
				fbody[k++] = fbody[i];
			n = k;
		}
	}
	return n;
}

// %a of a double: 0x1.hhhp+d (0x0.hhhp-1022 for a denormal), the 52
// fraction bits as 13 hex digits, rounded half to even to the precision or
// with their trailing zeros removed.
static int
body_a(uint64_t bits, int prec, int alt, int upper)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int be = (int)(bits >> 52 & 0x7ff);
	uint64_t frac = bits & ((1ULL << 52) - 1);
	int lead = be != 0, x = be == 0 ? (frac == 0 ? 0 : -1022) : be - 1023;
	int n = 0;
	if (prec >= 0 && prec < 13) {
		int drop = 4 * (13 - prec);
		uint64_t rem = frac & ((1ULL << drop) - 1), half = 1ULL << (drop - 1);
		frac >>= drop;
		int odd = prec == 0 ? lead & 1 : (int)(frac & 1);   // half to even, the leading digit's parity for .0
		if (rem > half || (rem == half && odd))
			frac++;
		if (frac >> (4 * prec)) {   // carried into the leading digit
			frac &= prec == 0 ? 0 : (1ULL << (4 * prec)) - 1;
			lead++;
		}
		frac <<= drop;
	}
	fbody[n++] = hex[lead];
	int nd = 13;
	if (prec < 0)
		while (nd > 0 && ((frac >> (4 * (13 - nd))) & 15) == 0)
			nd--;
	else
		nd = prec;
	if (nd > 0 || alt)
		fbody[n++] = '.';
	for (int i = 0; i < nd; i++)
		fbody[n++] = i < 13 ? hex[(frac >> (48 - 4 * i)) & 15] : '0';
	return n + exponent_text(fbody + n, upper ? 'P' : 'p', x, 1);
}

static void
printfloat(struct sink *s, struct spec *sp, char conv, int neg, int special, uint64_t m, int e, uint64_t bits, int nan)
{
	int upper = conv >= 'A' && conv <= 'Z';
	char lc = (char)(conv | 0x20);
	char sign = neg ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
	int n;
	const char *prefix = "";
	if (special) {
		const char *t = nan ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
		emit(s, sp, sign, "", t, 3, 0);
		return;
	}
	int prec = sp->prec > 16000 ? 16000 : sp->prec;   // the digit buffers' bound
	switch (lc) {
	case 'f': n = body_f(m, e, prec < 0 ? 6 : prec, sp->alt); break;
	case 'e': n = body_e(m, e, prec < 0 ? 6 : prec, sp->alt, upper); break;
	case 'g': n = body_g(m, e, prec, sp->alt, upper); break;
	default:
		prefix = upper ? "0X" : "0x";
		n = body_a(bits, prec, sp->alt, upper);
		break;
	}
	emit(s, sp, sign, prefix, fbody, n, 1);
}

static void
printdouble(struct sink *s, struct spec *sp, char conv, double v)
{
	union { double d; uint64_t u; } x = { v };
	int neg = (int)(x.u >> 63), be = (int)(x.u >> 52 & 0x7ff);
	uint64_t frac = x.u & ((1ULL << 52) - 1);
	if (be == 0x7ff) {
		printfloat(s, sp, conv, neg, 1, 0, 0, x.u, frac != 0);
		return;
	}
	uint64_t m = be == 0 ? frac : frac | 1ULL << 52;
	int e = be == 0 ? -1074 : be - 1075;
	printfloat(s, sp, conv, neg, 0, m, e, x.u & ~(1ULL << 63), 0);
}

static void
printlongdouble(struct sink *s, struct spec *sp, char conv, long double v)
{
	union { long double d; struct { uint64_t m; uint16_t se; } p; } x;
	x.d = v;
	int neg = x.p.se >> 15, be = x.p.se & 0x7fff;
	uint64_t m = x.p.m;
	if (be == 0x7fff) {
		printfloat(s, sp, conv, neg, 1, 0, 0, 0, (m << 1) != 0);
		return;
	}
	printfloat(s, sp, conv, neg, 0, m, (be == 0 ? 1 : be) - 16383 - 63, 0, 0);
}
#endif

static void
format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(s, *fmt);
			continue;
		}

		const char *start = fmt++;
		struct spec sp = { 0, 0, 0, 0, 0, 0, -1 };

		for (;; fmt++) {
			if (*fmt == '-')
				sp.left = 1;
			else if (*fmt == '0')
				sp.zero = 1;
			else if (*fmt == '+')
				sp.plus = 1;
			else if (*fmt == ' ')
				sp.space = 1;
			else if (*fmt == '#')
				sp.alt = 1;
			else
				break;
		}

		if (*fmt == '*') {
			sp.width = va_arg(ap, int);
			if (sp.width < 0) {   // a negative width is a '-' flag
				sp.left = 1;
				sp.width = -sp.width;
			}
			fmt++;
		} else {
			for (; *fmt >= '0' && *fmt <= '9'; fmt++)
				sp.width = sp.width * 10 + (*fmt - '0');
		}

		if (*fmt == '.') {
			fmt++;
			if (*fmt == '*') {
				sp.prec = va_arg(ap, int);
				if (sp.prec < 0)   // a negative precision is none
					sp.prec = -1;
				fmt++;
			} else {
				sp.prec = 0;
				for (; *fmt >= '0' && *fmt <= '9'; fmt++)
					sp.prec = sp.prec * 10 + (*fmt - '0');
			}
		}

		int len = LEN_NONE;
		switch (*fmt) {
		case 'h':
			len = fmt[1] == 'h' ? LEN_HH : LEN_H;
			break;
		case 'l':
			len = fmt[1] == 'l' ? LEN_LL : LEN_L;
			break;
		case 'z':
			len = LEN_Z;
			break;
		case 'j':
			len = LEN_J;
			break;
		case 't':
			len = LEN_T;
			break;
#ifdef __SSE2__
		case 'L':
			len = LEN_BIGL;
			break;
#endif
		}
		if (len == LEN_HH || len == LEN_LL)
			fmt += 2;
		else if (len != LEN_NONE)
			fmt++;

		long long v;
		unsigned long long u;
		char c;
		const char *str;
		void *p;

		switch (*fmt) {
		case 'd':
		case 'i':
			switch (len) {
			case LEN_HH: v = (signed char)va_arg(ap, int); break;
			case LEN_H:  v = (short)va_arg(ap, int); break;
			case LEN_L:  v = va_arg(ap, long); break;
			case LEN_LL: v = va_arg(ap, long long); break;
			case LEN_Z:  v = va_arg(ap, long); break;   // ssize_t
			case LEN_J:  v = va_arg(ap, intmax_t); break;
			case LEN_T:  v = va_arg(ap, ptrdiff_t); break;
			default:     v = va_arg(ap, int); break;
			}
			// 0 - u, not -v: -LLONG_MIN overflows.
			u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
			printint(s, &sp, u, v < 0, 1, 10, 0);
			break;

		case 'u':
		case 'o':
		case 'x':
		case 'X':
			switch (len) {
			case LEN_HH: u = (unsigned char)va_arg(ap, unsigned int); break;
			case LEN_H:  u = (unsigned short)va_arg(ap, unsigned int); break;
			case LEN_L:  u = va_arg(ap, unsigned long); break;
			case LEN_LL: u = va_arg(ap, unsigned long long); break;
			case LEN_Z:  u = va_arg(ap, size_t); break;
			case LEN_J:  u = va_arg(ap, uintmax_t); break;
			case LEN_T:  u = va_arg(ap, unsigned long); break;  // unsigned ptrdiff_t
			default:     u = va_arg(ap, unsigned int); break;
			}
			printint(s, &sp, u, 0, 0,
			         *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16, *fmt == 'X');
			break;

		case 'c':
			c = (char)va_arg(ap, int);
			if (!sp.left)
				pad(s, ' ', sp.width - 1);
			put(s, c);
			if (sp.left)
				pad(s, ' ', sp.width - 1);
			break;

		case 's':
			str = va_arg(ap, const char *);
			// glibc prints "(null)", or nothing if the precision is too
			// short for it.
			if (str == NULL)
				str = sp.prec < 0 || sp.prec >= 6 ? "(null)" : "";
			printstr(s, &sp, str);
			break;

		case 'p':
			// glibc: "(nil)" for NULL, else like %#lx (flags still apply).
			p = va_arg(ap, void *);
			if (p == NULL) {
				sp.prec = -1;
				printstr(s, &sp, "(nil)");
			} else {
				sp.alt = 1;
				printint(s, &sp, (uintptr_t)p, 0, 1, 16, 0);
			}
			break;

		case '%':
			put(s, '%');
			break;

#ifdef __SSE2__
		case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
			if (len == LEN_BIGL && (*fmt | 0x20) == 'a')
				goto unknown;   // %La is not supported
			if (len == LEN_BIGL)
				printlongdouble(s, &sp, *fmt, va_arg(ap, long double));
			else
				printdouble(s, &sp, *fmt, va_arg(ap, double));
			break;
#endif

		default:
#ifdef __SSE2__
		unknown:
#endif
			// Unknown: echo the specification.  A lone '%' at the end
			// of the string must not step past the terminator.
			if (*fmt == '\0')
				fmt--;
			for (; start <= fmt; start++)
				put(s, *start);
			break;
		}
	}
}

int
vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { 0, buf, size, 0 };

	format(&s, fmt, ap);
	if (size > 0)
		buf[s.n < size ? s.n : size - 1] = '\0';
	return (int)s.n;
}

int
vsprintf(char *buf, const char *fmt, va_list ap)
{
	return vsnprintf(buf, SIZE_MAX, fmt, ap);
}

// The variadic front ends: each hands its arguments to its v* function.
#define VA_FORWARD(call)		\
	va_list ap;			\
	va_start(ap, fmt);		\
	int n = (call);			\
	va_end(ap);			\
	return n

int
snprintf(char *buf, size_t size, const char *fmt, ...)
{
	VA_FORWARD(vsnprintf(buf, size, fmt, ap));
}

int
sprintf(char *buf, const char *fmt, ...)
{
	VA_FORWARD(vsnprintf(buf, SIZE_MAX, fmt, ap));
}

int
vprintf(const char *fmt, va_list ap)
{
	struct sink s = { 1, NULL, 0, 0 };

	format(&s, fmt, ap);
	return (int)s.n;
}

// stdout and stderr are both the serial port.
int
vfprintf(FILE *f, const char *fmt, va_list ap)
{
	(void)f;
	return vprintf(fmt, ap);
}

int
printf(const char *fmt, ...)
{
	VA_FORWARD(vprintf(fmt, ap));
}

int
fprintf(FILE *f, const char *fmt, ...)
{
	VA_FORWARD(vfprintf(f, fmt, ap));
}
