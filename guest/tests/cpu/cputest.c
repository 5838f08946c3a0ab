// cputest.c: the machinery the CPU tests share (see cputest.h): checks,
// descriptor tables, trap entry and dispatch, ring 3, page tables.

#include <stdlib.h>
#include "cputest.h"

// ---- checks ----

static int npass, nfail;

static void
result(const char *name, int ok, const char *expected, const char *got)
{
	if (ok) {
		npass++;
		printf("PASS %s\n", name);
	} else {
		nfail++;
		printf("FAIL %s: expected %s got %s\n", name, expected, got);
	}
}

void
check_eq(const char *name, u64 expected, u64 got)
{
	char e[24], g[24];

	snprintf(e, sizeof e, "0x%llx", (unsigned long long)expected);
	snprintf(g, sizeof g, "0x%llx", (unsigned long long)got);
	result(name, expected == got, e, g);
}

void
check_true(const char *name, int ok, const char *expected, u64 got)
{
	char g[24];

	snprintf(g, sizeof g, "0x%llx", (unsigned long long)got);
	result(name, ok, expected, g);
}

int
report(const char *program)
{
	printf("%s: %d passed, %d failed\n", program, npass, nfail);
	return nfail == 0 ? 0 : 1;
}

// ---- descriptor tables ----

u8 rsp0_stack[STACKSIZE] __attribute__((aligned(16)));
u8 ist_stack[NIST][STACKSIZE] __attribute__((aligned(16)));
u8 user_stack[STACKSIZE] __attribute__((aligned(16)));

struct tss tss __attribute__((aligned(16)));
u64 gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static u64 idt[256 * 2] __attribute__((aligned(16)));

// What cpu_init found, so a test that died half-way can be undone.
static u64 boot_cr0, boot_cr4, boot_efer;
static u64 kcr3;
static const char *progname;

struct dtr {
	u16 limit;
	u64 base;
} __attribute__((packed));

void
idt_load(u16 limit)
{
	struct dtr d = { limit, (u64)idt };

	__asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

u64 *
idt_gate(int vec)
{
	return &idt[vec * 2];
}

void
idt_set(int vec, u64 handler, int type, int dpl, int ist)
{
	idt[vec * 2] = (handler & 0xffff) | ((u64)KCODE << 16) |
	    ((u64)(ist & 7) << 32) | ((u64)type << 40) | ((u64)dpl << 45) |
	    (1ULL << 47) | (((handler >> 16) & 0xffff) << 48);
	idt[vec * 2 + 1] = handler >> 32;
}

int
has_cpu_error(int vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 ||
	    vec == 21 || vec == 29 || vec == 30;
}

extern char trap_stubs[], trap_stubs_noerr[];

u64
trap_stub(int vec)
{
	return (u64)trap_stubs + 16 * vec;
}

u64
trap_stub_noerr(int vec)
{
	return (u64)trap_stubs_noerr + 16 * vec;
}

void
idt_default(int vec)
{
	if (vec == VEC_USEREXIT)
		idt_set(vec, trap_stub(vec), GATE_INT, 3, 0);
	else
		idt_set(vec, trap_stub(vec), GATE_INT, 0, 0);
}

static void
tss_default(void)
{
	memset(&tss, 0, sizeof tss);
	tss.rsp[0] = STACKTOP(rsp0_stack);
	for (int i = 0; i < NIST; i++)
		tss.ist[i] = STACKTOP(ist_stack[i]);
	// No I/O bitmap: the base lies beyond the limit, so ring 3 gets #GP
	// for every port (SDM 19.5.2).
	tss.iomap = sizeof tss;
}

void
cpu_init(const char *program)
{
	struct dtr d;
	u64 base = (u64)&tss, limit = sizeof tss - 1;

	progname = program;
	boot_cr0 = read_cr0();
	boot_cr4 = read_cr4();
	boot_efer = rdmsr(MSR_EFER);
	kcr3 = read_cr3();

	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffULL;	// kernel code64
	gdt[2] = 0x00cf92000000ffffULL;	// kernel data
	gdt[3] = 0x00cffa000000ffffULL;	// user code32 (SYSRET layout only)
	gdt[4] = 0x00cff2000000ffffULL;	// user data
	gdt[5] = 0x00affa000000ffffULL;	// user code64
	// 64-bit TSS, available (type 9), present: 16 bytes (SDM 8.2.3).
	gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
	    (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[7] = base >> 32;
	tss_default();

	d.limit = sizeof gdt - 1;
	d.base = (u64)gdt;
	// The selectors are the loader's, but CS and SS still cache the old
	// descriptors: iretq to ourselves reloads both from the new table.
	__asm__ volatile(
	    "lgdt %0\n\t"
	    "movq %%rsp, %%rax\n\t"
	    "pushq %1\n\t"
	    "pushq %%rax\n\t"
	    "pushfq\n\t"
	    "pushq %2\n\t"
	    "leaq 1f(%%rip), %%rax\n\t"
	    "pushq %%rax\n\t"
	    "iretq\n"
	    "1:\tmovl %1, %%eax\n\t"
	    "movw %%ax, %%ds\n\t"
	    "movw %%ax, %%es\n\t"
	    "xorl %%eax, %%eax\n\t"
	    "movw %%ax, %%fs\n\t"
	    "movw %%ax, %%gs\n\t"
	    "movw %3, %%ax\n\t"
	    "ltr %%ax"
	    : : "m"(d), "i"(KDATA), "i"(KCODE), "i"(TSSSEL) : "rax", "memory");

	for (int v = 0; v < 256; v++)
		idt_default(v);
	idt_load(sizeof idt - 1);
}

// ---- trap entry ----
//
// 256 stubs of 16 bytes each.  A stub for a vector without an error code
// pushes a 0 in its place, so trap_common always sees the same frame; the
// vector word carries TF_CPUERR when the CPU pushed the code itself.  The
// second table expects no error code for any vector: INT n never pushes one,
// not even for vectors 8 and 10-14 (SDM 6.13).
//
// The CPU aligns the stack to 16 bytes before pushing its frame (SDM 6.14.2);
// 6 + 1 + 15 words keep it aligned for the C call.

__asm__(
"	.text\n"
"	.p2align 4\n"
"	.globl trap_stubs\n"
"trap_stubs:\n"
"	.set vec, 0\n"
"	.rept 256\n"
"	.p2align 4\n"
"	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)\n"
"	pushq $(vec + 0x100)\n"
"	.else\n"
"	pushq $0\n"
"	pushq $vec\n"
"	.endif\n"
"	jmp trap_common\n"
"	.set vec, vec + 1\n"
"	.endr\n"
"\n"
"	.p2align 4\n"
"	.globl trap_stubs_noerr\n"
"trap_stubs_noerr:\n"
"	.set vec, 0\n"
"	.rept 256\n"
"	.p2align 4\n"
"	pushq $0\n"
"	pushq $vec\n"
"	jmp trap_common\n"
"	.set vec, vec + 1\n"
"	.endr\n"
"\n"
"trap_common:\n"
"	pushq %rax\n"
"	pushq %rbx\n"
"	pushq %rcx\n"
"	pushq %rdx\n"
"	pushq %rsi\n"
"	pushq %rdi\n"
"	pushq %rbp\n"
"	pushq %r8\n"
"	pushq %r9\n"
"	pushq %r10\n"
"	pushq %r11\n"
"	pushq %r12\n"
"	pushq %r13\n"
"	pushq %r14\n"
"	pushq %r15\n"
"	movq %rsp, %rdi\n"
"	cld\n"
"	call trap_dispatch\n"
"	popq %r15\n"
"	popq %r14\n"
"	popq %r13\n"
"	popq %r12\n"
"	popq %r11\n"
"	popq %r10\n"
"	popq %r9\n"
"	popq %r8\n"
"	popq %rbp\n"
"	popq %rdi\n"
"	popq %rsi\n"
"	popq %rdx\n"
"	popq %rcx\n"
"	popq %rbx\n"
"	popq %rax\n"
"	addq $16, %rsp\n"
"	iretq\n"
);

// ---- longjmp-style escapes ----

struct ctx {
	u64 rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

int ctx_save(struct ctx *c) __attribute__((returns_twice));
void ctx_restore(struct ctx *c, int v) __attribute__((noreturn));
void enter_user(u64 fn, u64 arg, u64 stack, u64 rflags) __attribute__((noreturn));

__asm__(
"	.text\n"
"	.globl ctx_save\n"
"ctx_save:\n"
"	movq %rbx, 0(%rdi)\n"
"	movq %rbp, 8(%rdi)\n"
"	movq %r12, 16(%rdi)\n"
"	movq %r13, 24(%rdi)\n"
"	movq %r14, 32(%rdi)\n"
"	movq %r15, 40(%rdi)\n"
"	leaq 8(%rsp), %rax\n"
"	movq %rax, 48(%rdi)\n"
"	movq (%rsp), %rax\n"
"	movq %rax, 56(%rdi)\n"
"	xorl %eax, %eax\n"
"	ret\n"
"\n"
// Called from a handler at CPL 0: the handler's stack is simply dropped.
// Interrupts stay off and DF clear, as the C code expects.
"	.globl ctx_restore\n"
"ctx_restore:\n"
"	cli\n"
"	cld\n"
"	movq 0(%rdi), %rbx\n"
"	movq 8(%rdi), %rbp\n"
"	movq 16(%rdi), %r12\n"
"	movq 24(%rdi), %r13\n"
"	movq 32(%rdi), %r14\n"
"	movq 40(%rdi), %r15\n"
"	movq 48(%rdi), %rsp\n"
"	movl %esi, %eax\n"
"	jmp *56(%rdi)\n"
"\n"
// enter_user(fn, arg, stack, rflags): iretq to ring 3, which calls fn(arg)
// and hands its result back with int $0x80.
"	.globl enter_user\n"
"enter_user:\n"
"	pushq $0x23\n"
"	pushq %rdx\n"
"	pushq %rcx\n"
"	pushq $0x2b\n"
"	leaq user_start(%rip), %rax\n"
"	pushq %rax\n"
"	movq %rdi, %rax\n"
"	movq %rsi, %rdi\n"
"	iretq\n"
"user_start:\n"
"	call *%rax\n"
"	int $0x80\n"
"	ud2\n"
);

// ---- dispatch ----

volatile struct trap last;
volatile int ntraps;
volatile u64 probe_rip, probe_resume, probe_rsp, probe_rflags;
volatile int user_faulted;

static trap_hook_t hooks[256];
static struct ctx *escape;	// innermost trap_catch or user_call
static struct ctx *user_escape;	// innermost user_call
static u64 user_ret;

void
trap_hook(int vec, trap_hook_t fn)
{
	hooks[vec] = fn;
}

void
trap_reset(void)
{
	ntraps = 0;
	memset((void *)&last, 0, sizeof last);
	last.vector = ~0ULL;
}

void trap_dispatch(struct trapframe *tf);

void
trap_dispatch(struct trapframe *tf)
{
	int vec = tf->vector & 0xff;
	u16 ss;

	// Ring 3's way home is not a trap under test.
	if (vec == VEC_USEREXIT && (tf->cs & 3) == 3 && user_escape) {
		user_ret = tf->rax;
		ctx_restore(user_escape, 2);
	}

	__asm__ volatile("movw %%ss, %0" : "=r"(ss));
	last.vector = vec;
	last.has_error = (tf->vector & TF_CPUERR) != 0;
	last.error = last.has_error ? tf->error : NOERR;
	last.rip = tf->rip;
	last.cs = tf->cs;
	last.rflags = tf->rflags;
	last.rsp = tf->rsp;
	last.ss = tf->ss;
	last.cr2 = read_cr2();
	last.frame = last.has_error ? (u64)&tf->error : (u64)&tf->rip;
	last.handler_rflags = read_rflags();
	last.handler_ss = ss;
	ntraps++;

	if (hooks[vec]) {
		hooks[vec](tf);
		return;
	}
	if (probe_resume) {
		tf->rip = probe_resume;
		probe_resume = 0;
		return;
	}
	if (escape)
		ctx_restore(escape, 1);
	printf("FAIL unhandled-trap: expected none got vector %d error 0x%llx rip 0x%llx cr2 0x%llx\n",
	    vec, (unsigned long long)tf->error, (unsigned long long)tf->rip,
	    (unsigned long long)last.cr2);
	nfail++;
	exit(report(progname));
}

int
trap_catch(void (*fn)(void))
{
	struct ctx c;
	struct ctx *volatile prev = escape;
	int r;

	escape = &c;
	r = ctx_save(&c);
	if (r == 0)
		fn();
	escape = prev;
	return r != 0;
}

u64
user_call(u64 (*fn)(u64), u64 arg, u64 rflags)
{
	struct ctx c;
	struct ctx *volatile prev = escape, *volatile uprev = user_escape;
	int r;

	escape = user_escape = &c;
	user_faulted = 0;
	user_ret = 0;
	r = ctx_save(&c);
	if (r == 0)
		enter_user((u64)fn, arg, STACKTOP(user_stack), rflags);
	escape = prev;
	user_escape = uprev;
	user_faulted = r != 2;
	return user_ret;
}

// Puts back what a test may have changed before it died.
static void
cpu_recover(void)
{
	write_cr0(boot_cr0);
	write_cr4(boot_cr4);
	wrmsr(MSR_EFER, boot_efer);
	write_cr3(kcr3);
	tss_default();
	for (int v = 0; v < 256; v++) {
		idt_default(v);
		hooks[v] = 0;
	}
	idt_load(sizeof idt - 1);
	probe_resume = 0;
}

void
run(const char *name, void (*fn)(void))
{
	char g[96];

	if (trap_catch(fn)) {
		snprintf(g, sizeof g, "vector %d error 0x%llx rip 0x%llx cr2 0x%llx",
		    (int)last.vector, (unsigned long long)last.error,
		    (unsigned long long)last.rip, (unsigned long long)last.cr2);
		result(name, 0, "no unexpected trap", g);
		cpu_recover();
	}
}

static void
trap_string(char *buf, int n, int count, u64 vector, u64 error, u64 rip, u64 cr2)
{
	int k;

	if (count == 0) {
		snprintf(buf, n, "no trap");
		return;
	}
	k = snprintf(buf, n, "%d trap(s) vector %d", count, (int)vector);
	if (error != NOERR)
		k += snprintf(buf + k, n - k, " error 0x%llx", (unsigned long long)error);
	else
		k += snprintf(buf + k, n - k, " no error code");
	k += snprintf(buf + k, n - k, " rip 0x%llx", (unsigned long long)rip);
	if (cr2 != NOCR2)
		snprintf(buf + k, n - k, " cr2 0x%llx", (unsigned long long)cr2);
}

void
check_trap(const char *name, int vector, u64 error, u64 rip, u64 cr2)
{
	char e[128], g[128];
	int ok;

	ok = ntraps == 1 && last.vector == (u64)vector && last.error == error &&
	    last.rip == rip && (cr2 == NOCR2 || last.cr2 == cr2);
	trap_string(e, sizeof e, 1, vector, error, rip, cr2);
	trap_string(g, sizeof g, ntraps, last.vector, last.error, last.rip,
	    cr2 == NOCR2 ? NOCR2 : last.cr2);
	result(name, ok, e, g);
}

// The probe loads of cputest.h: one macro so the two widths cannot drift.
#define PROBE_LOAD(fn, insn)						\
u64									\
fn(u64 va)								\
{									\
	u64 v = BAD;							\
									\
	__asm__ volatile(PROBE(insn) : [v] "+r"(v) : [a] "r"(va) : "r11", "memory"); \
	return v;							\
}
PROBE_LOAD(probe_load, "movq (%[a]), %[v]")
PROBE_LOAD(probe_load32, "movl (%[a]), %k[v]")

void
check_notrap(const char *name)
{
	char g[128];

	trap_string(g, sizeof g, ntraps, last.vector, last.error, last.rip, last.cr2);
	result(name, ntraps == 0, "no trap", g);
}

// ---- paging ----

#define NPT	32
#define NFRAME	48

u64 pml4[512] __attribute__((aligned(4096)));
static u64 id_pdpt[512] __attribute__((aligned(4096)));
static u64 id_pd[4][512] __attribute__((aligned(4096)));
static u64 id_pt[512] __attribute__((aligned(4096)));
static u64 ptpool[NPT][512] __attribute__((aligned(4096)));
static u8 frames[NFRAME][4096] __attribute__((aligned(4096)));
static int npt, nframe;

// Everything is P|W|U: ring-3 test code runs straight out of the program
// image, and the supervisor-only pages a test wants are its own mappings.
void
vm_init(void)
{
	const u64 f = PTE_P | PTE_W | PTE_U;

	memset(pml4, 0, sizeof pml4);
	pml4[0] = (u64)id_pdpt | f;
	for (int i = 0; i < 4; i++)
		id_pdpt[i] = (u64)id_pd[i] | f;
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 512; j++)
			id_pd[i][j] = ((u64)(i * 512 + j) << 21) | f | PTE_PS;
	id_pd[0][0] = (u64)id_pt | f;
	id_pt[0] = 0;
	for (int i = 1; i < 512; i++)
		id_pt[i] = ((u64)i << 12) | f;
	kcr3 = (u64)pml4;
	write_cr3(kcr3);
}

u64 *
vm_entry(u64 va, int level)
{
	u64 *table = pml4;

	for (int l = 4; l > level; l--) {
		u64 *e = &table[(va >> (12 + 9 * (l - 1))) & 511];
		if (!(*e & PTE_P)) {
			if (npt == NPT) {
				printf("FAIL vm_entry: out of page tables\n");
				exit(1);
			}
			memset(ptpool[npt], 0, 4096);
			*e = (u64)ptpool[npt++] | PTE_P | PTE_W | PTE_U;
		}
		table = (u64 *)(*e & PTE_ADDR);
	}
	return &table[(va >> (12 + 9 * (level - 1))) & 511];
}

void
vm_map(u64 va, u64 pa, u64 flags)
{
	*vm_entry(va, 1) = pa | flags;
	invlpg(va);
}

u64
frame_alloc(void)
{
	if (nframe == NFRAME) {
		printf("FAIL frame_alloc: out of frames\n");
		exit(1);
	}
	memset(frames[nframe], 0, 4096);
	return (u64)frames[nframe++];
}
