// stdlib.c: integer arithmetic and string-to-integer conversion.
//
// long and long long are both 64 bits (LP64), so the long functions are the
// long long ones under another name.

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

int abs(int x)                { return x < 0 ? -x : x; }
long labs(long x)             { return x < 0 ? -x : x; }
long long llabs(long long x)  { return x < 0 ? -x : x; }

static int
digitval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

// The common part of the strto* functions: skip space, read a sign and a
// magnitude in base (0 = C syntax: 0x hex, 0 octal, else decimal).  The
// magnitude saturates at ULLONG_MAX with *overflow set; *neg reports a '-'.
// With no digits, *end is s itself and the result 0, as C requires.
static unsigned long long
parse(const char *s, char **end, int base, int *neg, int *overflow)
{
	const char *p = s;
	unsigned long long acc = 0;
	int any = 0;

	*neg = 0;
	*overflow = 0;
	if (base < 0 || base == 1 || base > 36) {
		errno = EINVAL;
		if (end)
			*end = (char *)s;
		return 0;
	}

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '+' || *p == '-')
		*neg = *p++ == '-';

	// "0x" counts as a prefix only if a hex digit follows; otherwise the
	// number is just the "0".
	if ((base == 0 || base == 16) && p[0] == '0' &&
	    (p[1] == 'x' || p[1] == 'X') && digitval(p[2]) < 16) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = p[0] == '0' ? 8 : 10;
	}

	for (int d; (d = digitval(*p)) < base; p++) {
		any = 1;
		if (acc > (ULLONG_MAX - d) / base)
			*overflow = 1;
		else
			acc = acc * base + d;
	}

	if (end)
		*end = (char *)(any ? p : s);
	return *overflow ? ULLONG_MAX : acc;
}

long long
strtoll(const char *s, char **end, int base)
{
	int neg, overflow;
	unsigned long long u = parse(s, end, base, &neg, &overflow);
	// The most negative value's magnitude is one more than LLONG_MAX.
	unsigned long long limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;

	if (overflow || u > limit) {
		errno = ERANGE;
		return neg ? LLONG_MIN : LLONG_MAX;
	}
	return neg ? (long long)(0 - u) : (long long)u;
}

// Unsigned conversions accept a '-' and negate in unsigned arithmetic:
// strtoull("-1") is ULLONG_MAX.  That is the standard, not a bug.
unsigned long long
strtoull(const char *s, char **end, int base)
{
	int neg, overflow;
	unsigned long long u = parse(s, end, base, &neg, &overflow);

	if (overflow) {
		errno = ERANGE;
		return ULLONG_MAX;
	}
	return neg ? 0 - u : u;
}

long
strtol(const char *s, char **end, int base)
{
	return strtoll(s, end, base);
}

unsigned long
strtoul(const char *s, char **end, int base)
{
	return strtoull(s, end, base);
}

int
atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

long
atol(const char *s)
{
	return strtol(s, NULL, 10);
}

long long
atoll(const char *s)
{
	return strtoll(s, NULL, 10);
}
