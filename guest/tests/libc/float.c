// float.c: ordinary C with double and long double, printf's floating
// conversions, strtod/atof and the libm basics, against glibc: built natively
// (gcc -lm) and with lvd cc, the two outputs must be identical
// (tests/Lvd.Tests/GuestLibcTests.cs).  Exact results are printed exactly
// (%a, %.17g); the transcendental functions with 15 significant digits,
// which rounds away their last-ulp differences (math.c, docs in guest/libc).

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../xorshift.h"

static double values[] = {
	0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.2, 0.3, 1.0 / 3, 2.5, -2.5, 3.5, 1e-5, 123456.789, 1e15, 1e22,
	1e100, 1e300, 1.7976931348623157e308, 2.2250738585072014e-308, 4.9406564584124654e-324, 1e-310,
	3.14159265358979, 2.71828182845904, 0.999999999, 1.000000001, 7.0, 100.25, -0.75, 1e-9, 42.0,
};
#define N (int)(sizeof values / sizeof values[0])

static const char *strings[] = {
	"0", "1", "-1", "0.1", "1e10", "1e-10", "3.14159265358979323846", "2.2250738585072011e-308",
	"4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "1e-400", "1e400",
	"1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "0x1.8p3", "0x.1p-2",
	"-0x1.fffffffffffffp1023", "inf", "-Infinity", "nan", "nan(123)", "  +12.5e+2xyz", ".5", "5.", "e5", "-",
	"123456789012345678901234567890", "0.000000000000000000000000000001", "9007199254740993",
	"9007199254740992.5", "1.00000000000000011102230246251565404236316680908203125",
	"1.00000000000000011102230246251565404236316680908203124", "7.038531e-26", "123abc", "0x", "1e", "1e+",
};

int
main(void)
{
	// Ordinary arithmetic: a series, Newton's square root, a small matrix product, long double.
	double pi = 0;
	for (int k = 0; k < 100000; k++)
		pi += (k % 2 ? -4.0 : 4.0) / (2 * k + 1);
	printf("leibniz pi %.17g\n", pi);
	double r = 1;
	for (int i = 0; i < 10; i++)
		r = (r + 2 / r) / 2;
	printf("newton sqrt2 %.17g %a\n", r, r);
	double a[3][3], b[3][3], c[3][3];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			a[i][j] = values[i * 3 + j + 2];
			b[i][j] = values[(i + j) % N] + 0.5;
		}
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			c[i][j] = 0;
			for (int k = 0; k < 3; k++)
				c[i][j] += a[i][k] * b[k][j];
			printf("c%d%d %.17g\n", i, j, c[i][j]);
		}
	long double lsum = 0;
	for (int k = 1; k <= 1000; k++)
		lsum += 1.0L / ((long double)k * k);
	printf("basel long double %.20Lf %Le %.25Lg\n", lsum, lsum, lsum);
	float f = 1.0f / 3;
	printf("float %.10f %a %g\n", f, (double)f, (double)(f * 3));
	int i = (int)(values[13] * 1000);
	long long ll = (long long)-values[14];
	unsigned long long u = (unsigned long long)1e19;
	printf("conversions %d %lld %llu %.17g %.17g\n", i, ll, u, (double)ll, (double)u);

	for (int k = 0; k < N; k++) {
		double x = values[k];
		printf("%d: %f %e %g %a %.17g %.3f %10.2e %-12g| %+.0f\n", k, x, x, x, x, x, x, x, x, x);
		printf("  exact sqrt %a fabs %a floor %a ceil %a trunc %a round %a\n", sqrt(fabs(x)), fabs(x), floor(x), ceil(x),
		       trunc(x), round(x));
		int e;
		double ip, fr = frexp(x, &e), mf = modf(x, &ip);
		printf("  frexp %a %d modf %a %a ldexp %a fmod %a %a\n", fr, e, mf, ip, ldexp(x, 3), fmod(x, 0.75), fmod(x * 1e3, 7.0));
		if (fabs(x) < 1e5 && fabs(x) > 1e-300) {
			printf("  exp %.15g log %.15g log2 %.15g log10 %.15g pow %.15g %.15g\n", exp(x / 8), log(fabs(x)), log2(fabs(x)),
			       log10(fabs(x)), pow(fabs(x), 0.37), pow(x, 3));
			printf("  sin %.15g cos %.15g tan %.15g atan %.15g atan2 %.15g %.15g\n", sin(x), cos(x), tan(x), atan(x),
			       atan2(x, 2.5), atan2(-1, x));
			printf("  asin %.15g acos %.15g sinh %.15g cosh %.15g tanh %.15g hypot %.15g\n", asin(x / 1e6), acos(x / 1e6),
			       sinh(x / 100), cosh(x / 100), tanh(x), hypot(x, 3));
		}
	}
	printf("special pow %g %g %g %g %g %g\n", pow(0, -1), pow(-8, 1.0 / 3), pow(-2, 3), pow(2, -1074), pow(10, 308),
	       pow(1e10, 40));

	for (size_t k = 0; k < sizeof strings / sizeof strings[0]; k++) {
		char *end;
		double d = strtod(strings[k], &end);
		float fl = strtof(strings[k], NULL);
		printf("strtod \"%s\" = %a (%.17g) end +%d, strtof %a, atof %a\n", strings[k], d, d, (int)(end - strings[k]),
		       (double)fl, atof(strings[k]));
	}
	// Random decimal strings through strtod (halfway cases and long mantissas among them), random
	// doubles through printf and back.
	unsigned long long rng = 0x853c49e6748fea9bull;
	for (int k = 0; k < 1500; k++) {
		char str[80];
		int len = 0, nd = 1 + (int)(xorshift64(&rng) % 30);
		if (xorshift64(&rng) & 1)
			str[len++] = '-';
		for (int d = 0; d < nd; d++) {
			if (d == 1 && (xorshift64(&rng) & 1))
				str[len++] = '.';
			str[len++] = (char)('0' + xorshift64(&rng) % 10);
		}
		len += sprintf(str + len, "e%d", (int)(xorshift64(&rng) % 700) - 350);
		char *end;
		double d = strtod(str, &end);
		printf("r%d %s %a %d\n", k, str, d, (int)(end - str));
		union { unsigned long long u; double d; } v = { xorshift64(&rng) };
		if (v.d != v.d)
			continue;
		int prec = (int)(xorshift64(&rng) % 25);
		char out[400];
		snprintf(out, sizeof out, "%.*e", prec, v.d);
		printf("  %.17g %a %.*e %.*f %.*g -> %a\n", v.d, v.d, prec, v.d, prec % 8, v.d, prec, v.d, strtod(out, NULL));
	}

	char buf[64];
	int n = snprintf(buf, sizeof buf, "%.3f|%8.3e|%G", 2.0 / 3, 1234.5678, 1e-10);
	printf("snprintf %d [%s]\n", n, buf);
	return 0;
}
