// lvd_bench.c: in-guest measurements for `lvd bench` (docs/DOMAINS.md,
// "Measurements"), selected with lvdbench= on the command line after the
// boot self tests:
//
//   lvdbench=call   call/reply round trips into the selftest domain (Table 1)
//   lvdbench=irq    the cost of one interrupt taken in the kernel and, with
//                   the selftest domain, inside a domain (Table 3)
//
// Interrupt cost is measured the classic way: CPU 0 spins reading RDTSC and
// an interrupt shows up as a gap; CPU 1 sends it a fixed IPI (T_LAT, whose
// handler only counts and EOIs) every 20,000 cycles.  The cost of one
// interrupt is the mean gap minus the loop's own iteration (its minimum gap):
// delivery through the IDT and IST, the entry stub, the handler, EOI and
// IRETQ, plus (inside a domain) the two VMFUNCs and the frame copies.  CPU 0's
// TPR blocks every other interrupt class meanwhile.

#include "kernel.h"
#include "lvd.h"
#include "percpu.h"
#include "x86.h"
#include <lvd/selftest.h>

#define GAP_THRESHOLD 200
#define SEND_EVERY 20000

volatile uint64_t lat_irqs;
static volatile int lat_stop;

static void
lat_sender(void *arg)
{
	while (!lat_stop) {
		apic_ipi(0, T_LAT);
		uint64_t t = rdtsc();
		while (rdtsc() - t < SEND_EVERY && !lat_stop)
			;
	}
	lat_stop = 2;
}

static void
kernel_gaps(uint64_t cycles, uint64_t *n, uint64_t *sum, uint64_t *min)
{
	uint64_t now = rdtsc(), end = now + cycles, prev = now;
	*n = *sum = 0;
	*min = ~0UL;
	while (now < end) {
		now = rdtsc();
		uint64_t g = now - prev;
		if (g < *min)
			*min = g;
		if (g > GAP_THRESHOLD) {
			(*n)++;
			*sum += g;
		}
		prev = now;
	}
}

static void
report(const char *where, uint64_t n, uint64_t sum, uint64_t min)
{
	if (n == 0)
		panic("lvdbench: no interrupt arrived %s", where);
	printk("lvdbench: irq where=%s interrupts=%lu cycles_per_interrupt=%lu loop=%lu\n", where, n,
	       sum / n - min, min);
}

static void
bench_irq(void)
{
	if (ncpu < 2)
		panic("lvdbench=irq needs 2 cpus");
	if (mycpu()->id != 0)
		panic("lvdbench: must run on cpu 0");
	const uint64_t span = 4000000;
	struct lvd_domain *d = NULL;
	if (lvd_enabled && boot_module("selftest") != NULL)
		d = lvd_domain_create("selftest", 0, 0, NULL);
	wrmsr(MSR_X2APIC_TPR, 0xe0);   // only class 15 (T_LAT, T_RESCHED) gets in
	lat_stop = 0;
	thread_create("lat-send", lat_sender, NULL, 1);
	uint64_t n, sum, min;
	kernel_gaps(span, &n, &sum, &min);
	report(lvd_enabled ? "kernel-virtualized" : "kernel-native", n, sum, min);
	if (d != NULL) {
		struct lvd_msg m = { { lvd_msg_word0(ST_GAPS, 0), span } };
		if (lvd_call(d, &m) != 0 || m.w[0] != 0)
			panic("lvdbench: the domain's measurement failed");
		report("domain", m.w[1], m.w[2], m.w[3]);
	}
	lat_stop = 1;
	while (lat_stop != 2)
		yield();
	wrmsr(MSR_X2APIC_TPR, 0);
}

static void
bench_call(void)
{
	struct lvd_domain *d = lvd_enabled ? lvd_domain_create("selftest", 0, 0, NULL) : NULL;
	if (d == NULL)
		panic("lvdbench=call needs the hypervisor and the selftest module");
	enum { N = 5000 };
	for (int pass = 0; pass < 2; pass++) {   // the first pass warms TLBs and caches
		cli();
		uint64_t t0 = rdtsc();
		for (uint64_t i = 0; i < N; i++) {
			struct lvd_msg m = { { lvd_msg_word0(LVD_FN_PING, 0), i } };
			lvd_call(d, &m);
		}
		uint64_t t1 = rdtsc();
		sti();
		if (pass == 1)
			printk("lvdbench: call round_trips=%d cycles_per_call=%lu\n", N, (t1 - t0) / N);
	}
}

void
lvd_bench(void)
{
	const char *b = cmdline_option("lvdbench");
	if (b == NULL)
		return;
	if (strncmp(b, "irq", 3) == 0)
		bench_irq();
	else if (strncmp(b, "call", 4) == 0)
		bench_call();
	else
		panic("lvdbench: want call or irq");
}
