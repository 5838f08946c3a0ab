// lvd.h: the kernel's LVD runtime (docs/DOMAINS.md): domains, the per-CPU
// state page, cross-domain calls.  Offsets used by assembly are #defines,
// checked against the struct by static asserts in lvd.c.
#pragma once

#include <lvd/domain.h>
#include "lvd_thread.h"

// The per-CPU state page (LVD.md section 3): one kernel virtual and
// guest-physical address, a different host page per CPU (KERNEL_REMAP);
// writable in the kernel EPT, read-only in domain EPTs.
#define S_INDOM    0    // 1 while RSP is not the kernel's: inside a domain, or in a trampoline window
#define S_KRSP     8    // kernel RSP of the innermost call (lvd_enter's frame)
#define S_DRSP     16   // domain RSP saved by the last upcall
#define S_KGS      24   // the kernel GS base of this CPU (&cpus[id])
#define S_CPU      32
#define S_DOMIF    40   // 1: the domain runs with interrupts on
#define S_ISTEXC   48   // top of this CPU's exception IST
#define S_ISTIRQ   56   // top of this CPU's interrupt IST
#define S_PROGRESS 64   // watchdog: bumped by every interrupt taken in a domain and every outermost return
#define S_ISTNMI   72   // top of this CPU's NMI/#DF/#MC IST

// Trap frame extension written by the domain-interrupt path (vectors.S):
// the words above a copied struct trapframe.
#define DF_GS      0    // the domain's GS base at the interrupt
#define DF_KIND    8    // 1: came from a domain EPT (VMFUNC back on return); 0: trampoline window
#define DF_IST     16   // where the CPU left the frame (the IST)
#define DF_SIZE    32

#ifndef __ASSEMBLY__
#include "kernel.h"

struct lvd_state {
	uint64_t in_domain;
	uint64_t kernel_rsp;
	uint64_t domain_rsp;
	uint64_t kernel_gs;
	uint64_t cpu;
	uint64_t domain_if;
	uint64_t ist_exc_top;
	uint64_t ist_irq_top;
	uint64_t progress;
	uint64_t ist_nmi_top;
};

extern struct lvd_state lvd_state;          // the state page (per-CPU host page)
extern volatile uint64_t lvd_view_in_kernel; // 1 in the kernel EPT, 0 in domain EPTs

struct trapframe;

// A domain: one driver image in its own address space, one EPT per CPU.
struct lvd_domain {
	char name[16];
	int id;
	volatile int dead;
	uint64_t phys_lo, phys_hi;      // its host-physical memory (inside domain_phys)
	uint64_t pml4_pa;               // its page table root (domain memory)
	int ept[NCPU];                  // hypervisor EPT id on each CPU
	uint64_t cr3_mapped[NCPU];      // the kernel CR3 currently remapped to pml4_pa on each CPU
	uint64_t stacks_free[NCPU];     // per-CPU pool bitmaps (bit set = free)
	uint64_t calls, upcalls, interrupts, kills;
	int (*upcall)(struct lvd_domain *d, struct lvd_msg *m);   // kernel services for it
	struct lvd_outline { int n; char buf[PGSIZE / NCPU - sizeof(int)]; } *out;   // its prints: one page, a line per CPU (lvd.c)
	struct lvd_domain *next;
	// Restart (docs/DOMAINS.md, "Restart"): the image is reloaded into this
	// same record, so the kernel's references to it stay valid.
	const struct boot_module *module;
	uint64_t pool_pa, pool_size;
	const struct lvd_restart_ops *restart;   // NULL: never restarted
	volatile int restart_state;     // LVD_RS_*
	uint64_t instance;              // 1 for the first load, +1 per restart
	uint64_t restarts, restart_failures, gave_up;
	uint64_t killed_at;             // RDTSC at the kill that started the pending restart
	uint64_t outage_last, outage_max, outage_sum;   // kill -> serving again, modeled cycles
	uint64_t recent[16];            // RDTSC of the last restarts (the N-per-minute policy)
#ifdef CONFIG_IXGBE
	const struct lvd_dev_grant *grant;   // a device it drives (lvd_domain_create_dev), or NULL
#endif
};

#ifdef CONFIG_IXGBE
// A PCI device given to a domain (the kernel's ixgbe configuration): its BAR 0
// is mapped in the domain's page table (uncached, at LVD_DOMAIN_MMIO) and in its
// EPTs; [dma_off, dma_off + dma_size) of its pool is its DMA memory, told to it
// in the info page (the IOMMU domain the kernel attaches the device to maps
// exactly that).  Config space is not given: ports exit in a domain.
struct lvd_dev_grant {
	uint64_t mmio_pa, mmio_size;
	uint64_t dma_off, dma_size;
	uint32_t devfn;
	uint16_t vendor, device;
};
struct lvd_domain *lvd_domain_create_dev(const char *module, uint64_t pool_pa, uint64_t pool_size,
					 int (*upcall)(struct lvd_domain *, struct lvd_msg *),
					 const struct lvd_dev_grant *grant);
#endif

// What an isolated driver's kernel half does around a restart of its domain
// (lvd.c, do_restart): quiesce (its clients fail fast or wait from now on),
// reset (drop what the dead instance held: capabilities, shadows, handles),
// replay (the recorded registration and configuration calls into the fresh
// instance; 0 = it serves again), resume (clients are served again).
struct lvd_restart_ops {
	void (*quiesce)(struct lvd_domain *d);
	void (*reset)(struct lvd_domain *d);
	int (*replay)(struct lvd_domain *d);
	void (*resume)(struct lvd_domain *d, int recovered);
};
#define LVD_RS_NONE     0   // alive, or dead for good
#define LVD_RS_PENDING  1   // killed; a restart is coming or running
#define LVD_RESTART_NEVER   0
#define LVD_RESTART_ALWAYS  (-1)   // else: at most N restarts per minute of modeled time
#define LVD_RESTART_ATTEMPTS 3     // tries per kill before the driver stays dead

extern int lvd_enabled;
extern uint64_t lvd_preempted_inside;   // switches of threads that were inside a domain             // domains can be created (hypervisor with VMFUNC)

void lvd_init(void);                // after late launch, on the BSP: every CPU
uint64_t lvd_pool_alloc(uint64_t size);   // shared with one domain: physical, zeroed, 0 if none
struct lvd_domain *lvd_domain_create(const char *module, uint64_t pool_pa, uint64_t pool_size,
				     int (*upcall)(struct lvd_domain *, struct lvd_msg *));
int lvd_call(struct lvd_domain *d, struct lvd_msg *m);   // 0 or -LVD_E*

// A glue transport's crossing into d: the interface's function ids start at
// fn_base.  LVD_OK when a reply arrived (its status in m->w[0]), else
// -LVD_ECROSS (the domain died or is gone).
static inline int
lvd_call_glue(struct lvd_domain *d, struct lvd_msg *m, uint64_t fn_base)
{
	m->w[0] += fn_base;
	return lvd_call(d, m) == 0 ? LVD_OK : -LVD_ECROSS;
}
void lvd_kill(struct lvd_domain *d, const char *why);
void lvd_set_restart(struct lvd_domain *d, const struct lvd_restart_ops *ops);   // lvdrestart= policy
static inline int lvd_restart_pending(const struct lvd_domain *d) { return d->restart_state == LVD_RS_PENDING; }
void lvd_restart_wait(struct lvd_domain *d);   // sleep until no restart of d is pending
// Tests (the fault injector): called by the restart with the fresh image
// loaded, before its init and replay (stage 0).
extern void (*lvd_restart_hook)(struct lvd_domain *d, int stage);
uint64_t lvd_domain_pa(struct lvd_domain *d, uint64_t va);   // its page table: the physical page of va, or 0
// Domain memory, for leak accounting: bytes handed to live domains, bytes
// returned by restarts and free for reuse, bytes of killed domains never torn down.
void lvd_memory(uint64_t *live, uint64_t *reusable, uint64_t *dead);
extern int lvd_restart_policy;
void lvd_attach(void);              // before the first context switch: the scheduler's hooks
void lvd_trap(struct trapframe *tf);                       // vectors.S: a trap taken in a domain
uint64_t lvd_pool_offset(struct lvd_domain *d, const void *p, size_t n);  // -1 if not inside
void lvd_print_stats(void);
void lvd_selftest(void);   // lvd_test.c
void lvd_isolate_from_cmdline(void);   // lvd_drivers.c
void lvd_bench(void);                  // lvd_bench.c: lvdbench= measurements

// lvd_tramp.S
long lvd_enter(struct lvd_msg *m, uint64_t domain_rsp, uint64_t domain_if);
void lvd_abort_entry(void);
_Noreturn void lvd_unwind(void);
#endif
