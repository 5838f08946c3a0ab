// cputest.h: what every CPU test program shares.
//
// A test program owns the machine: it builds its own GDT and TSS (with IST
// stacks), its own IDT whose 256 entries all lead to one C dispatcher, and
// (when it needs paging or ring 3) its own page tables.  It then runs
// checks, each printing one line, "PASS name" or "FAIL name: expected ...
// got ...", and ends with report().
//
// A test makes an instruction trap in one of three ways:
//   probe:  asm built with PROBE() marks the instruction and where to go on
//           when it traps; the dispatcher records the trap and resumes there
//           (same privilege level, registers as they were at the fault).
//   hook:   trap_hook(vector, fn) runs fn on the trap frame; fn may change
//           the frame or the page tables, and the iretq that follows retries
//           the faulting instruction (or continues after a trap).
//   escape: a trap nobody expects, or one whose frame cannot be returned
//           through (#DF), abandons the handler and returns to the innermost
//           user_call() or trap_catch() (longjmp style).
#ifndef CPUTEST_H
#define CPUTEST_H

#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "x86.h"	// rdmsr, wrmsr, MSR numbers (guest/include)

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;

// ---- checks and the report ----

void check_eq(const char *name, u64 expected, u64 got);
void check_true(const char *name, int ok, const char *expected, u64 got);
int report(const char *program);	// prints the summary; the exit status

// ---- segments: this GDT mirrors the loader's (SYSCALL/SYSRET need it) ----

#define KCODE	0x08
#define KDATA	0x10
#define UCODE32	0x18	// placeholder for SYSRET's 32-bit layout; never used
#define UDATA	0x23	// selector 0x20 with RPL 3
#define UCODE	0x2b	// selector 0x28 with RPL 3
#define TSSSEL	0x30
// Entries 8 and up (selectors 0x40...) are free for a test's own descriptors.
#define GDT_ENTRIES	20
extern u64 gdt[GDT_ENTRIES];

#define NIST		3
#define STACKSIZE	16384
extern u8 rsp0_stack[STACKSIZE];
extern u8 ist_stack[NIST][STACKSIZE];
extern u8 user_stack[STACKSIZE];
#define STACKTOP(s)	((u64)(s) + STACKSIZE)

struct tss {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iomap;
} __attribute__((packed));
extern struct tss tss;

// ---- interrupts ----

#define GATE_INT	0xe	// clears IF on entry
#define GATE_TRAP	0xf	// leaves IF alone
#define VEC_USEREXIT	0x80	// ring 3 leaves user_call() with int $0x80

// What trap_common pushes, lowest address first.  The CPU's frame starts at
// `error` when it pushed an error code and at `rip` otherwise (the stub then
// pushed a 0 in its place so every frame has the same shape).
struct trapframe {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector;	// bits 7:0 vector; bit 8: the stub expects a CPU error code
	u64 error;
	u64 rip, cs, rflags, rsp, ss;
};
#define TF_CPUERR	0x100

// The last trap as the dispatcher saw it.
struct trap {
	u64 vector, error, has_error;
	u64 rip, cs, rflags, rsp, ss;
	u64 cr2;
	u64 frame;		// lowest address of the frame the CPU pushed
	u64 handler_rflags;	// RFLAGS inside the handler
	u64 handler_ss;		// SS selector inside the handler
};
extern volatile struct trap last;
extern volatile int ntraps;

typedef void (*trap_hook_t)(struct trapframe *);

void cpu_init(const char *program);	// GDT, TSS, IDT with default gates
void run(const char *name, void (*fn)(void));	// fn; FAIL if a trap escapes it
void idt_load(u16 limit);
u64 *idt_gate(int vec);		// the gate's two quadwords, to corrupt
void idt_set(int vec, u64 handler, int type, int dpl, int ist);
void idt_default(int vec);	// back to the stub, interrupt gate, DPL 0, no IST
u64 trap_stub(int vec);		// the stub for vec (error code per the SDM)
u64 trap_stub_noerr(int vec);	// a stub for vec that expects no error code
void trap_hook(int vec, trap_hook_t fn);
void trap_reset(void);		// forget the last trap, clear the count
int has_cpu_error(int vec);	// SDM 6.3.1 Table 6-1: vectors with error codes

// Runs fn(arg) at CPL 3 on user_stack with RFLAGS = rflags (IOPL, IF ...).
// Returns fn's result; if a trap escaped instead, sets user_faulted.
u64 user_call(u64 (*fn)(u64), u64 arg, u64 rflags);
extern volatile int user_faulted;

// Runs fn; returns 0 if it returned, 1 if a trap escaped from it.
int trap_catch(void (*fn)(void));

// The probe protocol, used inside extended asm (so registers are %%).  The
// body's first instruction is the one expected to trap; probe_rip names it
// for the checks and probe_rsp/probe_rflags hold RSP and RFLAGS just before.
// When the trap comes, the dispatcher resumes at label 2 with every register
// as it was when the instruction trapped; without a trap execution simply
// falls through to label 2.  r11 is clobbered.
#define PROBE(body)							\
	"leaq 1f(%%rip), %%r11\n\t"					\
	"movq %%r11, probe_rip(%%rip)\n\t"				\
	"leaq 2f(%%rip), %%r11\n\t"					\
	"movq %%r11, probe_resume(%%rip)\n\t"				\
	"movq %%rsp, probe_rsp(%%rip)\n\t"				\
	"pushfq\n\t"							\
	"popq probe_rflags(%%rip)\n"					\
	"1:\t" body "\n"						\
	"2:\tmovq $0, probe_resume(%%rip)\n\t"
extern volatile u64 probe_rip, probe_resume, probe_rsp, probe_rflags;

// One line: the trap count is 1 and vector, error code and RIP are as given.
// cr2 is checked unless it is NOCR2.
#define NOCR2	(~0ULL)
#define NOERR	(~0ULL)	// the vector pushes no error code
void check_trap(const char *name, int vector, u64 error, u64 rip, u64 cr2);
void check_notrap(const char *name);

// What a probe's destination holds before it runs: still there if it trapped.
#define BAD	0xbadbadbadULL
// One load as a probe, 8 or 4 bytes (zero-extended): BAD if it trapped.  Also
// usable at CPL 3 through user_call().
u64 probe_load(u64 va);
u64 probe_load32(u64 va);

// ---- paging ----

#define PTE_P	(1ULL << 0)
#define PTE_W	(1ULL << 1)
#define PTE_U	(1ULL << 2)
#define PTE_A	(1ULL << 5)
#define PTE_D	(1ULL << 6)
#define PTE_PS	(1ULL << 7)
#define PTE_G	(1ULL << 8)
#define PTE_NX	(1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

#define PF_P	1
#define PF_W	2
#define PF_U	4
#define PF_RSVD	8
#define PF_I	16

// Test mappings live in the second 512 GiB (PML4 entry 1); the first 4 GiB
// are identity-mapped with 2 MiB pages, user-accessible (so ring-3 code and
// its data need no special mapping), except the first 2 MiB which use 4 KiB
// pages with page 0 absent so NULL still faults.
#define TESTVA	0x0000008000000000ULL

void vm_init(void);
u64 *vm_entry(u64 va, int level);	// level 1 = PTE, 2 = PDE, 3 = PDPTE, 4 = PML4E
void vm_map(u64 va, u64 pa, u64 flags);	// 4 KiB; flags include PTE_P
u64 frame_alloc(void);			// a zeroed 4 KiB physical page
extern u64 pml4[512];

// ---- privileged instructions ----

#define CRREG(n)							\
static inline u64 read_cr##n(void)					\
{ u64 v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; }	\
static inline void write_cr##n(u64 v)					\
{ __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
CRREG(0)
CRREG(2)
CRREG(3)
CRREG(4)

static inline void
invlpg(u64 va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline u64
read_rflags(void)
{
	u64 f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

static inline void
cpuid(u32 leaf, u32 sub, u32 r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}


#define CR0_WP		(1ULL << 16)
#define CR4_TSD		(1ULL << 2)
#define CR4_PGE		(1ULL << 7)
#define CR4_FSGSBASE	(1ULL << 16)

#define FL_CF	(1ULL << 0)
#define FL_ZF	(1ULL << 6)
#define FL_SF	(1ULL << 7)
#define FL_TF	(1ULL << 8)
#define FL_DF	(1ULL << 10)
#define FL_OF	(1ULL << 11)
#define FL_IOPL	(3ULL << 12)
#define FL_NT	(1ULL << 14)
#define FL_RF	(1ULL << 16)
#define FL_VM	(1ULL << 17)
#define FL_AC	(1ULL << 18)

#endif
