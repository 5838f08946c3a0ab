// lvd_drivers.c: the kernel side of the isolated drivers (LVD.md section 4):
// nullblk's operations, which cross into its domain through the glue
// generated from idl/blk_mq.idl (lvd_nullblk_glue.c), users' drivers, and
// the command line (nullnet's kernel side is lvd_nullnet.c).
//
//   isolate=nullnet[,nullblk] crossings=1|2   (lvd boot --isolate ...)
//   domain=NAME                               (lvd boot --domain FILE.c)
//
// References the kernel hands a domain are capabilities in the kernel's own
// tables (docs/IDL.md); a request's lives for one call, and an upcall naming
// anything else is refused by the generated glue.  Every reply word is
// checked or only ever used as a number.

#include "kernel.h"
#include "blk.h"
#include "lvd.h"
#include "net.h"
#include "nullblk.h"
#include "percpu.h"
#include "lvd_nullnet.h"
#include "lvd_nullblk.h"
#ifdef CONFIG_IXGBE
#include "lvd_ixgbe.h"
#endif
#include "probe.h"
#include <lvd/nullblk_if.h>
#include <lvd/hypercall.h>
#include "x86.h"

// nullnet: lvd_nullnet.c (over the glue generated from idl/net_device.idl).

// ---------------------------------------------------------------- nullblk
//
// The driver runs in its domain (guest/domains/nullblk) and registers its
// tag set, with its queue_rq as a handle, through the blk_mq_alloc_tag_set
// call of idl/blk_mq.idl while the kernel loads it (null_init); the block
// layer then drives it through the generated queue_rq stub
// (lvd_nullblk_glue.c), and the driver's blk_mq_start_request and
// blk_mq_end_request are the generated rpcs back: three crossings per I/O.
// The register pages of the glue are a pool of ncpu pages shared with this
// domain alone.

static struct lvd_domain *nb_dom;
static uint64_t nb_base_requests[NCPU], nb_base_bytes[NCPU];   // the queues' counters at the takeover

int
nb_to_domain(struct lvd_msg *m)
{
	return lvd_call_glue(nb_dom, m, NB_FN_BASE);
}

void
nb_start_rq(void *krq)
{
	blk_mq_start_request(krq);
}

void
nb_end_rq(void *krq, int32_t error)
{
	blk_mq_end_request(krq, error == BLK_STS_OK ? BLK_STS_OK : BLK_STS_IOERR);
}

// Restart (docs/DOMAINS.md): what happened to requests the domain could not
// serve.  Requeued: the domain was killed (in flight at the kill, or it is
// restarting): the request waits in its hardware queue and is dispatched
// again once the new instance serves.  Retried: the call failed with the
// domain alive (a reply the glue refused): queue_rq again at once, at most
// NB_RETRIES times.  Failed: neither worked: BLK_STS_IOERR to the submitter.
#define NB_RETRIES 2
uint64_t nb_requeued, nb_retried, nb_failed;

static blk_status_t nb_not_served(struct blk_mq_hw_ctx *h, const struct blk_mq_queue_data *bd, int started, int attempt);

static blk_status_t
nb_queue_rq_try(struct blk_mq_hw_ctx *h, const struct blk_mq_queue_data *bd, int attempt)
{
	struct request *rq = bd->rq;
	struct nb_io io = {
		.sector = rq->sector, .nr_bytes = rq->nr_bytes, .cmd_flags = rq->cmd_flags,
		.tag = rq->tag, .last = (uint8_t)(bd->last != 0),
	};
	int32_t ret;
	uint64_t requests, bytes;
	int started, ended;
	unsigned int q = h->queue_num;
	int r = nb_glue_queue_rq(mycpu()->id, q, rq, &io, &ret, &requests, &bytes, &started, &ended);
	if (r == LVD_OK && q < NCPU)
		nullblk_account(q, nb_base_requests[q] + requests, nb_base_bytes[q] + bytes);
	if (ended)
		return BLK_STS_OK;
	return nb_not_served(h, bd, started, attempt);
}

// The domain died or returned without ending the request (this glue has no
// later completion).
static __attribute__((noinline, cold)) blk_status_t
nb_not_served(struct blk_mq_hw_ctx *h, const struct blk_mq_queue_data *bd, int started, int attempt)
{
	struct request *rq = bd->rq;
	if (started)
		rq->state = MQ_RQ_ALLOCATED;   // the driver's start is undone: it is ours again
	if (nb_dom->dead && lvd_restart_pending(nb_dom)) {
		nb_requeued++;
		return BLK_STS_RESOURCE;
	}
	if (!nb_dom->dead && attempt < NB_RETRIES) {
		nb_retried++;
		return nb_queue_rq_try(h, bd, attempt + 1);
	}
	if (!nb_dom->dead && nb_dom->restart != NULL) {
		// Alive, but it failed the same request every time: a driver that
		// no longer works is killed (and restarted), and the request waits
		// for the new instance.
		lvd_kill(nb_dom, "failed the same request 3 times (its replies refused by the glue)");
		if (lvd_restart_pending(nb_dom)) {
			nb_requeued++;
			return BLK_STS_RESOURCE;
		}
	}
	nb_failed++;
	blk_mq_start_request(rq);
	blk_mq_end_request(rq, BLK_STS_IOERR);
	return BLK_STS_OK;
}


// Called by the block layer under the hardware queue's lock.  (The path of
// a served request is the same code as before restarts existed: what to do
// with one the driver did not serve is out of line, nb_not_served.)
static blk_status_t
lvd_null_queue_rq(struct blk_mq_hw_ctx *h, const struct blk_mq_queue_data *bd)
{
	return nb_queue_rq_try(h, bd, 0);
}

static const struct blk_mq_ops lvd_null_mq_ops = {
	.queue_rq = lvd_null_queue_rq,
};

// While the domain restarts every request waits in its hardware queue.
static blk_status_t
nb_wait_queue_rq(struct blk_mq_hw_ctx *h, const struct blk_mq_queue_data *bd)
{
	nb_requeued++;
	return BLK_STS_RESOURCE;
}

// Once it stays dead every request fails.
static blk_status_t
nb_dead_queue_rq(struct blk_mq_hw_ctx *h, const struct blk_mq_queue_data *bd)
{
	nb_failed++;
	blk_mq_start_request(bd->rq);
	blk_mq_end_request(bd->rq, BLK_STS_IOERR);
	return BLK_STS_OK;
}

static const struct blk_mq_ops nb_wait_ops = { .queue_rq = nb_wait_queue_rq };
static const struct blk_mq_ops nb_dead_ops = { .queue_rq = nb_dead_queue_rq };
static uint32_t nb_load_queues, nb_load_bsize, nb_load_depth;   // null_init's arguments, replayed

static void
nb_set_ops(const struct blk_mq_ops *ops)
{
	struct request_queue *q = disk_default()->queue;
	__atomic_store_n(&q->tag_set->ops, ops, __ATOMIC_SEQ_CST);
	// No dispatcher still runs the old ops: each runs under its queue's lock.
	for (unsigned int i = 0; i < q->nr_hw_queues; i++) {
		acquire(&q->hctxs[i]->lock);
		release(&q->hctxs[i]->lock);
	}
}

static void
nb_quiesce(struct lvd_domain *d)
{
	nb_set_ops(&nb_wait_ops);
}

static void
nb_reset(struct lvd_domain *d)
{
	nb_glue_reset();
}

// The fresh instance's module init with the arguments the kernel loaded it
// with: it registers its tag set again (blk_mq_alloc_tag_set).
static int
nb_replay(struct lvd_domain *d)
{
	push_off();
	int r = nb_glue_load(mycpu()->id, nb_load_queues, nb_load_bsize, nb_load_depth);
	pop_off();
	if (r != 0)
		return r;
	// The new instance counts from zero: the queues' counters go on from here.
	for (int q = 0; q < ncpu; q++)
		nullblk_queue_counters((unsigned int)q, &nb_base_requests[q], &nb_base_bytes[q]);
	return 0;
}

static void
nb_resume(struct lvd_domain *d, int recovered)
{
	nb_set_ops(recovered ? &lvd_null_mq_ops : &nb_dead_ops);
	// The requests that waited: dispatched now (or failed, if it stays dead).
	struct request_queue *q = disk_default()->queue;
	for (unsigned int i = 0; i < q->nr_hw_queues; i++)
		blk_mq_run_hw_queue(q->hctxs[i]);
}

static const struct lvd_restart_ops nb_restart_ops = {
	.quiesce = nb_quiesce, .reset = nb_reset, .replay = nb_replay, .resume = nb_resume,
};

struct lvd_domain *
lvd_nullblk_domain(void)
{
	return nb_dom;
}

static int
nb_upcall(struct lvd_domain *d, struct lvd_msg *m)
{
	return nb_glue_upcall(mycpu()->id, m);
}

static void
isolate_nullblk(void)
{
	uint64_t pool_size = (uint64_t)ncpu * LVD_REGPAGE_SIZE;
	uint64_t pool_pa = lvd_pool_alloc(pool_size);
	if (pool_pa == 0)
		panic("lvd: nullblk: no domain memory for its register pages (domainmem=)");
	if (nb_glue_init(P2V(pool_pa), pool_size, ncpu) != 0)
		panic("lvd: nullblk glue: too many CPUs");
	nb_dom = lvd_domain_create("nullblk", pool_pa, pool_size, nb_upcall);
	if (nb_dom == NULL)
		panic("lvd: cannot isolate nullblk");
	// The domain counts from zero; the kernel's counters so far (the boot
	// self test counted some) are the base of what each reply reports.
	for (int q = 0; q < ncpu; q++)
		nullblk_queue_counters((unsigned int)q, &nb_base_requests[q], &nb_base_bytes[q]);
	nb_load_queues = (uint32_t)ncpu;
	nb_load_bsize = SECTOR_SIZE;
	nb_load_depth = IO_MAX_INFLIGHT;
	push_off();
	int r = nb_glue_load(mycpu()->id, nb_load_queues, nb_load_bsize, nb_load_depth);
	pop_off();
	if (r != 0)
		panic("lvd: the isolated nullblk did not register its tag set (%d)", r);
	// The tag set's ops become the glue's, which crosses into the domain for
	// each request; the domain's queue counters come back with each reply (a
	// projection) and are kept by the in-kernel driver (nullblk_account), so
	// its statistics read the same either way.
	disk_default()->queue->tag_set->ops = &lvd_null_mq_ops;
	lvd_set_restart(nb_dom, &nb_restart_ops);
	printk("lvd: nullblk isolated in domain %d: it registered its tag set (%d hardware queues), "
	       "3 crossings per I/O, capabilities per CPU\n", nb_dom->id, ncpu);
}

// ---------------------------------------------------------------- users' drivers

// domain=NAME [domaincalls=N]: load the module NAME, initialize it, call
// driver_call N times (default 1; function LVD_FN_USER, w[1] = the call's
// index 0 .. N-1, w[2] = N) and report: a misbehaving driver is killed and
// named, the kernel goes on.  With N > 1 each call is timed with RDTSC
// (modeled cycles, lvd_call and the trampolines included) and the vCPU's VM
// exits and VMFUNCs over all calls are read from the hypervisor
// (LVD_HC_COUNTER); one "calls:" line has them (lvd boot --calls parses it).
#define USER_CALLS_MAX 100000
#define SAMPLES_PER_PAGE (PGSIZE / sizeof(uint32_t))
#define SAMPLE(pages, i) ((uint32_t *)(pages)[(i) / SAMPLES_PER_PAGE])[(i) % SAMPLES_PER_PAGE]

static uint64_t
user_calls(void)
{
	const char *c = cmdline_option("domaincalls");
	uint64_t n = 0;
	for (; c != NULL && *c >= '0' && *c <= '9' && n <= USER_CALLS_MAX; c++)
		n = n * 10 + (uint64_t)(*c - '0');
	return n == 0 ? 1 : n > USER_CALLS_MAX ? USER_CALLS_MAX : n;
}

// Heapsort of the samples (after the measurement: its cost is not measured).
static void
sift(void **pages, uint64_t root, uint64_t n)
{
	for (uint64_t child; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && SAMPLE(pages, child + 1) > SAMPLE(pages, child))
			child++;
		if (SAMPLE(pages, root) >= SAMPLE(pages, child))
			return;
		uint32_t t = SAMPLE(pages, root);
		SAMPLE(pages, root) = SAMPLE(pages, child);
		SAMPLE(pages, child) = t;
	}
}

static void
sort_samples(void **pages, uint64_t n)
{
	for (uint64_t i = n / 2; i-- > 0;)
		sift(pages, i, n);
	for (uint64_t end = n; end-- > 1;) {
		uint32_t t = SAMPLE(pages, 0);
		SAMPLE(pages, 0) = SAMPLE(pages, end);
		SAMPLE(pages, end) = t;
		sift(pages, 0, end);
	}
}

static void
run_user_domain(const char *name)
{
	printk("lvd: loading your driver %s\n", name);
	struct lvd_domain *d = lvd_domain_create(name, 0, 0, NULL);
	if (d == NULL) {
		printk("lvd: %s: not started (see above)\n", name);
		return;
	}
	uint64_t n = user_calls();
	static void *pages[(USER_CALLS_MAX + SAMPLES_PER_PAGE - 1) / SAMPLES_PER_PAGE];   // kmain only
	uint64_t npages = n > 1 ? (n + SAMPLES_PER_PAGE - 1) / SAMPLES_PER_PAGE : 0;
	for (uint64_t i = 0; i < npages; i++)
		if ((pages[i] = kalloc()) == NULL)
			panic("lvd: %s: no memory for %lu call timings", name, n);
	// The kernel's state before and after the calls (probe.c): whatever the
	// driver did, killed or not, none of it may stay (lvd fuzz-domains).
	struct probe before, after;
	probe_take(&before, probe_kernel_hash);
	struct lvd_msg m;
	int r = 0;
	uint64_t done = 0, sum = 0;
	uint64_t f0 = n > 1 ? lvd_counter(LVD_COUNTER_VMFUNCS) : 0;
	uint64_t e0 = n > 1 ? lvd_counter(LVD_COUNTER_VM_EXITS) : 0;
	while (done < n) {
		m = (struct lvd_msg){ { lvd_msg_word0(LVD_FN_USER, 0), done, n } };
		uint64_t t0 = rdtsc();
		r = lvd_call(d, &m);
		uint64_t t = rdtsc() - t0;
		if (r != 0)
			break;
		if (n > 1) {
			SAMPLE(pages, done) = t > 0xffffffffUL ? 0xffffffffU : (uint32_t)t;
			sum += t;
		}
		done++;
	}
	// The second exit count includes its own exit (docs/HYPERCALLS.md).
	uint64_t exits = n > 1 ? lvd_counter(LVD_COUNTER_VM_EXITS) - e0 - 1 : 0;
	uint64_t vmfuncs = n > 1 ? lvd_counter(LVD_COUNTER_VMFUNCS) - f0 : 0;
	probe_take(&after, probe_kernel_hash);
	const char *diff = probe_diff(&before, &after);
	if (diff != NULL)
		panic("lvd: %s: %s changed by the domain", name, diff);
	if (r != 0)
		printk("lvd: %s: call failed (%d)%s\n", name, r, d->dead ? ": the domain was killed" : "");
	else
		printk("lvd: %s: driver_call returned %ld, w1 = %#lx\n", name, (long)m.w[0], m.w[1]);
	if (n > 1 && done > 0) {
		sort_samples(pages, done);
		printk("lvd: %s: calls: %lu of %lu, cycles total %lu median %u min %u max %u, vmfuncs %lu, vm_exits %lu\n",
		       name, done, n, sum, SAMPLE(pages, done / 2), SAMPLE(pages, 0), SAMPLE(pages, done - 1), vmfuncs, exits);
	}
	for (uint64_t i = 0; i < npages; i++)
		kfree_page(pages[i]);
	printk("lvd: kernel still running after %s\n", name);
}

// ---------------------------------------------------------------- command line

static const char *
strstr_k(const char *s, const char *w)
{
	size_t n = strlen(w);
	for (; *s; s++)
		if (strncmp(s, w, n) == 0)
			return s;
	return NULL;
}

static int
word_in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; *p && *p != ' ';) {
		if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == ' ' || p[n] == 0))
			return 1;
		while (*p && *p != ',' && *p != ' ')
			p++;
		if (*p == ',')
			p++;
	}
	return 0;
}

void
lvd_isolate_from_cmdline(void)
{
	const char *iso = cmdline_option("isolate");
	const char *cr = cmdline_option("crossings");
	int crossings = cr && (cr[0] == '1' || cr[0] == '2') ? cr[0] - '0' : 1;
	if (iso || cmdline_option("domain")) {
		if (!lvd_enabled)
			panic("lvd: isolation asked for, but no hypervisor with VMFUNC");
	}
	if (iso && word_in_list(iso, "nullnet"))
		lvd_isolate_nullnet(crossings);
	if (iso && word_in_list(iso, "nullblk"))
		isolate_nullblk();
#ifdef CONFIG_IXGBE
	if (iso && word_in_list(iso, "ixgbe"))
		lvd_isolate_ixgbe();   // lvd_ixgbe.c
#endif
	// Every domain=NAME word.
	for (const char *p = bootinfo.cmdline; (p = strstr_k(p, "domain=")) != NULL; p += 7) {
		if (p != bootinfo.cmdline && p[-1] != ' ')
			continue;
		char name[16];
		int i = 0;
		for (const char *q = p + 7; *q && *q != ' ' && i < 15; q++)
			name[i++] = *q;
		name[i] = 0;
		run_user_domain(name);
	}
}
