/*
 * demo.c: the bundled sample program of `lvd demo`.  It shows that an
 * ordinary C program runs on the emulated machine and reads the machine's
 * modeled clock: RDTSC counts modeled cycles, not host time, so the numbers
 * below are the same on every run and every host.
 */
#include <stdio.h>

static inline unsigned long rdtsc(void)
{
	unsigned int lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((unsigned long)hi << 32) | lo;
}

static unsigned long collatz_steps(unsigned long n)
{
	unsigned long steps = 0;
	while (n != 1) {
		n = (n & 1) ? 3 * n + 1 : n / 2;
		steps++;
	}
	return steps;
}

int main(void)
{
	unsigned long t0 = rdtsc();
	unsigned long best = 0, arg = 0;
	for (unsigned long n = 1; n < 100000; n++) {
		unsigned long s = collatz_steps(n);
		if (s > best) {
			best = s;
			arg = n;
		}
	}
	unsigned long t1 = rdtsc();
	printf("longest Collatz chain below 100000: %lu (%lu steps)\n", arg, best);
	printf("computed in %lu modeled cycles (RDTSC)\n", t1 - t0);
	return 0;
}
