// kheap.c: kmalloc/kfree for objects smaller than a page.
//
// Slab-ish: eight power-of-two size classes, 32 .. 4096 bytes including a
// 16-byte header.  A class takes a whole page from kalloc when it runs dry
// and carves it into equal blocks; freed blocks go back on their class's
// list, never back to kalloc (the heap only grows, which is fine for a
// kernel whose objects are long-lived: threads, domains, queues).
// The header holds the class and a magic word, so kfree of a pointer that
// kmalloc did not return, or a double kfree, is caught (the magic word
// changes by compare-and-swap, so even two CPUs freeing one block are).
//
// Each CPU keeps up to KH_HIGH free blocks per class (Linux: SLUB's per-CPU
// freelists), so the steady state of an allocate/free pattern (an sk_buff
// per packet) takes no global lock; blocks move KH_BATCH at a time between
// a CPU's cache and the class's global list.  A block freed by another CPU
// than the one that allocated it (a thread freed by its CPU's scheduler)
// goes back to the global list, as SLUB's remote frees go to their slab:
// free blocks do not pile up in the cache of a CPU that never allocates
// them.  A cache belongs to its CPU and is used there only, with interrupts
// off.
//
// Leak accounting (the boot self tests): the pages the heap took from kalloc
// (kheap_pages) and the blocks handed out and not yet freed
// (kheap_blocks_in_use), counted only when a page is carved and when asked,
// never on kmalloc's or kfree's path.

#include "kernel.h"
#ifdef HOST_TEST
static inline int this_cpu(void) { return 0; }   // tests/test_mm.c: one CPU
#else
#include "percpu.h"
static inline int this_cpu(void) { return mycpu()->id; }
#endif

#define NCLASS   8
#define MINSHIFT 5                 // 32-byte blocks
#define HDR      16
#define MAGIC_USED 0x6b6d616c6c6f6300UL   // "kmalloc"
#define MAGIC_FREE 0x6b66726565646564UL   // "kfreeded"

struct block {
	uint64_t magic;
	uint32_t cls;
	uint32_t cpu;                  // while allocated: the CPU that allocated it
	struct block *next;            // only while free: overlaps the payload
};

static struct spinlock heaplock = { .name = "kheap" };
static struct block *freelist[NCLASS];
static uint64_t carved[NCLASS];    // blocks carved from kalloc's pages, per class
static uint64_t pages;             // pages taken from kalloc

#define KH_HIGH  64   // free blocks a CPU keeps per class at most
#define KH_BATCH 32   // blocks moved at a time to or from the global lists

static struct kcache {
	struct block *list[NCLASS];
	int count[NCLASS];
} kcache[NCPU];

// Fill an empty cache with up to KH_BATCH blocks of class cls, carving a
// fresh page when the global list is empty too.  Interrupts off.
static void
refill(struct kcache *c, int cls)
{
	size_t size = 1UL << (cls + MINSHIFT);

	acquire(&heaplock);
	if (freelist[cls] == NULL) {
		// kalloc takes its own lock; release ours so that the two locks
		// are never nested (no lock order to keep).
		release(&heaplock);
		char *page = kalloc();
		if (page == NULL)
			return;
		acquire(&heaplock);
		pages++;
		for (size_t off = 0; off + size <= PGSIZE; off += size) {
			carved[cls]++;
			struct block *b = (struct block *)(page + off);
			b->magic = MAGIC_FREE;
			b->cls = cls;
			b->next = freelist[cls];
			freelist[cls] = b;
		}
	}
	while (c->count[cls] < KH_BATCH && freelist[cls] != NULL) {
		struct block *b = freelist[cls];
		freelist[cls] = b->next;
		b->next = c->list[cls];
		c->list[cls] = b;
		c->count[cls]++;
	}
	release(&heaplock);
}

void *
kmalloc(size_t n)
{
	int cls = 0;

	while (cls < NCLASS && (1UL << (cls + MINSHIFT)) < n + HDR)
		cls++;
	if (cls == NCLASS)
		panic("kmalloc(%zu): larger than a page, use kalloc", n);

	push_off();
	int cpu = this_cpu();
	struct kcache *c = &kcache[cpu];
	if (c->list[cls] == NULL)
		refill(c, cls);
	struct block *b = c->list[cls];
	if (b != NULL) {
		c->list[cls] = b->next;
		c->count[cls]--;
	}
	pop_off();
	if (b == NULL)
		return NULL;
	if (b->magic != MAGIC_FREE || b->cls != (uint32_t)cls)
		panic("kmalloc: free block %p overwritten (magic %#lx)", b, b->magic);
	b->cpu = cpu;
	b->magic = MAGIC_USED;
	return (char *)b + HDR;
}

void *
kzalloc(size_t n)
{
	void *p = kmalloc(n);
	if (p)
		memset(p, 0, n);
	return p;
}

void
kfree(void *p)
{
	if (p == NULL)
		return;
	struct block *b = (struct block *)((char *)p - HDR);
	uint64_t used = MAGIC_USED;
	if (!__atomic_compare_exchange_n(&b->magic, &used, MAGIC_FREE, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED) ||
	    b->cls >= NCLASS)
		panic("kfree(%p): not allocated (magic %#lx)", p, used);
	int cls = b->cls;
	push_off();
	int cpu = this_cpu();
	if (b->cpu != (uint32_t)cpu) {
		acquire(&heaplock);
		b->next = freelist[cls];
		freelist[cls] = b;
		release(&heaplock);
		pop_off();
		return;
	}
	struct kcache *c = &kcache[cpu];
	if (c->count[cls] == KH_HIGH) {
		acquire(&heaplock);
		while (c->count[cls] > KH_HIGH - KH_BATCH) {
			struct block *x = c->list[cls];
			c->list[cls] = x->next;
			c->count[cls]--;
			x->next = freelist[cls];
			freelist[cls] = x;
		}
		release(&heaplock);
	}
	b->next = c->list[cls];
	c->list[cls] = b;
	c->count[cls]++;
	pop_off();
}

// Pages the heap holds (taken from kalloc, never given back).
uint64_t
kheap_pages(void)
{
	return __atomic_load_n(&pages, __ATOMIC_RELAXED);
}

// Blocks allocated and not yet freed: carved less those on the global lists
// and in the CPUs' caches (a snapshot, exact when the other CPUs are quiet,
// as in the boot self tests).
uint64_t
kheap_blocks_in_use(void)
{
	uint64_t n = 0;
	push_off();
	acquire(&heaplock);
	for (int cls = 0; cls < NCLASS; cls++) {
		n += carved[cls];
		for (struct block *b = freelist[cls]; b != NULL; b = b->next)
			n--;
	}
	release(&heaplock);
	pop_off();
	for (int i = 0; i < NCPU; i++)
		for (int cls = 0; cls < NCLASS; cls++)
			n -= (uint64_t)__atomic_load_n(&kcache[i].count[cls], __ATOMIC_RELAXED);
	return n;
}
