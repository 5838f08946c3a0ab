// kalloc.c: the physical page allocator.
//
// Free memory is a list of ranges of never-used pages plus a list of pages
// given back.  Ranges, not one link per page as in xv6, because writing a
// link into every page at boot would touch all of RAM, and the machine
// allocates host memory for a guest page on first touch: a kernel that
// uses 20 MiB should cost 20 MiB, whatever the RAM size.
//
// Pages come back zeroed: page tables need it, and everyone else is safer.
//
// Each CPU keeps a small cache of free pages (Linux: the per-CPU page
// lists), so a CPU that frees and allocates at a high rate (packet buffers,
// process pages) takes no global lock in the steady state: the cache moves
// PCP_BATCH pages at a time to or from the global structures when it runs
// empty or full.  A cache is an array of physical addresses (valid on both
// sides of vm_init), not a list through the pages, so caching a page never
// touches it.  It belongs to its CPU and is
// used there only, with interrupts off.

#include "kernel.h"
#ifdef HOST_TEST
static inline int this_cpu(void) { return 0; }   // tests/test_mm.c: one CPU
#else
#include "percpu.h"
static inline int this_cpu(void) { return mycpu()->id; }
#endif

#define NRANGE (2 * MMAP_MAX + 2)

struct run { struct run *next; };

static struct {
	struct spinlock lock;
	struct phys_range range[NRANGE];   // [base, end) not yet handed out
	int nrange;
	struct run *freelist;              // pages handed out and given back
	uint64_t nfree;
} kmem = { .lock = { .name = "kmem" } };

#define PCP_HIGH  64   // pages a CPU's cache holds at most
#define PCP_BATCH 32   // pages moved at a time to or from the global structures

static struct pcp {
	int count;
	uint64_t pa[PCP_HIGH];
} pcp[NCPU];

// LVD Invariant 3: the physical memory of isolated domains and the kernel's
// do not overlap.  vm.c / main.c carve this out of the memory map; kalloc
// never hands it out.
struct phys_range domain_phys;
// The kernel image: marked reserved by the loader, excluded here as well.
struct phys_range kernel_image;

static void
zero_page(void *va)
{
#ifdef HOST_TEST
	memset(va, 0, PGSIZE);
#else
	// One rep stosq is one decoded instruction; a byte loop is 4096.
	uint64_t n = PGSIZE / 8;
	__asm__ volatile("rep stosq" : "+D"(va), "+c"(n) : "a"(0UL) : "memory");
#endif
}

// Give [lo, hi) (page-aligned inward) to the allocator, minus the kernel
// image and the domain carve-out.
void
kalloc_add(uint64_t lo, uint64_t hi)
{
	lo = PGROUNDUP(lo);
	hi = PGROUNDDOWN(hi);
	if (lo >= hi)
		return;
	const struct phys_range *holes[2] = { &kernel_image, &domain_phys };
	for (int i = 0; i < 2; i++) {
		const struct phys_range *h = holes[i];
		if (h->end > lo && h->base < hi) {   // overlap: add both sides apart
			kalloc_add(lo, h->base);
			kalloc_add(h->end, hi);
			return;
		}
	}
	acquire(&kmem.lock);
	if (kmem.nrange == NRANGE)
		panic("kalloc_add: more than %d ranges", NRANGE);
	kmem.range[kmem.nrange++] = (struct phys_range){ lo, hi };
	kmem.nfree += (hi - lo) / PGSIZE;
	release(&kmem.lock);
}

// Add the usable RAM of the memory map that lies in [lo, hi).  Called
// twice: before vm_init() for what the boot identity map reaches, after it
// for the rest.  Memory below 1 MiB is left alone (legacy use).
void
kalloc_init(uint64_t limit)
{
	static uint64_t done = 0x100000;   // everything below is added already

	for (uint32_t i = 0; i < bootinfo.mmap_count; i++) {
		struct mmap_entry *e = &bootinfo.mmap[i];
		if (e->type != MMAP_USABLE)
			continue;
		uint64_t lo = e->base > done ? e->base : done;
		uint64_t hi = e->base + e->length < limit ? e->base + e->length : limit;
		if (lo < hi)
			kalloc_add(lo, hi);
	}
	done = limit;
}

// One page from the global free list or ranges, or NULL.  kmem.lock held.
static void *
take_global(void)
{
	void *va = NULL;

	if (kmem.freelist) {
		va = kmem.freelist;
		kmem.freelist = kmem.freelist->next;
	} else {
		// Take from the last range: ranges are added low first, so early
		// allocations (page tables, stacks) come from high addresses and
		// low memory stays for anything that will need it.
		while (kmem.nrange > 0 && kmem.range[kmem.nrange - 1].base == kmem.range[kmem.nrange - 1].end)
			kmem.nrange--;
		if (kmem.nrange > 0) {
			struct phys_range *r = &kmem.range[kmem.nrange - 1];
			r->end -= PGSIZE;
			va = P2V(r->end);
		}
	}
	if (va)
		kmem.nfree--;
	return va;
}

void *
kalloc(void)
{
	push_off();
	struct pcp *c = &pcp[this_cpu()];
	if (c->count == 0) {
		acquire(&kmem.lock);
		void *va;
		while (c->count < PCP_BATCH && (va = take_global()) != NULL)
			c->pa[c->count++] = V2P(va);
		release(&kmem.lock);
	}
	void *va = c->count > 0 ? P2V(c->pa[--c->count]) : NULL;
	pop_off();
	if (va)
		zero_page(va);
	return va;
}

void
kfree_page(void *va)
{
	uint64_t pa = V2P(va);

	if ((pa & (PGSIZE - 1)) != 0 || pa < 0x100000)
		panic("kfree_page: bad page %p", va);
	if ((pa >= kernel_image.base && pa < kernel_image.end) ||
	    (pa >= domain_phys.base && pa < domain_phys.end))
		panic("kfree_page: %#lx is not kalloc's", pa);
	push_off();
	struct pcp *c = &pcp[this_cpu()];
	if (c->count == PCP_HIGH) {
		acquire(&kmem.lock);
		while (c->count > PCP_HIGH - PCP_BATCH) {
			struct run *r = P2V(c->pa[--c->count]);
			r->next = kmem.freelist;
			kmem.freelist = r;
			kmem.nfree++;
		}
		release(&kmem.lock);
	}
	c->pa[c->count++] = pa;
	pop_off();
}

// Free pages, cached ones included (a snapshot: other CPUs may be moving
// pages meanwhile; exact when they are quiet, as in the boot self tests).
uint64_t
kalloc_free_pages(void)
{
	uint64_t n = __atomic_load_n(&kmem.nfree, __ATOMIC_RELAXED);
	for (int i = 0; i < NCPU; i++)
		n += __atomic_load_n(&pcp[i].count, __ATOMIC_RELAXED);
	return n;
}
