// percpu.c: per-CPU data, reached through the GS base.
//
// Convention (the same as Linux's): in kernel mode GS_BASE holds &cpus[id]
// and KERNEL_GS_BASE holds the user's GS base; entry from user mode
// (vectors.S, later syscall) executes swapgs first and exit executes it
// last, so kernel code can always say %gs:0.  Kernel threads never run at
// CPL 3, so nothing swaps for them.

#include "kernel.h"
#include "percpu.h"
#include "x86.h"

struct cpu cpus[NCPU];
int ncpu = 1;

// vectors.S and swtch.S address these fields by number.
_Static_assert(offsetof(struct cpu, self) == 0, "gs:0");
_Static_assert(offsetof(struct cpu, kstack_top) == 8, "gs:8");
_Static_assert(offsetof(struct cpu, scratch) == 16, "gs:16");
_Static_assert(offsetof(struct cpu, cur) == 24, "gs:24");
_Static_assert(sizeof(struct trapframe) == 22 * 8, "trapframe");
_Static_assert(sizeof(struct tss) == 104, "tss");

void
percpu_init(int id)
{
	struct cpu *c = &cpus[id];

	c->self = c;
	c->id = id;
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
}
