// nullblk_if.h: the isolated nullblk's interface, shared by the kernel glue
// (guest/kernel/lvd_drivers.c) and the domain glue (glue.c); the shape of
// idl/blk_mq.idl.  Three crossings per I/O, as in the paper: queue_rq into
// the domain, blk_mq_start_request and blk_mq_end_request back out.
#pragma once
#include <lvd/domain.h>

enum {
	NB_INIT_HCTX = LVD_FN_USER,  // w1 = hardware queue index
	// w1 = hctx index, w2 = request reference, w3 = sector, w4 = nr_bytes,
	// w5 = cmd_flags, w6 = tag, w7 = last
	// reply: w1 = blk_status_t, w2 = the queue's requests, w3 = its bytes
	NB_QUEUE_RQ,
};

enum {
	NB_KFN_START_REQUEST = LVD_KFN_USER,  // w1 = request reference
	NB_KFN_END_REQUEST,                   // w1 = request reference, w2 = blk_status_t
};

#define NB_MAX_QUEUES 64
