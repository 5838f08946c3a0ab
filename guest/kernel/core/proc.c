// proc.c: user processes: an address space and one ring-3 thread.
//
// A process's page tables share the kernel half (PML4 slots 256-511) with
// the kernel's own tables by copying those PML4 entries: the tables below
// them are the kernel's, so every kernel mapping is the same in every
// process.  This holds as long as the kernel never adds a PML4 slot after
// vm_init (it does not: the direct map and the image are complete then).
// The user half holds only pages this file allocated, so freeing it is a
// walk over slots 0-255.
//
// Lifetime: the creator owns the struct proc.  The thread reports its exit
// status in it (proc_exit) and the creator collects it with proc_wait,
// which also frees the address space: the thread itself cannot, it is
// still running on it.

#include "kernel.h"
#include "percpu.h"
#include "syscall.h"
#include "x86.h"

extern char user_image[], user_image_end[];
void usermode_enter(struct trapframe *tf) __attribute__((noreturn));

static struct spinlock proclock = { .name = "proc" };
static struct waitq exitwq;     // creators in proc_wait, guarded by proclock

// proc_wait's release hook (kernel.h): nothing until a subsystem registers.
static void
release_nop(struct proc *p)
{
}

static void (*release_hook)(struct proc *p) = release_nop;

void
proc_set_release_hook(void (*release)(struct proc *p))
{
	release_hook = release;
}

static pte_t *
uvm_create(void)
{
	pte_t *pml4 = kalloc();
	pte_t *kpml4 = P2V(kernel_cr3);

	if (pml4 == NULL)
		return NULL;
	for (int i = 256; i < 512; i++)
		pml4[i] = kpml4[i];
	return pml4;
}

// Map a fresh zeroed user page at va and return it (kernel address).
static void *
uvm_page(pte_t *pml4, uint64_t va, uint64_t perm)
{
	void *p = kalloc();
	if (p == NULL || vm_map(pml4, va, V2P(p), PGSIZE, perm | PTE_U, PGSIZE) != 0)
		panic("uvm_page: cannot map %#lx", va);
	return p;
}

// Free the user half: leaf pages and the tables that held them.
static void
uvm_free_level(pte_t *table, int level)
{
	for (int i = 0; i < 512; i++) {
		if (!(table[i] & PTE_P))
			continue;
		void *next = P2V(PTE_ADDR(table[i]));
		if (level > 1)
			uvm_free_level(next, level - 1);
		else
			kfree_page(next);
	}
	kfree_page(table);
}

static void
uvm_free(pte_t *pml4)
{
	for (int i = 0; i < 256; i++)
		if (pml4[i] & PTE_P)
			uvm_free_level(P2V(PTE_ADDR(pml4[i])), 3);
	kfree_page(pml4);
}

// The kernel address of user byte va if the page is present and user
// accessible (and writable if `write`), else NULL.  Used instead of
// dereferencing user pointers directly: a bad pointer from a syscall must
// return -EFAULT, not fault in the kernel.
static char *
uvm_addr(pte_t *pml4, uint64_t va, int write)
{
	if (va >= USER_TOP)
		return NULL;
	pte_t *e = vm_walk(pml4, va, 1, 0);
	if (e == NULL || (*e & (PTE_P | PTE_U)) != (PTE_P | PTE_U) || (write && !(*e & PTE_W)))
		return NULL;
	return (char *)P2V(PTE_ADDR(*e)) + (va & (PGSIZE - 1));
}

// n bytes between user address uva of p and kernel buffer k, page by page:
// out (copyout) needs every page present, user and writable, in (copyin)
// present and user.  0, or -1 at the first page that is not.  Inlined into
// both, where `out` is a constant: the same code as two copies would be.
static inline __attribute__((always_inline)) int
copy_user(struct proc *p, uint64_t uva, void *k, size_t n, int out)
{
	while (n > 0) {
		char *u = uvm_addr(p->pml4, uva, out);
		if (u == NULL)
			return -1;
		size_t chunk = PGSIZE - (uva & (PGSIZE - 1));
		if (chunk > n)
			chunk = n;
		if (out)
			memcpy(u, k, chunk);
		else
			memcpy(k, u, chunk);
		k = (char *)k + chunk;
		uva += chunk;
		n -= chunk;
	}
	return 0;
}

int
copyin(struct proc *p, void *dst, uint64_t src, size_t n)
{
	return copy_user(p, src, dst, n, 0);
}

// The reverse of copyin: n bytes to user address dst, which must be
// present, user and writable page by page.
int
copyout(struct proc *p, uint64_t dst, const void *src, size_t n)
{
	return copy_user(p, dst, (void *)src, n, 1);
}

// The kernel (direct-map) address of user byte va if its page is present
// and user (and writable if `write`), else NULL: for an I/O that completes
// outside the process's context.  Valid while the process lives (pages are
// only freed by proc_wait).
void *
user_kaddr(struct proc *p, uint64_t va, int write)
{
	return uvm_addr(p->pml4, va, write);
}

// Whether [va, va + n) is all present user memory (writable too if
// `write`): for a system call that must refuse a pointer before it starts.
int
user_range_ok(struct proc *p, uint64_t va, size_t n, int write)
{
	if (n == 0)
		return 1;
	if (va >= USER_TOP || n > USER_TOP - va)
		return 0;
	for (uint64_t a = PGROUNDDOWN(va); a < va + n; a += PGSIZE)
		if (uvm_addr(p->pml4, a, write) == NULL)
			return 0;
	return 1;
}

// The kernel half of a user thread: enter ring 3 at the program's entry.
// Runs on the thread's kernel stack with the process's CR3 (the scheduler
// loaded it).  The frame is a local: usermode_enter never returns, so this
// stack frame is dead the moment it is popped, and later traps reuse the
// stack from its top.
static void
user_thread(void *arg)
{
	struct proc *p = arg;
	struct trapframe tf;

	memset(&tf, 0, sizeof tf);
	tf.rip = p->entry;
	tf.rdi = p->arg;
	tf.cs = SEG_UCODE | 3;
	tf.rflags = FL_IF | 2;
	tf.rsp = USER_STACK_TOP;
	tf.ss = SEG_UDATA | 3;
	usermode_enter(&tf);
}

// A process running `prog` (a label in user.S) on `cpu`, with `arg` in
// RDI when it starts.  The argument is set before the thread exists: once
// thread_create_proc returns, the thread may already be running.
struct proc *
proc_create_arg(const char *name, void *prog, int cpu, uint64_t arg)
{
	return proc_create_data(name, prog, cpu, arg, NULL, 0, 0);
}

// The same with `pages` zeroed data pages (RW, NX) at USER_DATA, the first
// `len` bytes a copy of `data`: parameters and buffers of a program.
struct proc *
proc_create_data(const char *name, void *prog, int cpu, uint64_t arg, const void *data, size_t len,
		 size_t pages)
{
	struct proc *p = kzalloc(sizeof *p);
	size_t size = user_image_end - user_image;

	if (p == NULL || (p->pml4 = uvm_create()) == NULL)
		panic("proc_create: out of memory");
	if (size > PGSIZE)
		panic("proc_create: user image is %zu bytes", size);
	memcpy(uvm_page(p->pml4, USER_TEXT, 0), user_image, size);       // R-X
	uvm_page(p->pml4, USER_STACK_TOP - PGSIZE, PTE_W | PTE_NX);
	if (pages > USER_DATA_MAX_PAGES || len > pages * PGSIZE)
		panic("proc_create: %zu data pages, %zu bytes", pages, len);
	for (size_t i = 0; i < pages; i++) {
		char *pg = uvm_page(p->pml4, USER_DATA + i * PGSIZE, PTE_W | PTE_NX);
		if (i * PGSIZE < len)
			memcpy(pg, (const char *)data + i * PGSIZE, len - i * PGSIZE < PGSIZE ? len - i * PGSIZE : PGSIZE);
	}
	p->entry = USER_TEXT + (uint64_t)((char *)prog - user_image);
	p->arg = arg;
	p->thread = thread_create_proc(name, user_thread, p, cpu, p);
	p->pid = p->thread->tid;
	return p;
}

struct proc *
proc_create(const char *name, void *prog, int cpu)
{
	return proc_create_arg(name, prog, cpu, 0);
}

// End the current user thread with `status`.  The CR3 switch comes first,
// interrupts off: once `done` is set the creator may free the address
// space, and no CPU may still be walking it.
_Noreturn void
proc_exit(int status)
{
	struct thread *t = curthread();
	struct proc *p = t->proc;

	cli();
	t->cr3 = 0;
	lcr3(kernel_cr3);
	acquire(&proclock);
	p->status = status;
	p->done = 1;
	wq_wakeup(&exitwq);
	release(&proclock);
	thread_exit();
}

// Wait for p's thread to exit, free the process, return its status.
int
proc_wait(struct proc *p)
{
	acquire(&proclock);
	while (!p->done)
		wq_sleep(&exitwq, &proclock);
	release(&proclock);
	int status = p->status;
	release_hook(p);   // e.g. aio: its I/Os may still complete into the process's context
	uvm_free(p->pml4);
	kfree(p);
	return status;
}
