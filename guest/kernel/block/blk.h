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
#include <linux/blk-mq.h>   // what drivers see: request, hardware queue, tag set, disk (guest/include)

#define BLK_MQ_MAX_DEPTH 512        // tags per hardware queue (their pointers fill one page)
#define BLK_MAX_BYTES    SECTOR_SIZE // one bounce buffer per tag (below)

// cmd_flags: the operation in the low bits, as Linux's REQ_OP_*.
#define REQ_OP_READ  0
#define REQ_OP_WRITE 1
#define REQ_OP_MASK  0xff

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

// blkmq.c: for drivers (with linux/blk-mq.h's)
void blk_mq_complete_request(struct request *rq);
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
