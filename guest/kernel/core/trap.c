// trap.c: the IDT and the C half of every trap.

#include "kernel.h"
#include "percpu.h"
#include "x86.h"
#ifdef CONFIG_IXGBE
void lvd_iommu_fault(void);   // lvd_ixgbe.c
void napi_irq(void);          // net/napi.c
#endif

struct gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;          // type: P | DPL | 0xe (interrupt gate: IF cleared)
	uint16_t off_mid;
	uint32_t off_hi, reserved;
} __attribute__((packed));

// One page of its own: domain EPTs map it (read-only) for exitless interrupts.
static struct gate idt[256] __attribute__((aligned(4096)));

uint64_t
idt_address(void)
{
	return (uint64_t)idt;
}
extern char vectors[], vectors_end[];
volatile uint64_t test_ipis, test_nmis;

static const char *const excname[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound", "#UD invalid opcode", "#NM no FPU", "#DF double fault", "coprocessor",
	"#TS invalid TSS", "#NP segment not present", "#SS stack fault",
	"#GP general protection", "#PF page fault", "15", "#MF x87", "#AC alignment",
	"#MC machine check", "#XM SIMD", "#VE virtualization", "#CP control protection",
};

// Which IST each vector uses.  All of them use one (LVD section 5): no
// vector ever pushes its frame on whatever RSP happened to be live.
static int
ist_for(int v)
{
	if (v == 2 || v == 8 || v == 18)
		return IST_NMI;    // NMI, #DF, #MC can arrive in the middle of anything
	if (v < 32)
		return IST_EXC;
	return IST_IRQ;
}

void
idt_init(void)
{
	if (vectors_end - vectors != 256 * 16)
		panic("idt_init: vector stubs are %ld bytes, want 4096", (long)(vectors_end - vectors));
	for (int v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)vectors + 16 * v;
		idt[v] = (struct gate){
			.off_lo = a & 0xffff, .sel = SEG_KCODE, .ist = ist_for(v),
			.type = 0x8e, .off_mid = (a >> 16) & 0xffff, .off_hi = a >> 32,
		};
	}
}

void
idt_load(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = {
		sizeof idt - 1, (uint64_t)idt
	};
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

static void
dump(struct trapframe *tf)
{
	printk("  rip %#lx cs %#lx rflags %#lx rsp %#lx ss %#lx\n",
	       tf->rip, tf->cs, tf->rflags, tf->rsp, tf->ss);
	printk("  rax %#lx rbx %#lx rcx %#lx rdx %#lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
	printk("  rsi %#lx rdi %#lx rbp %#lx r8 %#lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
	printk("  backtrace:\n  #- %#lx\n", tf->rip);
	backtrace(tf->rbp);
}

void
trap(struct trapframe *tf)
{
	uint64_t v = tf->vector;

	if (v == 2) {
		// NMIs are only sent by the self test for now.  Check that it
		// arrived on this CPU's NMI stack (LVD section 5); no EOI for an NMI.
		char *ist = mycpu()->ist[IST_NMI - 1];
		if ((char *)tf < ist || (char *)tf >= ist + ISTSIZE)
			panic("NMI frame %p is not on the NMI IST", (void *)tf);
		__atomic_fetch_add(&test_nmis, 1, __ATOMIC_RELAXED);
		return;
	}
	if (v < 32 && (tf->cs & 3) && curthread() && curthread()->proc) {
		// A fault in user mode is the process's problem, not the
		// kernel's: one line, and the thread ends.  We are on its kernel
		// stack (vectors.S copied the frame there), so it can exit here.
		struct thread *t = curthread();
		printk("user: pid %d (%s) killed: %s at rip %#lx, cr2 %#lx, err %#lx\n",
		       t->tid, t->name, excname[v] ? excname[v] : "reserved", tf->rip, rcr2(), tf->err);
		proc_exit(-1);
	}
	if (v < 32) {
		uint64_t cr2 = rcr2();
		panicking = 1;   // take the console whatever state it is in
		printk("trap: cpu %d: %s (vector %lu) err %#lx cr2 %#lx in %s mode\n",
		       mycpu()->id, excname[v] ? excname[v] : "reserved", v, tf->err, cr2,
		       (tf->cs & 3) ? "user" : "kernel");
		if (v == T_PF && kstack_guard_hit(cr2))
			printk("  kernel stack overflow: %#lx is in the guard page below a thread's stack (thread %s)\n",
			       cr2, curthread() ? curthread()->name : "-");
		dump(tf);
		machine_exit(128 + v);
	}
	switch (v) {
	case T_TIMER:
		mycpu()->ticks++;
		if (mycpu()->id == 0)
			ticks++;
		apic_eoi();
		sched_tick();
		break;
	case T_RESCHED:
		apic_eoi();        // the run queue is looked at on the way out of hlt
		if (mycpu()->resched) {   // an urgent thread (sched_set_urgent) is waiting
			mycpu()->resched = 0;
			if (mycpu()->cur && mycpu()->cur->state == T_RUNNING)
				yield();
		}
		break;
	case T_CALL:
		apic_eoi();
		smp_call_handle();
		break;
	case T_TEST:
		__atomic_fetch_add(&test_ipis, 1, __ATOMIC_RELAXED);
		apic_eoi();
		break;
	case T_LAT:
		lat_irqs++;
		apic_eoi();
		break;
#ifdef CONFIG_IXGBE
	case T_NIC:
		apic_eoi();
		napi_irq();          // net/napi.c
		break;
	case T_IOMMU:
		apic_eoi();
		lvd_iommu_fault();   // a blocked DMA: the domain owning the device is killed (lvd_ixgbe.c)
		break;
#endif
	case T_SPURIOUS:
		break;             // no EOI for a spurious interrupt (SDM 11.9)
	default:
		printk("trap: cpu %d: unexpected vector %lu\n", mycpu()->id, v);
		apic_eoi();
	}
}
