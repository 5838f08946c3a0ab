/*
 * micro.c: the microbenchmarks of `lvd bench micro`, measured by the guest itself with
 * RDTSC, so the numbers are modeled cycles under the cost file in use.
 *
 * Phase 1 runs natively (no VMX): WRMSR, OUT, MOV CR3, SYSCALL+SYSRET.
 * Phase 2 late-launches the hypervisor and repeats them as a VT-x guest: WRMSR and OUT now
 * exit to the hypervisor; MOV CR3 does not (the value is in the CR3-target list).
 * Phase 3 sets up a second EPT through hypercalls and times VMFUNC, one way and back.
 *
 * Each figure is (RDTSC; op; RDTSC) minus (RDTSC; RDTSC) with the same surrounding code,
 * the minimum over ITER runs.  Output: one "name cycles" line per figure.
 */
#include <stdio.h>
#include <lvd/hypercall.h>

#define ITER 64

static inline unsigned long rdtsc(void)
{
	unsigned int lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((unsigned long)hi << 32) | lo;
}

#define MEASURE(var, body)                                   \
	do {                                                 \
		unsigned long best_ = ~0UL;                  \
		for (int i_ = 0; i_ < ITER; i_++) {          \
			unsigned long t0_ = rdtsc();         \
			body;                                \
			unsigned long t1_ = rdtsc();         \
			if (t1_ - t0_ < best_)               \
				best_ = t1_ - t0_;           \
		}                                            \
		var = best_;                                 \
	} while (0)

static unsigned long baseline(void)
{
	unsigned long b;
	MEASURE(b, __asm__ volatile("" ::: "memory"));
	return b;
}

static void report(const char *name, unsigned long cycles, unsigned long base)
{
	printf("%s %lu\n", name, cycles - base);
}

/* ---- SYSCALL + SYSRET, timed in ring 3 ----
 *
 * The kernel SYSCALLs into syscall_entry (allowed at ring 0) with RAX = 1, which SYSRETs to
 * user_probe in ring 3.  user_probe times, with RDTSC, ITER pairs of SYSCALL (RAX = 3:
 * syscall_entry SYSRETs straight back) against the same code without the SYSCALL, keeps the
 * minimum of each in user_pair / user_base, then SYSCALLs with RAX = 2, which resumes the
 * kernel where it left off.
 */
extern char syscall_entry[], user_probe[];
unsigned long saved_kernel_rsp __attribute__((used));
unsigned long user_pair __attribute__((used)), user_base __attribute__((used));

__asm__(".text\n"
	".globl syscall_entry\n"
	"syscall_entry:\n"
	"	cmpq $3, %rax\n"		/* the measured call: straight back */
	"	jne 1f\n"
	"	sysretq\n"
	"1:	cmpq $1, %rax\n"		/* from the kernel: go to ring 3 */
	"	jne 2f\n"
	"	leaq user_probe(%rip), %rcx\n"
	"	movq $0x2, %r11\n"
	"	sysretq\n"
	"2:	movq saved_kernel_rsp(%rip), %rsp\n"	/* RAX = 2: back to the kernel */
	"	ret\n"
	".globl user_probe\n"
	"user_probe:\n"
	"	movq $-1, user_pair(%rip)\n"
	"	movq $-1, user_base(%rip)\n"
	"	movl $64, %r14d\n"
	"3:	rdtsc\n"
	"	shlq $32, %rdx\n"
	"	orq %rdx, %rax\n"
	"	movq %rax, %r12\n"
	"	movq $3, %rax\n"
	"	syscall\n"
	"	rdtsc\n"
	"	shlq $32, %rdx\n"
	"	orq %rdx, %rax\n"
	"	subq %r12, %rax\n"
	"	cmpq user_pair(%rip), %rax\n"
	"	jae 4f\n"
	"	movq %rax, user_pair(%rip)\n"
	"4:	rdtsc\n"
	"	shlq $32, %rdx\n"
	"	orq %rdx, %rax\n"
	"	movq %rax, %r12\n"
	"	movq $3, %rax\n"
	"	rdtsc\n"
	"	shlq $32, %rdx\n"
	"	orq %rdx, %rax\n"
	"	subq %r12, %rax\n"
	"	cmpq user_base(%rip), %rax\n"
	"	jae 5f\n"
	"	movq %rax, user_base(%rip)\n"
	"5:	decl %r14d\n"
	"	jnz 3b\n"
	"	movq $2, %rax\n"
	"	syscall\n");

static void make_user_accessible(void)
{
	/* Set U/S on every entry of the loader's identity map (first 4 GiB), so ring 3 can run
	 * this program's code and data: the benchmark needs a ring change, not isolation. */
	unsigned long cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	unsigned long *pml4 = (unsigned long *)(cr3 & ~0xfffUL);
	pml4[0] |= 4;
	unsigned long *pdpt = (unsigned long *)(pml4[0] & 0x000ffffffffff000UL);
	for (int i = 0; i < 4; i++) {
		pdpt[i] |= 4;
		unsigned long *pd = (unsigned long *)(pdpt[i] & 0x000ffffffffff000UL);
		for (int j = 0; j < 512; j++) {
			pd[j] |= 4;
			if (!(pd[j] & 0x80) && (pd[j] & 1)) {
				unsigned long *pt = (unsigned long *)(pd[j] & 0x000ffffffffff000UL);
				for (int k = 0; k < 512; k++)
					pt[k] |= 4;
			}
		}
	}
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

static void setup_syscall(void)
{
	unsigned long lstar = (unsigned long)syscall_entry;
	__asm__ volatile("wrmsr" : : "c"(0xc0000082), "a"((unsigned)lstar), "d"((unsigned)(lstar >> 32)));
	__asm__ volatile("wrmsr" : : "c"(0xc0000084), "a"(0x200), "d"(0)); /* FMASK: IF */
}

/* Ring 3 and back, measuring SYSCALL+SYSRET pairs there; returns the pair's cycles. */
static unsigned long time_syscall_pair(void)
{
	__asm__ volatile("pushq %%rbp\n"
			 "leaq 1f(%%rip), %%rax\n"
			 "pushq %%rax\n"
			 "movq %%rsp, saved_kernel_rsp(%%rip)\n"
			 "movq $1, %%rax\n"
			 "syscall\n"
			 "1: popq %%rbp\n"
			 : : : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory");
	return user_pair - user_base;
}

static void ring_ops(const char *suffix, unsigned long base)
{
	char name[64];
	unsigned long c;
	unsigned long cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));

	MEASURE(c, __asm__ volatile("wrmsr" : : "c"(0xc0000103), "a"(7), "d"(0) : "memory"));
	snprintf(name, sizeof name, "wrmsr_%s", suffix);
	report(name, c, base);
	MEASURE(c, __asm__ volatile("outb %%al, $0x80" : : "a"(0) : "memory"));
	snprintf(name, sizeof name, "out_%s", suffix);
	report(name, c, base);
	MEASURE(c, __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory"));
	snprintf(name, sizeof name, "cr3_%s", suffix);
	report(name, c, base);
	snprintf(name, sizeof name, "syscall_%s", suffix);
	report(name, time_syscall_pair(), 0);
}

static int setup_second_ept(void)
{
	struct lvd_hc_result r = lvd_hypercall(LVD_HC_ENABLE_VMFUNC, 0, 0, 0, 0, 0);
	if (r.status)
		return -1;
	r = lvd_hypercall(LVD_HC_EPT_CREATE, 0, 0, 0, 0, 0);
	if (r.status)
		return -1;
	unsigned long id = r.value;
	/* Same identity view as the kernel's, 2 MiB at a time, until the hypervisor's memory. */
	for (unsigned long gpa = 0;; gpa += 2UL << 20) {
		r = lvd_hypercall(LVD_HC_EPT_MAP, id, gpa, gpa, 2UL << 20, LVD_EPT_R | LVD_EPT_W | LVD_EPT_X);
		if (r.status == LVD_HS_DENIED)
			break;
		if (r.status)
			return -1;
	}
	r = lvd_hypercall(LVD_HC_EPTP_LIST_SET, 1, id, 0, 0, 0);
	return r.status ? -1 : 0;
}

int main(void)
{
	make_user_accessible();
	setup_syscall();
	unsigned long base = baseline();
	printf("rdtsc_pair %lu\n", base);
	ring_ops("native", base);

	if (lvd_launch() != 0) {
		printf("error: no hypervisor (run with --hypervisor-on-request)\n");
		return 1;
	}
	ring_ops("virtualized", base);

	if (setup_second_ept() != 0) {
		printf("error: EPT setup hypercalls failed\n");
		return 1;
	}
	unsigned long c;
	MEASURE(c, __asm__ volatile("vmfunc\n\tmovl $0, %%eax\n\tmovl $0, %%ecx\n\tvmfunc" : : "a"(0), "c"(1) : "memory"));
	report("vmfunc_round_trip", c, base);
	/* One way: the round trip minus a second VMFUNC is the same as timing a switch alone,
	 * but measure it directly: switch to 1 outside the window, time the switch back. */
	unsigned long best = ~0UL;
	for (int i = 0; i < ITER; i++) {
		__asm__ volatile("vmfunc" : : "a"(0), "c"(1) : "memory");
		unsigned long t0 = rdtsc();
		__asm__ volatile("vmfunc" : : "a"(0), "c"(0) : "memory");
		unsigned long t1 = rdtsc();
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	report("vmfunc", best, base);
	return 0;
}
