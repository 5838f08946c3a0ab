// blk_mq_harness.c: nullblk over idl/blk_mq.idl.  The kernel loads the driver (null_init,
// which registers its tag set and queue_rq), then issues I/O: queue_rq crosses into the
// driver, which starts and ends the request in the kernel, three crossings per I/O as in
// the paper's nullblk; the queue's counters come back with the reply.

#include "harness.h"
#include "blk_mq_glue.h"

// ---- the driver ----

static struct blk_mq_tag_set set;
static uint64_t queue_requests[16], queue_bytes[16];

// A hostile domain: blk_mq_start_request with a name of its own choosing.
static int
hostile_start(uint64_t name)
{
	struct lvd_msg m = { { LVD_MSG_HDR(BLK_MQ_FN_BLK_MQ_START_REQUEST, dside.chan.target), name } };
	int rc = dside.chan.transport(&m);
	return rc == LVD_OK ? lvd_status(m.w[0]) : rc;
}

static int32_t
drv_queue_rq(uint32_t hw_queue, struct request *rq, uint8_t last, uint64_t *requests, uint64_t *bytes)
{
	int32_t error;

	impl_calls++;
	printf("queue_rq hwq %u sector %" PRIu64 " bytes %u flags %u tag %u last %u\n", hw_queue,
	       rq->sector, rq->nr_bytes, rq->cmd_flags, rq->tag, last);
	queue_requests[hw_queue % 16]++;
	queue_bytes[hw_queue % 16] += rq->nr_bytes;
	*requests = queue_requests[hw_queue % 16];
	*bytes = queue_bytes[hw_queue % 16];
	if (blk_mq_call_blk_mq_start_request(&dside.chan, rq) != LVD_OK)
		return -1;
	// The request is call-scoped: the kernel's name for it is a slot of its channel.
	// A forged name (another generation) is refused by the kernel...
	struct lvd_scope *sc = lvd_scope_find(&dside.chan, rq, LVD_TAG_REQUEST);
	uint64_t name = sc == NULL ? 0 : sc->remote;
	int forged = hostile_start(name + (1ull << 32));
	// An odd sector fails with -EIO, to see the error travel.
	error = rq->sector % 2 == 1 ? -5 : 0;
	rq->error = error;
	if (blk_mq_call_blk_mq_end_request(&dside.chan, rq, error) != LVD_OK)
		return -1;
	// ...and so is the real one once the request has ended, and the stub refuses
	// to name it at all.
	int stale = hostile_start(name);
	int local = blk_mq_call_blk_mq_end_request(&dside.chan, rq, error);
	printf("refused forged %d stale %d local %d\n", forged, stale, local);
	return 0;
}

int32_t
null_init(uint32_t nr_devices, uint32_t block_size, uint32_t hw_queue_depth)
{
	int32_t ret = -1;

	impl_calls++;
	set.nr_hw_queues = nr_devices;
	set.queue_depth = hw_queue_depth;
	set.cmd_size = block_size;
	set.numa_node = 0;
	set.flags = 1;
	int rc = blk_mq_call_blk_mq_alloc_tag_set(&dside.chan, &set, drv_queue_rq, &ret);
	return rc == LVD_OK ? ret : rc;
}

void
null_exit(void)
{
	impl_calls++;
	blk_mq_call_blk_mq_free_tag_set(&dside.chan, &set);
	// Unloading: the domain drops the call-scoped shadows its channel keeps.
	lvd_scope_flush(&dside.chan);
}

// ---- the kernel ----

static struct blk_mq_tag_set *kset;
static uint64_t kqueue_rq;
static struct request requests[16];

int32_t
blk_mq_alloc_tag_set(struct blk_mq_tag_set *s, uint64_t queue_rq)
{
	impl_calls++;
	kset = s;
	kqueue_rq = queue_rq;
	printf("tag_set queues %u depth %u cmd_size %u flags %" PRIu64 "\n", s->nr_hw_queues,
	       s->queue_depth, s->cmd_size, s->flags);
	return 0;
}

HARNESS_RELEASE_FN(blk_mq_free_tag_set, struct blk_mq_tag_set, "free_tag_set", kset)

void
blk_mq_start_request(struct request *rq)
{
	impl_calls++;
	printf("start %td\n", rq - requests);
}

void
blk_mq_end_request(struct request *rq, int32_t error)
{
	impl_calls++;
	printf("end %td error %d\n", rq - requests, error);
}

static void
cmd_io(char *args)
{
	uint32_t hwq = (uint32_t)next_u64(&args);
	struct request *rq = &requests[next_u64(&args) % 16];
	uint64_t nreq = 0, nbytes = 0;
	int32_t ret = -1;

	memset(rq, 0, sizeof(*rq));
	rq->sector = next_u64(&args);
	rq->nr_bytes = (uint32_t)next_u64(&args);
	rq->cmd_flags = (uint32_t)next_u64(&args);
	rq->tag = (uint32_t)next_u64(&args);
	uint8_t last = (uint8_t)next_u64(&args);
	int rc = blk_mq_call_queue_rq(&kside.chan, kqueue_rq, hwq, rq, last, &nreq, &nbytes, &ret);
	printf("rc %d ret %d requests %" PRIu64 " bytes %" PRIu64 "\n", rc, ret, nreq, nbytes);
}

int
harness_command(const char *cmd, char *args)
{
	int32_t ret = -1;

	if (strcmp(cmd, "connect") == 0)
		harness_connect(blk_mq_kernel_dispatch, blk_mq_domain_dispatch);
	else if (strcmp(cmd, "init") == 0) {
		uint32_t nr = (uint32_t)next_u64(&args);
		uint32_t bs = (uint32_t)next_u64(&args);
		uint32_t depth = (uint32_t)next_u64(&args);
		int rc = blk_mq_call_null_init(&kside.chan, nr, bs, depth, &ret);
		printf("rc %d ret %d\n", rc, ret);
	} else if (strcmp(cmd, "io") == 0)
		cmd_io(args);
	else if (strcmp(cmd, "exit") == 0)
		printf("rc %d\n", blk_mq_call_null_exit(&kside.chan));
	else
		return 0;
	return 1;
}
