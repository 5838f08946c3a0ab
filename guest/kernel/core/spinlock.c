// spinlock.c: ticket spinlocks with interrupts off while held.
//
// Ticket locks rather than test-and-set: the machine runs the vCPU furthest
// behind in modeled time, and a ticket lock hands the lock over in arrival
// order, so no CPU can be starved by luckier neighbours.
//
// Interrupts stay off while a lock is held: an interrupt handler that
// wanted the same lock would otherwise spin forever on its own CPU.
// push_off/pop_off nest (xv6): interrupts come back on only when the
// outermost lock is released, and only if they were on before it.

#include "kernel.h"
#include "percpu.h"
#include "x86.h"

void
initlock(struct spinlock *lk, const char *name)
{
	lk->next = lk->owner = 0;
	lk->name = name;
	lk->cpu = NULL;
}

void
acquire(struct spinlock *lk)
{
	push_off();
	if (holding(lk))
		panic("acquire: %s already held", lk->name);
	uint16_t ticket = __atomic_fetch_add(&lk->next, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&lk->owner, __ATOMIC_ACQUIRE) != ticket)
		pause();
	lk->cpu = mycpu();
}

void
release(struct spinlock *lk)
{
	if (!holding(lk))
		panic("release: %s not held", lk->name);
	lk->cpu = NULL;
	__atomic_store_n(&lk->owner, lk->owner + 1, __ATOMIC_RELEASE);
	pop_off();
}

// Only meaningful with interrupts off (else we could migrate... we do not
// migrate, but the answer could change under us after a preemption).
int
holding(struct spinlock *lk)
{
	return lk->owner != lk->next && lk->cpu == mycpu();
}

void
push_off(void)
{
	int on = (rflags() & FL_IF) != 0;

	cli();
	struct cpu *c = mycpu();
	if (c->noff == 0)
		c->intena = on;
	c->noff++;
}

void
pop_off(void)
{
	struct cpu *c = mycpu();

	if (rflags() & FL_IF)
		panic("pop_off: interrupts on");
	if (c->noff < 1)
		panic("pop_off: unbalanced");
	c->noff--;
	if (c->noff == 0 && c->intena)
		sti();
}
