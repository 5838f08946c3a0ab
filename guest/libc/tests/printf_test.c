// printf_test.c: the guest printf against glibc's, on the host.
//
// check.sh printf compiles ../printf.c with its entry points renamed to
// lvd_* and links it with this file, which is an ordinary Linux program.
// Every case formats the same arguments with both and compares the text and
// the return value.  Output: one line per mismatch, then a summary; the exit
// status is 1 if anything differed.

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int lvd_snprintf(char *buf, size_t size, const char *fmt, ...);
int lvd_sprintf(char *buf, const char *fmt, ...);
int lvd_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int lvd_printf(const char *fmt, ...);
int lvd_fprintf(void *f, const char *fmt, ...);

// The guest's printf writes to the serial console; here, to this buffer.
static char console[16384];
static size_t nconsole;

void
console_putc(int c)
{
	if (nconsole < sizeof console - 1)
		console[nconsole++] = (char)c;
}

void
console_write(const char *p, size_t n)
{
	while (n-- > 0)
		console_putc(*p++);
}

static int ncases, nfailed;

static void
check(int line, const char *what, const char *want, int wantn, const char *got, int gotn)
{
	ncases++;
	if (strcmp(want, got) == 0 && wantn == gotn)
		return;
	nfailed++;
	if (nfailed <= 400)
		printf("line %d: %s\n  glibc: [%s] = %d\n  guest: [%s] = %d\n",
		       line, what, want, wantn, got, gotn);
}

// One literal case, through snprintf, sprintf, printf and fprintf.
#define T(...) do { \
	static char want_[8192], got_[8192]; \
	int wn_ = snprintf(want_, sizeof want_, __VA_ARGS__); \
	int gn_ = lvd_snprintf(got_, sizeof got_, __VA_ARGS__); \
	check(__LINE__, #__VA_ARGS__, want_, wn_, got_, gn_); \
	gn_ = lvd_sprintf(got_, __VA_ARGS__); \
	check(__LINE__, "sprintf " #__VA_ARGS__, want_, wn_, got_, gn_); \
	nconsole = 0; \
	gn_ = lvd_printf(__VA_ARGS__); \
	console[nconsole] = '\0'; \
	check(__LINE__, "printf " #__VA_ARGS__, want_, wn_, console, gn_); \
	nconsole = 0; \
	gn_ = lvd_fprintf(NULL, __VA_ARGS__); \
	console[nconsole] = '\0'; \
	check(__LINE__, "fprintf " #__VA_ARGS__, want_, wn_, console, gn_); \
} while (0)

static void
literal_cases(void)
{
	T("plain text");
	T("%d %i %u %x %X %o", 1, -2, 3u, 0xabcu, 0xabcu, 8u);
	T("%d %d %d", 0, INT_MAX, INT_MIN);
	T("%u %x %o", UINT_MAX, UINT_MAX, UINT_MAX);
	T("%ld %lu %lx", LONG_MIN, ULONG_MAX, ULONG_MAX);
	T("%lld %llu %llX", LLONG_MIN, ULLONG_MAX, ULLONG_MAX);
	T("%zu %zd %zx", (size_t)-1, (ptrdiff_t)-5, (size_t)4096);
	T("%jd %ju %td %tu", (intmax_t)INT64_MIN, (uintmax_t)UINT64_MAX, (ptrdiff_t)-7, (ptrdiff_t)7);
	T("%hhd %hhu %hd %hu %hhx %hx", 300, 300, 70000, 70000, -1, -1);
	T("[%c][%3c][%-3c][%05c]", 'a', 'b', 'c', 'd');
	T("[%s][%10s][%-10s][%.2s][%10.2s][%-10.2s|]", "hey", "hey", "hey", "hey", "hey", "hey");
	T("[%s][%.3s][%.6s][%10s]", (char *)NULL, (char *)NULL, (char *)NULL, (char *)NULL);
	T("[%p][%p][%p][%20p][%-20p|][%.0p]", (void *)0, (void *)1, (void *)0x7fffffffdeadbeef,
	  (void *)0x1234, (void *)0x1234, (void *)0);
	T("[%+p][% p][%#p][%.10p][%018p][%5p][%-8p|]", (void *)16, (void *)16, (void *)16,
	  (void *)255, (void *)255, (void *)0, (void *)0);
	T("[%%][%5%][%-5%]");
	T("[%*d][%-*d][%.*d][%.*s][%*.*d]", -5, 1, 5, 2, -3, 4, 2, "hello", 6, 2, 9);
	T("[%*d][%.*d]", 8, -42, 0, 0);
	T("[%#o][%#.0o][%#5o][%#x][%#X][%#.0x][%#08x][%#.3x][%#-8x|]",
	  0u, 0u, 3u, 0u, 255u, 0u, 42u, 1u, 42u);
	T("[%+d][% d][%+ d][% +d][%+u][% u]", 5, 5, 5, 5, 5u, 5u);
	T("[%05d][%-05d][%0-5d][%05.3d][%.0d][%+.0d][% .0d][%5.0d]", -42, -42, -42, 7, 0, 0, 0, 0);
	T("[%y][%5y][%-5y][%k]");
	T("%s=%d, %s=%lu", "a", 1, "bb", 2ul);
	T("%c%c%c", 'x', 0x100 + 'y', -256 + 'z');
	T("[%50d][%-50u|][%050lld]", 1, 2u, -3ll);
}

// Where the guest differs from glibc on purpose: a lone '%' at the end is
// printed (glibc fails with -1; C leaves it undefined); %La is not supported
// and echoed like an unknown conversion.
static void
guest_only_cases(void)
{
	static const struct { const char *fmt, *want; } cases[] = {
		{ "trailing %", "trailing %" },
		{ "[%La]", "[%La]" },
	};
	char got[128];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int gn = lvd_snprintf(got, sizeof got, cases[i].fmt);
		check(__LINE__, cases[i].fmt, cases[i].want, (int)strlen(cases[i].want), got, gn);
	}
}

static const long long values[] = {
	0, 1, -1, 7, -7, 8, 42, 255, 256, -255, 4095, 65535, 65536,
	INT_MAX, INT_MIN, UINT_MAX, LLONG_MAX, LLONG_MIN, 0x123456789abcdefLL,
};

// Every combination of flags, width, precision, length and integer
// conversion, on each value above: runtime-built format strings.
static void
integer_matrix(void)
{
	static const char *flagsets[] = {
		"", "-", "0", "+", " ", "#", "-0", "-+", "- ", "-#", "0+", "0 ", "0#",
		"+ ", "+#", " #", "-0+", "-0#", "0+#", "0 #", "- #", "-0+ #",
	};
	static const char *widths[] = { "", "1", "5", "25" };
	static const char *precs[] = { "", ".", ".0", ".1", ".3", ".30" };
	static const char *lengths[] = { "hh", "h", "", "l", "ll", "z", "j", "t" };
	static const char convs[] = "diuoxX";
	char fmt[64], want[256], got[256];

	for (size_t f = 0; f < sizeof flagsets / sizeof flagsets[0]; f++)
	for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
	for (size_t p = 0; p < sizeof precs / sizeof precs[0]; p++)
	for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++)
	for (size_t c = 0; convs[c]; c++)
	for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
		int wide = lengths[l][0] != 'h' && lengths[l][0] != '\0';
		snprintf(fmt, sizeof fmt, "[%%%s%s%s%s%c]", flagsets[f], widths[w],
		         precs[p], lengths[l], convs[c]);
		int wn, gn;
		if (wide) {
			wn = snprintf(want, sizeof want, fmt, values[v]);
			gn = lvd_snprintf(got, sizeof got, fmt, values[v]);
		} else {
			wn = snprintf(want, sizeof want, fmt, (int)values[v]);
			gn = lvd_snprintf(got, sizeof got, fmt, (int)values[v]);
		}
		check(__LINE__, fmt, want, wn, got, gn);
	}
}

// Flags, width and precision on %c, %s and %p.
static void
other_matrix(void)
{
	static const char *flagsets[] = { "", "-", "0", "+", " ", "#", "-0", "0+", "-+ #" };
	static const char *widths[] = { "", "1", "4", "20" };
	static const char *precs[] = { "", ".", ".0", ".2", ".5", ".6", ".30" };
	static const char *strs[] = { "", "a", "hello", "hello, world", NULL };
	static void *ptrs[] = { NULL, (void *)1, (void *)0xdeadbeef, (void *)-1 };
	char fmt[64], want[256], got[256];
	int wn, gn;

	for (size_t f = 0; f < sizeof flagsets / sizeof flagsets[0]; f++)
	for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
	for (size_t p = 0; p < sizeof precs / sizeof precs[0]; p++) {
		snprintf(fmt, sizeof fmt, "[%%%s%s%sc]", flagsets[f], widths[w], precs[p]);
		wn = snprintf(want, sizeof want, fmt, 'q');
		gn = lvd_snprintf(got, sizeof got, fmt, 'q');
		check(__LINE__, fmt, want, wn, got, gn);

		snprintf(fmt, sizeof fmt, "[%%%s%s%ss]", flagsets[f], widths[w], precs[p]);
		for (size_t s = 0; s < sizeof strs / sizeof strs[0]; s++) {
			wn = snprintf(want, sizeof want, fmt, strs[s]);
			gn = lvd_snprintf(got, sizeof got, fmt, strs[s]);
			check(__LINE__, fmt, want, wn, got, gn);
		}

		snprintf(fmt, sizeof fmt, "[%%%s%s%sp]", flagsets[f], widths[w], precs[p]);
		for (size_t s = 0; s < sizeof ptrs / sizeof ptrs[0]; s++) {
			wn = snprintf(want, sizeof want, fmt, ptrs[s]);
			gn = lvd_snprintf(got, sizeof got, fmt, ptrs[s]);
			check(__LINE__, fmt, want, wn, got, gn);
		}
	}
}

static const double dvalues[] = {
	0.0, -0.0, 1.0, -1.0, 0.5, 0.25, 0.125, 1.5, 2.5, -2.5, 3.5, 0.05, 0.15, 0.35, 9.5, 99.5, 999.5,
	0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 3.14159265358979323846, 2.718281828459045, 1e-5, 1e-4, 9.9999e-5,
	123456.789, 999999.5, 9999999.0, 1e15, 1e16, 1e17, 123456789012345678.0, 1e21, 1e22, 1e100, 1e300,
	1.7976931348623157e308, 2.2250738585072014e-308, 4.9406564584124654e-324, 1e-310, 5e-324 * 3,
	0.000123456, 0.00999999, 0.0999999999, 0.95, 0.995, 0.9995, 0.99999999, 12.5, 1.25, 1.005,
	__builtin_inf(), -__builtin_inf(), __builtin_nan(""), -__builtin_nan(""),
};

static const long double lvalues[] = {
	0.0L, -0.0L, 1.0L, 0.1L, -2.5L, 3.14159265358979323846264338327950288L, 1e-4000L, 1e4000L,
	1.18973149535723176502e+4932L, 3.64519953188247460253e-4951L, 123456.789L, __builtin_infl(),
};

// Every combination of flags, width, precision and floating conversion on the
// values above (halfway cases, powers of ten, denormals, the extremes, infinities, NaNs).
static void
float_matrix(void)
{
	static const char *flagsets[] = { "", "-", "0", "+", " ", "#", "-0", "+0", "-+ #", "0#", " 0" };
	static const char *widths[] = { "", "1", "12", "30" };
	static const char *precs[] = { "", ".", ".0", ".1", ".2", ".3", ".6", ".10", ".17", ".20", ".60" };
	static const char convs[] = "feEgGaAF";
	static char fmt[64], want[2048], got[2048];

	for (size_t f = 0; f < sizeof flagsets / sizeof flagsets[0]; f++)
	for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
	for (size_t p = 0; p < sizeof precs / sizeof precs[0]; p++)
	for (size_t c = 0; convs[c]; c++) {
		snprintf(fmt, sizeof fmt, "[%%%s%s%s%c]", flagsets[f], widths[w], precs[p], convs[c]);
		for (size_t v = 0; v < sizeof dvalues / sizeof dvalues[0]; v++) {
			int wn = snprintf(want, sizeof want, fmt, dvalues[v]);
			int gn = lvd_snprintf(got, sizeof got, fmt, dvalues[v]);
			check(__LINE__, fmt, want, wn, got, gn);
		}
		if (convs[c] == 'a' || convs[c] == 'A')
			continue;
		snprintf(fmt, sizeof fmt, "[%%%s%s%sL%c]", flagsets[f], widths[w], precs[p], convs[c]);
		for (size_t v = 0; v < sizeof lvalues / sizeof lvalues[0]; v++) {
			int wn = snprintf(want, sizeof want, fmt, lvalues[v]);
			int gn = lvd_snprintf(got, sizeof got, fmt, lvalues[v]);
			check(__LINE__, fmt, want, wn, got, gn);
		}
	}
	// Every digit of the extremes.
	T("%.1100f", 4.9406564584124654e-324);
	T("%.330f|%f", 1.7976931348623157e308, 1e308);
	T("%.17g %.17g %.17g %a %a", 0.1, 1e-300, 123.456, 0.1, 1e-310);
	T("%Lf %.30Le %Lg", 1e100L, 1e-1000L, 0.1L);
}

// snprintf into every buffer size from 0 up: the same truncated text, the
// same terminator, the same return value, and nothing written past size.
static void
truncation(void)
{
	const char *fmt = "%s|%d|%-6x|%c";
	char want[64], got[64];

	for (size_t size = 0; size < 32; size++) {
		memset(want, '#', sizeof want);
		memset(got, '#', sizeof got);
		int wn = snprintf(want, size, fmt, "abcdef", -12345, 0xbeefu, 'z');
		int gn = lvd_snprintf(got, size, fmt, "abcdef", -12345, 0xbeefu, 'z');
		ncases++;
		if (memcmp(want, got, sizeof want) != 0 || wn != gn) {
			nfailed++;
			printf("truncation: size %zu differs (glibc %d, guest %d)\n", size, wn, gn);
		}
	}

	// snprintf(NULL, 0, ...) only measures.
	int wn = snprintf(NULL, 0, fmt, "abcdef", -12345, 0xbeefu, 'z');
	int gn = lvd_snprintf(NULL, 0, fmt, "abcdef", -12345, 0xbeefu, 'z');
	check(__LINE__, "snprintf(NULL, 0)", "", wn, "", gn);
}

static int
via_vsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = lvd_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int
main(void)
{
	char want[128], got[128];

	literal_cases();
	guest_only_cases();
	integer_matrix();
	other_matrix();
	float_matrix();
	truncation();

	int wn = snprintf(want, sizeof want, "%d-%s-%lx", 9, "v", 0xfffful);
	int gn = via_vsnprintf(got, sizeof got, "%d-%s-%lx", 9, "v", 0xfffful);
	check(__LINE__, "vsnprintf", want, wn, got, gn);

	printf("printf check: %d cases, %d mismatches\n", ncases, nfailed);
	return nfailed != 0;
}
