// faults.c: the fault injector of `lvd faults` and `lvd demo` (docs/DOMAINS.md,
// "Restart and fault injection").
//
//   faults   (with a boot module named "faultplan" and workload=, isolate=)
//
// A kernel thread on the last CPU injects the faults of the plan, one at a
// time, into the running isolated driver while the workload runs, the way
// real faults reach it: memory faults are written into the domain's own
// memory through the kernel's direct map (the domain's page table says where
// its pages are), message faults change the words of one crossing in the
// kernel's transport of the driver's glue (the registers the domain gets on
// entry, or the reply it sent).  The plan is made on the host
// (Lvd.Experiments FaultCampaign: it picks instructions and data of the
// driver's image); the kernel only applies it.  After each fault the
// injector watches one tick; a kill is followed by the restart (lvd.c),
// waited for, and one more tick of the workload.  Every fault ends with the
// state probe (probe.c: control registers, descriptor tables, the
// hypervisor's hash of the kernel image): any change panics (kernel harmed).
// One line per fault:
//
//   fault: I kind=K outcome=no-effect|request-failed|recovered|not-recovered detect=C outage=C lost=N before=R after=R
//
// (request-failed: not killed, but some requests failed: packets dropped, I/Os failed.)
//
// (C modeled cycles; R operations per tick of the workload before the fault
// and after its end; lost = packets dropped or I/Os failed to the caller.)

#include "kernel.h"
#include "blk.h"
#include "lvd.h"
#include "net.h"
#include "percpu.h"
#include "probe.h"
#include "x86.h"
#include "lvd_nullnet.h"
#include "lvd_nullblk.h"

#define FPLAN_MAGIC "LVDFLT01"
#define FPLAN_SAMPLE 1           // flags: print the workload's rate every tick (lvd demo)

struct fplan_hdr {
	char magic[8];
	uint32_t count, flags;
	char driver[16];             // nullnet | nullblk
	uint64_t first;              // the campaign's index of fault 0
	uint64_t warmup_ticks;       // before the first fault
	uint64_t window_ticks;       // watched after each fault
	uint64_t reserved;
};

enum {
	FK_CODE_FLIP = 1,   // xor bytes into the driver's code
	FK_DATA_FLIP,       // xor bytes into its data, bss or heap
	FK_REGISTER,        // xor mask into message word `word` of the next call (a register at entry)
	FK_WILD_STORE,      // bytes replace an instruction: a store through a register (the rest NOPs)
	FK_SKIP,            // NOPs replace an instruction
	FK_LOOP,            // jmp . replaces an instruction
	FK_REPLY,           // xor mask into reply word `word` of the next call
	FK_POOL_OFFSET,     // the next call's pool offset (word `word`) moved out of the pool by `mask`
	FK_REPLAY_PATCH,    // bytes written into the fresh image of the next restart, before its init (tests)
	FK_PATCH,           // bytes written now (tests: a certain kill)
	FK_MAX
};

static const char *const kind_names[FK_MAX] = {
	"?", "code-flip", "data-flip", "register", "wild-store", "skip", "loop", "reply",
	"pool-offset", "replay-patch", "patch",
};

struct fplan_rec {
	uint32_t kind, len;
	uint64_t va;
	uint32_t word, pad;
	uint64_t mask;
	uint8_t bytes[16];
};

_Static_assert(sizeof(struct fplan_hdr) == 64, "plan header");
_Static_assert(sizeof(struct fplan_rec) == 48, "plan record");

static const struct fplan_hdr *plan;
static const struct fplan_rec *recs;
static int is_net;
static uint64_t deadline;
static volatile int injector_done;

static struct lvd_domain *
target(void)
{
	return is_net ? lvd_nullnet_domain() : lvd_nullblk_domain();
}

// Operations the workload completed: packets null0 counted, requests the
// block layer completed (the kernel's own count).
static uint64_t
ops(void)
{
	if (is_net) {
		struct net_device_stats s = dev_get_stats(dev_get_by_name("null0"));
		return s.tx_packets;
	}
	return blk_queue_stats(disk_default()->queue).completed;
}

static uint64_t
lost(void)
{
	return is_net ? lvd_nullnet_dropped() : nb_failed;
}

// ---------------------------------------------------------------- memory faults

static int
mem_apply(struct lvd_domain *d, const struct fplan_rec *r, uint8_t *saved, int xor)
{
	for (uint32_t i = 0; i < r->len && i < sizeof r->bytes; i++) {
		uint64_t pa = lvd_domain_pa(d, r->va + i);
		if (pa == 0)
			return -1;
		uint8_t *p = P2V(pa);
		saved[i] = *p;
		*p = xor ? (uint8_t)(*p ^ r->bytes[i]) : r->bytes[i];
	}
	return 0;
}

static void
mem_undo(struct lvd_domain *d, const struct fplan_rec *r, const uint8_t *saved)
{
	for (uint32_t i = 0; i < r->len && i < sizeof r->bytes; i++) {
		uint64_t pa = lvd_domain_pa(d, r->va + i);
		if (pa != 0)
			*(uint8_t *)P2V(pa) = saved[i];
	}
}

static const struct fplan_rec *replay_patch;

static void
restart_hook(struct lvd_domain *d, int stage)
{
	const struct fplan_rec *r = __atomic_exchange_n(&replay_patch, NULL, __ATOMIC_SEQ_CST);
	uint8_t saved[16];
	if (r != NULL && d == target() && stage == 0) {
		mem_apply(d, r, saved, 0);
		printk("faults: patched the fresh instance %lu of %s before its init\n", d->instance, d->name);
	}
}

// ---------------------------------------------------------------- message faults

static int (*orig_transport)(struct lvd_msg *m);
static const struct fplan_rec *msg_fault;   // armed: the next crossing takes it
static volatile int msg_taken;

static void
set_transport(int (*t)(struct lvd_msg *m))
{
	if (is_net)
		nn_glue_set_transport(t);
	else
		nb_glue_set_transport(t);
}

static int
fault_transport(struct lvd_msg *m)
{
	const struct fplan_rec *r = __atomic_exchange_n(&msg_fault, NULL, __ATOMIC_SEQ_CST);
	if (r == NULL)
		return orig_transport(m);
	uint32_t w = r->word % LVD_MSG_WORDS;
	if (r->kind == FK_REGISTER)
		m->w[w] ^= r->mask;
	else if (r->kind == FK_POOL_OFFSET)
		m->w[w] = target()->pool_size + r->mask % (1UL << 40);
	int rc = orig_transport(m);
	if (r->kind == FK_REPLY)
		m->w[w] ^= r->mask;
	set_transport(orig_transport);
	msg_taken = 1;
	return rc;
}

// ---------------------------------------------------------------- the injector

static void
sample(uint64_t start)
{
	printk("rate: t=%lu ops=%lu lost=%lu\n", rdtsc() - start, ops(), lost());
}

static void
tick(uint64_t start)
{
	sleep_ticks(1);
	if (plan->flags & FPLAN_SAMPLE)
		sample(start);
}

static void
injector(void *arg)
{
	uint64_t start = (uint64_t)arg;
	orig_transport = is_net ? nn_to_domain : nb_to_domain;
	lvd_restart_hook = restart_hook;
	if (plan->flags & FPLAN_SAMPLE)
		sample(start);
	for (uint64_t t = 0; t < plan->warmup_ticks; t++)
		tick(start);
	uint64_t tick_cycles = bootinfo.tsc_hz / HZ;
	uint32_t i;
	for (i = 0; i < plan->count; i++) {
		const struct fplan_rec *r = &recs[i];
		struct lvd_domain *d = target();
		if (d == NULL || (d->dead && !lvd_restart_pending(d)))
			break;   // not recovered earlier: nothing left to inject into
		if (rdtsc() + (plan->window_ticks + 3) * tick_cycles > deadline)
			break;
		struct probe pb, pa;
		probe_take(&pb, probe_kernel_hash);
		uint64_t kills0 = d->kills, restarts0 = d->restarts, lost0 = lost();
		uint64_t t0 = rdtsc(), o0 = ops();
		sleep_ticks(1);
		uint64_t before = (ops() - o0) * tick_cycles / (rdtsc() - t0 ? rdtsc() - t0 : 1);
		uint64_t instance = d->instance;
		uint8_t saved[16];
		int memory = 0, applied = 1;
		uint64_t injected = rdtsc();
		switch (r->kind) {
		case FK_CODE_FLIP: case FK_DATA_FLIP:
			applied = mem_apply(d, r, saved, 1) == 0;
			memory = 1;
			break;
		case FK_WILD_STORE: case FK_SKIP: case FK_LOOP: case FK_PATCH:
			applied = mem_apply(d, r, saved, 0) == 0;
			memory = 1;
			break;
		case FK_REGISTER: case FK_REPLY: case FK_POOL_OFFSET:
			msg_taken = 0;
			__atomic_store_n(&msg_fault, r, __ATOMIC_SEQ_CST);
			set_transport(fault_transport);
			break;
		case FK_REPLAY_PATCH:
			__atomic_store_n(&replay_patch, r, __ATOMIC_SEQ_CST);
			break;
		default:
			panic("faults: fault %lu: unknown kind %u", plan->first + i, r->kind);
		}
		for (uint64_t t = 0; t < plan->window_ticks; t++)
			tick(start);
		int killed = d->kills != kills0 || lvd_restart_pending(d);
		if (!killed) {
			// No kill: the fault is taken back, so that the next starts from
			// a driver like the one loaded (a message fault not yet taken is
			// disarmed).
			if (memory && applied && d->instance == instance && !d->dead)
				mem_undo(d, r, saved);
			__atomic_store_n(&msg_fault, NULL, __ATOMIC_SEQ_CST);
			set_transport(orig_transport);
		} else {
			lvd_restart_wait(d);
		}
		uint64_t outage = killed ? d->outage_last : 0;
		uint64_t detect = killed && d->killed_at > injected ? d->killed_at - injected : 0;
		int recovered = killed && !d->dead && d->restarts > restarts0;
		uint64_t t1 = rdtsc(), o1 = ops();
		tick(start);
		uint64_t after = (ops() - o1) * tick_cycles / (rdtsc() - t1 ? rdtsc() - t1 : 1);
		probe_take(&pa, probe_kernel_hash);
		const char *diff = probe_diff(&pb, &pa);
		if (diff != NULL)
			panic("faults: fault %lu (%s): the kernel's %s changed", plan->first + i, kind_names[r->kind], diff);
		printk("fault: %lu kind=%s outcome=%s applied=%d detect=%lu outage=%lu lost=%lu before=%lu after=%lu\n",
		       plan->first + i, kind_names[r->kind],
		       !killed ? (lost() == lost0 ? "no-effect" : "request-failed") : recovered ? "recovered" : "not-recovered", applied,
		       detect, recovered ? outage : 0, lost() - lost0, before, after);
	}
	lvd_restart_hook = NULL;
	set_transport(orig_transport);
	printk("faults: done: %u of %u injected\n", i, plan->count);
	__atomic_store_n(&injector_done, 1, __ATOMIC_SEQ_CST);
	while (rdtsc() < deadline)
		tick(start);
}

// From workload.c once its processes have exited: what the restarts left
// behind (docs/DOMAINS.md, leak accounting).  Domain memory: live instances,
// chunks free for reuse, killed domains never torn down; the kernel glue's
// capabilities and shadow objects; the packet pool's free pages.
void
faults_report(void)
{
	while (!__atomic_load_n(&injector_done, __ATOMIC_SEQ_CST))
		sleep_ticks(1);
	struct lvd_domain *d = target();
	uint64_t live, reusable, dead;
	lvd_memory(&live, &reusable, &dead);
	uint64_t caps, shadows;
	if (is_net)
		nn_glue_accounting(&caps, &shadows);
	else
		nb_glue_accounting(&caps, &shadows);
	printk("faults: accounting: %s instance %lu, %lu kills, %lu restarts, %lu failed attempts; "
	       "domain memory live %lu KiB, reusable %lu KiB, dead %lu KiB; glue capabilities %lu, shadows %lu; "
	       "pool pages free %lu of %lu; requests requeued %lu, retried %lu, failed %lu\n",
	       d->name, d->instance, d->kills, d->restarts, d->restart_failures,
	       live >> 10, reusable >> 10, dead >> 10, caps, shadows,
	       pktpool_free_pages(), pktpool_packet_pages(), nb_requeued, nb_retried, nb_failed);
}

// From workload.c, once its processes run: 1 if faults were asked for.
int
faults_start(uint64_t start, uint64_t end)
{
	if (cmdline_option("faults") == NULL)
		return 0;
	const struct boot_module *m = boot_module("faultplan");
	if (m == NULL)
		panic("faults: no boot module named faultplan");
	plan = P2V(m->base);
	if (m->length < sizeof *plan || memcmp(plan->magic, FPLAN_MAGIC, 8) != 0 ||
	    m->length < sizeof *plan + (uint64_t)plan->count * sizeof *recs)
		panic("faults: the faultplan module is not a plan");
	recs = (const struct fplan_rec *)(plan + 1);
	is_net = strncmp(plan->driver, "nullnet", 8) == 0;
	if (!is_net && strncmp(plan->driver, "nullblk", 8) != 0)
		panic("faults: plan for driver %.16s", plan->driver);
	if (target() == NULL)
		panic("faults: %s is not isolated", plan->driver);
	deadline = end;
	printk("faults: %u faults into %s from fault %lu, %lu tick(s) watched each\n",
	       plan->count, plan->driver, plan->first, plan->window_ticks);
	// Urgent: each tick it wakes at once, not when the sender sharing its CPU
	// ends its slice.
	sched_set_urgent(thread_create("faults", injector, (void *)start, ncpu - 1));
	return 1;
}
