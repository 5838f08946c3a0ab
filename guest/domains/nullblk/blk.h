// blk.h: the block-layer structures as the isolated driver sees them
// (shadows kept by glue.c), the same shapes as guest/kernel/blk.h.
#pragma once

typedef int blk_status_t;
#define BLK_STS_OK 0

struct request {
	unsigned long sector;
	unsigned int nr_bytes, cmd_flags, tag;
	unsigned long ref;          // the kernel's reference (opaque)
};

struct blk_mq_hw_ctx {
	unsigned int queue_num;
	void *driver_data;
};

struct blk_mq_queue_data {
	struct request *rq;
	int last;
};

struct blk_mq_ops {
	blk_status_t (*queue_rq)(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd);
	int (*init_hctx)(struct blk_mq_hw_ctx *hctx, void *driver_data, unsigned int index);
};

// glue.c: the kernel's calls
void blk_mq_start_request(struct request *rq);
void blk_mq_end_request(struct request *rq, blk_status_t error);

// nullblk.c
extern const struct blk_mq_ops null_mq_ops;
struct nullb_queue {
	unsigned long requests, bytes;
	unsigned int index;
};
extern struct nullb_queue nullb_queues[];
