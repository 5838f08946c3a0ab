// smp.c: starting the application processors (docs/BOOT.md).
//
// AP n's mailbox is at mailbox + 64*n: {entry, stack, arg}, all valid
// under the boot page tables.  The AP enters ap_start (entry.S) on its
// boot stack, loads the kernel's page tables and calls ap_main(n).  APs are
// started one at a time, each reporting in before the next is started, so
// the boot log is in order and a CPU that does not come up is named.

#include "kernel.h"
#include "percpu.h"
#include "x86.h"

#define APSTACK 16384

struct mailbox { volatile uint64_t entry, stack, arg; };

extern char ap_start[];
// Kernel-window addresses, mapped by the boot tables and ours alike.
static char ap_stacks[NCPU][APSTACK] __attribute__((aligned(16)));

// Called by every CPU, the BSP included: the per-CPU part of boot.
static void
cpu_setup(int id)
{
	struct cpu *c = &cpus[id];

	percpu_init(id);
	gdt_init(c);
	idt_load();
	syscall_init();
	apic_init();
	if (apic_id() != (uint32_t)id)
		panic("cpu %d has APIC ID %u", id, apic_id());
}

void
bsp_setup(void)
{
	cpu_setup(0);
	cpus[0].started = 1;
}

void
ap_main(uint64_t id)
{
	cpu_setup((int)id);
	printk("smp: cpu %lu up (apic id %u)\n", id, apic_id());
	__atomic_store_n(&cpus[id].started, 1, __ATOMIC_RELEASE);
	scheduler();
}

void
smp_start(void)
{
	ncpu = (int)bootinfo.cpu_count;
	for (int n = 1; n < ncpu; n++) {
		struct mailbox *mb = P2V(bootinfo.mailbox + 64 * (uint64_t)n);
		mb->entry = (uint64_t)ap_start;
		mb->stack = (uint64_t)&ap_stacks[n][APSTACK];
		mb->arg = (uint64_t)n;
		apic_init_sipi(n);
		// Wait for the AP, by the BSP's own timer: interrupts are on here.
		uint64_t t0 = ticks;
		while (!__atomic_load_n(&cpus[n].started, __ATOMIC_ACQUIRE)) {
			if (ticks - t0 > HZ)
				panic("smp: cpu %d did not start within 1 s", n);
			hlt();
		}
	}
	printk("smp: %d cpu(s) running\n", ncpu);
}
