// nullblk.c: a block device that completes every request at once (Linux's
// null_blk with irqmode=0 (none) and memory_backed=0): queue_rq starts the
// request, counts it and ends it with BLK_STS_OK in the same call, so the
// submitter finds it complete when io_submit returns.  It never touches the
// data: a read returns whatever the request's buffer held, which is zeros
// (the block layer's buffers are zeroed pages and nothing ever writes them:
// only reads exist).  Like null_blk's default it has no storage at all.
//
// One hardware queue per CPU (null_blk's submit_queues = nr_cpus), so
// submitters on different CPUs share nothing here; each queue's counters
// are only written under that queue's dispatch lock (queue_rq is
// serialized per hardware queue by the block layer).
//
// Written against linux/blk-mq.h only, so that the same source is built
// into the kernel (guest/kernel/build.sh) or, unmodified, into an LVD domain
// (guest/domains/nullblk: its glue turns blk_mq_alloc_tag_set,
// blk_mq_start_request and blk_mq_end_request into the calls of
// idl/blk_mq.idl).  Its parameters are null_blk's module parameters
// (submit_queues, bs, hw_queue_depth), given by whoever loads it.

#include <linux/blk-mq.h>
#include "nullblk.h"

#define NULLBLK_SIZE_GB 1             // null_blk's gb= (it defaults to 250)

static struct nullb_queue *nullb_queues;
static uint32_t nullb_nr_queues;
static struct blk_mq_tag_set nullb_set;
static struct gendisk nullblk_disk = { .disk_name = "nullb0" };

static int
null_init_hctx(struct blk_mq_hw_ctx *hctx, void *data, unsigned int index)
{
	struct nullb_queue *nq = &((struct nullb_queue *)data)[index];
	nq->index = index;
	hctx->driver_data = nq;
	return 0;
}

static blk_status_t
null_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct nullb_queue *nq = hctx->driver_data;
	struct request *rq = bd->rq;

	blk_mq_start_request(rq);
	nq->requests++;
	nq->bytes += rq->nr_bytes;
	blk_mq_end_request(rq, BLK_STS_OK);
	return BLK_STS_OK;
}

static const struct blk_mq_ops null_mq_ops = {
	.queue_rq = null_queue_rq,
	.init_hctx = null_init_hctx,
};

int
nullblk_init(unsigned int submit_queues, unsigned int block_size, unsigned int hw_queue_depth)
{
	if (submit_queues == 0)
		return -1;
	nullb_nr_queues = submit_queues;
	nullb_queues = kzalloc(nullb_nr_queues * sizeof nullb_queues[0]);
	if (nullb_queues == NULL)
		return -1;
	nullb_set = (struct blk_mq_tag_set){
		.nr_hw_queues = nullb_nr_queues,
		.queue_depth = hw_queue_depth,
		.ops = &null_mq_ops,
		.driver_data = nullb_queues,
	};
	int r = blk_mq_alloc_tag_set(&nullb_set);
	if (r != 0)
		return r;
	nullblk_disk.queue = blk_mq_init_queue(&nullb_set);
	if (nullblk_disk.queue == NULL)
		return -1;
	nullblk_disk.queue->queuedata = &nullblk_disk;
	nullblk_disk.capacity = (uint64_t)NULLBLK_SIZE_GB << (30 - SECTOR_SHIFT);
	return add_disk(&nullblk_disk);
}

void
nullblk_exit(void)
{
	blk_mq_free_tag_set(&nullb_set);
}

// The statistics: another instance of this driver (the same source in an
// LVD domain) reports its queues' counters, which are kept here
// (lvd_drivers.c), so nullblk_get_stats reads the same either way.
void
nullblk_account(unsigned int hctx, uint64_t requests, uint64_t bytes)
{
	if (hctx < nullb_nr_queues) {
		nullb_queues[hctx].requests = requests;
		nullb_queues[hctx].bytes = bytes;
	}
}

void
nullblk_queue_counters(unsigned int hctx, uint64_t *requests, uint64_t *bytes)
{
	*requests = hctx < nullb_nr_queues ? nullb_queues[hctx].requests : 0;
	*bytes = hctx < nullb_nr_queues ? nullb_queues[hctx].bytes : 0;
}

// A snapshot; each queue's counters are read without its lock (statistics).
struct nullblk_stats
nullblk_get_stats(void)
{
	struct nullblk_stats s = { 0, 0 };
	for (uint32_t i = 0; i < nullb_nr_queues; i++) {
		s.requests += __atomic_load_n(&nullb_queues[i].requests, __ATOMIC_RELAXED);
		s.bytes += __atomic_load_n(&nullb_queues[i].bytes, __ATOMIC_RELAXED);
	}
	return s;
}
