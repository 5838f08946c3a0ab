// percpu.h: the per-CPU block, the trap frame and the thread, the three
// structures that entry code (vectors.S, swtch.S) touches by offset.
#pragma once
#include "kernel.h"
#include "lvd_thread.h"
#include "trapframe_asm.h"

// Segment selectors: the same layout as the boot GDT (docs/BOOT.md), which
// is also the layout SYSCALL/SYSRET need (STAR[63:48] = 0x18 gives user
// SS = 0x20, CS = 0x28).
#define SEG_KCODE 0x08
#define SEG_KDATA 0x10
#define SEG_UDATA 0x20
#define SEG_UCODE 0x28
#define SEG_TSS   0x30
#define NGDT      8      // null, kcode, kdata, (ucode32), udata, ucode, tss (2)

// IST slots (LVD section 5): every vector runs on one of these, so that a
// rogue RSP (a domain's) never receives a trap frame.
#define IST_EXC 1        // synchronous exceptions
#define IST_IRQ 2        // asynchronous interrupts and IPIs
#define IST_NMI 3        // NMI (and #DF, #MC: they may hit at any time)

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];         // ist[0] is IST 1
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

// What vectors.S pushes, lowest address first: the general registers, then
// the vector and error code, then the CPU's own frame.
struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rdx, rcx, rbx, rax;
	uint64_t vector, err;
	uint64_t rip, cs, rflags, rsp, ss;
};

// A CPU's GDT and TSS, alone in one page: domain EPTs map this page (read
// only, on its own CPU) so that the CPU can deliver interrupts there.
struct cpu_desc {
	uint64_t gdt[NGDT];
	struct tss tss;
} __attribute__((aligned(4096)));
extern struct cpu_desc cpu_descs[NCPU];

enum tstate { T_UNUSED, T_RUNNABLE, T_RUNNING, T_SLEEPING, T_DEAD };

struct thread {
	uint64_t rsp;            // saved by swtch while not running
	enum tstate state;
	int cpu;                 // the CPU whose run queue owns it (threads do not migrate yet)
	int tid;
	char name[16];
	void *kstack;            // KSTACK_SIZE bytes above a guard (kstack.c); the top is where user-mode traps land
	struct thread *next;     // run queue or wait queue link
	void (*fn)(void *);
	void *arg;
	uint64_t slice_start;    // tick at which it was last switched to
	struct proc *proc;       // NULL for a kernel thread
	uint64_t cr3;            // the process's page tables; 0: the kernel's
	struct lvd_thread lvd;   // its place in LVD domains (lvd.h)
	int urgent;              // when made runnable it preempts its CPU's current thread (sched_set_urgent)
};

struct runqueue {
	struct spinlock lock;    // also held across swtch (see sched.c)
	struct thread *head, *tail;
	uint64_t switches;
};

// The per-CPU block, at the GS base in kernel mode.  The first fields are
// read by assembly with %gs: offsets; the static asserts in percpu.c keep
// them honest.
struct cpu {
	struct cpu *self;        // %gs:0   so mycpu() is one load
	uint64_t kstack_top;     // %gs:8   where traps from user mode land
	uint64_t scratch;        // %gs:16  for entry code (syscall, later)
	struct thread *cur;      // %gs:24  current thread, NULL in the scheduler loop
	int id;                  // index == APIC ID (docs/BOOT.md)
	int noff;                // push_off nesting depth
	int intena;              // were interrupts on before the first push_off?
	volatile int started;
	volatile uint64_t ticks; // timer interrupts taken on this CPU
	uint64_t sched_rsp;      // the scheduler loop's saved stack pointer
	struct runqueue rq;
	struct cpu_desc *desc;   // GDT and TSS: a page of their own (mapped in domain EPTs)
	void *ist[3];            // bottoms of the IST stacks
	struct lvd_domain *lvd_slot;  // the domain in this CPU's EPTP-list slot 1
	volatile int resched;    // an urgent thread was made runnable here: T_RESCHED yields
};

extern struct cpu cpus[NCPU];
extern int ncpu;

static inline struct cpu *
mycpu(void)
{
	struct cpu *c;
	__asm__ volatile("movq %%gs:0, %0" : "=r"(c));
	return c;
}

static inline struct thread *
curthread(void)
{
	struct thread *t;
	__asm__ volatile("movq %%gs:24, %0" : "=r"(t));
	return t;
}

// percpu.c
void percpu_init(int id);
// gdt.c
void gdt_init(struct cpu *c);
// syscall.c, syscall.S
void syscall_init(void);
void syscall(struct trapframe *tf);
void syscall_entry(void);
// trap.c
void idt_init(void);
void idt_load(void);
void trap(struct trapframe *tf);
#define T_PF       14
#define T_TIMER    32
#define T_RESCHED  0xf0      // IPI: "look at your run queue"
#define T_TEST     0xf1      // IPI: self-test counter
#define T_LAT      0xf2      // IPI: interrupt-cost measurement (lvd_bench.c)
#define T_CALL     0xf3      // IPI: run the function smp_call_on left for this CPU
#define T_NIC      0x50      // the NIC's receive queue (MSI-X; the kernel's ixgbe configuration, net/napi.c)
#define T_IOMMU    0xf4      // the IOMMU's fault event (the kernel's ixgbe configuration, lvd_ixgbe.c)
extern volatile uint64_t lat_irqs;
#define T_SPURIOUS 0xff
extern volatile uint64_t test_ipis, test_nmis;
// apic.c
void apic_init(void);
void apic_eoi(void);
void apic_ipi(int cpu, int vector);
void apic_ipi_allbutself(int vector);
void apic_nmi_allbutself(void);
void apic_init_sipi(int cpu);
uint32_t apic_id(void);
#define HZ 1000   // 2.6M modeled cycles per tick at the default clock
extern volatile uint64_t ticks;   // timer ticks of CPU 0: the kernel's clock
// smp.c
void smp_start(void);
// sched.c
void sched_init(void);
// What a subsystem built on the scheduler needs done at every context switch
// (the LVD runtime: the state page's per-thread words, lvd.c).  The scheduler
// never names its clients: they register here, once, before the first switch.
// Both run with interrupts off and the CPU's run-queue lock held.
struct sched_hooks {
	void (*switch_out)(struct thread *t);   // t stops running on this CPU
	void (*switch_in)(struct thread *t);    // t runs again
};
void sched_set_hooks(const struct sched_hooks *h);
struct thread *thread_create(const char *name, void (*fn)(void *), void *arg, int cpu);
struct thread *thread_create_proc(const char *name, void (*fn)(void *), void *arg, int cpu, struct proc *p);
void scheduler(void) __attribute__((noreturn));
void yield(void);
void sched_tick(void);
_Noreturn void thread_exit(void);
struct waitq { struct thread *head, *tail; };
void wq_sleep(struct waitq *wq, struct spinlock *lk);
void wq_wakeup(struct waitq *wq);
void sleep_ticks(uint64_t n);
void sched_set_urgent(struct thread *t);   // t preempts its CPU's current thread whenever it wakes
// smp.c: run fn(arg) on cpu in interrupt context (interrupts off) and wait
// for it; on this CPU, directly.  One call at a time in the system.
void smp_call_on(int cpu, void (*fn)(void *), void *arg);
void smp_call_handle(void);   // trap.c: T_CALL
void swtch(uint64_t *save_rsp, uint64_t new_rsp);
