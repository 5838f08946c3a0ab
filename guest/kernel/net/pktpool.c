// pktpool.c: the packet pool, where every sk_buff's page comes from.
//
// LVD.md section 4: packet data is "passed by offset into a shared pool".
// The pool is one physically contiguous range taken from the top of the
// domain carve-out (so it is not kernel-private memory either), mapped into
// the domains of isolated network drivers at LVD_DOMAIN_POOL; a packet
// crosses as its offset.  Pages are handed out from per-CPU caches, so
// senders on different CPUs share no lock in the steady state; a CPU whose
// cache is empty or full moves a batch from or to the global list.

#include "kernel.h"
#include "percpu.h"

#define POOL_PAGES_DEFAULT 1024      // 4 MiB
#define CACHE_MAX 64
#define BATCH 32

struct pktpool pktpool;

static struct spinlock poollock = { .name = "pktpool" };
static uint32_t *global_free;        // page indexes
static uint32_t nglobal;
static struct {
	uint32_t n;
	uint32_t idx[CACHE_MAX];
} cache[NCPU];

void
pktpool_init(void)
{
	uint64_t pages = POOL_PAGES_DEFAULT;
	uint64_t size = pages * PGSIZE;
	if (domain_phys.end - domain_phys.base < 2 * size)
		panic("pktpool: domain memory too small for a %lu KiB pool (domainmem=)", size >> 10);
	domain_phys.end -= size;
	pktpool.pa = domain_phys.end;
	pktpool.size = size;
	pktpool.va = P2V(pktpool.pa);
	global_free = kalloc();   // one page: 1024 indexes
	_Static_assert(POOL_PAGES_DEFAULT * sizeof(uint32_t) <= PGSIZE, "free list in one page");
	if (global_free == NULL)
		panic("pktpool: no memory");
	// The first ncpu pages are the per-CPU register pages of the isolated
	// drivers' generated glue (LVD_POOL_REGPAGE, lvd/domain.h): never packets.
	uint64_t regpages = (uint64_t)ncpu;
	for (uint64_t i = 0; i < pages - regpages; i++)
		global_free[i] = (uint32_t)(pages - 1 - i);
	nglobal = (uint32_t)(pages - regpages);
	printk("pktpool: %lu pages at [%#lx-%#lx) (the first %lu register pages), per-CPU caches of %d\n",
	       pages, pktpool.pa, pktpool.pa + size, regpages, CACHE_MAX);
}

void *
pktpool_alloc(void)
{
	push_off();
	int c = mycpu()->id;
	if (cache[c].n == 0) {
		acquire(&poollock);
		while (nglobal > 0 && cache[c].n < BATCH)
			cache[c].idx[cache[c].n++] = global_free[--nglobal];
		release(&poollock);
	}
	void *p = NULL;
	if (cache[c].n > 0)
		p = pktpool.va + (uint64_t)cache[c].idx[--cache[c].n] * PGSIZE;
	pop_off();
	return p;
}

void
pktpool_free(void *p)
{
	uint64_t off = (uint64_t)((uint8_t *)p - pktpool.va);
	if ((uint8_t *)p < pktpool.va || off >= pktpool.size || (off & (PGSIZE - 1)) != 0)
		panic("pktpool_free: %p is not a pool page", p);
	push_off();
	int c = mycpu()->id;
	if (cache[c].n == CACHE_MAX) {
		acquire(&poollock);
		while (cache[c].n > CACHE_MAX - BATCH)
			global_free[nglobal++] = cache[c].idx[--cache[c].n];
		release(&poollock);
	}
	cache[c].idx[cache[c].n++] = (uint32_t)(off / PGSIZE);
	pop_off();
}

// Leak accounting (lvd faults): pages free now (the global list and every
// CPU's cache), and how many the pool has for packets.  Exact only while no
// packet is in flight.
uint64_t
pktpool_free_pages(void)
{
	acquire(&poollock);
	uint64_t n = nglobal;
	for (int c = 0; c < ncpu; c++)
		n += __atomic_load_n(&cache[c].n, __ATOMIC_RELAXED);
	release(&poollock);
	return n;
}

uint64_t
pktpool_packet_pages(void)
{
	return pktpool.size / PGSIZE - (uint64_t)ncpu;
}
