// lvd_nullblk_glue.c: the kernel side of the isolated nullblk over the glue
// generated from idl/blk_mq.idl (blk_mq_kernel.c, included below;
// guest/glue/glue.sh generates it at build time).  See lvd_nullblk.h.
//
// Hand-written here is only the plumbing: the channels, the kernel's
// dispatcher for the domain's calls, the functions the generated handlers
// serve, and the descriptors that stand for the kernel's requests in the
// interface.  Everything that crosses is marshalled and checked by the
// generated code.
//
// One channel per CPU, each with its own capability table: the block layer
// calls queue_rq on every CPU at once (one hardware queue per CPU, each
// under its own lock), so unlike nullnet's no table is shared, and a CPU
// only ever touches its own.  The kernel's shadow of the driver's tag set is
// in the table of the CPU that loaded the driver (null_init), so only a
// call on that CPU can name it (blk_mq_free_tag_set at unload).  A request is
// named by a call-scoped slot of its CPU's channel for one queue_rq ([call]
// in the IDL): the descriptor is the CPU's, the name dies at
// blk_mq_end_request or when the call returns, and the domain can name no
// other request, nor one of another CPU.

#include "lvd_nullblk.h"
#include <lvd/nullblk_if.h>

// The kernel's request (blk.h) is not the interface's: a per-CPU descriptor
// names it for one call, with what the driver has done to it.
struct request {
	uint64_t sector;
	uint32_t nr_bytes;
	uint32_t cmd_flags;
	uint32_t tag;
	int32_t error;
	void *krq;             // the kernel's request during queue_rq, else NULL
	uint8_t started, ended;
};
#define LVD_STRUCT_REQUEST

// The generated handlers call the served rpcs by their own names; in the
// kernel those are blkmq.c's, so they are served as nb_serve_*.
#define blk_mq_alloc_tag_set nb_serve_alloc_tag_set
#define blk_mq_free_tag_set nb_serve_free_tag_set
#define blk_mq_start_request nb_serve_start_request
#define blk_mq_end_request nb_serve_end_request
#include "blk_mq_kernel.c"

#define NB_NCPU 64
#define CAP_SLOTS 8

static struct lvd_cap cap_slots[NB_NCPU][CAP_SLOTS];
static struct lvd_captab caps[NB_NCPU];
static struct lvd_chan chans[NB_NCPU];
static int nchans;
static struct request desc[NB_NCPU];

// What blk_mq_alloc_tag_set gave: the kernel's shadow of the driver's tag
// set and the handle of its queue_rq.
static struct blk_mq_tag_set *kset;
static uint64_t h_queue_rq;

int
nb_glue_init(uint8_t *pool, uint64_t pool_size, int ncpu)
{
	if (ncpu < 0 || ncpu > NB_NCPU || ncpu > NB_MAX_QUEUES)
		return -LVD_ENOMEM;
	for (int c = 0; c < ncpu; c++)
		lvd_captab_init(&caps[c], cap_slots[c], CAP_SLOTS);
	return lvd_chans_init(chans, &nchans, (unsigned int)ncpu, nb_to_domain, caps, 1, pool, pool_size);
}

// The domain's calls (lvd_upcall_dispatch, interrupts off): function ids
// from NB_KFN_BASE up are the interface's.
int
nb_glue_upcall(int cpu, struct lvd_msg *m)
{
	return lvd_chan_serve(chans, nchans, cpu, m, NB_KFN_BASE, blk_mq_kernel_dispatch);
}

int32_t
nb_serve_alloc_tag_set(struct blk_mq_tag_set *set, uint64_t queue_rq)
{
	// One tag set, over the kernel's hardware queues (one per CPU).
	if (kset != NULL || set->nr_hw_queues != (uint32_t)nchans || set->queue_depth == 0)
		return -LVD_EINVAL;
	kset = set;
	h_queue_rq = queue_rq;
	return 0;
}

void
nb_serve_free_tag_set(struct blk_mq_tag_set *set)
{
	if (set != kset)
		return;
	kset = NULL;
	h_queue_rq = 0;
}

// The checks of the request's life: started once, ended once after that,
// and only while its queue_rq runs (krq).  A refused call is ignored; a
// refused blk_mq_end_request still drops the request's name (the generated
// handler of a [call(end)] closes its slot), and the request fails with an I/O error
// when queue_rq returns unended.
void
nb_serve_start_request(struct request *rq)
{
	if (rq->krq == NULL || rq->started)
		return;
	rq->started = 1;
	nb_start_rq(rq->krq);
}

void
nb_serve_end_request(struct request *rq, int32_t error)
{
	if (rq->krq == NULL || !rq->started || rq->ended)
		return;
	rq->ended = 1;
	nb_end_rq(rq->krq, error);
}

void
nb_glue_reset(void)
{
	for (int c = 0; c < nchans; c++) {
		lvd_scope_flush(&chans[c]);
		for (uint32_t i = 0; i < CAP_SLOTS; i++)
			if (cap_slots[c][i].tag != 0)
				lvd_shadow_free(cap_slots[c][i].ptr, cap_slots[c][i].tag);
		lvd_captab_init(&caps[c], cap_slots[c], CAP_SLOTS);
		desc[c].krq = NULL;
	}
	kset = NULL;
	h_queue_rq = 0;
}

void
nb_glue_accounting(uint64_t *ncaps, uint64_t *shadows)
{
	uint64_t n = 0;
	for (int c = 0; c < nchans; c++)
		for (uint32_t i = 0; i < CAP_SLOTS; i++)
			n += cap_slots[c][i].tag != 0;
	*ncaps = n;
	*shadows = lvd_glue_shadows_live();
}

void
nb_glue_set_transport(int (*t)(struct lvd_msg *m))
{
	for (int c = 0; c < nchans; c++)
		__atomic_store_n(&chans[c].transport, t, __ATOMIC_SEQ_CST);
}

int
nb_glue_load(int cpu, uint32_t submit_queues, uint32_t block_size, uint32_t depth)
{
	int32_t ret = -1;
	int rc = blk_mq_call_null_init(&chans[cpu], submit_queues, block_size, depth, &ret);
	if (rc != LVD_OK)
		return rc;
	if (ret != 0)
		return ret;
	if (kset == NULL)
		return -LVD_ENOREF;   // no tag set registered
	return 0;
}

int
nb_glue_queue_rq(int cpu, uint32_t hw_queue, void *krq, const struct nb_io *io, int32_t *ret,
		 uint64_t *requests, uint64_t *bytes, int *started, int *ended)
{
	struct request *rq = &desc[cpu];
	uint64_t req = 0, b = 0;

	rq->sector = io->sector;
	rq->nr_bytes = io->nr_bytes;
	rq->cmd_flags = io->cmd_flags;
	rq->tag = io->tag;
	rq->error = 0;
	rq->krq = krq;
	rq->started = rq->ended = 0;
	*ret = -1;
	int rc = h_queue_rq == 0 ? -LVD_ENOREF :
		blk_mq_call_queue_rq(&chans[cpu], h_queue_rq, hw_queue, rq, io->last, &req, &b, ret);
	// The descriptor's name (a call-scoped slot of this CPU's channel) died
	// with the call, or earlier at blk_mq_end_request.
	rq->krq = NULL;
	*started = rq->started;
	*ended = rq->ended;
	if (rc == LVD_OK) {
		*requests = req;
		*bytes = b;
	}
	return rc;
}
