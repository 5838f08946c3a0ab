// strtod.c: strtod, strtof, atof, correctly rounded (half to even), as glibc.
//
// The decimal digits D and exponent E give D * 10^E exactly as big integers;
// a quotient with 64+ significant bits and the sticky remainder are rounded
// once to the binary64 (or binary32) format, denormals and overflow included.
// Hex floats (0x1.8p3), inf, infinity, nan and nan(...) as glibc reads them.
// Not in the runtime built with -mgeneral-regs-only (no double there).

#ifdef __SSE2__
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define W 160            // 32-bit words: 800 digits (2658 bits) times 10^350
#define MAXDIGITS 800    // significant digits kept; beyond, only "non-zero" (sticky)

struct num {
	uint32_t w[W];
	int n;
};

static void
num_muladd(struct num *a, uint32_t k, uint32_t add)
{
	uint64_t carry = add;
	for (int i = 0; i < a->n; i++) {
		uint64_t t = (uint64_t)a->w[i] * k + carry;
		a->w[i] = (uint32_t)t;
		carry = t >> 32;
	}
	if (carry && a->n < W)
		a->w[a->n++] = (uint32_t)carry;
}

static int
num_bits(const struct num *a)
{
	if (a->n == 0)
		return 0;
	return 32 * (a->n - 1) + 32 - __builtin_clz(a->w[a->n - 1]);
}

static void
num_shl(struct num *a, int k)
{
	int words = k / 32, bits = k % 32;
	if (a->n == 0)
		return;
	int n = a->n + words + 1;
	if (n > W)
		n = W;
	for (int i = n - 1; i >= 0; i--) {
		uint64_t hi = i - words >= 0 && i - words < a->n ? a->w[i - words] : 0;
		uint64_t lo = i - words - 1 >= 0 && i - words - 1 < a->n ? a->w[i - words - 1] : 0;
		a->w[i] = bits == 0 ? (uint32_t)hi : (uint32_t)(hi << bits | lo >> (32 - bits));
	}
	a->n = n;
	while (a->n > 0 && a->w[a->n - 1] == 0)
		a->n--;
}

static int
num_cmp(const struct num *a, const struct num *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (int i = a->n - 1; i >= 0; i--)
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	return 0;
}

static void
num_sub(struct num *a, const struct num *b)
{
	int64_t borrow = 0;
	for (int i = 0; i < a->n; i++) {
		int64_t t = (int64_t)a->w[i] - (i < b->n ? b->w[i] : 0) - borrow;
		borrow = t < 0;
		a->w[i] = (uint32_t)t;
	}
	while (a->n > 0 && a->w[a->n - 1] == 0)
		a->n--;
}

// (-1)^neg * q * 2^e2 (+ a sticky fraction below q's last bit), rounded half
// to even to a format of p significand bits and minimum exponent emin
// (binary64: 53, -1022; binary32: 24, -126), as the bits of that format.
static uint64_t
round_bits(uint64_t q, int e2, int sticky, int p, int emin, int emax, int *range)
{
	int len = 64 - __builtin_clzll(q);
	int lead = e2 + len - 1;
	int quantum = (lead < emin ? emin : lead) - (p - 1);
	int shift = quantum - e2;
	uint64_t m;
	if (shift <= 0) {
		m = q << -shift;
	} else if (shift >= 64) {
		sticky |= q != 0;
		m = 0;
	} else {
		uint64_t rem = q & ((1ULL << shift) - 1), halfv = 1ULL << (shift - 1);
		m = q >> shift;
		if (rem > halfv || (rem == halfv && (sticky || (m & 1))))
			m++;
		sticky |= rem != 0;
	}
	if (shift == 64 && (q >> 63) && ((q << 1) || sticky))
		m = 1;   // just above half the smallest denormal
	if (m >> p) {
		m >>= 1;
		quantum++;
	}
	int fracbits = p - 1;
	if (m == 0) {
		*range = 1;
		return 0;
	}
	int biased = (m >> fracbits) ? quantum + fracbits - emin + 1 : 0;
	if (biased == 0 && sticky)
		*range = 1;   // underflow
	if (quantum + fracbits > emax) {
		*range = 1;
		return (uint64_t)(emax - emin + 2) << fracbits;   // infinity
	}
	return (uint64_t)biased << fracbits | (m & ((1ULL << fracbits) - 1));
}

static int
match(const char *s, const char *word)
{
	int i = 0;
	for (; word[i]; i++)
		if (tolower((unsigned char)s[i]) != word[i])
			return 0;
	return i;
}

// An exponent at s ("e" or "p" = marker, either case, an optional sign, digits; saturated far past
// any format's range): added to *exp, *end moved past it.  Without a digit it is not part of
// the number and nothing changes.
static void
read_exponent(const char *s, char marker, int *exp, const char **end)
{
	if (tolower((unsigned char)*s) != marker)
		return;
	const char *t = s + 1;
	int eneg = 0;
	long x = 0;
	if (*t == '+' || *t == '-')
		eneg = *t++ == '-';
	if (!isdigit((unsigned char)*t))
		return;
	while (isdigit((unsigned char)*t)) {
		if (x < 100000)
			x = x * 10 + (*t - '0');
		t++;
	}
	*exp += (int)(eneg ? -x : x);
	*end = t;
}

// The value's bits in the format (p, emin, emax) and its sign; *end past the number.
static uint64_t
parse(const char *s, const char **end, int p, int emin, int emax, int *neg)
{
	static struct num a, b;
	const char *start = s;
	int range = 0;
	uint64_t inf = (uint64_t)(emax - emin + 2) << (p - 1);

	*neg = 0;
	*end = start;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-')
		*neg = *s++ == '-';
	int k;
	if ((k = match(s, "infinity")) || (k = match(s, "inf"))) {
		*end = s + k;
		return inf;
	}
	if ((k = match(s, "nan"))) {
		s += k;
		if (*s == '(') {
			const char *t = s + 1;
			while (isalnum((unsigned char)*t) || *t == '_')
				t++;
			if (*t == ')')
				s = t + 1;
		}
		*end = s;
		return inf | 1ULL << (p - 2);
	}

	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
	    (isxdigit((unsigned char)s[2]) || (s[2] == '.' && isxdigit((unsigned char)s[3])));
	if (hex) {
		s += 2;
		uint64_t q = 0;
		int e2 = 0, sticky = 0, any = 0;
		for (int dot = 0;; s++) {
			int d;
			if (*s == '.' && !dot) { dot = 1; continue; }
			if (!isxdigit((unsigned char)*s))
				break;
			d = isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10);
			any = 1;
			if (q >> 60)
				sticky |= d != 0, e2 += dot ? 0 : 4;
			else
				q = q << 4 | (uint64_t)d, e2 -= dot ? 4 : 0;
		}
		(void)any;
		*end = s;
		read_exponent(s, 'p', &e2, end);
		if (q == 0)
			return 0;
		uint64_t r = round_bits(q, e2, sticky, p, emin, emax, &range);
		if (range)
			errno = ERANGE;
		return r;
	}

	// Decimal: up to MAXDIGITS significant digits into a, the rest as sticky.
	a.n = 0;
	int nd = 0, dexp = 0, sticky = 0, digits = 0;
	for (int dot = 0;; s++) {
		if (*s == '.' && !dot) { dot = 1; continue; }
		if (!isdigit((unsigned char)*s))
			break;
		digits++;
		int d = *s - '0';
		if (nd == 0 && d == 0) {
			if (dot)
				dexp--;
			continue;
		}
		if (nd < MAXDIGITS) {
			num_muladd(&a, 10, (uint32_t)d);
			nd++;
			if (dot)
				dexp--;
		} else {
			sticky |= d != 0;
			if (!dot)
				dexp++;
		}
	}
	if (digits == 0) {
		*neg = 0;   // no number: +0, *end stays at the start
		return 0;
	}
	*end = s;
	read_exponent(s, 'e', &dexp, end);
	if (nd == 0)
		return 0;
	if (nd + dexp > 340) {
		errno = ERANGE;
		return inf;
	}
	if (nd + dexp < -360) {
		errno = ERANGE;
		return 0;
	}
	uint64_t q;
	int e2;
	if (dexp >= 0) {
		for (int i = 0; i < dexp; i++)
			num_muladd(&a, 10, 0);
		int bits = num_bits(&a);
		// The top 64 bits, the rest sticky.
		int sh = bits > 64 ? bits - 64 : 0;
		q = 0;
		for (int i = 0; i < 64 && sh + i < bits; i++) {
			int bit = sh + i;
			q |= (uint64_t)(a.w[bit / 32] >> (bit % 32) & 1) << i;
		}
		for (int bit = 0; bit < sh && !sticky; bit++)
			sticky = a.w[bit / 32] >> (bit % 32) & 1;
		e2 = sh;
	} else {
		// q = floor(a * 2^k / 10^-dexp) with 64 bits; the remainder is sticky.
		b.n = 1;
		b.w[0] = 1;
		for (int i = 0; i < -dexp; i++)
			num_muladd(&b, 10, 0);
		int k = 64 + num_bits(&b) - num_bits(&a);
		if (k > 0)
			num_shl(&a, k);
		else
			num_shl(&b, -k);
		// a / b is in [2^63, 2^65): long division, one quotient bit at a time.
		static struct num t;
		q = 0;
		int top = 0;
		for (int bit = 64; bit >= 0; bit--) {
			t = b;
			num_shl(&t, bit);
			if (num_cmp(&a, &t) >= 0) {
				num_sub(&a, &t);
				if (bit == 64)
					top = 1;
				else
					q |= 1ULL << bit;
			}
		}
		e2 = -k;
		if (top) {   // 65 bits: keep the top 64
			sticky |= q & 1;
			q = q >> 1 | 1ULL << 63;
			e2++;
		}
		sticky |= a.n != 0;
	}
	uint64_t r = round_bits(q, e2, sticky, p, emin, emax, &range);
	if (range)
		errno = ERANGE;
	return r;
}

double
strtod(const char *s, char **end)
{
	const char *e;
	int neg;
	uint64_t bits = parse(s, &e, 53, -1022, 1023, &neg);
	if (end)
		*end = (char *)e;
	union { uint64_t u; double d; } v = { bits | (uint64_t)neg << 63 };
	return v.d;
}

float
strtof(const char *s, char **end)
{
	const char *e;
	int neg;
	uint64_t bits = parse(s, &e, 24, -126, 127, &neg);
	if (end)
		*end = (char *)e;
	union { uint32_t u; float f; } v = { (uint32_t)bits | (uint32_t)neg << 31 };
	return v.f;
}

double
atof(const char *s)
{
	return strtod(s, NULL);
}
#endif
