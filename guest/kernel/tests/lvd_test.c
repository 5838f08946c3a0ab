// lvd_test.c: the LVD boot self test (docs/DOMAINS.md, "Isolation tests"),
// run under the hypervisor when the "selftest" boot module is present
// (`lvd boot --lvd-selftest`: the word lvdtest on the command line).  Every step goes through the
// real trampolines: calls, replies, nesting, all CPUs at once, interrupts
// inside the domain, then one misbehaviour per fresh domain, each of which
// must end with the domain killed (or the call rejected) and the kernel
// unchanged and running.

#include <lvd/hypercall.h>
#include "kernel.h"
#include "lvd.h"
#include "percpu.h"
#include "x86.h"
#include <lvd/selftest.h>

// A page of kernel data no attack may change: hashed by the hypervisor
// before and after, with the kernel's text and rodata.
static volatile uint64_t canary_page[512] __attribute__((aligned(4096)));
#define canary canary_page[0]
#define CANARY 0x1234567890abcdefUL

static long
call1(struct lvd_domain *d, unsigned int fn, uint64_t a, uint64_t *out)
{
	struct lvd_msg m = { { lvd_msg_word0(fn, 0), a } };
	int r = lvd_call(d, &m);
	if (out)
		*out = m.w[1];
	return r != 0 ? r : (long)m.w[0];
}

// The hypervisor's FNV-1a (HASH_MEMORY) over the kernel's text and rodata
// and over the canary page: what no contained attack may change, computed
// where no guest code can fake it.
static uint64_t
kernel_hash(void)
{
	extern char __kernel_start[], __rodata_end[];
	struct lvd_hc_result a = lvd_hypercall(LVD_HC_HASH_MEMORY, KV2P(__kernel_start),
					       (uint64_t)(__rodata_end - __kernel_start), 0, 0, 0);
	struct lvd_hc_result b = lvd_hypercall(LVD_HC_HASH_MEMORY, KV2P(canary_page), PGSIZE, 0, 0, 0);
	if (a.status != 0 || b.status != 0)
		panic("lvdtest: HASH_MEMORY failed (%ld, %ld)", a.status, b.status);
	return a.value ^ (b.value * 31);
}

// The selftest domain's kernel service: sum a range of the shared pool, once
// the range is checked (ST_POOLIDX hands it corrupt ones).
static int
st_upcall(struct lvd_domain *d, struct lvd_msg *m)
{
	if (lvd_msg_fn(m) != ST_KFN_POOL_SUM)
		return -LVD_ENOSYS;
	uint64_t off = m->w[1], len = m->w[2];
	if (off >= pktpool.size || len > pktpool.size - off)
		return -LVD_EINVAL;
	uint64_t sum = 0;
	for (uint64_t i = 0; i < len; i++)
		sum += pktpool.va[off + i];
	m->w[1] = sum;
	return 0;
}

static struct lvd_domain *d_conc;
static volatile int conc_done, conc_bad;
extern char lvd_return_vmfunc[];   // lvd_tramp.S

static void
conc_thread(void *arg)
{
	for (uint64_t i = 0; i < 200; i++) {
		uint64_t out;
		if (call1(d_conc, LVD_FN_PING, i, &out) != 0 || out != i + 1)
			__atomic_add_fetch(&conc_bad, 1, __ATOMIC_SEQ_CST);
	}
	// A long call with interrupts on: timer interrupts arrive inside the
	// domain and preempt this thread there (two such threads per CPU); it
	// must resume on its own domain stack.
	struct lvd_msg m = { { lvd_msg_word0(ST_SPIN, 0), 3000000 } };
	int r = lvd_call(d_conc, &m);
	if (r != 0 || m.w[0] != 0 || m.w[1] != m.w[2] || m.w[1] < LVD_DOMAIN_STACKS || m.w[1] >= LVD_DOMAIN_POOL) {
		printk("lvdtest: cpu %d: spin call %d/%ld, stack %#lx then %#lx\n", mycpu()->id, r, (long)m.w[0], m.w[1], m.w[2]);
		__atomic_add_fetch(&conc_bad, 1, __ATOMIC_SEQ_CST);
	}
	__atomic_add_fetch(&conc_done, 1, __ATOMIC_SEQ_CST);
}

struct attack {
	const char *name;
	unsigned int fn;
	uint64_t arg;
	int irq_off;      // call with interrupts off
	int expect_kill;  // else: the call returns an error
	int pool;         // the domain shares the packet pool (and has the kernel service)
};

void
lvd_selftest(void)
{
	if (cmdline_option("lvdtest") == NULL)
		return;
	if (!lvd_enabled || boot_module("selftest") == NULL)
		panic("lvdtest: needs the hypervisor and the selftest boot module");
	for (int i = 0; i < 512; i++)
		canary_page[i] = CANARY ^ (uint64_t)i;
	uint64_t hash0 = kernel_hash();
	struct lvd_domain *d = lvd_domain_create("selftest", 0, 0, NULL);
	if (d == NULL)
		panic("lvdtest: cannot create the selftest domain");

	uint64_t out;
	if (call1(d, LVD_FN_PING, 41, &out) != 0 || out != 42)
		panic("lvdtest: ping: %lu", out);
	// Table 1: call/reply round trip, with interrupts off so that nothing
	// but the crossing is timed.
	enum { N = 2000 };
	push_off();
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < N; i++)
		call1(d, LVD_FN_PING, i, NULL);
	uint64_t t1 = rdtsc();
	pop_off();
	printk("lvdtest: call/reply round trip %lu cycles (mean of %d, kernel -> domain -> kernel)\n",
	       (t1 - t0) / N, N);
	if (call1(d, LVD_FN_NEST, 5, &out) != 0 || out != 10)
		panic("lvdtest: nested calls: %lu", out);
	printk("lvdtest: nested calls kernel -> domain -> kernel ... depth 5 ok\n");

	// The same domain on every CPU at once, with interrupts inside it.
	d_conc = d;
	uint64_t irq0 = d->interrupts;
	uint64_t pre0 = lvd_preempted_inside;
	for (int c = 0; c < ncpu; c++) {
		thread_create("lvd-conc", conc_thread, NULL, c);
		thread_create("lvd-conc", conc_thread, NULL, c);
	}
	while (conc_done != 2 * ncpu)
		sleep_ticks(1);
	if (conc_bad)
		panic("lvdtest: %d concurrent calls failed", conc_bad);
	if (d->interrupts == irq0)
		panic("lvdtest: no interrupt arrived inside the domain");
	if (lvd_preempted_inside == pre0)
		panic("lvdtest: no thread was preempted inside the domain");
	printk("lvdtest: %d threads on %d cpus in the domain at once: ok; %lu interrupts taken inside it, exitless; "
	       "%lu preemptions inside it, each call resumed on its own domain stack\n",
	       2 * ncpu, ncpu, d->interrupts - irq0, lvd_preempted_inside - pre0);

	int other = ncpu > 1 ? 1 : 0;
	struct attack attacks[] = {
		{ "write kernel memory", ST_WRITE, (uint64_t)&canary, 0, 1, 0 },
		{ "read kernel memory", ST_READ, (uint64_t)&canary, 0, 1, 0 },
		{ "jump into kernel code", ST_JUMP, (uint64_t)panic, 0, 1, 0 },
		{ "VMFUNC to the kernel EPT", ST_VMFUNC, 0, 0, 1, 0 },
		{ "VMFUNC to an unused slot", ST_VMFUNC, 2, 0, 1, 0 },
		{ "VMFUNC to slot 511", ST_VMFUNC, 511, 0, 1, 0 },
		{ "VMFUNC with ECX >= 512", ST_VMFUNC, 4096, 0, 1, 0 },
		{ "int3", ST_INT, 3, 0, 1, 0 },
		{ "int $0x80", ST_INT, 0x80, 0, 1, 0 },
		{ "sti inside a call made with interrupts off", ST_STI, 3000000, 1, 1, 0 },
		{ "cli plus an endless loop", ST_CLI_LOOP, 0, 0, 1, 0 },
		{ "wrmsr GS_BASE", ST_WRMSR, 0, 0, 1, 0 },
		{ "mov to cr3", ST_MOVCR3, 0x1000, 0, 1, 0 },
		{ "lidt", ST_LIDT, 0, 0, 1, 0 },
		{ "out to a port", ST_OUT, 0, 0, 1, 0 },
		{ "hlt", ST_HLT, 0, 0, 1, 0 },
		{ "write another cpu's IST", ST_WRITE, (uint64_t)cpus[other].ist[IST_IRQ - 1] + 64, 0, ncpu > 1, 0 },
		{ "exhaust the domain stack", ST_STACK, 0, 0, 1, 0 },
		{ "swapgs", ST_SWAPGS, 0, 0, 1, 0 },
		{ "ud2", ST_UD2, 0, 0, 1, 0 },
		{ "garbage reply", ST_GARBAGE, 0, 0, 0, 0 },
		{ "VMFUNC with a tampered ECX inside the return trampoline", ST_TAMPER, (uint64_t)lvd_return_vmfunc, 0, 1, 0 },
		{ "corrupt index into the shared packet pool", ST_POOLIDX, ~0UL - 8, 0, 0, 1 },
		{ "pool index running past its end", ST_POOLIDX, pktpool.size - 32, 0, 0, 1 },
	};
	int contained = 0, n = (int)(sizeof attacks / sizeof attacks[0]);
	for (int i = 0; i < n; i++) {
		struct attack *a = &attacks[i];
		if (a->fn == ST_WRITE && a->arg == (uint64_t)cpus[other].ist[IST_IRQ - 1] + 64 && ncpu == 1)
			continue;
		struct lvd_domain *v = a->pool ? lvd_domain_create("selftest", pktpool.pa, pktpool.size, st_upcall)
					       : lvd_domain_create("selftest", 0, 0, NULL);
		if (v == NULL)
			panic("lvdtest: cannot create a domain for '%s'", a->name);
		if (a->irq_off)
			push_off();
		long r = call1(v, a->fn, a->arg, NULL);
		if (a->irq_off) {
			// Interrupts stay off in the kernel: wait for a tick inside
			// the domain's loop (the domain's sti let it in).
			pop_off();
		}
		int killed = v->dead;
		int ok = a->expect_kill ? (killed && r == -LVD_EDEAD) : (!killed && r < 0);
		if (!ok)
			panic("lvdtest: '%s': killed=%d result=%ld (expected %s)", a->name, killed, r,
			      a->expect_kill ? "killed" : "an error");
		if (killed && call1(v, LVD_FN_PING, 1, NULL) != -LVD_EDEAD)
			panic("lvdtest: '%s': a dead domain answered", a->name);
		if (canary != CANARY)
			panic("lvdtest: '%s': kernel memory changed", a->name);
		printk("lvdtest: %-44s %s (%ld)\n", a->name, killed ? "killed" : "rejected", r);
		contained++;
	}
	if (kernel_hash() != hash0)
		panic("lvdtest: the kernel's image or the canary page changed (hypervisor hash)");
	// The first domain is untouched by the others' deaths.
	if (call1(d, LVD_FN_PING, 7, &out) != 0 || out != 8)
		panic("lvdtest: the first domain stopped answering");
	printk("lvdtest: %d misbehaviours contained, kernel image hash unchanged, kernel running\n",
	       contained);
}
