// blk.h: the block layer as the isolated driver sees it, shaped like Linux's
// blk-mq (and guest/kernel/block/blk.h) so that the driver source reads like an
// in-kernel one.  glue.c implements it over the glue generated from
// idl/blk_mq.idl: these are the structs that glue shares, so they carry every
// field the IDL names (LVD_STRUCT_* below tells the generated header not to
// define its own).
#pragma once
#include <stdint.h>

typedef int blk_status_t;
#define BLK_STS_OK 0
#define BLK_STS_IOERR 10

// The domain's shadow of the kernel's request, from queue_rq until it is ended.
struct request {
	uint64_t sector;
	uint32_t nr_bytes;
	uint32_t cmd_flags;
	uint32_t tag;
	int32_t error;
};
#define LVD_STRUCT_REQUEST

struct blk_mq_hw_ctx {
	unsigned int queue_num;
	void *driver_data;           // set by ops->init_hctx
};

struct blk_mq_queue_data {
	struct request *rq;
	int last;
};

struct blk_mq_ops {
	blk_status_t (*queue_rq)(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd);
	int (*init_hctx)(struct blk_mq_hw_ctx *hctx, void *driver_data, unsigned int index);
};

struct blk_mq_tag_set {
	uint32_t nr_hw_queues;
	uint32_t queue_depth;
	uint32_t numa_node;
	uint32_t cmd_size;
	uint64_t flags;
	const struct blk_mq_ops *ops;
	void *driver_data;
};
#define LVD_STRUCT_BLK_MQ_TAG_SET

// glue.c: the kernel's calls.  blk_mq_alloc_tag_set registers the set (its
// ops->queue_rq crosses as a handle) and sets up the hardware queue contexts
// (ops->init_hctx), which Linux's blk_mq_init_queue does.
int blk_mq_alloc_tag_set(struct blk_mq_tag_set *set);   // 0 or a negative error
void blk_mq_free_tag_set(struct blk_mq_tag_set *set);
void blk_mq_start_request(struct request *rq);
void blk_mq_end_request(struct request *rq, blk_status_t error);

// nullblk.c: the driver's module init and exit (the kernel's null_init and
// null_exit), and its per-queue data, whose counters glue.c reports with
// every queue_rq (the kernel's nullblk_get_stats reads them).
struct nullb_queue {
	uint64_t requests, bytes;
	unsigned int index;
};
int nullblk_init(unsigned int submit_queues, unsigned int block_size, unsigned int hw_queue_depth);
void nullblk_exit(void);
