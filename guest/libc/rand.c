// rand.c: rand and srand with glibc's generator (its TYPE_3 additive
// feedback generator, r[i] = r[i-3] + r[i-31]), so that a program prints the
// same "random" numbers on the machine as natively: differential runs of
// programs nobody here wrote depend on it.  Without srand, as if srand(1).

#include <stdint.h>
#include <stdlib.h>

#define DEG 31
#define SEP 3

static int32_t state[DEG];
static int front = SEP, rear;   // glibc's fptr and rptr, as indexes
static int seeded;

static int32_t
next(void)
{
	uint32_t v = (uint32_t)state[front] + (uint32_t)state[rear];
	state[front] = (int32_t)v;
	front = front + 1 == DEG ? 0 : front + 1;
	rear = rear + 1 == DEG ? 0 : rear + 1;
	return (int32_t)(v >> 1);
}

void
srand(unsigned int seed)
{
	// The seed spread over the state by the minimal standard generator
	// (16807 * x mod 2^31 - 1, Schrage's method), then 310 outputs dropped.
	// The word is 32-bit signed, as glibc's: a seed above INT_MAX starts negative.
	int32_t word = seed == 0 ? 1 : (int32_t)seed;
	state[0] = word;
	for (int i = 1; i < DEG; i++) {
		long hi = word / 127773, lo = word % 127773;
		word = (int32_t)(16807 * lo - 2836 * hi);
		if (word < 0)
			word += 2147483647;
		state[i] = word;
	}
	front = SEP;
	rear = 0;
	for (int i = 0; i < 10 * DEG; i++)
		next();
	seeded = 1;
}

int
rand(void)
{
	if (!seeded)
		srand(1);
	return next();
}
