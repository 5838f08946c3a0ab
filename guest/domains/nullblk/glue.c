// glue.c: the domain side of the isolated nullblk (LVD.md section 4), over
// the glue generated from idl/blk_mq.idl (blk_mq_domain.c, included below;
// guest/glue/glue.sh generates it at build time).
//
// What is hand-written here is only the driver's side of it: the
// Linux-shaped API the driver calls (linux/blk-mq.h: blk_mq_alloc_tag_set,
// blk_mq_init_queue, add_disk, blk_mq_start_request, blk_mq_end_request, ...)
// and the function its queue_rq crosses as (the handle names cb_queue_rq,
// which calls the driver's ops with Linux's signature on the hardware queue's
// context).  The channels, transport, dispatcher and shadow memory are the
// domain library's (domain_glue.h).
//
// One channel per CPU, each with its own capability table: the kernel calls
// queue_rq on every CPU at once.  What the driver registers while the kernel
// loads it (the tag set, the queue_rq handle) goes into the loading CPU's
// table, which null_init then copies to every CPU's (same slots, same
// generations), so that queue_rq finds the handle on every CPU.  (The
// kernel's shadow of the tag set stays in its loading CPU's table: it never
// touches another CPU's.)

#include "lvd_driver.h"
#include <linux/blk-mq.h>
#include <lvd/nullblk_if.h>
#include "nullblk.h"   // the driver: guest/drivers/nullblk, built unmodified (file `driver`)

// The generated glue serves these on the kernel side under these names; here
// they are the driver's API (linux/blk-mq.h), so the generated header's prototypes of
// the kernel's functions are renamed out of the way.
#define blk_mq_alloc_tag_set lvd_kernel_blk_mq_alloc_tag_set
#define blk_mq_free_tag_set lvd_kernel_blk_mq_free_tag_set
#define blk_mq_start_request lvd_kernel_blk_mq_start_request
#define blk_mq_end_request lvd_kernel_blk_mq_end_request
#include "blk_mq_domain.c"
#undef blk_mq_alloc_tag_set
#undef blk_mq_free_tag_set
#undef blk_mq_start_request
#undef blk_mq_end_request
#include "domain_glue.h"   // channels, transport, dispatch, shadows (domain library)

#define CAP_SLOTS 8

static struct lvd_cap cap_slots[LVD_GLUE_MAX_CPUS][CAP_SLOTS];
static struct lvd_captab caps[LVD_GLUE_MAX_CPUS];

// The registered tag set and its hardware queue contexts.
static struct blk_mq_tag_set *the_set;
static struct blk_mq_hw_ctx hctxs[NB_MAX_QUEUES];

LVD_GLUE_DRIVER_CALL(blk_mq_domain_dispatch)

// ---- what the kernel calls ----

// queue_rq's handle names this.  rq is the call-scoped shadow of this CPU's
// channel ([call] in the IDL): valid for this call only; the generated
// handler closes its slot when the call returns and keeps the shadow for the
// next request.  The driver ends it (blk_mq_end_request kills its name).
static int32_t
cb_queue_rq(uint32_t hw_queue, struct request *rq, uint8_t last, uint64_t *requests, uint64_t *bytes)
{
	struct blk_mq_tag_set *set = the_set;
	blk_status_t st = BLK_STS_IOERR;
	if (set != NULL && hw_queue < set->nr_hw_queues) {
		struct blk_mq_queue_data bd = { rq, last != 0 };
		struct blk_mq_hw_ctx *hctx = &hctxs[hw_queue];
		st = set->ops->queue_rq(hctx, &bd);
		struct nullb_queue *nq = hctx->driver_data;
		if (nq != NULL) {
			*requests = nq->requests;
			*bytes = nq->bytes;
		}
	}
	// A request the driver did not end (it has no later completion): its
	// name dies with the call; the kernel fails it.
	return st;
}

int32_t
null_init(uint32_t submit_queues, uint32_t block_size, uint32_t hw_queue_depth)
{
	unsigned int me = lvd_glue_cpu();
	int r = nullblk_init(submit_queues, block_size, hw_queue_depth);
	if (r != 0)
		return r;
	// What the driver registered, every CPU's table has.
	for (unsigned int c = 0; c < lvd_glue_ncpus; c++) {
		if (c == me)
			continue;
		memcpy(cap_slots[c], cap_slots[me], sizeof cap_slots[c]);
		caps[c].used = caps[me].used;
		caps[c].free = caps[me].free;
	}
	return 0;
}

void
null_exit(void)
{
	nullblk_exit();
}

// ---- the driver's API ----

int
blk_mq_alloc_tag_set(struct blk_mq_tag_set *set)
{
	if (the_set != NULL || set->ops == NULL || set->ops->queue_rq == NULL ||
	    set->nr_hw_queues == 0 || set->nr_hw_queues > NB_MAX_QUEUES)
		return -LVD_EINVAL;
	int32_t ret;
	int rc = blk_mq_call_blk_mq_alloc_tag_set(lvd_glue_chan(), set, cb_queue_rq, &ret);
	if (rc != LVD_OK)
		return rc;
	if (ret != 0)
		return ret;
	the_set = set;
	return 0;
}

// The queue is the kernel's (the disk the in-kernel instance of this driver
// added at boot; the kernel points its tag set's ops at the glue): here it
// is only the hardware queue contexts queue_rq runs on, set up by the
// driver's init_hctx.  Nothing crosses.
struct request_queue *
blk_mq_init_queue(struct blk_mq_tag_set *set)
{
	static struct request_queue queue;
	if (set != the_set)
		return NULL;
	for (unsigned int q = 0; q < set->nr_hw_queues; q++) {
		hctxs[q].queue_num = q;
		if (set->ops->init_hctx != NULL && set->ops->init_hctx(&hctxs[q], set->driver_data, q) != 0)
			return NULL;
	}
	return &queue;
}

// The disk too is the kernel's already: nothing to add.
int
add_disk(struct gendisk *disk)
{
	return disk->queue != NULL ? 0 : -LVD_EINVAL;
}

void
blk_mq_free_tag_set(struct blk_mq_tag_set *set)
{
	if (set != the_set || blk_mq_call_blk_mq_free_tag_set(lvd_glue_chan(), set) != LVD_OK)
		return;
	the_set = NULL;
	// The set's and the handle's copies in every table go.
	for (unsigned int c = 0; c < lvd_glue_ncpus; c++) {
		uint64_t cap = lvd_cap_find(&caps[c], set, LVD_TAG_BLK_MQ_TAG_SET);
		if (cap != 0)
			lvd_cap_remove(&caps[c], cap);
		cap = lvd_cap_find(&caps[c], (void *)cb_queue_rq, BLK_MQ_TAG_FN_QUEUE_RQ);
		if (cap != 0)
			lvd_cap_remove(&caps[c], cap);
	}
}

void
blk_mq_start_request(struct request *rq)
{
	blk_mq_call_blk_mq_start_request(lvd_glue_chan(), rq);
}

void
blk_mq_end_request(struct request *rq, blk_status_t error)
{
	// On success the stub killed the request's name; the shadow stays the
	// channel's.
	blk_mq_call_blk_mq_end_request(lvd_glue_chan(), rq, error);
}

long
driver_init(unsigned int ncpu)
{
	for (unsigned int c = 0; c < LVD_GLUE_MAX_CPUS; c++)
		lvd_captab_init(&caps[c], cap_slots[c], CAP_SLOTS);
	return lvd_glue_init(ncpu, caps, 1);
}
