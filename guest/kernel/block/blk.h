// blk.h: the block layer, shaped like Linux blk-mq so that a driver can
// later move into an isolated LVD domain behind glue generated from
// idl/blk_mq.idl: the driver sees a tag set it registers, hardware queue
// contexts, struct request (sector, nr_bytes, cmd_flags, tag, error, a
// data buffer) and three calls into the kernel (blk_mq_start_request,
// blk_mq_end_request, blk_mq_complete_request).
//
// The I/O path (blkmq.c):
//   submitter: blk_mq_alloc_request (a tag of the submitting CPU's hardware
//     queue, which is also the request: tags index static requests) ->
//     blk_mq_insert_request (the CPU's software queue) -> blk_mq_run_hw_queue
//     (moves the software queues of that hardware queue to the driver:
//     ops->queue_rq, one dispatcher per hardware queue at a time);
//   driver: blk_mq_start_request, then, now or later (an interrupt),
//     blk_mq_end_request -> rq->end_io(rq, error): back to the submitter
//     (aio.c: data to the user's buffer, an event in the process's ring,
//     its waiters woken), which frees the request (blk_mq_free_request)
//     there: a tag is held only while the request is queued or in the driver.
//
// Everything on that path is per CPU (software queue, hardware queue when
// the driver has one per CPU, tags, statistics), so submitters on
// different CPUs share no lock.  Threads do not migrate, so a request's
// CPU stays its submitter's.
#pragma once
#include "kernel.h"
#include "percpu.h"   // struct waitq
#include "syscall.h"

#define SECTOR_SHIFT 9
#define SECTOR_SIZE  512
#define BLK_MQ_MAX_DEPTH 512        // tags per hardware queue (their pointers fill one page)
#define BLK_MAX_BYTES    SECTOR_SIZE // one bounce buffer per tag (below)

typedef int blk_status_t;
#define BLK_STS_OK       0
#define BLK_STS_IOERR    10         // Linux's numbers
#define BLK_STS_RESOURCE 9          // driver busy: the layer keeps the request and retries later

// cmd_flags: the operation in the low bits, as Linux's REQ_OP_*.
#define REQ_OP_READ  0
#define REQ_OP_WRITE 1
#define REQ_OP_MASK  0xff

enum mq_rq_state { MQ_RQ_IDLE, MQ_RQ_ALLOCATED, MQ_RQ_IN_FLIGHT, MQ_RQ_COMPLETE };

struct request;
typedef void rq_end_io_fn(struct request *rq, blk_status_t error);

struct request {
	// The fields of idl/blk_mq.idl's struct request (what crosses into a domain).
	uint64_t sector;           // first 512-byte sector
	uint32_t nr_bytes;         // length; <= BLK_MAX_BYTES
	uint32_t cmd_flags;        // REQ_OP_*
	uint32_t tag;              // index in its hardware queue's tags
	int32_t error;             // blk_status_t, set by blk_mq_end_request
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
};

static inline void *blk_mq_rq_to_pdu(struct request *rq) { return rq + 1; }
static inline unsigned int req_op(const struct request *rq) { return rq->cmd_flags & REQ_OP_MASK; }

// Tags of one hardware queue: a bitmap over static requests.  The lock is
// the hardware queue's CPU's in practice (one hardware queue per CPU).
struct blk_mq_tags {
	struct spinlock lock;
	uint32_t depth, nr_free;
	uint32_t hint;                          // where the next search starts
	uint64_t bitmap[BLK_MQ_MAX_DEPTH / 64]; // 1 = in use
	struct request **rqs;                   // static requests, by tag
	struct waitq wait;                      // allocators waiting for a tag, under lock
};

// A software queue: one per CPU, requests inserted by that CPU's threads.
struct blk_mq_ctx {
	struct spinlock lock;
	struct request *head, *tail;
	unsigned int cpu;
	struct blk_mq_hw_ctx *hctx;
	uint64_t rq_dispatched, rq_completed;   // per CPU; written by its own CPU only
};

// A hardware queue context, what the driver's queue_rq gets.
struct blk_mq_hw_ctx {
	struct spinlock lock;            // one dispatcher at a time; held across queue_rq
	struct request_queue *queue;
	unsigned int queue_num;
	struct blk_mq_tags *tags;
	struct blk_mq_ctx **ctxs;        // the software queues mapped here
	unsigned int nr_ctx;
	struct request *dispatch;        // requests the driver refused (BLK_STS_RESOURCE), under lock
	void *driver_data;               // set by ops->init_hctx
	uint64_t queued, busy;           // statistics, under lock
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
	struct blk_mq_tags **tags;   // one per hardware queue
};

struct request_queue {
	struct blk_mq_tag_set *tag_set;
	struct blk_mq_hw_ctx **hctxs;
	unsigned int nr_hw_queues;
	struct blk_mq_ctx *ctx[NCPU];    // the software queue of each CPU
	void *queuedata;
};

// A disk: a queue and a size.  The block system calls use the first one.
struct gendisk {
	char disk_name[16];
	struct request_queue *queue;
	uint64_t capacity;           // sectors
	struct gendisk *next;
};

// blkmq.c: for drivers
int blk_mq_alloc_tag_set(struct blk_mq_tag_set *set);
void blk_mq_free_tag_set(struct blk_mq_tag_set *set);
struct request_queue *blk_mq_init_queue(struct blk_mq_tag_set *set);
void blk_mq_start_request(struct request *rq);
void blk_mq_end_request(struct request *rq, blk_status_t error);
void blk_mq_complete_request(struct request *rq);
int add_disk(struct gendisk *disk);
// blkmq.c: for submitters
struct request *blk_mq_alloc_request(struct request_queue *q, unsigned int op);
void blk_mq_free_request(struct request *rq);
void blk_mq_insert_request(struct request *rq, rq_end_io_fn *end_io, void *data);
void blk_mq_run_hw_queue(struct blk_mq_hw_ctx *hctx);
struct blk_mq_hw_ctx *blk_mq_map_queue(struct request_queue *q, int cpu);
struct gendisk *disk_default(void);
struct blk_stats { uint64_t dispatched, completed; };
struct blk_stats blk_queue_stats(struct request_queue *q);   // summed over the CPUs

// aio.c: the asynchronous I/O system calls (libaio-like, docs/KERNEL.md).
// User structures; offsets in syscall.h for user.S.
struct user_iocb {
	uint64_t data;       // returned in the event
	uint64_t buf;        // user buffer, nbytes writable
	uint64_t sector;
	uint32_t nbytes;     // SECTOR_SIZE
	uint32_t op;         // IOCB_CMD_PREAD
};
struct user_io_event {
	uint64_t data;
	int64_t res;         // nbytes, or a negative error
};
_Static_assert(sizeof(struct user_iocb) == IOCB_SIZE && __builtin_offsetof(struct user_iocb, buf) == IOCB_BUF &&
	       __builtin_offsetof(struct user_iocb, sector) == IOCB_SECTOR &&
	       __builtin_offsetof(struct user_iocb, nbytes) == IOCB_NBYTES &&
	       __builtin_offsetof(struct user_iocb, op) == IOCB_OP, "user.S iocb layout");
_Static_assert(sizeof(struct user_io_event) == IOEV_SIZE && __builtin_offsetof(struct user_io_event, res) == IOEV_RES,
	       "user.S io_event layout");
long aio_submit(struct proc *p, uint64_t uiocbs, uint64_t n);
long aio_getevents(struct proc *p, uint64_t min, uint64_t max, uint64_t uevents);
void aio_init(void);             // at boot: aio_exit becomes proc_wait's release hook
void aio_exit(struct proc *p);   // proc_wait: wait for the process's I/Os, free its context

// nullblk.c
void nullblk_init(void);
extern struct gendisk nullblk_disk;
struct nullblk_stats { uint64_t requests, bytes; };
struct nullblk_stats nullblk_get_stats(void);   // summed over the hardware queues
void nullblk_isolate(const struct blk_mq_ops *glue);            // lvd_drivers.c
void nullblk_account(unsigned int hctx, uint64_t requests, uint64_t bytes);
void nullblk_queue_counters(unsigned int hctx, uint64_t *requests, uint64_t *bytes);
