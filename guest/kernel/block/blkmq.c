// blkmq.c: the multi-queue block layer (blk.h has the shape and the path).
//
// Locks, none shared between CPUs on the I/O path when the driver has a
// hardware queue per CPU (nullblk does):
//   ctx->lock   a CPU's software queue (its threads insert, the dispatcher
//               of its hardware queue takes);
//   hctx->lock  one dispatcher per hardware queue, held across queue_rq, so
//               a driver's per-queue state needs no lock of its own;
//   tags->lock  the tag bitmap of one hardware queue.
// Order: hctx->lock, then ctx->lock; a completion inside queue_rq (irqmode
// none) takes the submitter's locks (aio.c) under hctx->lock, and nothing
// here takes hctx->lock under those.

#include "blk.h"
#include "percpu.h"

static struct gendisk *disks;
static struct spinlock disklock = { .name = "disks" };

// One instruction, so an interrupt on this CPU cannot split it: enough for
// a counter only its own CPU writes.
static inline void
percpu_inc(uint64_t *p)
{
	__asm__ volatile("incq %0" : "+m"(*p));
}

static struct blk_mq_tags *
tags_alloc(struct blk_mq_tag_set *set)
{
	struct blk_mq_tags *t = kzalloc(sizeof *t);
	if (t == NULL)
		return NULL;
	initlock(&t->lock, "blktags");
	t->depth = t->nr_free = set->queue_depth;
	// The request pointers: one page holds 512.
	t->rqs = kalloc();
	if (t->rqs == NULL)
		return NULL;
	// Static requests and their data buffers (PGSIZE / BLK_MAX_BYTES per page).
	char *page = NULL;
	for (uint32_t tag = 0; tag < t->depth; tag++) {
		struct request *rq = kzalloc(sizeof *rq + set->cmd_size);
		if (rq == NULL)
			return NULL;
		if (tag % (PGSIZE / BLK_MAX_BYTES) == 0 && (page = kalloc()) == NULL)
			return NULL;
		rq->tag = tag;
		rq->buf = page + (tag % (PGSIZE / BLK_MAX_BYTES)) * BLK_MAX_BYTES;
		rq->state = MQ_RQ_IDLE;
		t->rqs[tag] = rq;
	}
	return t;
}

// idl/blk_mq.idl: blk_mq_alloc_tag_set.  Tags (and their static requests)
// for each hardware queue.
int
blk_mq_alloc_tag_set(struct blk_mq_tag_set *set)
{
	if (set->ops == NULL || set->ops->queue_rq == NULL || set->nr_hw_queues == 0 ||
	    set->nr_hw_queues > NCPU || set->queue_depth == 0 || set->queue_depth > BLK_MQ_MAX_DEPTH ||
	    set->cmd_size > 2048)
		return -EINVAL;
	set->tags = kzalloc(set->nr_hw_queues * sizeof set->tags[0]);
	if (set->tags == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < set->nr_hw_queues; i++)
		if ((set->tags[i] = tags_alloc(set)) == NULL)
			return -ENOMEM;   // boot time only; nothing is given back
	return 0;
}

void
blk_mq_free_tag_set(struct blk_mq_tag_set *set)
{
	for (uint32_t i = 0; i < set->nr_hw_queues; i++) {
		struct blk_mq_tags *t = set->tags[i];
		for (uint32_t tag = 0; tag < t->depth; tag++) {
			if (tag % (PGSIZE / BLK_MAX_BYTES) == 0)
				kfree_page(t->rqs[tag]->buf);
			kfree(t->rqs[tag]);
		}
		kfree_page(t->rqs);
		kfree(t);
	}
	kfree(set->tags);
	set->tags = NULL;
}

// CPU c's software queue goes to hardware queue c % nr_hw_queues.
struct blk_mq_hw_ctx *
blk_mq_map_queue(struct request_queue *q, int cpu)
{
	return q->ctx[cpu]->hctx;
}

struct request_queue *
blk_mq_init_queue(struct blk_mq_tag_set *set)
{
	struct request_queue *q = kzalloc(sizeof *q);
	if (q == NULL || set->tags == NULL)
		return NULL;
	q->tag_set = set;
	q->nr_hw_queues = set->nr_hw_queues;
	q->hctxs = kzalloc(q->nr_hw_queues * sizeof q->hctxs[0]);
	if (q->hctxs == NULL)
		return NULL;
	for (uint32_t i = 0; i < q->nr_hw_queues; i++) {
		struct blk_mq_hw_ctx *h = kzalloc(sizeof *h);
		if (h == NULL || (h->ctxs = kzalloc(NCPU * sizeof h->ctxs[0])) == NULL)
			return NULL;
		initlock(&h->lock, "blkhctx");
		h->queue = q;
		h->queue_num = i;
		h->tags = set->tags[i];
		q->hctxs[i] = h;
	}
	for (int c = 0; c < ncpu; c++) {
		struct blk_mq_ctx *x = kzalloc(sizeof *x);
		if (x == NULL)
			return NULL;
		initlock(&x->lock, "blkctx");
		x->cpu = (unsigned int)c;
		x->hctx = q->hctxs[(uint32_t)c % q->nr_hw_queues];
		x->hctx->ctxs[x->hctx->nr_ctx++] = x;
		q->ctx[c] = x;
	}
	for (uint32_t i = 0; i < q->nr_hw_queues; i++)
		if (set->ops->init_hctx && set->ops->init_hctx(q->hctxs[i], set->driver_data, i) != 0)
			return NULL;
	return q;
}

int
add_disk(struct gendisk *disk)
{
	if (disk->queue == NULL || disk->capacity == 0)
		return -EINVAL;
	acquire(&disklock);
	struct gendisk **pp = &disks;
	while (*pp)
		pp = &(*pp)->next;
	disk->next = NULL;
	*pp = disk;
	release(&disklock);
	printk("blk: %s: %lu sectors (%lu MiB), %u hardware queue(s) of depth %u\n", disk->disk_name,
	       disk->capacity, disk->capacity >> (20 - SECTOR_SHIFT), disk->queue->nr_hw_queues,
	       disk->queue->tag_set->queue_depth);
	return 0;
}

struct gendisk *
disk_default(void)
{
	return disks;   // written once at boot, before any user process exists
}

// A free tag of the current CPU's hardware queue, sleeping while there is
// none.  The request is that tag's static request.  Called with interrupts
// on, from the submitter's thread (threads do not migrate, so the CPU and
// its hardware queue stay the same across the sleep).
struct request *
blk_mq_alloc_request(struct request_queue *q, unsigned int op)
{
	struct blk_mq_hw_ctx *h = blk_mq_map_queue(q, mycpu()->id);
	struct blk_mq_tags *t = h->tags;

	acquire(&t->lock);
	while (t->nr_free == 0) {
		// Tags may be held by requests still in software queues (ours,
		// or those of a submitter preempted before it ran the queue):
		// send them to the driver first, as Linux's blk_mq_get_tag does,
		// or all could wait for tags that only a dispatch would free.
		release(&t->lock);
		blk_mq_run_hw_queue(h);
		acquire(&t->lock);
		if (t->nr_free == 0)
			wq_sleep(&t->wait, &t->lock);
	}
	uint32_t words = (t->depth + 63) / 64, w = t->hint;
	for (;; w = w + 1 == words ? 0 : w + 1) {
		uint64_t free = ~t->bitmap[w];
		if (w == words - 1 && t->depth % 64)
			free &= (1UL << (t->depth % 64)) - 1;
		if (free)
			break;
	}
	uint32_t bit = (uint32_t)__builtin_ctzl(~t->bitmap[w]);
	t->bitmap[w] |= 1UL << bit;
	t->nr_free--;
	t->hint = w;
	release(&t->lock);

	struct request *rq = t->rqs[w * 64 + bit];
	if (rq->state != MQ_RQ_IDLE)
		panic("blk: tag %u of queue %u allocated twice", rq->tag, h->queue_num);
	rq->state = MQ_RQ_ALLOCATED;
	rq->q = q;
	rq->mq_hctx = h;
	rq->mq_ctx = NULL;
	rq->cmd_flags = op;
	rq->error = 0;
	rq->next = NULL;
	rq->end_io = NULL;
	return rq;
}

void
blk_mq_free_request(struct request *rq)
{
	struct blk_mq_tags *t = rq->mq_hctx->tags;

	if (rq->state != MQ_RQ_ALLOCATED && rq->state != MQ_RQ_COMPLETE)
		panic("blk: freeing request %u in state %d", rq->tag, rq->state);
	rq->state = MQ_RQ_IDLE;
	acquire(&t->lock);
	t->bitmap[rq->tag / 64] &= ~(1UL << (rq->tag % 64));
	t->nr_free++;
	if (t->wait.head)
		wq_wakeup(&t->wait);
	release(&t->lock);
}

// Queue rq on the current CPU's software queue; blk_mq_run_hw_queue sends
// it to the driver (a submitter inserts a batch, then runs the queue once:
// Linux's plug).  end_io(rq, status) is called when it completes.
void
blk_mq_insert_request(struct request *rq, rq_end_io_fn *end_io, void *data)
{
	rq->end_io = end_io;
	rq->end_io_data = data;
	rq->next = NULL;
	push_off();   // the CPU must not change between reading it and locking its queue
	struct blk_mq_ctx *x = rq->q->ctx[mycpu()->id];
	acquire(&x->lock);
	rq->mq_ctx = x;
	if (x->tail)
		x->tail->next = rq;
	else
		x->head = rq;
	x->tail = rq;
	release(&x->lock);
	pop_off();
}

// Hand everything queued for hctx to the driver, in order: requests it
// refused earlier first, then each software queue's.
void
blk_mq_run_hw_queue(struct blk_mq_hw_ctx *h)
{
	const struct blk_mq_ops *ops = h->queue->tag_set->ops;

	acquire(&h->lock);
	struct request *list = h->dispatch, **tail = &list;
	h->dispatch = NULL;
	while (*tail)
		tail = &(*tail)->next;
	for (unsigned int i = 0; i < h->nr_ctx; i++) {
		struct blk_mq_ctx *x = h->ctxs[i];
		// A peek without the lock: a request inserted after it is run by
		// its inserter's own call, which waits for this one's hctx->lock.
		if (__atomic_load_n(&x->head, __ATOMIC_RELAXED) == NULL)
			continue;
		acquire(&x->lock);
		*tail = x->head;
		tail = &x->tail->next;
		x->head = x->tail = NULL;
		release(&x->lock);
	}
	while (list) {
		struct request *rq = list;
		list = rq->next;
		rq->next = NULL;
		struct blk_mq_queue_data bd = { .rq = rq, .last = list == NULL };
		h->queued++;
		percpu_inc(&rq->q->ctx[mycpu()->id]->rq_dispatched);
		blk_status_t st = ops->queue_rq(h, &bd);
		if (st == BLK_STS_RESOURCE) {
			// Keep it and the rest for the next run, in order.
			h->busy++;
			rq->state = MQ_RQ_ALLOCATED;
			rq->next = list;
			h->dispatch = rq;
			break;
		}
		if (st != BLK_STS_OK)
			blk_mq_end_request(rq, st);
	}
	release(&h->lock);
}

// idl/blk_mq.idl: blk_mq_start_request.  The driver owns the request now.
void
blk_mq_start_request(struct request *rq)
{
	if (rq->state != MQ_RQ_ALLOCATED)
		panic("blk: starting request %u in state %d", rq->tag, rq->state);
	rq->state = MQ_RQ_IN_FLIGHT;
}

// idl/blk_mq.idl: blk_mq_end_request.  Back to the submitter; the tag
// stays in use until it frees the request.
void
blk_mq_end_request(struct request *rq, blk_status_t error)
{
	if (rq->state != MQ_RQ_IN_FLIGHT && rq->state != MQ_RQ_ALLOCATED)
		panic("blk: ending request %u in state %d", rq->tag, rq->state);
	rq->state = MQ_RQ_COMPLETE;
	rq->error = error;
	push_off();
	percpu_inc(&rq->q->ctx[mycpu()->id]->rq_completed);
	pop_off();
	if (rq->end_io)
		rq->end_io(rq, error);
}

// Completion from a driver's interrupt handler: the driver's second half
// (ops->complete) if it has one, else end the request with rq->error.
void
blk_mq_complete_request(struct request *rq)
{
	const struct blk_mq_ops *ops = rq->q->tag_set->ops;
	if (ops->complete)
		ops->complete(rq);
	else
		blk_mq_end_request(rq, rq->error);
}

struct blk_stats
blk_queue_stats(struct request_queue *q)
{
	struct blk_stats s = { 0, 0 };
	for (int c = 0; c < ncpu; c++) {
		s.dispatched += q->ctx[c]->rq_dispatched;
		s.completed += q->ctx[c]->rq_completed;
	}
	return s;
}
