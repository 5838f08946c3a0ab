// time.c: time, clock, sleep and usleep from the TSC (include/time.h).

#include <stdint.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

static uint64_t
rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

// Modeled cycles per second: the loader's; natively (tests/hostrun.c) an
// assumed 1 GHz, which only a host check ever sees.
static uint64_t
hz(void)
{
	uint64_t h = getauxval(AT_LVD_CLOCK_HZ);
	return h ? h : 1000000000;
}

time_t
time(time_t *t)
{
	time_t now = (time_t)(rdtsc() / hz());
	if (t)
		*t = now;
	return now;
}

clock_t
clock(void)
{
	return (clock_t)((unsigned __int128)rdtsc() * CLOCKS_PER_SEC / hz());
}

static void
wait_cycles(uint64_t n)
{
	uint64_t start = rdtsc();
	while (rdtsc() - start < n)
		__asm__ volatile("pause");
}

unsigned int
sleep(unsigned int seconds)
{
	wait_cycles((uint64_t)seconds * hz());
	return 0;
}

int
usleep(useconds_t usec)
{
	wait_cycles((uint64_t)((unsigned __int128)usec * hz() / 1000000));
	return 0;
}
