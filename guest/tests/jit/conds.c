/*
 * conds.c: every condition code after CMP, TEST, SUB, AND, ADD and shifts, on 8-, 16-, 32- and 64-bit operands, over
 * boundary values, in hot loops (tests/Lvd.Tests/JitTests.cs: compiled regions compute conditions from the flags'
 * producer; the same source runs on the host CPU, and the outputs must match).  gcc turns the comparisons into
 * CMP/TEST + Jcc, SETcc and CMOVcc; the switch and the calls through a table are indirect JMP and CALL in the loop.
 */
#include <stdio.h>

#define N 14
static const unsigned long long vals[N] = {
	0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000u, 0xffffffffu,
	0x7fffffffffffffffull, 0x8000000000000000ull,
};

static unsigned long long mix(unsigned long long h, unsigned long long v)
{
	return (h ^ v) * 0x100000001b3ull;
}

static unsigned long long f0(unsigned long long v) { return v * 3; }
static unsigned long long f1(unsigned long long v) { return v ^ (v >> 7); }
static unsigned long long f2(unsigned long long v) { return v + 0x9e3779b97f4a7c15ull; }
static unsigned long long f3(unsigned long long v) { return ~v; }
static unsigned long long (*const volatile fns[4])(unsigned long long) = {f0, f1, f2, f3};

static __attribute__((noinline)) unsigned long long pick(unsigned k, unsigned long long v)
{
	switch (k % 7) {
	case 0: return v + 1;
	case 1: return v << 3;
	case 2: return v >> 5;
	case 3: return v * 7;
	case 4: return v ^ 0x5555;
	case 5: return v - 9;
	default: return v | 0x80;
	}
}

/* The ten relations of C on one type, as branches and as 0/1 values (SETcc/CMOVcc). */
#define RELATIONS(T, a, b, h)                                                              \
	do {                                                                               \
		T x = (T)(a), y = (T)(b);                                                  \
		unsigned long long r = 0;                                                  \
		if (x < y) r |= 1;                                                         \
		if (x <= y) r |= 2;                                                        \
		if (x > y) r |= 4;                                                         \
		if (x >= y) r |= 8;                                                        \
		if (x == y) r |= 16;                                                       \
		if (x != y) r |= 32;                                                       \
		r += (unsigned long long)(x < y) << 6;                                     \
		r += (unsigned long long)(x >= y) << 8;                                    \
		r += (unsigned long long)((x & y) == 0) << 10;                             \
		r += (unsigned long long)((T)(x & y) < 0) << 12;                           \
		r += (unsigned long long)((T)((unsigned long long)x - (unsigned long long)y) < 0) << 14;                           \
		r += (unsigned long long)((T)((unsigned long long)x + (unsigned long long)y) == 0) << 16;                          \
		r += (unsigned long long)((T)((unsigned long long)x + (unsigned long long)y) < x) << 18;                        \
		r += (unsigned long long)((T)(x >> 3) < 0) << 20;                          \
		r += (unsigned long long)((T)((unsigned long long)x << 1) == 0) << 22;                         \
		T m = x < y ? x : y, M = x > y ? x : y;                                    \
		h = mix(h, r);                                                             \
		h = mix(h, (unsigned long long)m);                                         \
		h = mix(h, (unsigned long long)M);                                         \
	} while (0)

int main(void)
{
	unsigned long long h[8] = {0};
	for (int round = 0; round < 40; round++)
		for (int i = 0; i < N; i++)
			for (int j = 0; j < N; j++) {
				unsigned long long a = vals[i] + (unsigned long long)round * (round & 1 ? 1 : -1);
				unsigned long long b = vals[j] - (unsigned long long)(round >> 1);
				RELATIONS(unsigned char, a, b, h[0]);
				RELATIONS(signed char, a, b, h[1]);
				RELATIONS(unsigned short, a, b, h[2]);
				RELATIONS(short, a, b, h[3]);
				RELATIONS(unsigned int, a, b, h[4]);
				RELATIONS(int, a, b, h[5]);
				RELATIONS(unsigned long long, a, b, h[6]);
				RELATIONS(long long, a, b, h[7]);
				h[(i + j) & 7] = mix(h[(i + j) & 7], fns[(i + j + round) & 3](a) + pick((unsigned)(i * N + j + round), b));
			}
	static const char *const names[8] = {"u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64"};
	for (int t = 0; t < 8; t++) printf("%s %016llx\n", names[t], h[t]);
	return 0;
}
