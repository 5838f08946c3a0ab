// nullblk.h: what the null block driver (nullblk.c) offers its loader: the
// module init with null_blk's parameters (it registers its tag set and adds
// the disk nullb0), the exit, and its statistics.
#pragma once
#include <stdint.h>

// One hardware queue's counters, hctx->driver_data (under the queue's dispatch lock).
struct nullb_queue {
	uint64_t requests, bytes;
	unsigned int index;
};

int nullblk_init(unsigned int submit_queues, unsigned int block_size, unsigned int hw_queue_depth);
void nullblk_exit(void);
struct nullblk_stats { uint64_t requests, bytes; };
struct nullblk_stats nullblk_get_stats(void);   // summed over the hardware queues
// Queue hctx's counters as another instance of the driver reports them, and read back.
void nullblk_account(unsigned int hctx, uint64_t requests, uint64_t bytes);
void nullblk_queue_counters(unsigned int hctx, uint64_t *requests, uint64_t *bytes);
