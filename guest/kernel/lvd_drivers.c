// lvd_drivers.c: the kernel side of the isolated drivers (LVD.md section 4):
// glue that stands in for nullblk's operations and crosses into its domain,
// the kernel services the domains may call, and the command line (nullnet's
// kernel side is lvd_nullnet.c).
//
//   isolate=nullnet[,nullblk] crossings=1|2   (lvd boot --isolate ...)
//   domain=NAME                               (lvd boot --domain FILE.c)
//
// References the kernel hands a domain are opaque per-CPU tokens valid for
// one call; an upcall naming anything else is refused.  Every reply word is
// checked or only ever used as a number.

#include "kernel.h"
#include "blk.h"
#include "lvd.h"
#include "net.h"
#include "percpu.h"
#include "lvd_nullnet.h"
#include "../domains/nullblk/nullblk_if.h"

// nullnet: lvd_nullnet.c (over the glue generated from idl/net_device.idl).

// ---------------------------------------------------------------- nullblk

static struct lvd_domain *nb_dom;
static struct {
	uint64_t ref;
	struct request *rq;
	int started, ended;
} nb_cur[NCPU];
static uint64_t nb_gen[NCPU];

// Called by the block layer under the hardware queue's lock.
static blk_status_t
lvd_null_queue_rq(struct blk_mq_hw_ctx *h, const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	int c = mycpu()->id;
	uint64_t ref = (uint64_t)(c + 1) << 48 | ++nb_gen[c];
	nb_cur[c].ref = ref;
	nb_cur[c].rq = rq;
	nb_cur[c].started = nb_cur[c].ended = 0;
	struct lvd_msg m = { {
		lvd_msg_word0(NB_QUEUE_RQ, 0), h->queue_num, ref, rq->sector, rq->nr_bytes,
		rq->cmd_flags, rq->tag, (uint64_t)bd->last,
	} };
	int r = lvd_call(nb_dom, &m);
	int ended = nb_cur[c].ended;
	nb_cur[c].rq = NULL;
	if (r == 0 && m.w[0] == 0)
		nullblk_account(h->queue_num, m.w[2], m.w[3]);
	if (ended)
		return BLK_STS_OK;
	// The domain died or returned without ending the request (this glue
	// has no later completion): the request fails, the submitter hears.
	if (!nb_cur[c].started)
		blk_mq_start_request(rq);
	blk_mq_end_request(rq, BLK_STS_IOERR);
	return BLK_STS_OK;
}

static const struct blk_mq_ops lvd_null_mq_ops = {
	.queue_rq = lvd_null_queue_rq,
};

static int
nb_upcall(struct lvd_domain *d, struct lvd_msg *m)
{
	int c = mycpu()->id;
	if (m->w[1] != nb_cur[c].ref || nb_cur[c].rq == NULL)
		return -LVD_EINVAL;
	switch (lvd_msg_fn(m)) {
	case NB_KFN_START_REQUEST:
		if (nb_cur[c].started)
			return -LVD_EINVAL;
		nb_cur[c].started = 1;
		blk_mq_start_request(nb_cur[c].rq);
		return 0;
	case NB_KFN_END_REQUEST:
		if (!nb_cur[c].started || nb_cur[c].ended)
			return -LVD_EINVAL;
		nb_cur[c].ended = 1;
		blk_mq_end_request(nb_cur[c].rq, m->w[2] == BLK_STS_OK ? BLK_STS_OK : BLK_STS_IOERR);
		return 0;
	}
	return -LVD_ENOSYS;
}

static void
isolate_nullblk(void)
{
	nb_dom = lvd_domain_create("nullblk", 0, 0, nb_upcall);
	if (nb_dom == NULL)
		panic("lvd: cannot isolate nullblk");
	for (int q = 0; q < ncpu; q++) {
		uint64_t req, bytes;
		nullblk_queue_counters((unsigned int)q, &req, &bytes);
		struct lvd_msg m = { { lvd_msg_word0(NB_INIT_HCTX, 0), (uint64_t)q, req, bytes } };
		if (lvd_call(nb_dom, &m) != 0 || m.w[0] != 0 || m.w[1] != 0)
			panic("lvd: isolated nullblk: init_hctx %d failed", q);
	}
	// The domain's counters started where the kernel's were (the boot self
	// test counted some): from now on each reply's projection replaces ours.
	nullblk_isolate(&lvd_null_mq_ops);
	printk("lvd: nullblk isolated in domain %d, 3 crossings per I/O\n", nb_dom->id);
}

// ---------------------------------------------------------------- users' drivers

// domain=NAME: load the module NAME, initialize it, make one call
// (LVD_FN_USER, no arguments) and report: a misbehaving driver is killed
// and named, the kernel goes on.
static void
run_user_domain(const char *name)
{
	printk("lvd: loading your driver %s\n", name);
	struct lvd_domain *d = lvd_domain_create(name, 0, 0, NULL);
	if (d == NULL) {
		printk("lvd: %s: not started (see above)\n", name);
		return;
	}
	struct lvd_msg m = { { lvd_msg_word0(LVD_FN_USER, 0) } };
	int r = lvd_call(d, &m);
	if (r != 0)
		printk("lvd: %s: call failed (%d)%s\n", name, r, d->dead ? ": the domain was killed" : "");
	else
		printk("lvd: %s: driver_call returned %ld, w1 = %#lx\n", name, (long)m.w[0], m.w[1]);
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
