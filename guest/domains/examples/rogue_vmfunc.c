// rogue_vmfunc.c: a malicious driver that switches to the kernel's EPT
// itself (VMFUNC with ECX = 0) instead of going through the trampolines.
// It lands in the kernel's EPT at its own address, which the kernel's page
// tables do not map (Invariant 1): the next fetch faults and the domain is
// killed.
#include "lvd_driver.h"

long
driver_init(unsigned int ncpu)
{
	return 0;
}

long
driver_call(struct lvd_msg *m)
{
	__asm__ volatile("vmfunc" : : "a"(0), "c"(0) : "memory");
	return 0;
}
