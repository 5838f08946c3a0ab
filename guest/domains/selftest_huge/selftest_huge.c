// selftest_huge: a driver whose .bss is larger than the domain memory the
// kernel has (docs/THREAT-MODEL.md, resources): the kernel must refuse to
// create it with a clear message, sized from its segments, and go on.
#include "lvd_driver.h"

static char huge[64UL << 20];

long
driver_init(unsigned int ncpu)
{
	huge[ncpu] = 1;
	return 0;
}

long
driver_call(struct lvd_msg *m)
{
	m->w[1] = (unsigned long)huge[m->w[1] & 1023];
	return 0;
}
