// glue.c: the domain side of the isolated nullblk's glue: shadow hardware
// queue contexts (one per kernel hardware queue, made at NB_INIT_HCTX), a
// shadow request per call, and the kernel's calls as upcalls.

#include "lvd_driver.h"
#include "blk.h"
#include "nullblk_if.h"

static struct blk_mq_hw_ctx hctxs[NB_MAX_QUEUES];
static unsigned char hctx_ready[NB_MAX_QUEUES];

long
driver_init(unsigned int ncpu)
{
	return ncpu <= NB_MAX_QUEUES ? 0 : -LVD_EINVAL;
}

void
blk_mq_start_request(struct request *rq)
{
	struct lvd_msg m = { { lvd_msg_word0(NB_KFN_START_REQUEST, 0), rq->ref } };
	lvd_upcall_raw(&m);
}

void
blk_mq_end_request(struct request *rq, blk_status_t error)
{
	struct lvd_msg m = { { lvd_msg_word0(NB_KFN_END_REQUEST, 0), rq->ref, (unsigned long)(long)error } };
	lvd_upcall_raw(&m);
}

long
driver_call(struct lvd_msg *m)
{
	unsigned long q = m->w[1];
	if (q >= NB_MAX_QUEUES)
		return -LVD_EINVAL;
	switch (lvd_msg_fn(m)) {
	case NB_INIT_HCTX:
		hctxs[q].queue_num = (unsigned int)q;
		m->w[1] = (unsigned long)null_mq_ops.init_hctx(&hctxs[q], nullb_queues, (unsigned int)q);
		nullb_queues[q].requests = m->w[2];   // the kernel's counters so far
		nullb_queues[q].bytes = m->w[3];
		hctx_ready[q] = 1;
		return 0;
	case NB_QUEUE_RQ: {
		if (!hctx_ready[q])
			return -LVD_EINVAL;
		struct request rq = {
			.ref = m->w[2], .sector = m->w[3], .nr_bytes = (unsigned int)m->w[4],
			.cmd_flags = (unsigned int)m->w[5], .tag = (unsigned int)m->w[6],
		};
		struct blk_mq_queue_data bd = { &rq, (int)m->w[7] };
		blk_status_t st = null_mq_ops.queue_rq(&hctxs[q], &bd);
		struct nullb_queue *nq = hctxs[q].driver_data;
		m->w[1] = (unsigned long)(long)st;
		m->w[2] = nq->requests;
		m->w[3] = nq->bytes;
		return 0;
	}
	}
	return -LVD_ENOSYS;
}
