// linux/blk-mq.h: the multi-queue block API, shaped like Linux blk-mq, that a
// driver is written against (guest/drivers/nullblk): a tag set it registers,
// hardware queue contexts, struct request, its disk, and the calls into the
// block layer.  One definition for both places a driver runs
// (docs/DOMAINS.md): built into the kernel, where the block layer
// (guest/kernel/block) implements it, or into an LVD domain (LVD_DOMAIN,
// guest/flags), where the domain glue implements it over the glue generated
// from idl/blk_mq.idl (blk_mq_alloc_tag_set, blk_mq_start_request and
// blk_mq_end_request cross; the queue and the disk stay the kernel's).
//
// As in Linux, some members depend on the configuration: the block layer's
// own bookkeeping exists only in the kernel.  The driver touches only the
// common members.  LVD_STRUCT_* tells the generated glue header not to
// define its own structs.
#pragma once
#include <stddef.h>
#include <stdint.h>
#ifndef LVD_DOMAIN
#include "kernel.h"   // struct spinlock, NCPU
#endif

typedef int blk_status_t;
#define BLK_STS_OK       0
#define BLK_STS_IOERR    10         // Linux's numbers
#define BLK_STS_RESOURCE 9          // driver busy: the layer keeps the request and retries later

struct request;
struct request_queue;
struct blk_mq_tags;
struct blk_mq_ctx;
#ifndef LVD_DOMAIN
enum mq_rq_state { MQ_RQ_IDLE, MQ_RQ_ALLOCATED, MQ_RQ_IN_FLIGHT, MQ_RQ_COMPLETE };
typedef void rq_end_io_fn(struct request *rq, blk_status_t error);
#endif

struct request {
	// The fields of idl/blk_mq.idl's struct request (what crosses into a domain).
	uint64_t sector;           // first 512-byte sector
	uint32_t nr_bytes;         // length; <= BLK_MAX_BYTES
	uint32_t cmd_flags;        // REQ_OP_*
	uint32_t tag;              // index in its hardware queue's tags
	int32_t error;             // blk_status_t, set by blk_mq_end_request
#ifndef LVD_DOMAIN
	// The data: a kernel buffer owned by the tag (the "shared pool" of the
	// IDL: it stays in the kernel, a domain would get it mapped or copied).
	void *buf;
	// Kernel side only.
	enum mq_rq_state state;
	struct request_queue *q;
	struct blk_mq_hw_ctx *mq_hctx;
	struct blk_mq_ctx *mq_ctx;      // software queue it was inserted on
	struct request *next;           // software / dispatch / completion list link
	rq_end_io_fn *end_io;           // called by blk_mq_end_request
	void *end_io_data;
	uint64_t user_data;             // the submitter's (aio.c: the iocb's data)
	void *user_kbuf;                // aio.c: the user buffer, through the direct map
	// cmd_size bytes of driver data follow (blk_mq_rq_to_pdu).
#endif
};
#define LVD_STRUCT_REQUEST

// A hardware queue context, what the driver's queue_rq gets.
struct blk_mq_hw_ctx {
#ifndef LVD_DOMAIN
	struct spinlock lock;            // one dispatcher at a time; held across queue_rq
	struct request_queue *queue;
#endif
	unsigned int queue_num;
#ifndef LVD_DOMAIN
	struct blk_mq_tags *tags;
	struct blk_mq_ctx **ctxs;        // the software queues mapped here
	unsigned int nr_ctx;
	struct request *dispatch;        // requests the driver refused (BLK_STS_RESOURCE), under lock
#endif
	void *driver_data;               // set by ops->init_hctx
#ifndef LVD_DOMAIN
	uint64_t queued, busy;           // statistics, under lock
#endif
};

struct blk_mq_queue_data {
	struct request *rq;
	int last;                        // the last of this dispatch batch (ring the doorbell)
};

struct blk_mq_ops {
	// Takes the request (BLK_STS_OK: it will be ended with
	// blk_mq_end_request; BLK_STS_RESOURCE: give it back later; other:
	// the layer ends it with that error).  Serialized per hardware queue.
	blk_status_t (*queue_rq)(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd);
	// Optional: blk_mq_complete_request's second half (Linux: softirq side).
	void (*complete)(struct request *rq);
	// Optional: per hardware queue setup, at blk_mq_init_queue.
	int (*init_hctx)(struct blk_mq_hw_ctx *hctx, void *driver_data, unsigned int index);
};

// idl/blk_mq.idl: blk_mq_tag_set (nr_hw_queues, queue_depth, numa_node,
// cmd_size, flags) plus the kernel's own fields.
struct blk_mq_tag_set {
	uint32_t nr_hw_queues;
	uint32_t queue_depth;
	uint32_t numa_node;
	uint32_t cmd_size;           // driver bytes after each struct request
	uint64_t flags;
	const struct blk_mq_ops *ops;
	void *driver_data;
#ifndef LVD_DOMAIN
	struct blk_mq_tags **tags;   // one per hardware queue
#endif
};
#define LVD_STRUCT_BLK_MQ_TAG_SET

struct request_queue {
#ifndef LVD_DOMAIN
	struct blk_mq_tag_set *tag_set;
	struct blk_mq_hw_ctx **hctxs;
	unsigned int nr_hw_queues;
	struct blk_mq_ctx *ctx[NCPU];    // the software queue of each CPU
#endif
	void *queuedata;
};

// A disk: a queue and a size.  The block system calls use the first one.
struct gendisk {
	char disk_name[16];
	struct request_queue *queue;
	uint64_t capacity;           // sectors
#ifndef LVD_DOMAIN
	struct gendisk *next;
#endif
};

#define SECTOR_SHIFT 9
#define SECTOR_SIZE  512

int blk_mq_alloc_tag_set(struct blk_mq_tag_set *set);   // 0 or a negative error
void blk_mq_free_tag_set(struct blk_mq_tag_set *set);
struct request_queue *blk_mq_init_queue(struct blk_mq_tag_set *set);   // NULL on failure
void blk_mq_start_request(struct request *rq);
void blk_mq_end_request(struct request *rq, blk_status_t error);
int add_disk(struct gendisk *disk);                      // 0 or a negative error
void *kzalloc(size_t n);                                 // zeroed, or NULL
