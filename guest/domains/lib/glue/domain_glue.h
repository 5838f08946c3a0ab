// domain_glue.h: the plumbing around the IDL-generated glue (docs/IDL.md)
// that every domain talking to the kernel through it needs, once.  Included
// once per domain, by its glue.c after the generated code (build.sh puts this
// directory on the include path of a domain with a file `interfaces`): its
// definitions are that translation unit's, so that gcc inlines them into the
// generated dispatchers and stubs as it would hand-written ones.
// - one channel per CPU: they differ in the register page (the CPU's page
//   of the pool) and, as the domain chooses, in the capability table;
// - the transport: a generated stub's message goes to the kernel through the
//   upcall trampoline (lvd_upcall_raw), its function id offset past the
//   kernel's own services (LVD_KFN_USER);
// - the dispatcher: the domain library hands every call with a function id
//   >= LVD_FN_USER to driver_call, which LVD_GLUE_DRIVER_CALL defines to hand
//   it to the interface's generated dispatcher on this CPU's channel;
// - shadow memory (lvd_shadow_alloc/free, lvd_glue.h): per-CPU free lists of
//   one block size, zeroed on allocation.
#pragma once
#include "lvd_driver.h"
#include "lvd_glue.h"

#define LVD_GLUE_MAX_CPUS 64

static struct lvd_chan lvd_glue_chans[LVD_GLUE_MAX_CPUS];
static unsigned int lvd_glue_ncpus;

// The CPU this call runs on, and its channel.
static inline unsigned int
lvd_glue_cpu(void)
{
	return lvd_this_cpu(lvd_glue_ncpus);
}

static inline struct lvd_chan *
lvd_glue_chan(void)
{
	return &lvd_glue_chans[lvd_glue_cpu()];
}

static int
lvd_glue_to_kernel(struct lvd_msg *m)
{
	m->w[0] += LVD_KFN_USER;
	lvd_upcall_raw(m);    // the reply's status is in w[0]
	return LVD_OK;
}

// driver_call for a domain serving one interface: dispatch is its generated
// NAME_domain_dispatch.
#define LVD_GLUE_DRIVER_CALL(dispatch)                                           \
	long                                                                     \
	driver_call(struct lvd_msg *m)                                           \
	{                                                                        \
		m->w[0] -= LVD_FN_USER; /* >= LVD_FN_USER (lib.c) */             \
		dispatch(lvd_glue_chan(), m);                                    \
		return (long)m->w[0];                                            \
	}

// From driver_init: one channel for each of ncpu CPUs (at most
// LVD_GLUE_MAX_CPUS), with the capability table caps[c] of its CPU c if
// per_cpu_caps, else caps[0] shared by all (the tables are the caller's,
// initialized).  0, or -LVD_ENOMEM if the pool has no register page per CPU.
static long
lvd_glue_init(unsigned int ncpu, struct lvd_captab *caps, int per_cpu_caps)
{
	lvd_glue_ncpus = ncpu < LVD_GLUE_MAX_CPUS ? ncpu : LVD_GLUE_MAX_CPUS;
	return lvd_chans_init(lvd_glue_chans, NULL, lvd_glue_ncpus, lvd_glue_to_kernel, caps, per_cpu_caps,
			      (uint8_t *)lvd_info->pool, lvd_info->pool_size);
}

// ---- shadow objects: zeroed, per-CPU free lists of one block size ----

#define SHADOW_BLOCK 128   // more than the largest shadow (an skb: 40 bytes, a request: 24)
struct block {
	struct block *next;
};
static struct block *free_blocks[LVD_GLUE_MAX_CPUS];

void *
lvd_shadow_alloc(size_t size, uint32_t tag)
{
	if (size > SHADOW_BLOCK)
		return NULL;
	unsigned int c = lvd_glue_cpu();
	struct block *b = free_blocks[c];
	if (b != NULL)
		free_blocks[c] = b->next;
	else if ((b = lvd_malloc(SHADOW_BLOCK)) == NULL)
		return NULL;
	// Zero whole words of the object only (a call to memset, or a loop, cost
	// more than the clearing of an skb's 40 bytes).
	void *d = b;
	size_t n = (size + 7) / 8;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0UL) : "memory");
	return b;
}

void
lvd_shadow_free(void *obj, uint32_t tag)
{
	unsigned int c = lvd_glue_cpu();
	struct block *b = obj;
	b->next = free_blocks[c];
	free_blocks[c] = b;
}
