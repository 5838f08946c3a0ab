// kstack.c: kernel thread stacks behind guard pages.
//
// Each thread's stack is KSTACK_PAGES pages from kalloc, mapped at its own
// slot of the stack range (PML4 401, docs/KERNEL.md) above KSTACK_GUARD bytes
// that are never mapped: a thread that runs off the bottom of its stack takes
// a #PF on the exception IST, and the kernel panics naming the overflow,
// instead of silently writing whatever page kalloc put below it.  Stacks are
// never unmapped: a freed one keeps its slot and pages and goes to a free
// list for the next thread, so no CPU can hold a stale translation of it.

#include "kernel.h"

#define SLOT_SIZE (KSTACK_GUARD + KSTACK_SIZE)

static struct spinlock kstack_lock = { .name = "kstack" };   // (a zeroed ticket lock is free)
static uint64_t next_slot;
static void *free_stacks;   // linked through their lowest word

void *
kstack_alloc(void)
{
	acquire(&kstack_lock);
	void *s = free_stacks;
	if (s != NULL) {
		free_stacks = *(void **)s;
		release(&kstack_lock);
		return s;
	}
	if (next_slot == KSTACK_SLOTS)
		panic("kstack_alloc: out of stack slots");
	uint64_t va = KSTACK_BASE + next_slot++ * SLOT_SIZE + KSTACK_GUARD;
	for (uint64_t off = 0; off < KSTACK_SIZE; off += PGSIZE) {
		void *page = kalloc();
		if (page == NULL)
			panic("kstack_alloc: out of memory");
		vm_map_kernel(va + off, V2P(page), PTE_W | PTE_NX | PTE_G);
	}
	release(&kstack_lock);
	return (void *)va;
}

void
kstack_free(void *stack)
{
	acquire(&kstack_lock);
	*(void **)stack = free_stacks;
	free_stacks = stack;
	release(&kstack_lock);
}

// Whether va is in the guard below some thread's stack.
int
kstack_guard_hit(uint64_t va)
{
	return va >= KSTACK_BASE && va < KSTACK_BASE + KSTACK_SLOTS * SLOT_SIZE && (va - KSTACK_BASE) % SLOT_SIZE < KSTACK_GUARD;
}
