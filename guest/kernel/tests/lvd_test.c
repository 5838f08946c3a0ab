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
#include "probe.h"

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

// ---------------------------------------------------------------- the state probe
// probe.c (shared with domain=): the kernel_hash field here covers the
// kernel image and the canary page.

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

enum { ERR, KILL, RET, ANY };   // the call fails, the domain is killed, the call returns 0, killed or returns
static const char *const expect_name[] = { "an error", "killed", "returned", "killed or returned" };

struct attack {
	const char *name;
	unsigned int fn;
	uint64_t arg;
	int irq_off;      // call with interrupts off
	int expect;       // ERR, KILL, RET, ANY
	int pool;         // the domain shares the packet pool (and has the kernel service)
	uint64_t w2, w3;
};
extern char lvd_from_domain_vmfunc[], __lvd_entry_start[], __lvd_entry_end[], lvd_tramp_start[], lvd_tramp_end[];

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
	struct cpu *me = mycpu();   // kernel threads do not migrate
	uint64_t irq_top = (uint64_t)me->ist[IST_IRQ - 1] + ISTSIZE;
	uint64_t exc_top = (uint64_t)me->ist[IST_EXC - 1] + ISTSIZE;
	uint64_t nmi_top = (uint64_t)me->ist[IST_NMI - 1] + ISTSIZE;
	// A second CR3 in the CR3-target list: a copy of the kernel's root table,
	// loaded once (an exit puts it in the list), then the kernel's again.
	uint64_t *alt = kalloc();
	if (alt == NULL)
		panic("lvdtest: no memory");
	memcpy(alt, P2V(kernel_cr3), PGSIZE);
	push_off();
	lcr3(V2P(alt));
	lcr3(kernel_cr3);
	pop_off();
	const uint64_t DF = 0x400, AC = 0x40000, NT = 0x4000, IOPL3 = 0x3000, TF = 0x100;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"   // the table leaves trailing fields 0
	struct attack attacks[] = {
		{ "write kernel memory", ST_WRITE, (uint64_t)&canary, 0, KILL },
		{ "read kernel memory", ST_READ, (uint64_t)&canary, 0, KILL },
		{ "jump into kernel code", ST_JUMP, (uint64_t)panic, 0, KILL },
		{ "VMFUNC to the kernel EPT", ST_VMFUNC, 0, 0, KILL },
		{ "VMFUNC to an unused slot", ST_VMFUNC, 2, 0, KILL },
		{ "VMFUNC to slot 511", ST_VMFUNC, 511, 0, KILL },
		{ "VMFUNC with ECX >= 512", ST_VMFUNC, 4096, 0, KILL },
		{ "int3", ST_INT, 3, 0, KILL },
		{ "int $0x80", ST_INT, 0x80, 0, KILL },
		{ "forged timer interrupt (int $0x20)", ST_INT, 0x20, 0, KILL },
		{ "forged interrupt int $0xf0", ST_INT, 0xf0, 0, KILL },
		{ "sti inside a call made with interrupts off", ST_STI, 3000000, 1, KILL },
		{ "cli plus an endless loop", ST_CLI_LOOP, 0, 0, KILL },
		{ "endless loop with interrupts on", ST_LOOP, 0, 0, KILL },
		{ "cli loop with an sti window now and then", ST_LOOP, 20000, 0, KILL },
		{ "wrmsr GS_BASE", ST_WRMSR, 0, 0, KILL },
		{ "mov to cr3 (not a listed value)", ST_MOVCR3, 0x1000, 0, KILL },
		{ "mov to cr3 (the kernel's, with PWT)", ST_CR3, kernel_cr3 | 8, 0, KILL },
		{ "mov to cr3 (the current, listed value)", ST_CR3, kernel_cr3, 0, ANY },
		{ "mov to cr3 (another listed value)", ST_CR3, V2P(alt), 0, KILL },
		{ "an interrupt whose delivery fails under a listed CR3", ST_CR3_IRQ, V2P(alt), 0, KILL, 0, 3000000 },
		{ "lidt", ST_LIDT, 0, 0, KILL },
		{ "out to a port", ST_OUT, 0, 0, KILL },
		{ "hlt", ST_HLT, 0, 0, KILL },
		{ "write another cpu's IST", ST_WRITE, (uint64_t)cpus[other].ist[IST_IRQ - 1] + 64, 0, ncpu > 1 ? KILL : ANY },
		{ "exhaust the domain stack", ST_STACK, 0, 0, KILL },
		{ "swapgs", ST_SWAPGS, 0, 0, KILL },
		{ "wrgsbase", ST_WRGS, 0x4141414141, 0, KILL },
		{ "plant KERNEL_GS_BASE (swapgs; wrgsbase; swapgs)", ST_KGS, 0x4141414141, 0, RET },
		{ "plant KERNEL_GS_BASE = the kernel's GS", ST_KGS, (uint64_t)me, 0, RET },
		{ "wrfsbase", ST_FS, 0x4242424242, 0, RET },
		{ "load the FS selector", ST_FS, 0, 0, RET },
		{ "ud2", ST_UD2, 0, 0, KILL },
		{ "garbage reply", ST_GARBAGE, 0, 0, ERR },
		{ "VMFUNC with a tampered ECX inside the return trampoline", ST_TAMPER, (uint64_t)lvd_return_vmfunc, 0, KILL },
		{ "corrupt index into the shared packet pool", ST_POOLIDX, ~0UL - 8, 0, ERR, 1 },
		{ "pool index running past its end", ST_POOLIDX, pktpool.size - 32, 0, ERR, 1 },
		{ "return with DF set", ST_FLAGS, 2 | DF, 0, RET },
		{ "return with AC set", ST_FLAGS, 2 | AC, 0, RET },
		{ "return with NT set", ST_FLAGS, 2 | NT, 0, RET },
		{ "return with IOPL 3", ST_FLAGS, 2 | IOPL3, 0, RET },
		{ "return with TF set", ST_FLAGS, 2 | TF, 0, ANY },
		{ "return with every writable flag set", ST_FLAGS, 0x2 | 0xcd5 | DF | AC | NT | IOPL3 | 0x200000, 0, RET },
		{ "upcall with DF set", ST_FLAGS_PRINT, 2 | DF, 0, RET },
		{ "upcall with DF, AC, NT and IOPL 3", ST_FLAGS_PRINT, 2 | DF | AC | NT | IOPL3, 0, RET },
		{ "interrupts arriving with DF and AC set", ST_FLAGS_SPIN, 2 | DF | AC, 0, RET, 0, 3000000 },
		{ "interrupts arriving with NT and IOPL 3", ST_FLAGS_SPIN, 2 | NT | IOPL3, 0, RET, 0, 3000000 },
		{ "killed with DF set", ST_FLAGS_SPIN, 2 | DF | AC | NT | IOPL3, 1, KILL, 0, 3000000 },
		{ "clear CR0.WP", ST_CR0, 1UL << 16, 0, KILL },
		{ "set CR0.CD", ST_CR0, 1UL << 30, 0, KILL },
		{ "set CR0.AM", ST_CR0, 1UL << 18, 0, KILL },
		{ "rewrite CR0 unchanged", ST_CR0, 0, 0, RET },
		{ "set CR4.TSD", ST_CR4, 1UL << 2, 0, KILL },
		{ "clear CR4.FSGSBASE", ST_CR4, 1UL << 16, 0, KILL },
		{ "toggle CR4.PGE", ST_CR4, 1UL << 7, 0, KILL },
		{ "set CR4.PCIDE", ST_CR4, 1UL << 17, 0, KILL },
		{ "mov to cr8", ST_CR8, 15, 0, KILL },
		{ "mov from cr8", ST_CR8, 0, 0, KILL },
		{ "clts", ST_CLTS, 0, 0, RET },
		{ "mov to dr7", ST_DR, 0x400 | 3, 0, KILL },
		{ "mov from dr0", ST_DR, 0, 0, KILL },
		{ "rdmsr KERNEL_GS_BASE", ST_SYS, 0, 0, KILL },
		{ "cpuid", ST_SYS, 1, 0, KILL },
		{ "vmcall", ST_SYS, 2, 0, KILL },
		{ "xsetbv", ST_SYS, 3, 0, KILL },
		{ "lgdt", ST_SYS, 4, 0, KILL },
		{ "sgdt", ST_SYS, 5, 0, KILL },
		{ "ltr", ST_SYS, 6, 0, KILL },
		{ "in from a port", ST_SYS, 7, 0, KILL },
		{ "syscall", ST_SYS, 8, 0, KILL },
		{ "sysret to user mode", ST_SYS, 9, 0, KILL },
		{ "wbinvd", ST_SYS, 10, 0, ANY },
		{ "invlpg", ST_SYS, 11, 0, ANY },
		{ "rep stosb over a terabyte", ST_SYS, 12, 0, KILL },
		{ "lldt", ST_SYS, 13, 0, KILL },
		{ "sidt", ST_SYS, 14, 0, KILL },
		{ "iretq to ring 3 inside the domain", ST_RING3, 0, 0, KILL },
		{ "interrupt entry with RSP at kernel memory", ST_FORGE, (uint64_t)lvd_from_domain_vmfunc, 0, KILL, 0,
		  (uint64_t)&canary_page[256] + 80 },
		{ "interrupt entry with a forged frame on the IST", ST_FORGE, (uint64_t)lvd_from_domain_vmfunc, 0, KILL, 0,
		  irq_top, T_TIMER },
		{ "interrupt entry with a misaligned forged frame", ST_FORGE, (uint64_t)lvd_from_domain_vmfunc, 0, KILL, 0,
		  irq_top - 1, T_TIMER },
		{ "interrupt entry with a forged spurious frame", ST_FORGE, (uint64_t)lvd_from_domain_vmfunc, 0, ANY, 0,
		  exc_top, T_SPURIOUS },
		{ "single-step onto the return trampoline's VMFUNC (iretq with TF)", ST_STEP, (uint64_t)lvd_return_vmfunc, 0, KILL },
		{ "... with RSP at kernel memory", ST_STEP, (uint64_t)lvd_return_vmfunc, 0, KILL, 0, (uint64_t)&canary_page[512] },
		{ "single-step onto the interrupt entry's VMFUNC, RSP as a real frame", ST_STEP, (uint64_t)lvd_from_domain_vmfunc, 0,
		  KILL, 0, irq_top - 80 },
		{ "read kernel registers off the ISTs", ST_ISTSCAN, irq_top, 0, RET, 0, exc_top, nmi_top },
		{ "print lines that pass for the kernel's", ST_PRINT_FORGE, 0, 0, RET },
		{ "a .bss too large for domain memory", 0, 0, 0, ERR },
	};
#pragma GCC diagnostic pop
	int contained = 0, n = (int)(sizeof attacks / sizeof attacks[0]);
	for (int i = 0; i < n; i++) {
		struct attack *a = &attacks[i];
		struct lvd_domain *v;
		if (a->fn == 0) {
			// No domain at all: the image asks for more than domain memory.
			if (boot_module("selftest_huge") == NULL)
				panic("lvdtest: no selftest_huge boot module");
			v = lvd_domain_create("selftest_huge", 0, 0, NULL);
			if (v != NULL)
				panic("lvdtest: '%s': created", a->name);
			printk("lvdtest: %-44s %s (%d)\n", a->name, "rejected", -LVD_ENOMEM);
			contained++;
			continue;
		}
		v = a->pool ? lvd_domain_create("selftest", pktpool.pa, pktpool.size, st_upcall)
			    : lvd_domain_create("selftest", 0, 0, NULL);
		if (v == NULL)
			panic("lvdtest: cannot create a domain for '%s'", a->name);
		if (a->fn == ST_ISTSCAN)
			sleep_ticks(3);   // the kernel's own interrupts on this CPU's ISTs first
		struct probe before, after;
		if (a->irq_off)
			push_off();
		probe_take(&before, kernel_hash);
		struct lvd_msg m = { { lvd_msg_word0(a->fn, 0), a->arg, a->w2, a->w3 } };
		if (a->fn == ST_ISTSCAN) {
			m.w[4] = (uint64_t)lvd_tramp_start; m.w[5] = (uint64_t)lvd_tramp_end;
			m.w[6] = (uint64_t)__lvd_entry_start; m.w[7] = (uint64_t)__lvd_entry_end;
		}
		int cr = lvd_call(v, &m);
		long r = cr != 0 ? cr : (long)m.w[0];
		probe_take(&after, kernel_hash);
		if (a->irq_off)
			pop_off();
		int killed = v->dead;
		int ok = a->expect == KILL ? (killed && r == -LVD_EDEAD)
		       : a->expect == ERR ? (!killed && r < 0)
		       : a->expect == RET ? (!killed && r == 0)
		       : (killed ? r == -LVD_EDEAD : r == 0);
		if (!ok)
			panic("lvdtest: '%s': killed=%d result=%ld (expected %s)", a->name, killed, r, expect_name[a->expect]);
		const char *diff = probe_diff(&before, &after);
		if (diff != NULL)
			panic("lvdtest: '%s': %s changed", a->name, diff);
		if (a->fn == ST_ISTSCAN && m.w[1] != 0)
			panic("lvdtest: '%s': %lu kernel words readable on the ISTs", a->name, m.w[1]);
		if (killed && call1(v, LVD_FN_PING, 1, NULL) != -LVD_EDEAD)
			panic("lvdtest: '%s': a dead domain answered", a->name);
		if (canary != CANARY)
			panic("lvdtest: '%s': kernel memory changed", a->name);
		printk("lvdtest: %-44s %s (%ld)\n", a->name, killed ? "killed" : r < 0 ? "rejected" : "returned", r);
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
