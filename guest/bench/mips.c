/*
 * mips.c: a CPU-bound mix for measuring emulator host speed (lvd bench mips).
 * Integer-only (built with -mgeneral-regs-only), deterministic, and the same
 * source runs natively, under qemu-x86_64 and on the emulator; the outputs
 * must match.  The mix: a sieve (loads/stores, branches), CRC-32 (shifts,
 * xor, table lookups), insertion sort (compares, moves), a small matrix
 * multiply (imul) and a division-heavy gcd loop.
 */
#include <stdio.h>
#include <string.h>

#ifndef SCALE
#define SCALE 40
#endif

static unsigned char sieve_buf[1 << 16];
static unsigned int crc_table[256];
static int sort_buf[2048];
static long mat_a[24][24], mat_b[24][24], mat_c[24][24];

static unsigned long rng = 88172645463325252UL;
static unsigned long next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int sieve(void)
{
	int count = 0;
	memset(sieve_buf, 1, sizeof(sieve_buf));
	for (unsigned i = 2; i < sizeof(sieve_buf); i++) {
		if (!sieve_buf[i])
			continue;
		count++;
		for (unsigned j = i * 2; j < sizeof(sieve_buf); j += i)
			sieve_buf[j] = 0;
	}
	return count;
}

static unsigned int crc32(const unsigned char *p, unsigned long n)
{
	unsigned int c = 0xffffffffu;
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static long sort_round(void)
{
	int n = sizeof(sort_buf) / sizeof(sort_buf[0]) / 4;
	for (int i = 0; i < n; i++)
		sort_buf[i] = (int)(next_rand() % 100000);
	for (int i = 1; i < n; i++) {
		int v = sort_buf[i], j = i - 1;
		while (j >= 0 && sort_buf[j] > v) {
			sort_buf[j + 1] = sort_buf[j];
			j--;
		}
		sort_buf[j + 1] = v;
	}
	long s = 0;
	for (int i = 0; i < n; i += 37)
		s += sort_buf[i];
	return s;
}

static long matmul(void)
{
	for (int i = 0; i < 24; i++)
		for (int j = 0; j < 24; j++) {
			mat_a[i][j] = (long)(next_rand() % 1000) - 500;
			mat_b[i][j] = (long)(next_rand() % 1000) - 500;
		}
	for (int i = 0; i < 24; i++)
		for (int j = 0; j < 24; j++) {
			long s = 0;
			for (int k = 0; k < 24; k++)
				s += mat_a[i][k] * mat_b[k][j];
			mat_c[i][j] = s;
		}
	return mat_c[3][7] + mat_c[23][0];
}

static unsigned long gcd_sum(void)
{
	unsigned long s = 0;
	for (int i = 0; i < 2000; i++) {
		unsigned long a = next_rand() % 1000000 + 1, b = next_rand() % 1000000 + 1;
		while (b) {
			unsigned long t = a % b;
			a = b;
			b = t;
		}
		s += a;
	}
	return s;
}

int main(void)
{
	for (unsigned i = 0; i < 256; i++) {
		unsigned int c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	unsigned long check = 0;
	for (int round = 0; round < SCALE; round++) {
		check += (unsigned long)sieve();
		check = check * 31 + crc32(sieve_buf, sizeof(sieve_buf));
		check = check * 31 + (unsigned long)sort_round();
		check = check * 31 + (unsigned long)matmul();
		check = check * 31 + gcd_sum();
	}
	printf("mips check %lx\n", check);
	return 0;
}
