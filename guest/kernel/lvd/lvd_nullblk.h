// lvd_nullblk.h: between the two halves of the isolated nullblk's kernel side.
// lvd_drivers.c works with the kernel's own requests and tag set (blk.h);
// lvd_nullblk_glue.c with the generated glue of idl/blk_mq.idl, whose structs
// of the same names are the interface's (a request there is a per-CPU
// descriptor naming the kernel's), so the two never share a translation unit
// and meet only through these functions.
#pragma once
#include <stdint.h>

struct lvd_msg;

// lvd_nullblk_glue.c
int nb_glue_init(uint8_t *pool, uint64_t pool_size, int ncpu);
int nb_glue_upcall(int cpu, struct lvd_msg *m);            // the domain's calls; a status
// Module init: the driver registers its tag set (blk_mq_alloc_tag_set) during
// null_init; a status, or the driver's result.
int nb_glue_load(int cpu, uint32_t submit_queues, uint32_t block_size, uint32_t depth);
// One request into the driver (queue_rq).  A status; *ret is the driver's
// result, *requests and *bytes its queue's counters, *started and *ended
// whether it started and ended krq (through nb_start_rq / nb_end_rq).
struct nb_io {
	uint64_t sector;
	uint32_t nr_bytes, cmd_flags, tag;
	uint8_t last;
};
int nb_glue_queue_rq(int cpu, uint32_t hw_queue, void *krq, const struct nb_io *io, int32_t *ret,
		     uint64_t *requests, uint64_t *bytes, int *started, int *ended);

// Restart (docs/DOMAINS.md): drop what the dead instance held (the tag
// set's shadow, capabilities, call-scoped shadows, the queue_rq handle).
void nb_glue_reset(void);
void nb_glue_accounting(uint64_t *caps, uint64_t *shadows);
uint64_t lvd_glue_shadows_live(void);   // the kernel side's shadow objects, both drivers (lvd_nullnet_glue.c)
void nb_glue_set_transport(int (*t)(struct lvd_msg *m));   // the fault injector

// Restart (docs/DOMAINS.md): drop what the dead instance held (the tag
// set's shadow, capabilities, call-scoped shadows, the queue_rq handle).
void nb_glue_reset(void);
void nb_glue_accounting(uint64_t *caps, uint64_t *shadows);
uint64_t lvd_glue_shadows_live(void);   // the kernel side's shadow objects, both drivers (lvd_nullnet_glue.c)
void nb_glue_set_transport(int (*t)(struct lvd_msg *m));   // the fault injector

// lvd_drivers.c
int nb_to_domain(struct lvd_msg *m);                        // the kernel's transport
// The kernel's blk_mq_start_request / blk_mq_end_request on
// the request the driver named (error: the driver's status; anything but 0
// ends it with BLK_STS_IOERR).
void nb_start_rq(void *krq);
void nb_end_rq(void *krq, int32_t error);
struct lvd_domain *lvd_nullblk_domain(void);   // NULL unless isolated
extern uint64_t nb_requeued, nb_retried, nb_failed;
