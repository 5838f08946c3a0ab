// fpu.c: the x87/SSE state and its system side against the SDM: CPUID bits,
// power-up and FNINIT values, FXSAVE/FXRSTOR (Vol. 1 10.5, Vol. 2 FXSAVE),
// LDMXCSR's #GP, the CR0.EM/TS/MP and CR4.OSFXSR/OSXMMEXCPT rules (Vol. 3
// Table 2-2, 13.1), #XM versus #UD for an unmasked SIMD exception, the
// alignment #GP of a 16-byte SSE operand, and the x87: a few results, the
// stack fault, and an unmasked x87 exception delivered as #MF at the next
// waiting instruction with CR0.NE (Vol. 1 8.7), left pending without it.

#include "cputest.h"

#define CR0_MP (1ULL << 1)
#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR0_NE (1ULL << 5)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)

static u64 cr0(void) { u64 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static void set_cr0(u64 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static u64 cr4(void) { u64 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static void set_cr4(u64 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

static u8 area[512 + 64] __attribute__((aligned(64)));
static u64 vec[4] __attribute__((aligned(16)));

static void
t_cpuid(void)
{
	u32 r[4];

	cpuid(1, 0, r);
	check_eq("cpuid.1.edx.fxsr", 1u << 24, r[3] & (1u << 24));
	check_eq("cpuid.1.edx.sse", 1u << 25, r[3] & (1u << 25));
	check_eq("cpuid.1.edx.sse2", 1u << 26, r[3] & (1u << 26));
	check_eq("cpuid.1.edx.fpu", 1, r[3] & 1);
	// Not implemented, so not reported: MMX, SSE3, XSAVE, AVX.
	check_eq("cpuid.1.edx.mmx_clear", 0, r[3] & (1u << 23));
	check_eq("cpuid.1.ecx.sse3_xsave_avx_clear", 0, r[2] & ((1u << 0) | (1u << 26) | (1u << 28)));
}

static void
t_state(void)
{
	u32 mx = 0;
	u16 cw = 0, sw = 0xffff;

	__asm__ volatile("stmxcsr %0" : "=m"(mx));
	check_eq("mxcsr.power_up", 0x1f80, mx);
	__asm__ volatile("fninit\n\tfnstcw %0\n\tfnstsw %1" : "=m"(cw), "=m"(sw));
	check_eq("fninit.fcw", 0x37f, cw);
	check_eq("fninit.fsw", 0, sw);
	sw = 0xffff;
	__asm__ volatile("fnstsw %%ax\n\tmov %%ax, %0" : "=m"(sw) : : "rax");
	check_eq("fnstsw.ax", 0, sw);
	cw = 0x27f;
	__asm__ volatile("fldcw %1\n\tfnstcw %0" : "=m"(cw) : "m"(cw));
	check_eq("fldcw.fnstcw", 0x27f, cw);
	mx = 0x7f80 | 0x40;	// round toward zero + DAZ
	__asm__ volatile("ldmxcsr %1\n\tstmxcsr %0\n\tldmxcsr %2" : "=m"(mx) : "m"(mx), "m"((u32){0x1f80}));
	check_eq("ldmxcsr.stmxcsr", 0x7fc0, mx);
}

static void
t_fxsave(void)
{
	u64 pattern[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL }, back[2] = { 0, 0 };

	memset(area, 0xcc, sizeof area);
	__asm__ volatile("fninit\n\tmovdqu %1, %%xmm5\n\tfxsave64 %0" : "=m"(*(u8 (*)[512])area) : "m"(pattern));
	check_eq("fxsave.fcw", 0x37f, *(u16 *)area);
	check_eq("fxsave.ftw_abridged_empty", 0, area[4]);
	check_eq("fxsave.mxcsr", 0x1f80, *(u32 *)(area + 24));
	check_eq("fxsave.mxcsr_mask", 0xffff, *(u32 *)(area + 28));
	check_eq("fxsave.xmm5_lo", pattern[0], *(u64 *)(area + 160 + 5 * 16));
	check_eq("fxsave.xmm5_hi", pattern[1], *(u64 *)(area + 168 + 5 * 16));
	check_eq("fxsave.software_area_untouched", 0xccccccccccccccccULL, *(u64 *)(area + 464));
	*(u32 *)(area + 24) = 0x1f80 | (3 << 13);
	__asm__ volatile("pxor %%xmm5, %%xmm5\n\tfxrstor64 %1\n\tmovdqu %%xmm5, %0" : "=m"(back) : "m"(*(u8 (*)[512])area));
	check_eq("fxrstor.xmm5_lo", pattern[0], back[0]);
	check_eq("fxrstor.xmm5_hi", pattern[1], back[1]);
	u32 mx = 0;
	__asm__ volatile("stmxcsr %0\n\tldmxcsr %1" : "=m"(mx) : "m"((u32){0x1f80}));
	check_eq("fxrstor.mxcsr", 0x1f80 | (3 << 13), mx);

	trap_reset();
	__asm__ volatile(PROBE("fxsave (%0)") : : "r"(area + 8) : "r11", "memory");
	check_trap("fxsave.misaligned_gp", 13, 0, probe_rip, NOCR2);
	*(u32 *)(area + 24) = 0x10000;
	trap_reset();
	__asm__ volatile(PROBE("fxrstor (%0)") : : "r"(area) : "r11", "memory");
	check_trap("fxrstor.reserved_mxcsr_gp", 13, 0, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("ldmxcsr (%0)") : : "r"(area + 24) : "r11", "memory");
	check_trap("ldmxcsr.reserved_gp", 13, 0, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("movaps 8(%0), %%xmm0") : : "r"(vec) : "r11", "memory");
	check_trap("movaps.misaligned_gp", 13, 0, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("movups 8(%0), %%xmm0") : : "r"(vec) : "r11", "memory");
	check_eq("movups.misaligned_ok", 0, ntraps);
}

static void
t_control_bits(void)
{
	u64 c0 = cr0(), c4 = cr4();

	set_cr0(c0 | CR0_TS);
	trap_reset();
	__asm__ volatile(PROBE("addps %%xmm1, %%xmm0") : : : "r11");
	check_trap("ts.addps_nm", 7, NOERR, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("fxsave (%0)") : : "r"(area) : "r11", "memory");
	check_trap("ts.fxsave_nm", 7, NOERR, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("fnstcw (%0)") : : "r"(area) : "r11", "memory");
	check_trap("ts.fnstcw_nm", 7, NOERR, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("fwait") : : : "r11");
	check_trap("ts_mp.fwait_nm", 7, NOERR, probe_rip, NOCR2);
	set_cr0((c0 | CR0_TS) & ~CR0_MP);
	trap_reset();
	__asm__ volatile(PROBE("fwait") : : : "r11");
	check_eq("ts_nomp.fwait_runs", 0, ntraps);
	__asm__ volatile("clts");
	check_eq("clts.clears_ts", 0, cr0() & CR0_TS);

	set_cr0((c0 | CR0_EM) & ~CR0_TS);
	trap_reset();
	__asm__ volatile(PROBE("addps %%xmm1, %%xmm0") : : : "r11");
	check_trap("em.addps_ud", 6, NOERR, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("fninit") : : : "r11");
	check_trap("em.fninit_nm", 7, NOERR, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("fxsave (%0)") : : "r"(area) : "r11", "memory");
	check_trap("em.fxsave_nm", 7, NOERR, probe_rip, NOCR2);
	set_cr0(c0);

	set_cr4(c4 & ~CR4_OSFXSR);
	trap_reset();
	__asm__ volatile(PROBE("pxor %%xmm1, %%xmm0") : : : "r11");
	check_trap("noosfxsr.pxor_ud", 6, NOERR, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("stmxcsr (%0)") : : "r"(area) : "r11", "memory");
	check_trap("noosfxsr.stmxcsr_ud", 6, NOERR, probe_rip, NOCR2);
	set_cr4(c4);
}

// An unmasked divide-by-zero: #XM with CR4.OSXMMEXCPT, #UD without; MXCSR.ZE is
// set and the destination keeps its value either way.
static void
t_unmasked(void)
{
	u64 c4 = cr4();
	u32 unmask_ze = 0x1f80 & ~(1u << 9), mx = 0;
	u64 one[2] = { 0x3f800000, 0 }, zero[2] = { 0, 0 }, out[2] = { 0, 0 };

	for (int os = 1; os >= 0; os--) {
		set_cr4(os ? c4 | CR4_OSXMMEXCPT : c4 & ~CR4_OSXMMEXCPT);
		trap_reset();
		__asm__ volatile("movdqu %[a], %%xmm0\n\tmovdqu %[b], %%xmm1\n\tldmxcsr %[m]\n\t"
		    PROBE("divss %%xmm1, %%xmm0")
		    "stmxcsr %[mo]\n\tldmxcsr %[d]\n\tmovdqu %%xmm0, %[o]"
		    : [o] "=m"(out), [mo] "=m"(mx)
		    : [a] "m"(one), [b] "m"(zero), [m] "m"(unmask_ze), [d] "m"((u32){0x1f80})
		    : "r11", "memory");
		check_trap(os ? "unmasked.divss_xm" : "unmasked.divss_ud_without_osxmmexcpt", os ? 19 : 6, NOERR, probe_rip, NOCR2);
		check_eq(os ? "unmasked.ze_flag_set" : "unmasked.ze_flag_set_ud", unmask_ze | 4, mx);
		check_eq(os ? "unmasked.dest_unchanged" : "unmasked.dest_unchanged_ud", 0x3f800000, out[0]);
	}
	set_cr4(c4);
}

static void
t_x87(void)
{
	u64 c0 = cr0();
	u64 d = 0;
	long long i = 0;
	u16 sw = 0, sw2 = 0;

	__asm__ volatile("fninit\n\tfld1\n\tfld1\n\tfaddp\n\tfistpll %0" : "=m"(i));
	check_eq("x87.1_plus_1", 2, i);
	__asm__ volatile("fldpi\n\tfstpl %0" : "=m"(d));
	check_eq("x87.fldpi_double", 0x400921fb54442d18ULL, d);
	__asm__ volatile("fld1\n\tfadd %%st(0)\n\tfsqrt\n\tfstpl %0\n\tfnstsw %1" : "=m"(d), "=m"(sw));
	check_eq("x87.sqrt2_double", 0x3ff6a09e667f3bcdULL, d);
	check_eq("x87.sqrt2_pe_c1_rounded_up", 0x220, sw & 0x3fff);

	// Stack underflow: IE and SF, C1 = 0, the indefinite pushed back out by FSTP.
	__asm__ volatile("fninit\n\tfadd %%st(1), %%st\n\tfnstsw %0\n\tfstpl %1" : "=m"(sw), "=m"(d));
	check_eq("x87.underflow_ie_sf", 0x41, sw & 0x3ff);
	check_eq("x87.underflow_indefinite", 0xfff8000000000000ULL, d);

	// An unmasked zero divide: FSW.ZE and ES set, ST(0) and the stack unchanged, #MF at the next waiting
	// instruction with CR0.NE; without NE the exception stays pending (no FERR# line here) and FWAIT runs.
	// Under a hypervisor (CPUID.1:ECX[31]) CR0.NE stays 1 in VMX operation (SDM Vol. 3 A.7) whatever the
	// guest writes, so #MF arrives there too.
	u32 r[4];
	cpuid(1, 0, r);
	int vmx_guest = (r[2] >> 31) & 1;
	for (int ne = 1; ne >= 0; ne--) {
		set_cr0(ne ? c0 | CR0_NE : c0 & ~CR0_NE);
		u16 unmask_ze = 0x37b;
		d = 0;
		trap_reset();
		__asm__ volatile("fninit\n\tfldcw %[cw]\n\tfld1\n\tfldz\n\tfdivr %%st(1), %%st\n\tfnstsw %[sw]\n\t"
		    PROBE("fwait")
		    "fnstsw %[sw2]\n\tfnclex\n\tfstpl %[d]\n\tfninit"
		    : [sw] "=m"(sw), [sw2] "=m"(sw2), [d] "=m"(d)
		    : [cw] "m"(unmask_ze)
		    : "r11", "memory");
		check_eq(ne ? "x87.unmasked_ze_es_b" : "x87.unmasked_ze_es_b_none", 0x8084, sw & 0xc0ff);
		check_eq(ne ? "x87.unmasked_stack_unchanged" : "x87.unmasked_stack_unchanged_none", 6 << 11, sw & 0x3800);
		if (ne || vmx_guest)
			check_trap(ne ? "x87.unmasked_mf" : "x87.unmasked_mf_ne_fixed_in_vmx", 16, NOERR, probe_rip, NOCR2);
		else
			check_eq("x87.no_ne_fwait_runs", 0, ntraps);
		check_eq(ne ? "x87.unmasked_st0_kept" : "x87.unmasked_st0_kept_none", 0, d);
	}
	set_cr0(c0);
}

int
main(void)
{
	cpu_init("fpu");
	run("cpuid", t_cpuid);
	run("state", t_state);
	run("fxsave", t_fxsave);
	run("control_bits", t_control_bits);
	run("unmasked", t_unmasked);
	run("x87", t_x87);
	return report("fpu");
}
