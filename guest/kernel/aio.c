// aio.c: asynchronous block I/O for user processes, like Linux's native
// aio as libaio uses it (io_submit / io_getevents), on the first disk.
//
//   io_submit(iocbs, n): n struct iocb (syscall.h) read contiguously from
//     user memory; each becomes a request of the block layer (a tag of the
//     submitting CPU's hardware queue); all are queued on the CPU's software
//     queue and the hardware queue is run once.  Returns how many were
//     queued; an error only if none was (then that iocb's error: -EFAULT
//     for a bad iocb array or buffer, -EINVAL for a bad op, size or sector,
//     -EAGAIN past IO_MAX_INFLIGHT).
//   io_getevents(min, max, events): sleeps until at least min of the
//     process's I/Os have completed, then reaps up to max: copies each one's
//     data from its request's buffer to the user buffer (copyout), writes an
//     io_event {data, res}, frees the request.  -EINVAL if min > max or more
//     than are in flight (nothing could ever satisfy it: there is no
//     timeout).
//
// Data: requests read into the kernel buffer of their tag and the data is
// copied out when the event is reaped, in the process's own context (a
// completion may run on any CPU, in an interrupt).  Every user pointer is
// checked against the process's page table (present, user, writable for
// buffers and events) before anything is queued or reaped, so a bad one is
// -EFAULT and never a kernel fault.
//
// Completion (aio_complete, the request's end_io): the request goes on the
// process's completion list under its context lock and waiters are woken.
// The context is the process's; the only lock a completion takes is that.

#include "blk.h"
#include "percpu.h"

struct kioctx {
	struct spinlock lock;
	struct waitq wait;          // io_getevents and aio_exit, under lock
	struct request *done, *done_tail;
	uint32_t ndone;             // on the done list
	uint32_t inflight;          // submitted and not yet reaped (includes done)
};

static struct kioctx *
ioctx_get(struct proc *p)
{
	// Only the process's own thread creates it (no race: one thread per process).
	if (p->ioctx == NULL) {
		struct kioctx *ctx = kzalloc(sizeof *ctx);
		if (ctx == NULL)
			return NULL;
		initlock(&ctx->lock, "kioctx");
		p->ioctx = ctx;
	}
	return p->ioctx;
}

// end_io of every aio request: any CPU, maybe an interrupt handler.
static void
aio_complete(struct request *rq, blk_status_t error)
{
	struct kioctx *ctx = rq->end_io_data;

	acquire(&ctx->lock);
	rq->next = NULL;
	if (ctx->done_tail)
		ctx->done_tail->next = rq;
	else
		ctx->done = rq;
	ctx->done_tail = rq;
	ctx->ndone++;
	if (ctx->wait.head)
		wq_wakeup(&ctx->wait);
	release(&ctx->lock);
}

#define IOCB_BATCH 8   // iocbs copied in at a time (on the kernel stack)

long
aio_submit(struct proc *p, uint64_t uiocbs, uint64_t n)
{
	struct gendisk *disk = disk_default();
	struct user_iocb cbs[IOCB_BATCH];
	struct kioctx *ctx;

	if (n == 0)
		return 0;
	if (n > IO_MAX_INFLIGHT)
		return -EINVAL;
	if (disk == NULL)
		return -ENODEV;
	if ((ctx = ioctx_get(p)) == NULL)
		return -ENOMEM;
	// Reserve room for all n at once; what is not used is given back.
	acquire(&ctx->lock);
	if (ctx->inflight + n > IO_MAX_INFLIGHT) {
		release(&ctx->lock);
		return -EAGAIN;
	}
	ctx->inflight += (uint32_t)n;
	release(&ctx->lock);

	long err = 0;
	uint64_t i;
	for (i = 0; i < n; i++) {
		if (i % IOCB_BATCH == 0) {
			uint64_t k = n - i < IOCB_BATCH ? n - i : IOCB_BATCH;
			if (copyin(p, cbs, uiocbs + i * IOCB_SIZE, k * IOCB_SIZE) != 0) {
				err = -EFAULT;
				break;
			}
		}
		struct user_iocb *cb = &cbs[i % IOCB_BATCH];
		if (cb->op != IOCB_CMD_PREAD || cb->nbytes != SECTOR_SIZE || cb->sector >= disk->capacity ||
		    cb->nbytes / SECTOR_SIZE > disk->capacity - cb->sector) {
			err = -EINVAL;
			break;
		}
		if (!user_range_ok(p, cb->buf, cb->nbytes, 1)) {
			err = -EFAULT;
			break;
		}
		struct request *rq = blk_mq_alloc_request(disk->queue, REQ_OP_READ);
		rq->sector = cb->sector;
		rq->nr_bytes = cb->nbytes;
		rq->user_data = cb->data;
		rq->user_buf = cb->buf;
		blk_mq_insert_request(rq, aio_complete, ctx);
	}
	if (i < n) {
		acquire(&ctx->lock);
		ctx->inflight -= (uint32_t)(n - i);
		if (ctx->wait.head)
			wq_wakeup(&ctx->wait);   // aio_exit may be counting on them
		release(&ctx->lock);
	}
	if (i > 0)
		blk_mq_run_hw_queue(blk_mq_map_queue(disk->queue, curthread()->cpu));
	return i > 0 ? (long)i : err;
}

#define EVENT_BATCH 16   // events written out at a time

long
aio_getevents(struct proc *p, uint64_t min, uint64_t max, uint64_t uevents)
{
	struct user_io_event evs[EVENT_BATCH];
	struct kioctx *ctx = p->ioctx;

	if (max > IO_MAX_INFLIGHT)
		max = IO_MAX_INFLIGHT;   // no more can be in flight
	if (min > max)
		return -EINVAL;
	if (max == 0)
		return 0;
	if (!user_range_ok(p, uevents, max * IOEV_SIZE, 1))
		return -EFAULT;
	if (ctx == NULL)
		return min == 0 ? 0 : -EINVAL;

	acquire(&ctx->lock);
	if (min > ctx->inflight) {
		release(&ctx->lock);
		return -EINVAL;
	}
	while (ctx->ndone < min)
		wq_sleep(&ctx->wait, &ctx->lock);
	uint32_t take = ctx->ndone < max ? ctx->ndone : (uint32_t)max;
	struct request *list = ctx->done, **end = &list;
	for (uint32_t k = 0; k < take; k++)
		end = &(*end)->next;
	ctx->done = *end;
	if (ctx->done == NULL)
		ctx->done_tail = NULL;
	*end = NULL;
	ctx->ndone -= take;
	ctx->inflight -= take;
	release(&ctx->lock);

	// Outside the lock: copies, and the tags go back.
	uint32_t k = 0;
	for (struct request *rq = list, *next; rq; rq = next, k++) {
		next = rq->next;
		int64_t res = rq->error ? -EIO : (int64_t)rq->nr_bytes;
		if (res > 0 && copyout(p, rq->user_buf, rq->buf, rq->nr_bytes) != 0)
			res = -EFAULT;   // checked at submit; cannot happen while nothing unmaps
		evs[k % EVENT_BATCH] = (struct user_io_event){ rq->user_data, res };
		blk_mq_free_request(rq);
		if (k % EVENT_BATCH == EVENT_BATCH - 1 || next == NULL) {
			uint64_t first = k - k % EVENT_BATCH;
			if (copyout(p, uevents + first * IOEV_SIZE, evs, (k % EVENT_BATCH + 1) * IOEV_SIZE) != 0)
				panic("aio: events page went away");   // checked above
		}
	}
	return take;
}

// From proc_wait, after the process's thread has exited: wait for its I/Os
// still in flight (their completions use the context), free the requests
// nobody reaped, then the context.
void
aio_exit(struct proc *p)
{
	struct kioctx *ctx = p->ioctx;

	if (ctx == NULL)
		return;
	acquire(&ctx->lock);
	while (ctx->ndone < ctx->inflight)
		wq_sleep(&ctx->wait, &ctx->lock);
	struct request *list = ctx->done;
	ctx->done = ctx->done_tail = NULL;
	ctx->ndone = ctx->inflight = 0;
	release(&ctx->lock);
	for (struct request *rq = list, *next; rq; rq = next) {
		next = rq->next;
		blk_mq_free_request(rq);
	}
	kfree(ctx);
	p->ioctx = NULL;
}
