// aio.c: asynchronous block I/O for user processes, like Linux's native
// aio as libaio uses it with O_DIRECT (io_submit / io_getevents), on the
// first disk.
//
//   io_submit(iocbs, n): n struct iocb (syscall.h) read contiguously from
//     user memory; each becomes a request of the block layer (a tag of the
//     submitting CPU's hardware queue); all are queued on the CPU's software
//     queue and the hardware queue is run once.  Returns how many were
//     queued; an error only if none was (then that iocb's error: -EFAULT
//     for a bad iocb array or buffer, -EINVAL for a bad op, size, sector or
//     a buffer not 512-byte aligned (O_DIRECT's rule), -EAGAIN past
//     IO_MAX_INFLIGHT).
//   io_getevents(min, max, events): sleeps until at least min of the
//     process's I/Os have completed, then copies out up to max io_events
//     {data, res}.  -EINVAL if min > max or more than are in flight
//     (nothing could ever satisfy it: there is no timeout).
//
// Data: a request reads into the kernel buffer of its tag (what a device
// would DMA into); at completion the data is copied into the user's buffer
// through the direct map, then the event is posted and the request (its
// tag) is freed at once, as in Linux, so tags are only held while the device
// has the I/O.  The user buffer was checked and resolved at submit (present,
// user, writable: uvm's walk, as copyin/copyout do; get_user_pages in
// Linux); an aligned 512-byte buffer never crosses a page, and the page
// stays the process's until proc_wait, which first waits for the process's
// I/Os (aio_exit).  A completion may so run on any CPU, in an interrupt,
// without the process's page tables.  Every user pointer is checked before
// anything is queued or copied out, so a bad one is -EFAULT and never a
// kernel fault.
//
// Completion (aio_complete, the request's end_io) takes the process's
// context lock, the only lock it needs: the event goes into the context's
// ring (IO_MAX_INFLIGHT entries: it cannot overflow) and waiters are woken.

#include "blk.h"
#include "percpu.h"

#define RING_SIZE IO_MAX_INFLIGHT    // one page of events

struct kioctx {
	struct spinlock lock;
	struct waitq wait;          // io_getevents and aio_exit, under lock
	struct user_io_event *ring; // completed, not yet reaped: [head, head + ndone)
	uint32_t head, ndone;
	uint32_t inflight;          // submitted and not yet reaped (includes ndone)
};
_Static_assert(RING_SIZE * sizeof(struct user_io_event) == PGSIZE, "the event ring is one page");

static struct kioctx *
ioctx_get(struct proc *p)
{
	// Only the process's own thread creates it (no race: one thread per process).
	if (p->ioctx == NULL) {
		struct kioctx *ctx = kzalloc(sizeof *ctx);
		if (ctx == NULL)
			return NULL;
		if ((ctx->ring = kalloc()) == NULL) {
			kfree(ctx);
			return NULL;
		}
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
	int64_t res = error ? -EIO : (int64_t)rq->nr_bytes;

	if (res > 0)
		memcpy(rq->user_kbuf, rq->buf, rq->nr_bytes);
	acquire(&ctx->lock);
	ctx->ring[(ctx->head + ctx->ndone) % RING_SIZE] = (struct user_io_event){ rq->user_data, res };
	ctx->ndone++;
	if (ctx->wait.head)
		wq_wakeup(&ctx->wait);
	release(&ctx->lock);
	blk_mq_free_request(rq);
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
		if (cb->op != IOCB_CMD_PREAD || cb->nbytes != SECTOR_SIZE || cb->buf % SECTOR_SIZE != 0 ||
		    cb->sector >= disk->capacity || cb->nbytes / SECTOR_SIZE > disk->capacity - cb->sector) {
			err = -EINVAL;
			break;
		}
		void *kbuf = user_kaddr(p, cb->buf, 1);   // aligned: the whole buffer is in this page
		if (kbuf == NULL) {
			err = -EFAULT;
			break;
		}
		struct request *rq = blk_mq_alloc_request(disk->queue, REQ_OP_READ);
		rq->sector = cb->sector;
		rq->nr_bytes = cb->nbytes;
		rq->user_data = cb->data;
		rq->user_kbuf = kbuf;
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

#define EVENT_BATCH 16   // events copied out at a time, from the kernel stack

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
	release(&ctx->lock);

	// Only this thread consumes the ring, so the first `take` events stay
	// put; completions only append.  Copied out a batch at a time, then
	// given back to the ring.
	for (uint32_t done = 0; done < take; ) {
		uint32_t k = take - done < EVENT_BATCH ? take - done : EVENT_BATCH;
		acquire(&ctx->lock);
		for (uint32_t j = 0; j < k; j++)
			evs[j] = ctx->ring[(ctx->head + j) % RING_SIZE];
		ctx->head = (ctx->head + k) % RING_SIZE;
		ctx->ndone -= k;
		ctx->inflight -= k;
		release(&ctx->lock);
		if (copyout(p, uevents + (uint64_t)done * IOEV_SIZE, evs, k * IOEV_SIZE) != 0)
			panic("aio: events page went away");   // checked above; nothing unmaps
		done += k;
	}
	return take;
}

void
aio_init(void)
{
	proc_set_release_hook(aio_exit);
}

// From proc_wait, after the process's thread has exited: wait for its I/Os
// still in flight (their completions write into its pages and this
// context), then free the context.  Unreaped events are dropped.
void
aio_exit(struct proc *p)
{
	struct kioctx *ctx = p->ioctx;

	if (ctx == NULL)
		return;
	acquire(&ctx->lock);
	while (ctx->ndone < ctx->inflight)
		wq_sleep(&ctx->wait, &ctx->lock);
	release(&ctx->lock);
	kfree_page(ctx->ring);
	kfree(ctx);
	p->ioctx = NULL;
}
