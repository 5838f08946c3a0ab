// nullblk.c: the null block driver, as it runs inside an LVD domain: the
// same driver as guest/kernel/drivers/nullblk.c (irqmode none: every request ends
// in queue_rq).  It registers its tag set with the kernel like a Linux
// driver; glue.c turns that into the blk_mq_alloc_tag_set call of
// idl/blk_mq.idl, and queue_rq's blk_mq_start_request and blk_mq_end_request
// into the crossings back.

#include "lvd_driver.h"
#include "blk.h"
#include <lvd/nullblk_if.h>

static struct nullb_queue nullb_queues[NB_MAX_QUEUES];
static struct blk_mq_tag_set tag_set;

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
	if (submit_queues == 0 || submit_queues > NB_MAX_QUEUES)
		return -1;
	tag_set = (struct blk_mq_tag_set){
		.nr_hw_queues = submit_queues,
		.queue_depth = hw_queue_depth,
		.numa_node = 0,
		.cmd_size = 0,
		.ops = &null_mq_ops,
		.driver_data = nullb_queues,
	};
	return blk_mq_alloc_tag_set(&tag_set);
}

void
nullblk_exit(void)
{
	blk_mq_free_tag_set(&tag_set);
}
