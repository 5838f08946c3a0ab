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

// smp_call_on (percpu.h): a function for another CPU, run by its T_CALL
// handler.  The caller waits with interrupts on (a call to it may come in
// meanwhile); one call at a time.
static volatile int call_busy, call_cpu = -1, call_done;
static void (*volatile call_fn)(void *);
static void *volatile call_arg;

void
smp_call_on(int cpu, void (*fn)(void *), void *arg)
{
	push_off();
	int self = mycpu()->id == cpu;
	if (self) {
		fn(arg);
		pop_off();
		return;
	}
	pop_off();
	while (__atomic_exchange_n(&call_busy, 1, __ATOMIC_SEQ_CST))
		__builtin_ia32_pause();
	call_fn = fn;
	call_arg = arg;
	call_done = 0;
	__atomic_store_n(&call_cpu, cpu, __ATOMIC_SEQ_CST);
	apic_ipi(cpu, T_CALL);
	while (!__atomic_load_n(&call_done, __ATOMIC_SEQ_CST))
		__builtin_ia32_pause();
	__atomic_store_n(&call_cpu, -1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&call_busy, 0, __ATOMIC_SEQ_CST);
}

void
smp_call_handle(void)
{
	if (__atomic_load_n(&call_cpu, __ATOMIC_SEQ_CST) != mycpu()->id || call_done)
		return;
	call_fn(call_arg);
	__atomic_store_n(&call_done, 1, __ATOMIC_SEQ_CST);
}
