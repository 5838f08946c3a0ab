// lvd_thread.h: the LVD runtime's per-thread state, which the core kernel
// carries in struct thread (percpu.h) without knowing the runtime: the
// scheduler hands it to the runtime's switch hooks (sched.c, lvd.c).  The
// only LVD header core includes; it declares no function.
#pragma once

#ifndef __ASSEMBLY__
#include <stdint.h>

struct lvd_domain;

struct lvd_thread {
	struct lvd_domain *domain;      // the domain this thread is in (depth > 0)
	int depth;                      // nesting of calls into it
	int stack_bit;                  // its domain stack (pool bit on its CPU)
	uint64_t kernel_rsp, domain_rsp, domain_if;   // saved state-page words while switched out
	uint64_t ticks;                 // timer ticks taken inside the domain in this call (the budget)
};

#endif
