// xorshift.h: the pseudo-random generator of the test programs that run the
// same cases on the host CPU and on the machine (insn/, seq/): Marsaglia's
// xorshift64 (shifts 13, 7, 17), so one seed makes one sequence everywhere.
#pragma once

static inline unsigned long long
xorshift64(unsigned long long *state)
{
	unsigned long long x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}
