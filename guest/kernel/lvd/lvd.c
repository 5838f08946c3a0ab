// lvd.c: the kernel's LVD runtime (docs/DOMAINS.md, LVD.md sections 3-5).
//
// - lvd_init: on every CPU, after late launch: VMFUNC on, the per-CPU state
//   page (KERNEL_REMAP), the hypervisor's domain-abort entry;
// - lvd_domain_create: load a driver image (a boot module, ELF) into domain
//   memory (Invariant 3) with its own page table (Invariant 2: built once,
//   never mapped in its own address space) and one EPT per CPU mapping only
//   what section 3 lists;
// - lvd_call: kernel -> domain calls through lvd_tramp.S, with per-CPU pools
//   of per-thread domain stacks, the CR3 remap and the EPTP-list slot;
// - lvd_trap / lvd_violation: the policy: a domain that faults, misuses
//   VMFUNC, touches what it may not, or executes a privileged instruction is
//   killed; its calls fail with -LVD_EDEAD and the kernel goes on.

#include <lvd/hypercall.h>
#include "kernel.h"
#include "lvd.h"
#include "percpu.h"
#include "x86.h"

_Static_assert(offsetof(struct lvd_state, in_domain) == S_INDOM, "S_INDOM");
_Static_assert(offsetof(struct lvd_state, kernel_rsp) == S_KRSP, "S_KRSP");
_Static_assert(offsetof(struct lvd_state, domain_rsp) == S_DRSP, "S_DRSP");
_Static_assert(offsetof(struct lvd_state, kernel_gs) == S_KGS, "S_KGS");
_Static_assert(offsetof(struct lvd_state, cpu) == S_CPU, "S_CPU");
_Static_assert(offsetof(struct lvd_state, domain_if) == S_DOMIF, "S_DOMIF");
_Static_assert(offsetof(struct lvd_state, ist_exc_top) == S_ISTEXC, "S_ISTEXC");
_Static_assert(offsetof(struct lvd_state, ist_irq_top) == S_ISTIRQ, "S_ISTIRQ");
_Static_assert(offsetof(struct lvd_state, progress) == S_PROGRESS, "S_PROGRESS");
_Static_assert(offsetof(struct lvd_state, ist_nmi_top) == S_ISTNMI, "S_ISTNMI");
_Static_assert(sizeof(struct lvd_msg) == 64, "one cache line");

extern char lvd_tramp_start[], lvd_tramp_end[], __lvd_entry_start[], __lvd_entry_end[];
uint64_t idt_address(void);

int lvd_enabled;
uint64_t lvd_preempted_inside;
static struct lvd_domain *domains;
static struct spinlock lvdlock = { .name = "lvd" };
static uint64_t state_pages[NCPU];     // per-CPU host page behind lvd_state
static uint64_t domain_view_pa;        // the zero page domain EPTs show at the view page
static uint64_t dphys_next;            // bump allocator over domain_phys
static int next_domain_id = 1;
static void domain_flush_output(struct lvd_domain *d);
static int restart_decide(struct lvd_domain *d, uint64_t killed_at);
static void restart_wake(struct lvd_domain *d);

// Chunks of domain memory given back by restarts (the dead instance's), for
// the next instance: first fit, split.
#define FREE_CHUNKS 32
static struct { uint64_t lo, hi; } free_chunks[FREE_CHUNKS];
static int nfree_chunks;

// lvdrestart=never|always|N (N restarts per minute of modeled time) for the
// isolated drivers (lvd_set_restart); default always.
int lvd_restart_policy = LVD_RESTART_ALWAYS;
void (*lvd_restart_hook)(struct lvd_domain *d, int stage);

#define DOMAIN_HEAP   (256UL << 10)
// The per-call budget (docs/THREAT-MODEL.md, availability): a call that has
// seen more timer ticks inside the domain than this is killed, interrupts on
// or not (with them off the hypervisor's watchdog catches it).  lvdbudget=MS
// on the command line; ticks are 1/HZ s of modeled time.
#define BUDGET_MS_DEFAULT 100
static uint64_t budget_ticks = BUDGET_MS_DEFAULT * HZ / 1000;
// lvdwatchdog=MS: the hypervisor's watchdog period (0: its default, 10 ms).
static uint64_t watchdog_cycles;
#define KSTACK_MIN    1024             // refuse a call with less kernel stack left
#define IST_SCRUB     512              // bytes at an IST's top that hold frames (with our pushes)

static inline uint64_t
lvd_hc(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2,
       unsigned long a3, unsigned long a4, const char *what)
{
	struct lvd_hc_result r = lvd_hypercall(nr, a0, a1, a2, a3, a4);
	if (r.status != 0)
		panic("lvd: hypercall %s failed: %ld", what, r.status);
	return r.value;
}

// ---------------------------------------------------------------- per CPU

// Run fn(arg) on every CPU, in its T_CALL interrupt (smp_call_on), and
// wait: no CPU's current thread has to give up its time slice first.
static void
on_each_cpu(void (*fn)(void *), void *arg)
{
	for (int c = 0; c < ncpu; c++)
		smp_call_on(c, fn, arg);
}

static void
cpu_setup(void *unused)
{
	struct cpu *c = mycpu();
	void *page = kalloc();
	if (page == NULL)
		panic("lvd: no memory for the state page");
	struct lvd_state *s = page;
	s->kernel_gs = (uint64_t)c;
	s->cpu = (uint64_t)c->id;
	s->ist_exc_top = (uint64_t)c->ist[IST_EXC - 1] + ISTSIZE;
	s->ist_irq_top = (uint64_t)c->ist[IST_IRQ - 1] + ISTSIZE;
	s->ist_nmi_top = (uint64_t)c->ist[IST_NMI - 1] + ISTSIZE;
	state_pages[c->id] = V2P(page);
	push_off();
	lvd_hc(LVD_HC_ENABLE_VMFUNC, 0, 0, 0, 0, 0, "ENABLE_VMFUNC");
	lvd_hc(LVD_HC_KERNEL_REMAP, KV2P(&lvd_state), V2P(page), 0, 0, 0, "KERNEL_REMAP");
	lvd_hc(LVD_HC_DOMAIN_ABORT_ENTRY, (uint64_t)lvd_abort_entry, 0, 0, 0, 0, "DOMAIN_ABORT_ENTRY");
	// The watchdog (docs/HYPERCALLS.md): the default period; progress is
	// the state page's progress word (read-only in domain EPTs).
	lvd_hc(LVD_HC_WATCHDOG, KV2P(&lvd_state) + S_PROGRESS, watchdog_cycles, 0, 0, 0, "WATCHDOG");
	if (lvd_state.cpu != (uint64_t)c->id || lvd_state.kernel_gs != (uint64_t)c)
		panic("lvd: cpu %d: the state page remap did not take", c->id);
	pop_off();
}

void
lvd_init(void)
{
	if (!lvd_hypervisor_present()) {
		printk("lvd: no hypervisor: isolated domains unavailable\n");
		return;
	}
	void *view = kalloc();   // zeroed: in_kernel = 0
	if (view == NULL)
		panic("lvd: no memory");
	domain_view_pa = V2P(view);
	dphys_next = domain_phys.base;
	const char *b = cmdline_option("lvdbudget");
	if (b != NULL) {
		uint64_t ms = 0;
		for (; *b >= '0' && *b <= '9'; b++)
			ms = ms * 10 + (uint64_t)(*b - '0');
		budget_ticks = ms * HZ / 1000 ? ms * HZ / 1000 : 1;
	}
	const char *w = cmdline_option("lvdwatchdog");
	if (w != NULL) {
		uint64_t ms = 0;
		for (; *w >= '0' && *w <= '9'; w++)
			ms = ms * 10 + (uint64_t)(*w - '0');
		watchdog_cycles = ms * (bootinfo.tsc_hz / 1000);
	}
	const char *rp = cmdline_option("lvdrestart");
	if (rp != NULL) {
		if (strncmp(rp, "never", 5) == 0)
			lvd_restart_policy = LVD_RESTART_NEVER;
		else if (strncmp(rp, "always", 6) == 0)
			lvd_restart_policy = LVD_RESTART_ALWAYS;
		else {
			int n = 0;
			for (; *rp >= '0' && *rp <= '9'; rp++)
				n = n * 10 + (*rp - '0');
			if (n < 1 || n > 16)
				panic("lvd: lvdrestart=%s: never, always or 1..16 per minute", cmdline_option("lvdrestart"));
			lvd_restart_policy = n;
		}
	}
	on_each_cpu(cpu_setup, NULL);
	lvd_enabled = 1;
	printk("lvd: %d cpus ready: VMFUNC on, state page %#lx per cpu, trampolines at %#lx\n",
	       ncpu, KV2P(&lvd_state), (uint64_t)lvd_tramp_start);
}

// ---------------------------------------------------------------- domain page tables

struct builder {
	struct lvd_domain *d;
	uint64_t next, end;   // physical bump allocator inside the domain's chunk
};

static uint64_t
b_page(struct builder *b)
{
	if (b->next + PGSIZE > b->end)
		panic("lvd: domain %s: out of domain memory", b->d->name);
	uint64_t pa = b->next;
	b->next += PGSIZE;
	memset(P2V(pa), 0, PGSIZE);
	return pa;
}

// Map one 4 KiB page in the domain's page table.  Supervisor pages, no G bit.
static void
b_map(struct builder *b, uint64_t va, uint64_t pa, uint64_t perm)
{
	pte_t *t = P2V(b->d->pml4_pa);
	for (int level = 3; level > 0; level--) {
		pte_t *e = &t[(va >> (12 + 9 * level)) & 511];
		if (!(*e & PTE_P))
			*e = b_page(b) | PTE_P | PTE_W;
		t = P2V(PTE_ADDR(*e));
	}
	pte_t *e = &t[(va >> 12) & 511];
	if (*e & PTE_P)
		panic("lvd: domain %s: %#lx mapped twice", b->d->name, va);
	*e = pa | PTE_P | perm;
}

static void
b_map_range(struct builder *b, uint64_t va, uint64_t pa, uint64_t n, uint64_t perm)
{
	for (uint64_t o = 0; o < n; o += PGSIZE)
		b_map(b, va + o, pa + o, perm);
}

// ---------------------------------------------------------------- ELF

struct elf64_ehdr {
	unsigned char ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
#define PT_LOAD 1
#define PF_X 1
#define PF_W 2

// Load the image's PT_LOAD segments into b (b == NULL: only check them and
// count the pages they need, into *pages).
static int
load_image(struct builder *b, const struct boot_module *m, uint64_t *pages)
{
	const uint8_t *img = P2V(m->base);
	const struct elf64_ehdr *eh = (const void *)img;
	if (m->length < sizeof *eh || memcmp(eh->ident, "\177ELF\2\1", 6) != 0 || eh->machine != 62) {
		printk("lvd: module %s: not an x86-64 ELF image\n", m->name);
		return -1;
	}
	if (eh->entry != LVD_DOMAIN_BASE) {
		printk("lvd: module %s: entry %#lx, want %#lx (link with guest/domains/domain.ld)\n",
		       m->name, eh->entry, LVD_DOMAIN_BASE);
		return -1;
	}
	if (eh->phoff + (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > m->length)
		return printk("lvd: module %s: truncated\n", m->name), -1;
	const struct elf64_phdr *ph = (const void *)(img + eh->phoff);
	for (int i = 0; i < eh->phnum; i++) {
		if (ph[i].type != PT_LOAD || ph[i].memsz == 0)
			continue;
		uint64_t lo = PGROUNDDOWN(ph[i].vaddr), hi = PGROUNDUP(ph[i].vaddr + ph[i].memsz);
		if (lo < LVD_DOMAIN_BASE || hi > LVD_DOMAIN_HEAP || hi < lo ||
		    ph[i].filesz > ph[i].memsz || ph[i].offset + ph[i].filesz > m->length) {
			printk("lvd: module %s: segment %d at %#lx outside the domain image range\n",
			       m->name, i, ph[i].vaddr);
			return -1;
		}
		uint64_t perm = (ph[i].flags & PF_W ? PTE_W : 0) | (ph[i].flags & PF_X ? 0 : PTE_NX);
		if (b == NULL) {
			*pages += (hi - lo) / PGSIZE;
			continue;
		}
		for (uint64_t va = lo; va < hi; va += PGSIZE) {
			uint64_t pa = b_page(b);
			uint8_t *dst = P2V(pa);
			// The bytes of the segment's file image that fall in this page.
			uint64_t from = va > ph[i].vaddr ? va : ph[i].vaddr;
			uint64_t to = va + PGSIZE < ph[i].vaddr + ph[i].filesz ? va + PGSIZE : ph[i].vaddr + ph[i].filesz;
			if (from < to)
				memcpy(dst + (from - va), img + ph[i].offset + (from - ph[i].vaddr), to - from);
			b_map(b, va, pa, perm);
		}
	}
	return 0;
}

// ---------------------------------------------------------------- EPTs

struct ept_job { struct lvd_domain *d; uint64_t pool_pa, pool_size; };

static void
ept_map(int ept, uint64_t gpa, uint64_t hpa, uint64_t n, uint64_t perm, const char *what)
{
	struct lvd_hc_result r = lvd_hypercall(LVD_HC_EPT_MAP, (unsigned long)ept, gpa, hpa, n, perm);
	if (r.status != 0)
		panic("lvd: EPT_MAP %s [%#lx, +%#lx) failed: %ld", what, gpa, n, r.status);
}

#define EPT_R 1
#define EPT_W 2
#define EPT_X 4

// The domain EPT of this CPU: only what LVD.md section 3 lists.
static void
ept_build(void *arg)
{
	struct ept_job *j = arg;
	struct lvd_domain *d = j->d;
	struct cpu *c = mycpu();
	push_off();
	int e = (int)lvd_hc(LVD_HC_EPT_CREATE, 0, 0, 0, 0, 0, "EPT_CREATE");
	d->ept[c->id] = e;
	// The domain's own memory: code, data, heap, stacks, its page tables
	// (writable in the EPT for A/D bits; never mapped in its address space).
	ept_map(e, d->phys_lo, d->phys_lo, d->phys_hi - d->phys_lo, EPT_R | EPT_W | EPT_X, "domain memory");
	ept_map(e, KV2P(lvd_tramp_start), KV2P(lvd_tramp_start),
		(uint64_t)(lvd_tramp_end - lvd_tramp_start), EPT_R | EPT_X, "trampolines");
	ept_map(e, KV2P(__lvd_entry_start), KV2P(__lvd_entry_start),
		(uint64_t)(__lvd_entry_end - __lvd_entry_start), EPT_R | EPT_X, "interrupt entry");
	ept_map(e, KV2P(idt_address()), KV2P(idt_address()), PGSIZE, EPT_R, "IDT");
	ept_map(e, KV2P(&cpu_descs[c->id]), KV2P(&cpu_descs[c->id]), PGSIZE, EPT_R, "GDT/TSS");
	for (int i = 0; i < 3; i++)   // this CPU's IST stacks only
		ept_map(e, V2P(c->ist[i]), V2P(c->ist[i]), ISTSIZE, EPT_R | EPT_W, "IST");
	ept_map(e, KV2P(&lvd_state), state_pages[c->id], PGSIZE, EPT_R, "state page");
	ept_map(e, KV2P(&lvd_view_in_kernel), domain_view_pa, PGSIZE, EPT_R, "view page");
	if (j->pool_size)
		ept_map(e, j->pool_pa, j->pool_pa, j->pool_size, EPT_R | EPT_W, "shared pool");
#ifdef CONFIG_IXGBE
	if (d->grant != NULL)   // the device's registers; its config space stays the kernel's
		ept_map(e, d->grant->mmio_pa, d->grant->mmio_pa, d->grant->mmio_size, EPT_R | EPT_W, "device registers");
#endif
	d->cr3_mapped[c->id] = 0;
	d->stacks_free[c->id] = (1UL << LVD_STACKS_PER_CPU) - 1;
	pop_off();
}

// ---------------------------------------------------------------- creation

// Physical memory to share with one domain (e.g. its register pages): from
// the top of the domain carve-out, as the packet pool is, never inside a
// domain's chunk (Invariant 3).  Zeroed; 0 if there is none left.
uint64_t
lvd_pool_alloc(uint64_t size)
{
	uint64_t pa = 0;
	size = PGROUNDUP(size);
	acquire(&lvdlock);
	if (size != 0 && domain_phys.end - dphys_next >= size) {
		domain_phys.end -= size;
		pa = domain_phys.end;
	}
	release(&lvdlock);
	if (pa != 0)
		memset(P2V(pa), 0, size);
	return pa;
}

// Domain memory for one instance: a chunk a restart gave back (first fit),
// else the bump allocator.  0 if none is left.  Under lvdlock.
static uint64_t
chunk_alloc(uint64_t size)
{
	for (int i = 0; i < nfree_chunks; i++)
		if (free_chunks[i].hi - free_chunks[i].lo >= size) {
			uint64_t lo = free_chunks[i].lo;
			free_chunks[i].lo += size;
			if (free_chunks[i].lo == free_chunks[i].hi)
				free_chunks[i] = free_chunks[--nfree_chunks];
			return lo;
		}
	if (size > domain_phys.end - dphys_next)
		return 0;
	uint64_t lo = dphys_next;
	dphys_next += size;
	return lo;
}

// Under lvdlock.  Neighbours merge, so one driver's restarts reuse one chunk.
static void
chunk_free(uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < nfree_chunks; i++) {
		if (free_chunks[i].hi == lo) {
			free_chunks[i].hi = hi;
			return;
		}
		if (free_chunks[i].lo == hi) {
			free_chunks[i].lo = lo;
			return;
		}
	}
	if (nfree_chunks == FREE_CHUNKS)
		panic("lvd: free domain memory list full");
	free_chunks[nfree_chunks].lo = lo;
	free_chunks[nfree_chunks].hi = hi;
	nfree_chunks++;
}

void
lvd_memory(uint64_t *live, uint64_t *reusable, uint64_t *dead)
{
	*live = *reusable = *dead = 0;
	acquire(&lvdlock);
	for (int i = 0; i < nfree_chunks; i++)
		*reusable += free_chunks[i].hi - free_chunks[i].lo;
	for (struct lvd_domain *d = domains; d; d = d->next)
		if (d->dead && d->restart_state != LVD_RS_PENDING)
			*dead += d->phys_hi - d->phys_lo;
		else
			*live += d->phys_hi - d->phys_lo;
	release(&lvdlock);
}

// Load d->module into fresh domain memory with its own page table and one
// EPT per CPU (what LVD.md section 3 lists).  0, or -1 with d holding no
// memory (refused: it does not fit).
static int
domain_build(struct lvd_domain *d)
{
	const struct boot_module *m = d->module;
	uint64_t pool_pa = d->pool_pa, pool_size = d->pool_size;
	// Its physical memory, sized from the image's segments (.bss included):
	// the image, its page tables (64 pages cover heap, stacks, info and the
	// kernel pages on 64 CPUs; one more per 2 MiB of image), heap, per-CPU
	// stack pools, the info page.  Refused, not a panic, when it does not fit.
	uint64_t img_pages = 0;
	if (load_image(NULL, m, &img_pages) != 0)
		return -1;
	uint64_t tables = 64 + img_pages / 512 + 1;
	uint64_t chunk = (img_pages + tables) * PGSIZE + DOMAIN_HEAP + (uint64_t)ncpu * LVD_STACKS_PER_CPU * LVD_STACK_SIZE + PGSIZE;
	acquire(&lvdlock);
	uint64_t lo = chunk_alloc(chunk);
	if (lo == 0) {
		uint64_t left = domain_phys.end - dphys_next;
		release(&lvdlock);
		printk("lvd: domain %s refused: it needs %lu KiB of domain memory (image %lu KiB), %lu KiB left (domainmem=)\n",
		       d->name, chunk >> 10, (img_pages * PGSIZE) >> 10, left >> 10);
		return -1;
	}
	d->phys_lo = lo;
	d->phys_hi = lo + chunk;
	d->id = next_domain_id++;
	release(&lvdlock);

	struct builder b = { d, d->phys_lo, d->phys_hi };
	d->pml4_pa = b_page(&b);
	load_image(&b, m, NULL);   // checked above
	// Heap.
	uint64_t heap = b.next;
	for (uint64_t o = 0; o < DOMAIN_HEAP; o += PGSIZE)
		b_map(&b, LVD_DOMAIN_HEAP + o, b_page(&b), PTE_W | PTE_NX);
	// Per-CPU pools of 8 KiB stacks, each below an unmapped 8 KiB guard.
	for (int c = 0; c < ncpu; c++)
		for (int s = 0; s < LVD_STACKS_PER_CPU; s++) {
			uint64_t va = LVD_DOMAIN_STACKS + ((uint64_t)(c * LVD_STACKS_PER_CPU + s) * 2 + 1) * LVD_STACK_SIZE;
			for (uint64_t o = 0; o < LVD_STACK_SIZE; o += PGSIZE)
				b_map(&b, va + o, b_page(&b), PTE_W | PTE_NX);
		}
	// The shared pool at its domain address.
	if (pool_size)
		b_map_range(&b, LVD_DOMAIN_POOL, pool_pa, pool_size, PTE_W | PTE_NX);
#ifdef CONFIG_IXGBE
	// A device's registers, uncached (PCD | PWT).
	if (d->grant != NULL)
		b_map_range(&b, LVD_DOMAIN_MMIO, d->grant->mmio_pa, d->grant->mmio_size,
			    PTE_W | PTE_NX | (1UL << 3) | (1UL << 4));
#endif
	// Its info page, read-only.
	uint64_t info_pa = b_page(&b);
	struct lvd_domain_info *info = P2V(info_pa);
	info->magic = LVD_INFO_MAGIC;
	info->heap = LVD_DOMAIN_HEAP;
	info->heap_size = DOMAIN_HEAP;
	info->pool = LVD_DOMAIN_POOL;
	info->pool_size = pool_size;
	info->ncpu = (unsigned int)ncpu;
	memcpy(info->name, d->name, sizeof info->name);
#ifdef CONFIG_IXGBE
	if (d->grant != NULL) {
		info->mmio = LVD_DOMAIN_MMIO;
		info->mmio_size = d->grant->mmio_size;
		info->dma = LVD_DOMAIN_POOL + d->grant->dma_off;
		info->dma_size = d->grant->dma_size;
		info->dma_bus = pool_pa + d->grant->dma_off;   // the IOMMU domain maps it at its own address
		info->devfn = d->grant->devfn;
		info->vendor = d->grant->vendor;
		info->device = d->grant->device;
	}
#endif
	b_map(&b, LVD_DOMAIN_INFO, info_pa, PTE_NX);
	// The kernel pages a domain needs, at their kernel addresses (the EPT
	// decides which CPU's copies are really there).
	b_map_range(&b, (uint64_t)lvd_tramp_start, KV2P(lvd_tramp_start),
		    (uint64_t)(lvd_tramp_end - lvd_tramp_start), 0);
	b_map_range(&b, (uint64_t)__lvd_entry_start, KV2P(__lvd_entry_start),
		    (uint64_t)(__lvd_entry_end - __lvd_entry_start), 0);
	b_map(&b, idt_address(), KV2P(idt_address()), PTE_NX);
	b_map(&b, (uint64_t)&lvd_state, KV2P(&lvd_state), PTE_NX);
	b_map(&b, (uint64_t)&lvd_view_in_kernel, KV2P(&lvd_view_in_kernel), PTE_NX);
	for (int c = 0; c < ncpu; c++) {
		b_map(&b, (uint64_t)&cpu_descs[c], KV2P(&cpu_descs[c]), PTE_NX);
		for (int i = 0; i < 3; i++)
			b_map(&b, (uint64_t)cpus[c].ist[i], V2P(cpus[c].ist[i]), PTE_W | PTE_NX);
	}
	if (d->instance <= 1)   // a restart reports once it is done (serial output costs the outage ~5,400 cycles a byte)
		printk("lvd: domain %d (%s): %lu KiB image+tables, heap %lu KiB, %d x %d stacks, pool %lu KiB, memory [%#lx-%#lx)\n",
		       d->id, d->name, (heap - d->phys_lo) >> 10, DOMAIN_HEAP >> 10, ncpu, LVD_STACKS_PER_CPU,
		       pool_size >> 10, d->phys_lo, d->phys_hi);

	struct ept_job j = { d, pool_pa, pool_size };
	on_each_cpu(ept_build, &j);
	return 0;
}

// The domain's init call: 0 if it initialized.
static int
domain_init_call(struct lvd_domain *d)
{
	struct lvd_msg msg = { { lvd_msg_word0(LVD_FN_INIT, 0), (uint64_t)ncpu } };
	int r = lvd_call(d, &msg);
	if (r != 0 || msg.w[1] != 0) {
		printk("lvd: domain %s: init failed (%d, %ld)\n", d->name, r, (long)msg.w[1]);
		return -1;
	}
	return 0;
}

#ifdef CONFIG_IXGBE
static const struct lvd_dev_grant *grant_next;   // lvd_domain_create_dev's, for the record it makes
#endif

struct lvd_domain *
lvd_domain_create(const char *module, uint64_t pool_pa, uint64_t pool_size,
		  int (*upcall)(struct lvd_domain *, struct lvd_msg *))
{
	if (!lvd_enabled) {
		printk("lvd: cannot create domain %s: no hypervisor\n", module);
		return NULL;
	}
	const struct boot_module *m = boot_module(module);
	if (m == NULL) {
		printk("lvd: no boot module named %s\n", module);
		return NULL;
	}
	struct lvd_domain *d = kzalloc(sizeof *d);
	if (d == NULL || (d->out = kalloc()) == NULL)
		panic("lvd: out of memory");
	strncpy(d->name, module, sizeof d->name - 1);   // zeroed: always terminated
	d->module = m;
	d->pool_pa = pool_pa;
	d->pool_size = pool_size;
	d->upcall = upcall;
	d->instance = 1;
#ifdef CONFIG_IXGBE
	d->grant = grant_next;
#endif
	if (domain_build(d) != 0) {
		kfree_page(d->out);
		kfree(d);
		return NULL;
	}

	acquire(&lvdlock);
	d->next = domains;
	domains = d;
	release(&lvdlock);

	if (domain_init_call(d) != 0)
		return NULL;
	return d;
}

#ifdef CONFIG_IXGBE
// A domain that drives a device (struct lvd_dev_grant); the grant is kept
// by the caller for the domain's life (restarts map it again).  Domains are
// created by one thread at a time (boot, the restart thread).
struct lvd_domain *
lvd_domain_create_dev(const char *module, uint64_t pool_pa, uint64_t pool_size,
		      int (*upcall)(struct lvd_domain *, struct lvd_msg *), const struct lvd_dev_grant *grant)
{
	grant_next = grant;
	struct lvd_domain *d = lvd_domain_create(module, pool_pa, pool_size, upcall);
	grant_next = NULL;
	return d;
}
#endif

// ---------------------------------------------------------------- calls

// This CPU's EPTP-list slot 1 and the CR3 remap, for a call into d.
static int
prepare_slow(struct lvd_domain *d, struct cpu *c, struct thread *t)
{
	if (d->ept[c->id] <= 0)
		return -LVD_EDEAD;
	if (c->lvd_slot != d) {
		// Another domain ran here last: its interrupt frames (its registers)
		// are still at the tops of this CPU's ISTs, which d can read.
		for (int i = 0; i < 3; i++)
			memset((char *)c->ist[i] + ISTSIZE - IST_SCRUB, 0, IST_SCRUB);
		struct lvd_hc_result r = lvd_hypercall(LVD_HC_EPTP_LIST_SET, 1, (unsigned long)d->ept[c->id], 0, 0, 0);
		if (r.status != 0)
			return -LVD_EDEAD;
		c->lvd_slot = d;
	}
	// Invariant 3: VMFUNC keeps CR3, so in the domain EPT the current root
	// table's guest-physical page is the domain's own root.
	uint64_t cr3 = t->cr3 ? t->cr3 : kernel_cr3;   // what the scheduler loaded
	if (d->cr3_mapped[c->id] != cr3) {
		if (d->cr3_mapped[c->id] != 0)
			lvd_hypercall(LVD_HC_EPT_UNMAP, (unsigned long)d->ept[c->id], d->cr3_mapped[c->id], PGSIZE, 0, 0);
		struct lvd_hc_result r = lvd_hypercall(LVD_HC_EPT_MAP, (unsigned long)d->ept[c->id], cr3, d->pml4_pa,
						       PGSIZE, EPT_R | EPT_W);
		if (r.status != 0)
			return -LVD_EDEAD;
		d->cr3_mapped[c->id] = cr3;
	}
	return 0;
}

// The common case, inline in lvd_call: this CPU's slot already holds d and
// its EPT already remaps the current root table.
static inline int
prepare(struct lvd_domain *d, struct cpu *c, struct thread *t)
{
	uint64_t cr3 = t->cr3 ? t->cr3 : kernel_cr3;
	if (c->lvd_slot == d && d->cr3_mapped[c->id] == cr3 && d->ept[c->id] > 0)
		return 0;
	return prepare_slow(d, c, t);
}

// A domain that was killed on another CPU: drop its EPT here too.
static void
reap_here(struct lvd_domain *d, struct cpu *c)
{
	if (d->ept[c->id] > 0) {
		lvd_hypercall(LVD_HC_KILL_DOMAIN, (unsigned long)d->ept[c->id], 0, 0, 0, 0);
		d->ept[c->id] = -1;
		if (c->lvd_slot == d)
			c->lvd_slot = NULL;
	}
}

int
lvd_call(struct lvd_domain *d, struct lvd_msg *m)
{
	if (d->dead)
		return -LVD_EDEAD;
	// Interrupts off from here to the trampoline and from its return to the
	// end (cli/sti, not push_off: this is the crossing's fast path).  The
	// domain itself runs with the caller's interrupt state: a thread inside
	// a domain is interrupted and preempted like any other (lvd_switch_in).
	uint64_t flags = rflags();
	cli();
	struct cpu *c = mycpu();
	struct thread *t = c->cur;
	int r;
	if (t == NULL)
		panic("lvd_call outside a thread");
	if ((uint64_t)__builtin_frame_address(0) - (uint64_t)t->kstack < KSTACK_MIN) {
		r = -LVD_ENOSTACK;
		goto out;
	}
	uint64_t stack;
	if (t->lvd.depth == 0) {
		uint64_t free = d->stacks_free[c->id];
		if (free == 0) {
			r = -LVD_ENOSTACK;
			goto out;
		}
		if ((r = prepare(d, c, t)) != 0)
			goto out;
		int bit = __builtin_ctzl(free);
		d->stacks_free[c->id] = free & ~(1UL << bit);
		t->lvd.stack_bit = bit;
		t->lvd.domain = d;
		stack = LVD_DOMAIN_STACKS + ((uint64_t)(c->id * LVD_STACKS_PER_CPU + bit) * 2 + 2) * LVD_STACK_SIZE;
	} else {
		if (t->lvd.domain != d) {
			r = -LVD_EINVAL;   // a second domain while inside one: not supported
			goto out;
		}
		stack = (lvd_state.domain_rsp - 128) & ~15UL;   // below the upcall's frame
	}
	if (t->lvd.depth == 0)
		t->lvd.ticks = 0;   // the budget counts from the outermost call
	t->lvd.depth++;
	d->calls++;
	r = (int)lvd_enter(m, stack, (flags & FL_IF) != 0);
	t->lvd.depth--;
	if (t->lvd.depth == 0) {
		d->stacks_free[c->id] |= 1UL << t->lvd.stack_bit;
		t->lvd.domain = NULL;
		lvd_state.progress++;   // the watchdog: an outermost call came back
	}
	if (d->dead) {
		reap_here(d, c);
		r = -LVD_EDEAD;
	}
out:
	if (flags & FL_IF)
		sti();
	return r;
}

// ---------------------------------------------------------------- context switch

static void
lvd_switch_out(struct thread *t)
{
	struct lvd_thread *lt = &t->lvd;
	if (lt->depth > 0)
		lvd_preempted_inside++;   // statistics: a thread switched out while inside a domain
	lt->kernel_rsp = lvd_state.kernel_rsp;
	lt->domain_rsp = lvd_state.domain_rsp;
	lt->domain_if = lvd_state.domain_if;
}

static void
lvd_switch_in(struct thread *t)
{
	struct lvd_thread *lt = &t->lvd;
	lvd_state.kernel_rsp = lt->kernel_rsp;
	lvd_state.domain_rsp = lt->domain_rsp;
	lvd_state.domain_if = lt->domain_if;   // another thread's call may have left its own
	// A thread preempted inside a domain returns into it through slot 1.
	if (lt->depth > 0 && lt->domain != NULL && !lt->domain->dead)
		prepare(lt->domain, mycpu(), mycpu()->cur);
}

void
lvd_attach(void)
{
	static const struct sched_hooks hooks = { .switch_out = lvd_switch_out, .switch_in = lvd_switch_in };
	sched_set_hooks(&hooks);
}

// ---------------------------------------------------------------- policy

static struct lvd_domain *
current_domain(void)
{
	struct thread *t = mycpu()->cur;
	return t ? t->lvd.domain : NULL;
}

void
lvd_kill(struct lvd_domain *d, const char *why)
{
	if (d == NULL)
		panic("lvd: kill with no domain (%s)", why);
	// Whatever page table the domain loaded (a CR3 in the target list loads
	// without an exit, docs/THREAT-MODEL.md), the kernel goes on with the
	// thread's own.
	struct thread *t = mycpu()->cur;
	uint64_t cr3 = t && t->cr3 ? t->cr3 : kernel_cr3;
	if (rcr3() != cr3)
		lcr3(cr3);
	if (!d->dead) {
		uint64_t now = rdtsc();   // it stopped serving here
		// Pending before dead: a client that sees it dead knows whether
		// to wait for the restart (nullblk requeues) or give up.
		int restart = restart_decide(d, now);
		d->dead = 1;
		d->kills++;
		domain_flush_output(d);
		printk("lvd: domain %s killed on cpu %d: %s\n", d->name, mycpu()->id, why);
		if (restart)
			restart_wake(d);
		else if (d->restart != NULL && d->restart_state != LVD_RS_PENDING)
			printk("lvd: domain %s stays dead: restart policy (lvdrestart=)\n", d->name);
	}
	reap_here(d, mycpu());
}

// ---------------------------------------------------------------- restart
//
// docs/DOMAINS.md, "Restart".  A kill of a domain whose kernel half
// registered restart ops (the isolated drivers) hands it to the restart
// thread, unless the policy (lvdrestart=) says no.  The thread quiesces the
// driver's clients, tears the dead instance down completely (its EPT on
// every CPU, the threads still inside it unwound, its stacks, the glue's
// capabilities and shadows, its memory back for reuse), loads the same image
// into the same record as a fresh instance, runs its init, and replays the
// calls the kernel half recorded (registrations, configuration), then lets
// the clients in again.  Outage: from the kill to that point, modeled cycles.

static struct spinlock restartlock = { .name = "lvd-restart" };
static struct waitq restartwq;        // the restart thread waits here
static struct waitq restartdonewq;    // lvd_restart_wait
static struct lvd_domain *restart_queue[8];
static int nrestart_queue;
static struct thread *restart_thread_t;

static int
policy_allows(struct lvd_domain *d, uint64_t now)
{
	if (lvd_restart_policy == LVD_RESTART_NEVER)
		return 0;
	if (lvd_restart_policy == LVD_RESTART_ALWAYS)
		return 1;
	// At most N in the last minute of modeled time.
	uint64_t minute = 60 * bootinfo.tsc_hz, n = 0;
	for (int i = 0; i < 16; i++)
		if (d->recent[i] != 0 && now - d->recent[i] < minute)
			n++;
	return n < (uint64_t)lvd_restart_policy;
}

// From lvd_kill: any context, interrupts off.  1 if a restart is now
// pending (the restart thread is to be woken), 0 if none is (no restart
// ops, the policy says no, or one is already running: a kill during it).
static int
restart_decide(struct lvd_domain *d, uint64_t now)
{
	if (d->restart == NULL || d->restart_state == LVD_RS_PENDING)
		return 0;
	if (!policy_allows(d, now)) {
		d->gave_up = 1;
		return 0;
	}
	d->killed_at = now;
	d->restart_state = LVD_RS_PENDING;
	return 1;
}

static void
restart_wake(struct lvd_domain *d)
{
	acquire(&restartlock);
	if (nrestart_queue < (int)(sizeof restart_queue / sizeof restart_queue[0]))
		restart_queue[nrestart_queue++] = d;
	wq_wakeup(&restartwq);
	release(&restartlock);
}

static void
reap_job(void *arg)
{
	push_off();
	reap_here(arg, mycpu());
	pop_off();
}

// -1 if no thread is inside d, else the CPU of one that is.
static int
cpu_inside(struct lvd_domain *d)
{
	for (int c = 0; c < ncpu; c++)
		if (__atomic_load_n(&d->stacks_free[c], __ATOMIC_SEQ_CST) != (1UL << LVD_STACKS_PER_CPU) - 1)
			return c;
	return -1;
}

// The dead instance, gone: no CPU keeps its EPT, no thread is inside it, its
// memory is free for the next.  0, or -1 if a thread never came out.
static int
teardown(struct lvd_domain *d)
{
	d->dead = 1;
	// Every CPU drops its EPT (a thread preempted inside the domain on a CPU
	// then fails its VMFUNC back into it and unwinds: -LVD_EDEAD).
	on_each_cpu(reap_job, d);
	// Threads preempted inside it unwind when they run next: wait for them
	// (on this CPU, by letting them run).
	uint64_t until = rdtsc() + bootinfo.tsc_hz / 10;
	for (int c; (c = cpu_inside(d)) >= 0;) {
		if (rdtsc() > until)
			return -1;
		if (c == mycpu()->id)
			yield();
		else
			__builtin_ia32_pause();
	}
	acquire(&lvdlock);
	if (d->phys_hi > d->phys_lo)
		chunk_free(d->phys_lo, d->phys_hi);
	d->phys_lo = d->phys_hi = 0;
	release(&lvdlock);
	for (int c = 0; c < ncpu; c++) {
		d->ept[c] = -1;
		d->cr3_mapped[c] = 0;
	}
	for (int c = 0; c < ncpu; c++)
		d->out[c].n = 0;
	return 0;
}

static void
do_restart(struct lvd_domain *d)
{
	int ok = 0;
	d->restart->quiesce(d);
	for (int attempt = 1; attempt <= LVD_RESTART_ATTEMPTS && !ok; attempt++) {
		const char *why = "";
		if (teardown(d) != 0) {
			why = "a thread never left the dead instance";
			break;
		}
		d->restart->reset(d);
		d->instance++;
		if (domain_build(d) != 0)
			why = "no domain memory";
		else {
			if (lvd_restart_hook)
				lvd_restart_hook(d, 0);
			d->dead = 0;
			if (domain_init_call(d) != 0 || d->dead)
				why = "init failed";
			else if (d->restart->replay(d) != 0 || d->dead)
				why = "replay failed";
			else
				ok = 1;
		}
		if (!ok) {
			d->restart_failures++;
			printk("lvd: domain %s: restart attempt %d failed: %s\n", d->name, attempt, why);
		}
	}
	uint64_t outage = rdtsc() - d->killed_at;
	if (ok) {
		d->restarts++;
		for (int i = 15; i > 0; i--)
			d->recent[i] = d->recent[i - 1];
		d->recent[0] = rdtsc();
		d->outage_last = outage;
		d->outage_sum += outage;
		if (outage > d->outage_max)
			d->outage_max = outage;
		printk("lvd: domain %s restarted: instance %lu (domain %d), outage %lu cycles (%lu us), %lu restarts, memory [%#lx-%#lx)\n",
		       d->name, d->instance, d->id, outage, outage * 1000000 / bootinfo.tsc_hz, d->restarts, d->phys_lo, d->phys_hi);
	} else {
		d->dead = 1;
		d->gave_up = 1;
		teardown(d);
		printk("lvd: domain %s not recovered after %d attempts: it stays dead\n", d->name, LVD_RESTART_ATTEMPTS);
	}
	d->restart_state = LVD_RS_NONE;
	d->restart->resume(d, ok);
	acquire(&restartlock);
	wq_wakeup(&restartdonewq);
	release(&restartlock);
}

static void
restart_thread(void *unused)
{
	for (;;) {
		acquire(&restartlock);
		while (nrestart_queue == 0)
			wq_sleep(&restartwq, &restartlock);
		struct lvd_domain *d = restart_queue[0];
		for (int i = 1; i < nrestart_queue; i++)
			restart_queue[i - 1] = restart_queue[i];
		nrestart_queue--;
		release(&restartlock);
		do_restart(d);
	}
}

void
lvd_set_restart(struct lvd_domain *d, const struct lvd_restart_ops *ops)
{
	d->restart = ops;
	if (restart_thread_t == NULL && ops != NULL) {
		restart_thread_t = thread_create("lvd-restart", restart_thread, NULL, ncpu - 1);
		sched_set_urgent(restart_thread_t);
	}
}

void
lvd_restart_wait(struct lvd_domain *d)
{
	acquire(&restartlock);
	while (d->restart_state == LVD_RS_PENDING)
		wq_sleep(&restartdonewq, &restartlock);
	release(&restartlock);
}

uint64_t
lvd_domain_pa(struct lvd_domain *d, uint64_t va)
{
	if (d->phys_hi <= d->phys_lo)
		return 0;
	pte_t *t = P2V(d->pml4_pa);
	for (int level = 3; level > 0; level--) {
		pte_t e = t[(va >> (12 + 9 * level)) & 511];
		if (!(e & PTE_P))
			return 0;
		t = P2V(PTE_ADDR(e));
	}
	pte_t e = t[(va >> 12) & 511];
	if (!(e & PTE_P))
		return 0;
	uint64_t pa = PTE_ADDR(e) + (va & (PGSIZE - 1));
	// Only the domain's own memory (not the pool, not the kernel pages it maps).
	return pa >= d->phys_lo && pa < d->phys_hi ? pa : 0;
}

static const char *const vecname[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#9", "#TS", "#NP",
	"#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

// A trap taken inside a domain or a trampoline window (vectors.S), on the
// call's kernel stack, kernel GS, interrupts off.
void
lvd_trap(struct trapframe *tf)
{
	const uint64_t *ext = (const uint64_t *)(tf + 1);
	struct lvd_domain *d = current_domain();
	char why[128];

	if (tf->vector < 32) {
		snprintf(why, sizeof why, "exception %s (vector %lu) at rip %#lx, err %#lx, cr2 %#lx",
			 vecname[tf->vector] ? vecname[tf->vector] : "?", tf->vector, tf->rip, tf->err, rcr2());
		lvd_kill(d, why);
		lvd_unwind();
	}
	// Came through the domain entry path: the frame must be where the CPU
	// puts interrupt frames on this CPU, for kernel CS (not a domain that
	// jumped into the entry code with a made-up frame).
	uint64_t ist = ext[DF_IST / 8];
	if (ext[DF_KIND / 8] == 1 &&
	    (ist < lvd_state.ist_irq_top - ISTSIZE || ist >= lvd_state.ist_irq_top || tf->cs != SEG_KCODE)) {
		snprintf(why, sizeof why, "interrupt entry with a forged frame (rsp %#lx, cs %#lx)", ist, tf->cs);
		lvd_kill(d, why);
		lvd_unwind();
	}
	// Only the hardware interrupts the kernel uses may arrive (int $n is a
	// domain forging one), and only if the call was made with interrupts
	// on (a domain that executes sti in a call made with them off).
	uint64_t v = tf->vector;
	if (v != T_TIMER && v != T_RESCHED && v != T_TEST && v != T_LAT && v != T_CALL && v != T_SPURIOUS
#ifdef CONFIG_IXGBE
	    && v != T_IOMMU && v != T_NIC
#endif
	    ) {
		snprintf(why, sizeof why, "software interrupt or unknown vector %lu at rip %#lx", v, tf->rip);
		lvd_kill(d, why);
		lvd_unwind();
	}
	if (!lvd_state.domain_if) {
		snprintf(why, sizeof why, "enabled interrupts (vector %lu arrived at rip %#lx in a call made with them off)",
			 v, tf->rip);
		lvd_kill(d, why);
		if (v != T_SPURIOUS)
			apic_eoi();   // the interrupt was taken: acknowledge it
		lvd_unwind();
	}
	// A real interrupt is in service at the APIC; a domain's `int $n` for
	// the same vector is not (the x2APIC ISR, read without an exit).  The
	// kernel EOIs before it can switch threads or call a domain, so no real
	// interrupt of the vector is in service below a call.  Spurious
	// interrupts never set the ISR; the kernel does nothing for one.
	if (ext[DF_KIND / 8] == 1 && v != T_SPURIOUS &&
	    !(rdmsr(MSR_X2APIC_ISR0 + (uint32_t)(v / 32)) & (1UL << (v % 32)))) {
		snprintf(why, sizeof why, "forged interrupt: vector %lu is not in service (int $n) at rip %#lx", v, tf->rip);
		lvd_kill(d, why);
		lvd_unwind();
	}
	struct thread *t = mycpu()->cur;
	if (v == T_TIMER && t != NULL && t->lvd.depth > 0 && ++t->lvd.ticks > budget_ticks) {
		snprintf(why, sizeof why, "kept the CPU for over %lu ms in one call (budget, lvdbudget=) at rip %#lx",
			 budget_ticks * 1000 / HZ, tf->rip);
		lvd_kill(d, why);
		apic_eoi();
		lvd_unwind();
	}
	if (d != NULL)
		d->interrupts++;
	lvd_state.progress++;
	trap(tf);
}

static const char *
exit_name(uint64_t reason)
{
	static const char *const names[] = LVD_EXIT_NAMES;   // lvd_abi.h, from Lvd.Machine.Vmx.ExitReason
	return reason < sizeof names / sizeof names[0] && names[reason] ? names[reason] : "VM exit";
}

// The hypervisor's abort entry (lvd_tramp.S), on the call's kernel stack.
void
lvd_violation(uint64_t reason, uint64_t qual, uint64_t rip, uint64_t gpa, uint64_t index)
{
	char why[160];
	if (reason == 52)
		snprintf(why, sizeof why, "watchdog: interrupts off and no progress for a whole preemption-timer period (VM exit 52) at rip %#lx",
			 rip);
	else if (reason == 48)
		snprintf(why, sizeof why, "%s (VM exit %lu) at rip %#lx: %s%s%s guest-physical %#lx (EPTP index %lu)",
			 exit_name(reason), reason, rip, qual & 1 ? "read" : "", qual & 2 ? "write" : "",
			 qual & 4 ? "fetch" : "", gpa, index);
	else
		snprintf(why, sizeof why, "%s (VM exit %lu) at rip %#lx, qualification %#lx (EPTP index %lu)",
			 exit_name(reason), reason, rip, qual, index);
	lvd_kill(current_domain(), why);
}

void
lvd_violation_kernel(uint64_t reason, uint64_t qual, uint64_t rip, uint64_t gpa, uint64_t index)
{
	panic("lvd: %s (VM exit %lu) by the kernel at rip %#lx, qualification %#lx, gpa %#lx",
	      exit_name(reason), reason, rip, qual, gpa);
}

void
lvd_fault_gs(int unused)
{
	// swapgs in a domain also changed KERNEL_GS_BASE: give the user back
	// its (zero) GS base before anything returns to ring 3.
	wrmsr(MSR_KERNEL_GS_BASE, 0);
	lvd_kill(current_domain(), "changed the GS base (swapgs/wrgsbase)");
}

// ---------------------------------------------------------------- upcalls

// ---------------------------------------------------------------- domain output

// A domain's prints, as whole lines that can never pass for the kernel's:
// each starts with "[domain NAME] ", control characters (and bytes above
// 0x7e: no escape sequences) become '?', and a line ends at a newline, when
// full, or when the domain dies.  One line buffer per CPU, so that domains
// printing on several CPUs at once need no lock.
static void
domain_emit(struct lvd_domain *d, struct lvd_outline *o)
{
	if (o->n == 0)
		return;
	printk("[domain %s] %.*s\n", d->name, o->n, o->buf);
	o->n = 0;
}

static void
domain_output(struct lvd_domain *d, const char *s, uint64_t len)
{
	struct lvd_outline *o = &d->out[mycpu()->id];
	for (uint64_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '\n') {
			domain_emit(d, o);
			continue;
		}
		o->buf[o->n++] = (ch >= 0x20 && ch <= 0x7e) ? ch : '?';
		if (o->n == (int)sizeof o->buf)
			domain_emit(d, o);
	}
}

static void
domain_flush_output(struct lvd_domain *d)
{
	domain_emit(d, &d->out[mycpu()->id]);
}

// A domain's call into the kernel (lvd_tramp.S), interrupts off.  Nothing in
// *m is trusted.
void
lvd_upcall_dispatch(struct lvd_msg *m)
{
	struct lvd_domain *d = current_domain();
	if (d == NULL || d->dead) {
		m->w[0] = (uint64_t)-LVD_EDEAD;
		return;
	}
	d->upcalls++;
	switch (lvd_msg_fn(m)) {
	case LVD_KFN_PRINT: {
		uint64_t len = m->w[7] < 48 ? m->w[7] : 48;
		domain_output(d, (const char *)&m->w[1], len);
		m->w[0] = 0;
		return;
	}
	case LVD_KFN_NEST: {
		uint64_t depth = m->w[1];
		if (depth == 0 || depth > 16) {
			m->w[0] = (uint64_t)-LVD_EINVAL;
			return;
		}
		struct lvd_msg inner = { { lvd_msg_word0(LVD_FN_NEST, 0), depth - 1 } };
		int r = lvd_call(d, &inner);
		// The crossing's status, else the domain's own (a refusal deeper
		// down, e.g. -LVD_ENOSTACK, must reach the outermost caller).
		long status = r != 0 ? r : (long)inner.w[0];
		m->w[0] = (uint64_t)status;
		m->w[1] = status == 0 ? inner.w[1] + 1 : 0;
		return;
	}
	default:
		if (d->upcall == NULL || lvd_msg_fn(m) < LVD_KFN_USER) {
			m->w[0] = (uint64_t)-LVD_ENOSYS;
			return;
		}
		m->w[0] = (uint64_t)(long)d->upcall(d, m);
	}
}

void
lvd_print_stats(void)
{
	for (struct lvd_domain *d = domains; d; d = d->next)
		if (d->restarts == 0 && d->restart_failures == 0)
			printk("lvd: domain %s: %lu calls, %lu upcalls, %lu interrupts inside, %s\n",
			       d->name, d->calls, d->upcalls, d->interrupts, d->dead ? "killed" : "alive");
		else
			printk("lvd: domain %s: %lu calls, %lu upcalls, %lu interrupts inside, %s, "
			       "%lu restarts (%lu failed attempts), outage max %lu mean %lu cycles\n",
			       d->name, d->calls, d->upcalls, d->interrupts, d->dead ? "killed" : "alive",
			       d->restarts, d->restart_failures, d->outage_max,
			       d->restarts ? d->outage_sum / d->restarts : 0);
}
