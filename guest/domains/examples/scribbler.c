// scribbler.c: a buggy driver that writes into the kernel's memory: the
// start of the kernel's data (physical 2 MiB, through the kernel's
// direct map).  In a domain that address is not mapped at all (LVD
// Invariant 1), so the write faults and the domain is killed; the kernel's
// memory is never touched.
#include "lvd_driver.h"

long
driver_init(unsigned int ncpu)
{
	return 0;
}

long
driver_call(struct lvd_msg *m)
{
	lvd_printf("scribbler: writing into kernel memory at 0xffff888000200000...\n");
	*(volatile unsigned long *)0xffff888000200000UL = 0xdeadbeef;
	lvd_printf("scribbler: the write went through (it must not)\n");
	return 0;
}
