// sched.c: kernel threads, per-CPU run queues, preemption, wait queues.
//
// Each CPU runs its own threads from its own run queue; threads do not
// migrate (yet), so a thread's CPU is fixed at creation.  Each CPU has a
// scheduler loop (scheduler()) on its boot stack: a thread gives up the
// CPU by switching to that loop, which picks the next thread (xv6).
//
// The locking rule that makes this work: a CPU's run-queue lock is held
// across every swtch, in both directions.  The thread acquires it and the
// scheduler releases it after the switch, or the scheduler acquires it and
// the thread releases it.  So a thread that has declared itself sleeping or
// runnable cannot be picked up (by a wakeup, or by the scheduler) before it
// has really stopped running on its stack.

#include "kernel.h"
#include "percpu.h"
#include "x86.h"

#define SLICE 2     // ticks a thread runs before the timer preempts it

static struct spinlock tidlock = { .name = "tid" };
static int nexttid = 1;
static struct spinlock tickslock = { .name = "ticks" };
static struct waitq tickwq;   // threads in sleep_ticks, guarded by tickslock

// The context-switch hooks (percpu.h): nothing to do until a client registers.
static void
switch_nop(struct thread *t)
{
}

static struct sched_hooks hooks = { .switch_out = switch_nop, .switch_in = switch_nop };

void
sched_set_hooks(const struct sched_hooks *h)
{
	hooks = *h;
}

static void
enqueue(struct thread **head, struct thread **tail, struct thread *t)
{
	t->next = NULL;
	if (*tail)
		(*tail)->next = t;
	else
		*head = t;
	*tail = t;
}

static struct thread *
dequeue(struct thread **head, struct thread **tail)
{
	struct thread *t = *head;
	if (t) {
		*head = t->next;
		if (*head == NULL)
			*tail = NULL;
		t->next = NULL;
	}
	return t;
}

void
sched_init(void)
{
	for (int i = 0; i < NCPU; i++)
		initlock(&cpus[i].rq.lock, "runq");
}

// A new thread's first swtch "returns" here, with its CPU's run-queue lock
// held by the scheduler that switched to it.
static void
thread_start(void)
{
	release(&mycpu()->rq.lock);
	sti();   // the scheduler loop ran with interrupts off
	struct thread *t = curthread();
	t->fn(t->arg);
	thread_exit();
}

static void
make_runnable(struct thread *t)
{
	struct cpu *c = &cpus[t->cpu];

	acquire(&c->rq.lock);
	t->state = T_RUNNABLE;
	enqueue(&c->rq.head, &c->rq.tail, t);
	release(&c->rq.lock);
	if (t->urgent) {
		// Now, not at the end of the current thread's slice (even on this
		// CPU: the IPI arrives once interrupts are on again).
		c->resched = 1;
		apic_ipi(t->cpu, T_RESCHED);
		return;
	}
	// A CPU with nothing to do is in hlt: make it look again.
	if (t->cpu != mycpu()->id)
		apic_ipi(t->cpu, T_RESCHED);
}

void
sched_set_urgent(struct thread *t)
{
	t->urgent = 1;
}

struct thread *
thread_create(const char *name, void (*fn)(void *), void *arg, int cpu)
{
	return thread_create_proc(name, fn, arg, cpu, NULL);
}

// A thread of process p (NULL: a kernel thread), which runs on p's page
// tables from its first instruction.
struct thread *
thread_create_proc(const char *name, void (*fn)(void *), void *arg, int cpu, struct proc *p)
{
	struct thread *t = kzalloc(sizeof *t);
	if (t == NULL || (t->kstack = kstack_alloc()) == NULL)
		panic("thread_create: out of memory");
	strncpy(t->name, name, sizeof t->name - 1);   // zeroed: always terminated
	t->fn = fn;
	t->arg = arg;
	t->cpu = cpu;
	t->proc = p;
	t->cr3 = p ? V2P(p->pml4) : 0;
	acquire(&tidlock);
	t->tid = nexttid++;
	release(&tidlock);

	// The stack swtch expects: six callee-saved registers, then the return
	// address; the extra word leaves RSP = 8 mod 16 at thread_start's entry,
	// as if it had been called.
	uint64_t *sp = (uint64_t *)((char *)t->kstack + KSTACK_SIZE - USER_BASES_SIZE);
	sp[USER_FS / 8] = sp[USER_GS / 8] = 0;   // a new thread's user FS/GS bases
	*--sp = 0;
	*--sp = (uint64_t)thread_start;
	for (int i = 0; i < 6; i++)
		*--sp = 0;
	t->rsp = (uint64_t)sp;
	make_runnable(t);
	return t;
}

// Switch from the current thread to this CPU's scheduler loop.  The
// caller holds the run-queue lock and nothing else, and has already set
// the thread's new state.  intena belongs to the thread, not the CPU
// (xv6): save it across the switch.
static void
sched(void)
{
	struct cpu *c = mycpu();
	struct thread *t = c->cur;

	if (!holding(&c->rq.lock))
		panic("sched: run queue not locked");
	if (c->noff != 1)
		panic("sched: %d locks held", c->noff);
	if (t->state == T_RUNNING)
		panic("sched: %s still running", t->name);
	if (rflags() & FL_IF)
		panic("sched: interrupts on");
	int intena = c->intena;
	hooks.switch_out(t);   // e.g. the LVD state page's per-thread words (lvd.c)
	swtch(&t->rsp, c->sched_rsp);
	hooks.switch_in(t);
	mycpu()->intena = intena;
}

void
scheduler(void)
{
	struct cpu *c = mycpu();

	for (;;) {
		acquire(&c->rq.lock);
		struct thread *t = dequeue(&c->rq.head, &c->rq.tail);
		if (t == NULL) {
			release(&c->rq.lock);
			// Interrupts are off here, so a wakeup IPI that arrived after
			// the queue was found empty is pending and ends the hlt.
			cli();
			sti_hlt();
			continue;
		}
		t->state = T_RUNNING;
		t->slice_start = c->ticks;
		c->cur = t;
		c->kstack_top = (uint64_t)t->kstack + KSTACK_SIZE - USER_BASES_SIZE;
		c->rq.switches++;
		// A user thread runs on its process's tables, a kernel thread on
		// the kernel's: never on those of a process that may be freed.
		uint64_t cr3 = t->cr3 ? t->cr3 : kernel_cr3;
		if (rcr3() != cr3)
			lcr3(cr3);
		swtch(&c->sched_rsp, t->rsp);
		c->cur = NULL;
		if (t->state == T_DEAD) {
			// Its stack is no longer in use: we are on ours.
			kstack_free(t->kstack);
			kfree(t);
		}
		release(&c->rq.lock);
	}
}

void
yield(void)
{
	struct cpu *c = mycpu();
	struct thread *t = c->cur;

	acquire(&c->rq.lock);
	t->state = T_RUNNABLE;
	enqueue(&c->rq.head, &c->rq.tail, t);
	sched();
	release(&mycpu()->rq.lock);
}

_Noreturn void
thread_exit(void)
{
	struct cpu *c = mycpu();

	acquire(&c->rq.lock);
	c->cur->state = T_DEAD;
	sched();
	panic("thread_exit: dead thread ran");
}

// From the timer interrupt, on the interrupted thread's stack (vectors.S
// copied the frame there), interrupts off.
void
sched_tick(void)
{
	struct cpu *c = mycpu();

	if (c->id == 0) {
		acquire(&tickslock);
		wq_wakeup(&tickwq);
		release(&tickslock);
	}
	if (c->cur && c->cur->state == T_RUNNING && c->ticks - c->cur->slice_start >= SLICE)
		yield();
}

// Sleep on wq, releasing lk (which guards both wq and the condition the
// caller waits for) only once the thread is marked sleeping under its
// run-queue lock: a wakeup, which must hold lk, then either happens before
// we queued ourselves (and we see the condition) or finds us queued.
void
wq_sleep(struct waitq *wq, struct spinlock *lk)
{
	struct cpu *c = mycpu();
	struct thread *t = c->cur;

	if (!holding(lk))
		panic("wq_sleep: condition lock not held");
	enqueue(&wq->head, &wq->tail, t);
	acquire(&c->rq.lock);
	t->state = T_SLEEPING;
	release(lk);
	sched();
	release(&mycpu()->rq.lock);
	acquire(lk);
}

// Wake every thread on wq.  The caller holds wq's lock.
void
wq_wakeup(struct waitq *wq)
{
	struct thread *t;

	while ((t = dequeue(&wq->head, &wq->tail)) != NULL)
		make_runnable(t);
}

void
sleep_ticks(uint64_t n)
{
	acquire(&tickslock);
	uint64_t t0 = ticks;
	while (ticks - t0 < n)
		wq_sleep(&tickwq, &tickslock);
	release(&tickslock);
}
