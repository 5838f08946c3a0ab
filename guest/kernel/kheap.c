// kheap.c: kmalloc/kfree for objects smaller than a page.
//
// Slab-ish: eight power-of-two size classes, 32 .. 4096 bytes including a
// 16-byte header.  A class takes a whole page from kalloc when it runs dry
// and carves it into equal blocks; freed blocks go back on their class's
// list, never back to kalloc (the heap only grows, which is fine for a
// kernel whose objects are long-lived: threads, domains, queues).
// The header holds the class and a magic word, so kfree of a pointer that
// kmalloc did not return, or a double kfree, is caught.

#include "kernel.h"

#define NCLASS   8
#define MINSHIFT 5                 // 32-byte blocks
#define HDR      16
#define MAGIC_USED 0x6b6d616c6c6f6300UL   // "kmalloc"
#define MAGIC_FREE 0x6b66726565646564UL   // "kfreeded"

struct block {
	uint64_t magic;
	uint32_t cls;
	uint32_t pad;
	struct block *next;            // only while free: overlaps the payload
};

static struct spinlock heaplock = { .name = "kheap" };
static struct block *freelist[NCLASS];

void *
kmalloc(size_t n)
{
	int cls = 0;

	while (cls < NCLASS && (1UL << (cls + MINSHIFT)) < n + HDR)
		cls++;
	if (cls == NCLASS)
		panic("kmalloc(%zu): larger than a page, use kalloc", n);
	size_t size = 1UL << (cls + MINSHIFT);

	acquire(&heaplock);
	if (freelist[cls] == NULL) {
		// kalloc takes its own lock; release ours so that the two locks
		// are never nested (no lock order to keep).
		release(&heaplock);
		char *page = kalloc();
		if (page == NULL)
			return NULL;
		acquire(&heaplock);
		for (size_t off = 0; off + size <= PGSIZE; off += size) {
			struct block *b = (struct block *)(page + off);
			b->magic = MAGIC_FREE;
			b->cls = cls;
			b->next = freelist[cls];
			freelist[cls] = b;
		}
	}
	struct block *b = freelist[cls];
	freelist[cls] = b->next;
	b->magic = MAGIC_USED;
	release(&heaplock);
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
	acquire(&heaplock);
	if (b->magic != MAGIC_USED || b->cls >= NCLASS)
		panic("kfree(%p): not allocated (magic %#lx)", p, b->magic);
	b->magic = MAGIC_FREE;
	b->next = freelist[b->cls];
	freelist[b->cls] = b;
	release(&heaplock);
}
