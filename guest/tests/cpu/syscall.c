// syscall.c: SYSCALL/SYSRET, SWAPGS and the FS/GS bases against the SDM
// (Vol. 2 SYSCALL, SYSRET, SWAPGS, RDFSBASE/WRFSBASE; Vol. 3A 5.8.8 fast
// system calls in 64-bit mode).
//
// Ring 3 is entered with IRETQ (user_call) and makes a real system call;
// the kernel side below records what it found, may edit the RCX/R11 that
// SYSRET will use, and returns with SWAPGS + SYSRETQ.

#include "cputest.h"

// What the kernel side finds through GS after SWAPGS, and what ring 3 finds
// through GS before it.
struct percpu {
	u64 self;	// 0
	u64 user_rsp;	// 8: the user's RSP while in the kernel
	u64 kstack;	// 16
	u64 tag;	// 24
};
static struct percpu kpc, upc;
static u8 kstack[STACKSIZE] __attribute__((aligned(16)));

#define FMASK	(FL_TF | FL_DF | FL_IF | FL_IOPL | FL_AC | FL_NT)

// syscall_entry pushes these (lowest address first) for syscall_c.
struct sframe {
	u64 r10, r9, r8, rdx, rsi, rdi, rax, r11, rcx, rflags;
};

__asm__(
"	.text\n"
"	.globl syscall_entry\n"
"syscall_entry:\n"
"	swapgs\n"
"	movq %rsp, %gs:8\n"
"	movq %gs:16, %rsp\n"
"	pushfq\n"
"	pushq %rcx\n"
"	pushq %r11\n"
"	pushq %rax\n"
"	pushq %rdi\n"
"	pushq %rsi\n"
"	pushq %rdx\n"
"	pushq %r8\n"
"	pushq %r9\n"
"	pushq %r10\n"
"	movq %rsp, %rdi\n"
"	call syscall_c\n"
"	popq %r10\n"
"	popq %r9\n"
"	popq %r8\n"
"	popq %rdx\n"
"	popq %rsi\n"
"	popq %rdi\n"
"	popq %rax\n"
"	popq %r11\n"
"	popq %rcx\n"
"	addq $8, %rsp\n"
"	movq %gs:8, %rsp\n"
"	swapgs\n"
"	sysretq\n"
);
void syscall_entry(void);

// What the kernel side saw.
static struct {
	u64 rcx, r11, rflags, cs, ss, gsbase, gs_self, kgsbase, user_rsp, calls;
} k;

enum { PLAIN, EDIT_R11, EDIT_RCX };
static int mode;
static u64 alt_rip;

#define R11_JUNK ((1ULL << 3) | (1ULL << 5) | (1ULL << 15) | FL_RF | FL_VM)

void syscall_c(struct sframe *f);

void
syscall_c(struct sframe *f)
{
	u16 cs, ss;
	u64 gs, self;

	__asm__ volatile("movw %%cs, %0\n\tmovw %%ss, %1" : "=r"(cs), "=r"(ss));
	__asm__ volatile("rdgsbase %0\n\tmovq %%gs:0, %1" : "=r"(gs), "=r"(self));
	k.rcx = f->rcx;
	k.r11 = f->r11;
	k.rflags = f->rflags;
	k.cs = cs;
	k.ss = ss;
	k.gsbase = gs;
	k.gs_self = self;
	k.kgsbase = rdmsr(MSR_KERNEL_GS_BASE);
	__asm__ volatile("movq %%gs:8, %0" : "=r"(k.user_rsp));
	k.calls++;
	// SYSRET: RFLAGS <- (R11 & 3C7FD7H) | 2, so reserved bits, RF and VM
	// in R11 are dropped; RIP <- RCX.
	if (mode == EDIT_R11)
		f->r11 |= R11_JUNK | FL_OF;
	if (mode == EDIT_RCX)
		f->rcx = alt_rip;
}

// Ring 3's record of one system call.
struct urec {
	u64 ret_rip;		// 0: the instruction after SYSCALL
	u64 alt_rip;		// 8: where EDIT_RCX sends it
	u64 rsp_before;		// 16
	u64 flags_before;	// 24
	u64 landed;		// 32: 1 after SYSCALL, 2 at alt_rip
	u64 flags_after;	// 40
	u64 rcx;		// 48
	u64 r11;		// 56
	u64 rsp_after;		// 64
	u64 cs;			// 72
	u64 ss;			// 80
	u64 gsbase;		// 88
	u64 gs_tag;		// 96
};

#define USER_FLAGS (FL_IF | FL_CF | FL_ZF | FL_DF | FL_AC | 2)

static u64
u_syscall(u64 arg)
{
	struct urec *r = (struct urec *)arg;

	__asm__ volatile(
	    "leaq 1f(%%rip), %%rax\n\t"
	    "movq %%rax, 0(%[r])\n\t"
	    "leaq 2f(%%rip), %%rax\n\t"
	    "movq %%rax, 8(%[r])\n\t"
	    "movq %%rsp, 16(%[r])\n\t"
	    "pushq %[f]\n\t"
	    "popfq\n\t"
	    "pushfq\n\t"
	    "popq 24(%[r])\n\t"
	    "syscall\n"
	    "1:\tmovq $1, 32(%[r])\n\t"
	    "jmp 3f\n"
	    "2:\tmovq $2, 32(%[r])\n"
	    "3:\tpushfq\n\t"
	    "popq 40(%[r])\n\t"
	    "cld\n\t"
	    "movq %%rcx, 48(%[r])\n\t"
	    "movq %%r11, 56(%[r])\n\t"
	    "movq %%rsp, 64(%[r])\n\t"
	    "movw %%cs, 72(%[r])\n\t"
	    "movw %%ss, 80(%[r])\n\t"
	    "rdgsbase %%rax\n\t"
	    "movq %%rax, 88(%[r])\n\t"
	    "movq %%gs:24, %%rax\n\t"
	    "movq %%rax, 96(%[r])"
	    : : [r] "r"(r), [f] "r"((u64)USER_FLAGS)
	    : "rax", "rcx", "r11", "cc", "memory");
	return 0;
}

static void
t_roundtrip(void)
{
	struct urec r;

	check_eq("star.preset_by_loader", ((u64)(UDATA - 3 - 8) << 48) | ((u64)KCODE << 32),
	    rdmsr(MSR_STAR));

	memset(&r, 0, sizeof r);
	memset(&k, 0, sizeof k);
	mode = PLAIN;
	trap_reset();
	user_call(u_syscall, (u64)&r, 0x202);
	check_eq("syscall.no_traps", 0, ntraps);
	check_eq("syscall.entered_once", 1, k.calls);
	// SYSCALL: RCX <- RIP of the next instruction, R11 <- RFLAGS.
	check_eq("syscall.kernel_rcx", r.ret_rip, k.rcx);
	check_eq("syscall.kernel_r11", r.flags_before, k.r11);
	// RFLAGS <- RFLAGS & ~IA32_FMASK.
	check_eq("syscall.kernel_rflags_fmask", r.flags_before & ~FMASK, k.rflags);
	// CS <- STAR[47:32] & ~3, SS <- STAR[47:32] + 8.
	check_eq("syscall.kernel_cs", KCODE, k.cs);
	check_eq("syscall.kernel_ss", KDATA, k.ss);
	// No stack switch: the kernel found the user's RSP.
	check_eq("syscall.kernel_saw_user_rsp", r.rsp_before, k.user_rsp);
	check_eq("swapgs.kernel_gsbase", (u64)&kpc, k.gsbase);
	check_eq("swapgs.kernel_gs_memory", (u64)&kpc, k.gs_self);
	check_eq("swapgs.kernel_gs_base_msr_holds_user", (u64)&upc, k.kgsbase);

	check_eq("sysret.landed_after_syscall", 1, r.landed);
	// SYSRET: CS <- STAR[63:48] + 16 | 3, SS <- STAR[63:48] + 8 | 3.
	check_eq("sysret.user_cs", UCODE, r.cs & 0xffff);
	check_eq("sysret.user_ss", UDATA, r.ss & 0xffff);
	check_eq("sysret.user_rflags", r.flags_before, r.flags_after);
	check_eq("sysret.user_rcx", r.ret_rip, r.rcx);
	check_eq("sysret.user_r11", r.flags_before, r.r11);
	check_eq("sysret.user_rsp", r.rsp_before, r.rsp_after);
	check_eq("swapgs.user_gsbase_back", (u64)&upc, r.gsbase);
	check_eq("swapgs.user_gs_memory", upc.tag, r.gs_tag);
	check_eq("swapgs.kernel_gs_base_after", (u64)&kpc, rdmsr(MSR_KERNEL_GS_BASE));

	memset(&r, 0, sizeof r);
	mode = EDIT_R11;
	user_call(u_syscall, (u64)&r, 0x202);
	check_eq("sysret.rflags_from_r11_masked", r.flags_before | FL_OF, r.flags_after);
	check_eq("sysret.r11_as_left", r.flags_before | FL_OF | R11_JUNK, r.r11);

	memset(&r, 0, sizeof r);
	mode = EDIT_RCX;
	alt_rip = 0;
	// The kernel needs the alternative target before the call: a dry run
	// learns it (the code does not move).
	user_call(u_syscall, (u64)&r, 0x202);
	alt_rip = r.alt_rip;
	memset(&r, 0, sizeof r);
	user_call(u_syscall, (u64)&r, 0x202);
	check_eq("sysret.rip_from_rcx", 2, r.landed);
	mode = PLAIN;
}

// ---- faults of SYSCALL, SYSRET, SWAPGS ----

static u64
u_probe_syscall(u64 arg)
{
	(void)arg;
	__asm__ volatile(PROBE("syscall") : : : "r11", "rax", "rcx", "memory");
	return 0;
}

static u64
u_probe_sysret(u64 arg)
{
	(void)arg;
	__asm__ volatile(PROBE("sysretq") : : : "r11", "rcx", "memory");
	return 0;
}

static u64
u_probe_swapgs(u64 arg)
{
	(void)arg;
	__asm__ volatile(PROBE("swapgs") : : : "r11", "memory");
	return 0;
}

static void
t_faults(void)
{
	u64 efer = rdmsr(MSR_EFER);

	// SYSCALL with EFER.SCE = 0: #UD.  Tried from ring 3, where a CPU that
	// wrongly executed it would still come back through the normal path.
	wrmsr(MSR_EFER, efer & ~EFER_SCE);
	k.calls = 0;
	trap_reset();
	user_call(u_probe_syscall, 0, 0x202);
	wrmsr(MSR_EFER, efer);
	check_trap("syscall.sce0_ud", 6, NOERR, probe_rip, NOCR2);
	check_eq("syscall.sce0_ud.not_entered", 0, k.calls);

	trap_reset();
	user_call(u_probe_sysret, 0, 0x202);
	check_trap("sysret.ring3_gp", 13, 0, probe_rip, NOCR2);
	check_eq("sysret.ring3_gp.frame_cs", UCODE, last.cs);

	trap_reset();
	user_call(u_probe_swapgs, 0, 0x202);
	check_trap("swapgs.ring3_gp", 13, 0, probe_rip, NOCR2);

	// SYSRET to a non-canonical RIP faults at CPL 0 (Intel: #GP(0) before
	// anything changes).
	trap_reset();
	__asm__ volatile(PROBE("sysretq")
	    : : "c"(0x0000800000000000ULL), "r"(2ULL) : "r11", "memory");
	check_trap("sysret.noncanonical_rcx_gp", 13, 0, probe_rip, NOCR2);
	check_eq("sysret.noncanonical_rcx_gp.frame_cs", KCODE, last.cs);

	trap_reset();
	__asm__ volatile(PROBE("wrmsr")
	    : : "c"(MSR_LSTAR), "a"(0), "d"(0x8000) : "r11", "memory");
	check_trap("wrmsr.lstar_noncanonical_gp", 13, 0, probe_rip, NOCR2);
}

// ---- SWAPGS at CPL 0 ----

static void
t_swapgs(void)
{
	u64 g = rdmsr(MSR_GS_BASE), kg = rdmsr(MSR_KERNEL_GS_BASE);

	__asm__ volatile("swapgs" : : : "memory");
	check_eq("swapgs.exchanges.gs_base", kg, rdmsr(MSR_GS_BASE));
	check_eq("swapgs.exchanges.kernel_gs_base", g, rdmsr(MSR_KERNEL_GS_BASE));
	__asm__ volatile("swapgs" : : : "memory");
	check_eq("swapgs.twice.gs_base", g, rdmsr(MSR_GS_BASE));
	check_eq("swapgs.twice.kernel_gs_base", kg, rdmsr(MSR_KERNEL_GS_BASE));
}

// ---- FS and GS bases ----

static u64 buf1[4] = { 0x1110, 0x1111, 0x1112, 0x1113 };
static u64 buf2[4] = { 0x2220, 0x2221, 0x2222, 0x2223 };

static u64
fs_load(u64 off)
{
	u64 v;

	__asm__ volatile("movq %%fs:(%1), %0" : "=r"(v) : "r"(off) : "memory");
	return v;
}

static u64
gs_load(u64 off)
{
	u64 v;

	__asm__ volatile("movq %%gs:(%1), %0" : "=r"(v) : "r"(off) : "memory");
	return v;
}

static void
wrfsbase(u64 v)
{
	__asm__ volatile("wrfsbase %0" : : "r"(v) : "memory");
}

static void
wrgsbase(u64 v)
{
	__asm__ volatile("wrgsbase %0" : : "r"(v) : "memory");
}

static u64
rdfsbase(void)
{
	u64 v;

	__asm__ volatile("rdfsbase %0" : "=r"(v));
	return v;
}

static u64
rdgsbase(void)
{
	u64 v;

	__asm__ volatile("rdgsbase %0" : "=r"(v));
	return v;
}

// At CPL 3: set FS with WRFSBASE and read through it and back.
static u64
u_fsbase(u64 base)
{
	wrfsbase(base);
	if (rdfsbase() != base)
		return BAD;
	return fs_load(16);
}

// The two ways to set a base agree: WR?SBASE shows in the MSR, WRMSR in
// RD?SBASE, and a load through the segment uses the base either way.
struct segbase {
	const char *seg;	// "fs" or "gs", for the check names
	u32 msr;
	void (*wrbase)(u64);
	u64 (*rdbase)(void);
	u64 (*load)(u64);
};
static const struct segbase fs = { "fs", MSR_FS_BASE, wrfsbase, rdfsbase, fs_load };
static const struct segbase gs = { "gs", MSR_GS_BASE, wrgsbase, rdgsbase, gs_load };

// WR?SBASE(base1) then a load at off1 must read want1; WRMSR(base2) then a
// load at off2 must read want2.
static void
check_base(const struct segbase *s, u64 *base1, u64 off1, u64 want1, u64 *base2, u64 off2, u64 want2)
{
	const char *g = s->seg;
	char n[64];

	s->wrbase((u64)base1);
	snprintf(n, sizeof n, "%sbase.wr%sbase.msr", g, g);
	check_eq(n, (u64)base1, rdmsr(s->msr));
	snprintf(n, sizeof n, "%sbase.wr%sbase.%s_memory", g, g, g);
	check_eq(n, want1, s->load(off1));

	wrmsr(s->msr, (u64)base2);
	snprintf(n, sizeof n, "%sbase.wrmsr.rd%sbase", g, g);
	check_eq(n, (u64)base2, s->rdbase());
	snprintf(n, sizeof n, "%sbase.wrmsr.%s_memory", g, g);
	check_eq(n, want2, s->load(off2));
}

static void
t_bases(void)
{
	u64 v, hi;

	check_base(&fs, buf1, 8, 0x1111, buf2, 0, 0x2220);
	__asm__ volatile("movq %%fs:(%1,%2,8), %0" : "=r"(v) : "r"(8ULL), "r"(2ULL) : "memory");
	check_eq("fsbase.indexed_operand", 0x2223, v);

	check_base(&gs, buf2, 16, 0x2222, buf1, 24, 0x1113);

	// The base is added to a RIP-relative address too.
	wrgsbase((u64)buf2 - (u64)buf1);
	__asm__ volatile("movq %%gs:buf1+8(%%rip), %0" : "=r"(v) : : "memory");
	check_eq("gsbase.rip_relative", 0x2221, v);

	// With 32-bit addressing the offset wraps at 4 GiB, then the base is
	// added (SDM Vol. 1 3.3.7).
	wrfsbase((u64)buf1 + 8);
	hi = 0xffffffff00000008ULL;
	__asm__ volatile("movq %%fs:(%k1), %0" : "=r"(v) : "r"(hi) : "memory");
	check_eq("fsbase.addr32_operand", 0x1112, v);

	// The 32-bit forms: WRFSBASE r32 zero-extends, RDFSBASE r32 returns
	// the low half.
	hi = 0xffffffff00000000ULL | (u64)buf1;
	__asm__ volatile("wrfsbase %k0" : : "r"(hi) : "memory");
	check_eq("fsbase.wrfsbase32_zero_extends", (u64)buf1, rdmsr(MSR_FS_BASE));
	wrmsr(MSR_FS_BASE, 0x1234567887654321ULL & 0x00007fffffffffffULL);
	v = ~0ULL;
	__asm__ volatile("rdfsbase %k0" : "+r"(v));
	check_eq("fsbase.rdfsbase32", 0x87654321ULL, v);

	trap_reset();
	__asm__ volatile(PROBE("wrfsbase %[v]") : : [v] "r"(0x0000800000000000ULL) : "r11", "memory");
	check_trap("fsbase.wrfsbase_noncanonical_gp", 13, 0, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("wrmsr")
	    : : "c"(MSR_GS_BASE), "a"(0), "d"(0x8000) : "r11", "memory");
	check_trap("gsbase.wrmsr_noncanonical_gp", 13, 0, probe_rip, NOCR2);

	// At CPL 3 (CR4.FSGSBASE = 1).
	trap_reset();
	v = user_call(u_fsbase, (u64)buf2, 0x202);
	check_eq("fsbase.ring3.no_trap", 0, ntraps);
	check_eq("fsbase.ring3.fs_memory", 0x2222, v);
	check_eq("fsbase.ring3.msr", (u64)buf2, rdmsr(MSR_FS_BASE));

	// CR4.FSGSBASE = 0: the instructions are #UD.
	write_cr4(read_cr4() & ~CR4_FSGSBASE);
	trap_reset();
	__asm__ volatile(PROBE("rdfsbase %%rax") : : : "r11", "rax", "memory");
	check_trap("fsbase.cr4_off_rdfsbase_ud", 6, NOERR, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("wrgsbase %%rax") : : "a"((u64)buf1) : "r11", "memory");
	check_trap("gsbase.cr4_off_wrgsbase_ud", 6, NOERR, probe_rip, NOCR2);
	write_cr4(read_cr4() | CR4_FSGSBASE);
}

int
main(void)
{
	cpu_init("syscall");
	vm_init();

	kpc.self = (u64)&kpc;
	kpc.kstack = STACKTOP(kstack);
	upc.self = (u64)&upc;
	upc.tag = 0x75736572;	// "user"
	wrmsr(MSR_LSTAR, (u64)syscall_entry);
	wrmsr(MSR_FMASK, FMASK);
	wrmsr(MSR_GS_BASE, (u64)&upc);
	wrmsr(MSR_KERNEL_GS_BASE, (u64)&kpc);

	run("roundtrip", t_roundtrip);
	run("faults", t_faults);
	run("swapgs", t_swapgs);
	run("bases", t_bases);
	return report("syscall");
}
