// exceptions.c: exception and interrupt delivery in 64-bit mode against the
// SDM (Vol. 3A chapter 6: 6.12 gates, 6.13 error codes, 6.14 the IA-32e
// frame, stack switching and IST, 6.15 the exception classes and #DF), plus
// the faults of individual instructions (Vol. 2).
//
// A frame is checked by where the CPU put it, not only by what it holds:
// from a known RSP the CPU aligns down to 16 and pushes 5 words, or 6 with
// an error code, so the frame's address tells whether an error code was
// pushed and whether the stack was switched.

#include "cputest.h"

// Names like "de.div_by_zero.frame_at"; used at once by the check.
static const char *
nm(const char *a, const char *b)
{
	static char buf[8][96];
	static int n;
	char *s = buf[n++ & 7];

	snprintf(s, 96, "%s.%s", a, b);
	return s;
}

// The frame of a trap taken at CPL 0 without IST, i.e. on the probe's stack.
// SDM 17.3.1.1: a fault (other than an instruction-breakpoint #DB) pushes
// RF=1; traps and INT n push RFLAGS as it was.
static void
check_frame0(const char *name, int errcode, int fault)
{
	u64 at = (probe_rsp & ~15ULL) - (errcode ? 48 : 40);
	u16 ss;

	// SS is whatever it was: KDATA at first, null once an interrupt from
	// ring 3 has loaded a null SS (SDM 6.14.4) and nothing reloaded it.
	__asm__ volatile("movw %%ss, %0" : "=r"(ss));

	check_eq(nm(name, "frame_at"), at, last.frame);
	check_eq(nm(name, "frame_cs"), KCODE, last.cs);
	check_eq(nm(name, "frame_ss"), ss, last.ss);
	check_eq(nm(name, "frame_rsp"), probe_rsp, last.rsp);
	check_eq(nm(name, "frame_rflags"), probe_rflags & ~FL_RF, last.rflags & ~FL_RF);
	check_eq(nm(name, "frame_rflags_rf"), fault ? FL_RF : 0, last.rflags & FL_RF);
}

// The same for a trap from ring 3 through a gate without IST: the CPU
// switched to TSS.RSP0 (SDM 6.14.4).
static void
check_frame3(const char *name, int errcode)
{
	u64 at = (tss.rsp[0] & ~15ULL) - (errcode ? 48 : 40);

	check_eq(nm(name, "frame_at_rsp0"), at, last.frame);
	check_eq(nm(name, "frame_cs"), UCODE, last.cs);
	check_eq(nm(name, "frame_ss"), UDATA, last.ss);
	check_eq(nm(name, "frame_rsp"), probe_rsp, last.rsp);
	check_eq(nm(name, "frame_rflags"), probe_rflags & ~FL_RF, last.rflags & ~FL_RF);
}

// Keeps the probe's RSP 8 bytes off 16-byte alignment, so the frame shows
// that the CPU aligned it.
#define MISALIGN "movq %%rsp, %%r12\n\tandq $-16, %%rsp\n\tsubq $8, %%rsp\n\t"
#define ALIGN16 "movq %%rsp, %%r12\n\tandq $-16, %%rsp\n\t"
#define RESTORE "movq %%r12, %%rsp\n\t"

// ---- #DE (SDM DIV/IDIV: divisor 0, or a quotient too large) ----

// Sets RDX:RAX to dv:av and runs `insn` (dividing by %[c] = cv) as a probe,
// between `pre` and `post` (MISALIGN/ALIGN16 ... RESTORE, or ""); the
// results are left in a and d.
#define DIV_PROBE(pre, insn, post, av, dv, cv)				\
	do {								\
		a = (av);						\
		d = (dv);						\
		trap_reset();						\
		__asm__ volatile(pre PROBE(insn) post			\
		    : "+a"(a), "+d"(d) : [c] "r"(cv) : "r11", "r12", "cc", "memory"); \
	} while (0)

static void
t_de(void)
{
	u64 a, d;

	DIV_PROBE(MISALIGN, "divq %[c]", RESTORE, 1234, 0, 0ULL);
	check_trap("de.div_by_zero", 0, NOERR, probe_rip, NOCR2);
	check_frame0("de.div_by_zero", 0, 1);
	check_eq("de.div_by_zero.rax_unchanged", 1234, a);

	DIV_PROBE(ALIGN16, "idivq %[c]", RESTORE, 0x8000000000000000ULL, ~0ULL, ~0ULL);
	check_trap("de.idiv64_min_by_minus1", 0, NOERR, probe_rip, NOCR2);
	check_frame0("de.idiv64_min_by_minus1", 0, 1);
	check_eq("de.idiv64_min_by_minus1.rax_unchanged", 0x8000000000000000ULL, a);
	check_eq("de.idiv64_min_by_minus1.rdx_unchanged", ~0ULL, d);

	DIV_PROBE("", "idivl %k[c]", "", 0x80000000, 0xffffffff, ~0ULL);
	check_trap("de.idiv32_min_by_minus1", 0, NOERR, probe_rip, NOCR2);
	// AX = -128 (8-bit IDIV divides AX; RDX is not used)
	DIV_PROBE("", "idivb %b[c]", "", 0xff80, 0, ~0ULL);
	check_trap("de.idiv8_min_by_minus1", 0, NOERR, probe_rip, NOCR2);
	DIV_PROBE("", "divq %[c]", "", 0, 1, 1ULL);
	check_trap("de.div_quotient_too_large", 0, NOERR, probe_rip, NOCR2);

	DIV_PROBE("", "idivq %[c]", "", (u64)-7, ~0ULL, 2ULL);
	check_notrap("de.idiv_ok.no_trap");
	check_eq("de.idiv_ok.quotient", (u64)-3, a);
	check_eq("de.idiv_ok.remainder", (u64)-1, d);
}

// ---- #UD ----

static u64 scratch[4];

// RBX points at scratch memory, in case a LOCK form were executed.
#define UD(name, bytes)							\
	do {								\
		u64 b = (u64)scratch;					\
		trap_reset();						\
		__asm__ volatile(PROBE(bytes)				\
		    : "+b"(b) : : "r11", "rax", "cc", "memory");	\
		check_trap(name, 6, NOERR, probe_rip, NOCR2);		\
	} while (0)

static void
t_ud(void)
{
	trap_reset();
	__asm__ volatile(MISALIGN PROBE("ud2") RESTORE : : : "r11", "r12", "memory");
	check_trap("ud.ud2", 6, NOERR, probe_rip, NOCR2);
	check_frame0("ud.ud2", 0, 1);

	// Encodings that are invalid in 64-bit mode (SDM Vol. 2 Appendix A,
	// opcodes marked i64) or invalid by rule.
	UD("ud.push_es_64bit", ".byte 0x06");
	UD("ud.daa_64bit", ".byte 0x27");
	UD("ud.pusha_64bit", ".byte 0x60");
	UD("ud.into_64bit", ".byte 0xce");
	UD("ud.aam_64bit", ".byte 0xd4, 0x0a");
	UD("ud.salc_64bit", ".byte 0xd6");
	// MOV to CS is #UD (SDM MOV: "#UD if attempt is made to load the CS register").
	UD("ud.mov_to_cs", ".byte 0x8e, 0xc8");
	// LOCK with a register destination, or on MOV (SDM LOCK: #UD).
	UD("ud.lock_add_register", ".byte 0xf0, 0x01, 0xc3");
	UD("ud.lock_mov", ".byte 0xf0, 0x89, 0x03");
	UD("ud.ud1", ".byte 0x0f, 0xb9, 0xc0");
	UD("ud.ud0", ".byte 0x0f, 0xff, 0xc0");
	// VEX/EVEX with CR4.OSXSAVE = 0: #UD (SDM Vol. 2 2.3.8, 2.7).
	UD("ud.vex_without_osxsave", ".byte 0xc5, 0xf8, 0x77");
	UD("ud.evex_without_osxsave", ".byte 0x62, 0xf1, 0x7c, 0x48, 0x28, 0xc1");
}

// ---- #GP and #SS at CPL 0 ----

static void
t_gp(void)
{
	u64 v;

	v = BAD;
	trap_reset();
	__asm__ volatile(MISALIGN PROBE("movq (%[a]), %[v]") RESTORE
	    : [v] "+r"(v) : [a] "r"(0x0000800000000000ULL) : "r11", "r12", "memory");
	check_trap("gp.noncanonical_load", 13, 0, probe_rip, NOCR2);
	check_frame0("gp.noncanonical_load", 1, 1);
	check_eq("gp.noncanonical_load.dest_unchanged", BAD, v);

	trap_reset();
	__asm__ volatile(PROBE("movq %[v], (%[a])")
	    : : [v] "r"(1ULL), [a] "r"(0xffff7ffffffffff8ULL) : "r11", "memory");
	check_trap("gp.noncanonical_store", 13, 0, probe_rip, NOCR2);

	// A non-canonical address through SS (RBP or RSP as base) is #SS(0),
	// not #GP (SDM Vol. 2 MOV, 64-bit mode exceptions; SDM 6.15 #SS).
	trap_reset();
	__asm__ volatile("pushq %%rbp\n\t"
	    "movq %[a], %%rbp\n\t"
	    PROBE("movq (%%rbp), %%rax")
	    "popq %%rbp"
	    : : [a] "r"(0x0000800000000000ULL) : "r11", "rax", "memory");
	check_trap("ss.noncanonical_rbp_base", 12, 0, probe_rip, NOCR2);

	// A branch to a non-canonical target faults on the branch itself
	// (SDM JMP/CALL/RET, 64-bit mode exceptions: "#GP(0) If the target
	// offset is non-canonical"); like every fault it leaves RSP as it was
	// (SDM 6.5), so CALL pushes nothing and RET pops nothing.
	trap_reset();
	__asm__ volatile(PROBE("jmp *%[a]")
	    : : [a] "r"(0x0000800000000000ULL) : "r11", "memory");
	check_trap("gp.jmp_noncanonical", 13, 0, probe_rip, NOCR2);
	check_eq("gp.jmp_noncanonical.frame_rsp", probe_rsp, last.rsp);
	trap_reset();
	__asm__ volatile("movq %%rsp, %%r12\n\t" PROBE("call *%[a]") RESTORE
	    : : [a] "r"(0x0000800000000000ULL) : "r11", "r12", "memory");
	check_trap("gp.call_noncanonical", 13, 0, probe_rip, NOCR2);
	check_eq("gp.call_noncanonical.frame_rsp", probe_rsp, last.rsp);
	trap_reset();
	__asm__ volatile("movq %%rsp, %%r12\n\tpushq %[a]\n\t" PROBE("ret") RESTORE
	    : : [a] "r"(0x0000800000000000ULL) : "r11", "r12", "memory");
	check_trap("gp.ret_noncanonical", 13, 0, probe_rip, NOCR2);
	check_eq("gp.ret_noncanonical.frame_rsp", probe_rsp, last.rsp);

	trap_reset();
	__asm__ volatile(PROBE("rdmsr") : : "c"(0x12345678) : "r11", "rax", "rdx", "memory");
	check_trap("gp.rdmsr_nonexistent", 13, 0, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("wrmsr") : : "c"(0x12345678), "a"(0), "d"(0) : "r11", "memory");
	check_trap("gp.wrmsr_nonexistent", 13, 0, probe_rip, NOCR2);

	// EFER bit 1 is reserved.
	{
		u64 efer = rdmsr(MSR_EFER) | 2;
		trap_reset();
		__asm__ volatile(PROBE("wrmsr")
		    : : "c"(MSR_EFER), "a"((u32)efer), "d"((u32)(efer >> 32)) : "r11", "memory");
		check_trap("gp.wrmsr_efer_reserved_bit", 13, 0, probe_rip, NOCR2);
	}
}

// ---- privileged instructions at CPL 3 ----

#define USER_PROBE(fn, insn)						\
static u64								\
fn(u64 arg)								\
{									\
	(void)arg;							\
	__asm__ volatile(PROBE(insn)					\
	    : : : "r11", "rax", "rcx", "rdx", "cc", "memory");		\
	return 0;							\
}

USER_PROBE(u_hlt, "hlt")
USER_PROBE(u_cli, "cli")
USER_PROBE(u_sti, "sti")
USER_PROBE(u_movcr3, "movq %%rax, %%cr3")
USER_PROBE(u_readcr0, "movq %%cr0, %%rax")
USER_PROBE(u_rdmsr, "rdmsr")
USER_PROBE(u_wrmsr, "wrmsr")
USER_PROBE(u_in, "inb $0x80, %%al")
USER_PROBE(u_out, "outb %%al, $0x80")
USER_PROBE(u_invlpg, "invlpg (%%rsp)")
USER_PROBE(u_lidt, "lidt (%%rsp)")
USER_PROBE(u_movdr7, "movq %%dr7, %%rax")
USER_PROBE(u_clts, "clts")
USER_PROBE(u_wbinvd, "wbinvd")

// CLI at CPL 3 with IOPL 3 is allowed (SDM CLI: CPL <= IOPL).
static u64
u_cli_iopl3(u64 arg)
{
	u64 f;

	(void)arg;
	__asm__ volatile("cli\n\tpushfq\n\tpopq %0" : "=r"(f) : : "memory");
	return f;
}

// POPF at CPL 3 leaves IF and IOPL alone, without faulting (SDM POPF).
static u64
u_popf(u64 arg)
{
	u64 f;

	__asm__ volatile("pushq %1\n\tpopfq\n\tpushfq\n\tpopq %0"
	    : "=r"(f) : "r"(arg) : "cc", "memory");
	return f;
}

static void
t_ring3_gp(void)
{
	static const struct {
		const char *name;
		u64 (*fn)(u64);
	} cases[] = {
		{ "gp.ring3.hlt", u_hlt },
		{ "gp.ring3.cli_iopl0", u_cli },
		{ "gp.ring3.sti_iopl0", u_sti },
		{ "gp.ring3.mov_to_cr3", u_movcr3 },
		{ "gp.ring3.mov_from_cr0", u_readcr0 },
		{ "gp.ring3.rdmsr", u_rdmsr },
		{ "gp.ring3.wrmsr", u_wrmsr },
		{ "gp.ring3.in_iopl0", u_in },
		{ "gp.ring3.out_iopl0", u_out },
		{ "gp.ring3.invlpg", u_invlpg },
		{ "gp.ring3.lidt", u_lidt },
		{ "gp.ring3.mov_from_dr7", u_movdr7 },
		{ "gp.ring3.clts", u_clts },
		{ "gp.ring3.wbinvd", u_wbinvd },
	};
	u64 f;

	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		trap_reset();
		user_call(cases[i].fn, 0, 0x202);
		check_trap(cases[i].name, 13, 0, probe_rip, NOCR2);
		if (i == 0)
			check_frame3(cases[i].name, 1);
		else
			check_eq(nm(cases[i].name, "frame_cs"), UCODE, last.cs);
	}

	trap_reset();
	f = user_call(u_cli_iopl3, 0, 0x3202);
	check_notrap("ring3.cli_iopl3.no_trap");
	check_eq("ring3.cli_iopl3.if_clear", 0, f & FL_IF);

	trap_reset();
	f = user_call(u_popf, 0x3002 | FL_CF, 0x202);
	check_notrap("ring3.popf_privileged_bits.no_trap");
	check_eq("ring3.popf_privileged_bits.kept", FL_IF | FL_CF, f & (FL_IF | FL_IOPL | FL_CF));
}

// ---- #AC (SDM 6.15, interrupt 17: CR0.AM = 1, RFLAGS.AC = 1, CPL 3) ----

#define CR0_AM (1ULL << 18)

static u8 acbuf[16] __attribute__((aligned(16)));

static void
t_ac(void)
{
	u64 cr0 = read_cr0();

	trap_reset();
	user_call(probe_load32, (u64)acbuf + 1, 0x202 | FL_AC);
	check_notrap("ac.am0.no_check");

	write_cr0(cr0 | CR0_AM);
	trap_reset();
	user_call(probe_load32, (u64)acbuf + 4, 0x202 | FL_AC);
	check_notrap("ac.aligned.no_fault");
	trap_reset();
	user_call(probe_load32, (u64)acbuf + 1, 0x202);
	check_notrap("ac.rflags_ac0.no_check");
	trap_reset();
	user_call(probe_load32, (u64)acbuf + 1, 0x202 | FL_AC);
	check_trap("ac.ring3_misaligned_load", 17, 0, probe_rip, NOCR2);
	trap_reset();
	probe_load32((u64)acbuf + 1);
	check_notrap("ac.ring0.no_check");
	write_cr0(cr0);
}

// ---- #BP and INT n ----

static u64
u_int(u64 vec)
{
	// int $n needs an immediate: dispatch on the few vectors used.
#define INT_CASE(v, insn)						\
	case v:								\
		__asm__ volatile(PROBE(insn) : : : "r11", "memory");	\
		break;
	switch (vec) {
	INT_CASE(3, "int3")
	INT_CASE(0x41, "int $0x41")
	INT_CASE(0x42, "int $0x42")
	INT_CASE(0x47, "int $0x47")
	}
#undef INT_CASE
	return 0;
}

static void
t_int(void)
{
	trap_reset();
	__asm__ volatile(MISALIGN PROBE("int3") RESTORE : : : "r11", "r12", "memory");
	check_trap("bp.int3", 3, NOERR, probe_rip + 1, NOCR2);
	check_frame0("bp.int3", 0, 0);

	trap_reset();
	__asm__ volatile(PROBE(".byte 0xcd, 0x03") : : : "r11", "memory");
	check_trap("bp.int_imm3", 3, NOERR, probe_rip + 2, NOCR2);

	trap_reset();
	__asm__ volatile(ALIGN16 PROBE("int $0x40") RESTORE : : : "r11", "r12", "memory");
	check_trap("int.ring0_0x40", 0x40, NOERR, probe_rip + 2, NOCR2);
	check_frame0("int.ring0_0x40", 0, 0);

	// INT n never pushes an error code, even for vectors whose exceptions
	// do (SDM 6.13); a stub that expects none sees a well-formed frame.
	idt_set(13, trap_stub_noerr(13), GATE_INT, 0, 0);
	idt_set(14, trap_stub_noerr(14), GATE_INT, 0, 0);
	trap_reset();
	__asm__ volatile(MISALIGN PROBE("int $13") RESTORE : : : "r11", "r12", "memory");
	check_trap("int.soft_13", 13, NOERR, probe_rip + 2, NOCR2);
	check_frame0("int.soft_13", 0, 0);
	trap_reset();
	__asm__ volatile(ALIGN16 PROBE("int $14") RESTORE : : : "r11", "r12", "memory");
	check_trap("int.soft_14", 14, NOERR, probe_rip + 2, NOCR2);
	check_frame0("int.soft_14", 0, 0);
	idt_default(13);
	idt_default(14);

	// From ring 3: a DPL 3 gate is taken on the RSP0 stack, with SS
	// forced to a null selector (SDM 6.14.4) ...
	idt_set(0x41, trap_stub(0x41), GATE_INT, 3, 0);
	trap_reset();
	user_call(u_int, 0x41, 0x202);
	check_trap("int.ring3_dpl3", 0x41, NOERR, probe_rip + 2, NOCR2);
	check_frame3("int.ring3_dpl3", 0);
	check_eq("int.ring3_dpl3.handler_ss_null", 0, last.handler_ss);

	// ... and RSP0 is aligned down to 16 too.
	tss.rsp[0] = STACKTOP(rsp0_stack) - 8;
	trap_reset();
	user_call(u_int, 0x41, 0x202);
	check_eq("int.ring3_rsp0_misaligned.frame_at", STACKTOP(rsp0_stack) - 16 - 40, last.frame);
	tss.rsp[0] = STACKTOP(rsp0_stack);

	// ... a DPL 0 gate gives #GP(vector * 8 + 2) at the INT (SDM 6.12.1.1).
	trap_reset();
	user_call(u_int, 0x42, 0x202);
	check_trap("int.ring3_dpl0", 13, 0x42 * 8 + 2, probe_rip, NOCR2);
	check_frame3("int.ring3_dpl0", 1);

	// INT3 is checked against the gate's DPL too.
	trap_reset();
	user_call(u_int, 3, 0x202);
	check_trap("int.ring3_int3_dpl0", 13, 3 * 8 + 2, probe_rip, NOCR2);
	idt_set(3, trap_stub(3), GATE_INT, 3, 0);
	trap_reset();
	user_call(u_int, 3, 0x202);
	check_trap("int.ring3_int3_dpl3", 3, NOERR, probe_rip + 1, NOCR2);
	check_eq("int.ring3_int3_dpl3.frame_cs", UCODE, last.cs);
	idt_default(3);

	// A gate that is not present: #NP(vector * 8 + 2), EXT clear for INT n.
	idt_gate(0x43)[0] &= ~(1ULL << 47);
	trap_reset();
	__asm__ volatile(PROBE("int $0x43") : : : "r11", "memory");
	check_trap("np.int_gate_not_present", 11, 0x43 * 8 + 2, probe_rip, NOCR2);
	check_frame0("np.int_gate_not_present", 1, 1);
	idt_default(0x43);

	// A vector beyond the IDT limit: #GP(vector * 8 + 2).
	idt_load(0x50 * 16 - 1);
	trap_reset();
	__asm__ volatile(PROBE("int $0x60") : : : "r11", "memory");
	idt_load(256 * 16 - 1);
	check_trap("gp.int_beyond_idt_limit", 13, 0x60 * 8 + 2, probe_rip, NOCR2);
}

// ---- IF: interrupt gates clear it, trap gates do not (SDM 6.12.1.3) ----

static void
t_ifflag(void)
{
	u64 after;

	idt_set(0x44, trap_stub(0x44), GATE_INT, 0, 0);
	idt_set(0x45, trap_stub(0x45), GATE_TRAP, 0, 0);

	trap_reset();
	__asm__ volatile("sti\n\t" PROBE("int $0x44") "pushfq\n\tpopq %0\n\tcli"
	    : "=r"(after) : : "r11", "memory");
	check_eq("if.interrupt_gate.handler_if", 0, last.handler_rflags & FL_IF);
	check_eq("if.interrupt_gate.frame_if", FL_IF, last.rflags & FL_IF);
	check_eq("if.interrupt_gate.restored_by_iretq", FL_IF, after & FL_IF);

	trap_reset();
	__asm__ volatile("sti\n\t" PROBE("int $0x45") "pushfq\n\tpopq %0\n\tcli"
	    : "=r"(after) : : "r11", "memory");
	check_eq("if.trap_gate.handler_if", FL_IF, last.handler_rflags & FL_IF);
	check_eq("if.trap_gate.after", FL_IF, after & FL_IF);

	idt_default(0x44);
	idt_default(0x45);
}

// ---- IST (SDM 6.14.5) ----

static void
t_ist(void)
{
	u64 top2 = STACKTOP(ist_stack[1]);

	// IST 2, deliberately misaligned: the CPU aligns it down to 16.
	tss.ist[1] = top2 - 8;
	idt_set(0x46, trap_stub(0x46), GATE_INT, 0, 2);
	trap_reset();
	__asm__ volatile(PROBE("int $0x46") : : : "r11", "memory");
	check_trap("ist.ring0", 0x46, NOERR, probe_rip + 2, NOCR2);
	check_eq("ist.ring0.frame_at", top2 - 16 - 40, last.frame);
	check_eq("ist.ring0.frame_rsp", probe_rsp, last.rsp);
	check_eq("ist.ring0.frame_rflags_rf", 0, last.rflags & FL_RF);
	tss.ist[1] = top2;
	idt_default(0x46);

	// From ring 3 the IST wins over RSP0.
	idt_set(0x47, trap_stub(0x47), GATE_INT, 3, 1);
	trap_reset();
	user_call(u_int, 0x47, 0x202);
	check_trap("ist.ring3", 0x47, NOERR, probe_rip + 2, NOCR2);
	check_eq("ist.ring3.frame_at", STACKTOP(ist_stack[0]) - 40, last.frame);
	check_eq("ist.ring3.frame_rsp", probe_rsp, last.rsp);
	check_eq("ist.ring3.frame_ss", UDATA, last.ss);
	idt_default(0x47);

	// An exception through an IST gate.
	idt_set(6, trap_stub(6), GATE_INT, 0, 3);
	trap_reset();
	__asm__ volatile(PROBE("ud2") : : : "r11", "memory");
	check_trap("ist.exception", 6, NOERR, probe_rip, NOCR2);
	check_eq("ist.exception.frame_at", STACKTOP(ist_stack[2]) - 40, last.frame);
	idt_default(6);
}

// ---- double fault and the rules of SDM 6.15 Table 6-5 ----

static u64 missing_stack, missing_data;

static void
touch_missing(void)
{
	(void)*(volatile u64 *)missing_data;
}

static void
touch_noncanonical(void)
{
	(void)*(volatile u64 *)0x0000800000000000ULL;
}

// A #DF left by escaping (its saved CS:RIP are undefined): error 0, the frame
// on IST 3 (the #DF gate's stack).
static void
check_df_escape(const char *name, void (*fn)(void))
{
	int escaped;

	trap_reset();
	escaped = trap_catch(fn);
	check_eq(nm(name, "escaped"), 1, escaped);
	check_eq(nm(name, "vector"), 8, last.vector);
	check_eq(nm(name, "error"), 0, last.error);
	check_eq(nm(name, "frame_at_ist3"), STACKTOP(ist_stack[2]) - 48, last.frame);
}

static void
t_double_fault(void)
{
	u64 a, d;

	missing_stack = TESTVA;
	missing_data = TESTVA + 0x1000;
	vm_map(missing_stack, 0, 0);
	vm_map(missing_data, 0, 0);
	idt_set(8, trap_stub(8), GATE_INT, 0, 3);

	// #PF whose delivery faults on its (absent) IST stack: #DF, error 0,
	// on IST 3; CR2 holds the second fault's address (SDM 6.15, #PF: "If a
	// second page fault occurs while an earlier page fault is being
	// delivered, the faulting linear address of the second fault will
	// overwrite the contents of CR2").  #DF's saved CS:RIP are undefined,
	// so the test leaves the handler by escaping rather than by iretq.
	tss.ist[0] = missing_stack + 4096;
	idt_set(14, trap_stub(14), GATE_INT, 0, 1);
	check_df_escape("df.pf_during_pf", touch_missing);
	check_eq("df.pf_during_pf.cr2_page", missing_stack, last.cr2 & ~0xfffULL);
	idt_default(14);

	// #GP whose gate is not present: #NP (contributory) while delivering a
	// contributory exception is a #DF.
	idt_gate(13)[0] &= ~(1ULL << 47);
	check_df_escape("df.np_during_gp", touch_noncanonical);
	idt_default(13);
	idt_default(8);

	// #UD (benign) whose gate is not present: just #NP, handled serially.
	// The error code names the gate (IDT bit 1) and has EXT set, since the
	// fault arose while delivering an earlier exception (SDM 6.13).
	idt_gate(6)[0] &= ~(1ULL << 47);
	trap_reset();
	__asm__ volatile(PROBE("ud2") : : : "r11", "memory");
	check_trap("np.exception_gate_not_present", 11, 6 * 8 + 2 + 1, probe_rip, NOCR2);
	idt_default(6);

	// #DE (contributory) whose delivery page-faults: the #PF is delivered,
	// not a #DF.  The push is a supervisor write to a missing page.
	tss.ist[0] = missing_stack + 4096;
	idt_set(0, trap_stub(0), GATE_INT, 0, 1);
	DIV_PROBE("", "divq %[c]", "", 1, 0, 0ULL);
	check_trap("df.pf_during_de_is_pf", 14, PF_W, probe_rip, NOCR2);
	check_eq("df.pf_during_de_is_pf.cr2_page", missing_stack, last.cr2 & ~0xfffULL);
	idt_default(0);
	tss.ist[0] = STACKTOP(ist_stack[0]);
}

// ---- IRETQ back to ring 3 ----

// Records RSP, RFLAGS, SS, CS and DS around an int $0x48 at CPL 3.  The
// flags set beforehand include DF, so cld before the compiler's code runs.
struct around {
	u64 rsp_before, flags_before, rsp_after, flags_after, ss, cs, ds, rax;
};

static u64
u_iret(u64 arg)
{
	struct around *r = (struct around *)arg;
	u64 flags = FL_IF | FL_CF | FL_ZF | FL_SF | FL_OF | FL_DF | FL_AC | 2;

	__asm__ volatile(
	    "xorl %%eax, %%eax\n\t"
	    "pushq %[f]\n\tpopfq\n\t"
	    "movq %%rsp, 0(%[r])\n\t"
	    "pushfq\n\tpopq 8(%[r])\n\t"
	    "int $0x48\n\t"
	    "movq %%rsp, 16(%[r])\n\t"
	    "pushfq\n\tpopq 24(%[r])\n\t"
	    "movq %%rax, 56(%[r])\n\t"
	    "cld\n\t"
	    "movw %%ss, 32(%[r])\n\t"
	    "movw %%cs, 40(%[r])\n\t"
	    "movw %%ds, 48(%[r])"
	    : : [r] "r"(r), [f] "r"(flags) : "rax", "cc", "memory");
	return 0;
}

static void
just_return(struct trapframe *tf)
{
	(void)tf;
}

// The handler may rewrite the frame: IRETQ loads what it finds there.
static void
edit_frame(struct trapframe *tf)
{
	tf->rflags &= ~FL_CF;
	tf->rflags |= FL_IOPL;	// allowed: the IRETQ runs at CPL 0
	tf->rax = 0x1234;
}

static void
t_iret(void)
{
	struct around r;

	idt_set(0x48, trap_stub(0x48), GATE_INT, 3, 0);
	trap_hook(0x48, just_return);
	memset(&r, 0, sizeof r);
	// Earlier trips to ring 3 already nulled DS; give it the kernel's again.
	__asm__ volatile("movw %0, %%ds" : : "r"((u16)KDATA));
	trap_reset();
	user_call(u_iret, (u64)&r, 0x202);
	check_eq("iret.ring3.one_trap", 1, ntraps);
	check_eq("iret.ring3.frame_rsp", r.rsp_before, last.rsp);
	check_eq("iret.ring3.frame_rflags", r.flags_before, last.rflags & ~FL_RF);
	check_eq("iret.ring3.handler_if_clear", 0, last.handler_rflags & FL_IF);
	check_eq("iret.ring3.rsp_restored", r.rsp_before, r.rsp_after);
	check_eq("iret.ring3.rflags_restored", r.flags_before, r.flags_after);
	check_eq("iret.ring3.ss", UDATA, r.ss & 0xffff);
	check_eq("iret.ring3.cs", UCODE, r.cs & 0xffff);
	// IRET to an outer level nulls data segments the new CPL may not use
	// (SDM IRET: DS was the DPL 0 kernel data segment).
	check_eq("iret.ring3.ds_nulled", 0, r.ds & 0xffff);

	trap_hook(0x48, edit_frame);
	memset(&r, 0, sizeof r);
	trap_reset();
	user_call(u_iret, (u64)&r, 0x202);
	trap_hook(0x48, 0);
	check_eq("iret.edited_frame.rflags", (r.flags_before & ~FL_CF) | FL_IOPL, r.flags_after);
	check_eq("iret.edited_frame.rax", 0x1234, r.rax);
	idt_default(0x48);
}

int
main(void)
{
	cpu_init("exceptions");
	vm_init();
	run("de", t_de);
	run("ud", t_ud);
	run("gp", t_gp);
	run("ring3_gp", t_ring3_gp);
	run("ac", t_ac);
	run("int", t_int);
	run("ifflag", t_ifflag);
	run("ist", t_ist);
	run("double_fault", t_double_fault);
	run("iret", t_iret);
	return report("exceptions");
}
