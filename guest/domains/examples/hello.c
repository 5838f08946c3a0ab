// hello.c: the smallest well-behaved driver.
#include "lvd_driver.h"

long
driver_init(unsigned int ncpu)
{
	lvd_printf("hello: running isolated on %u cpus, heap of %lu KiB at %#lx\n", ncpu,
		   lvd_info->heap_size >> 10, lvd_info->heap);
	return 0;
}

long
driver_call(struct lvd_msg *m)
{
	int *p = lvd_malloc(sizeof *p);
	*p = 42;
	m->w[1] = (unsigned long)*p;
	return 42;
}
