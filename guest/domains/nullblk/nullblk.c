// nullblk.c: the null block driver, as it runs inside an LVD domain: the
// same driver as guest/kernel/nullblk.c (irqmode none: every request ends
// in queue_rq).

#include "lvd_driver.h"
#include "blk.h"
#include "nullblk_if.h"

struct nullb_queue nullb_queues[NB_MAX_QUEUES];

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

const struct blk_mq_ops null_mq_ops = {
	.queue_rq = null_queue_rq,
	.init_hctx = null_init_hctx,
};
