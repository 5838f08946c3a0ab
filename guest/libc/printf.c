// printf.c: formatted output, one formatter behind the whole printf family.
//
// Conversions: d i u o x X c s p %, with flags - 0 + space #, width and
// precision (numbers or *), and length modifiers hh h l ll z j t.  The
// output matches glibc's for all of these (tests/check_printf.sh compares).
// Floating point (%f %e %g %a) cannot be supported: the guest has no SSE, so
// a double cannot even be passed.  Those and any other unknown conversion are
// echoed verbatim, as glibc does for conversions it does not know.

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

enum { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

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

		default:
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
