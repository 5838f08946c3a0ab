// rdtsc.c: the time-stamp counter and CPUID against the SDM (Vol. 2 RDTSC,
// RDTSCP, RDPID, CPUID; Vol. 3B 18.17 time-stamp counter).
//
// Times are never printed, only compared, so the output does not depend on
// the cost model.

#include "cputest.h"

#define MSR_TSC	0x10

static u64
rdtsc_checked(void)
{
	u64 a = ~0ULL, d = ~0ULL;

	// All ones first: RDTSC must clear the upper halves of RAX and RDX.
	__asm__ volatile("rdtsc" : "+a"(a), "+d"(d));
	if ((a >> 32) || (d >> 32))
		return ~0ULL;
	return (d << 32) | a;
}

static u64 tscp_aux;

static u64
rdtscp(void)
{
	u64 a = ~0ULL, d = ~0ULL, c = ~0ULL;

	__asm__ volatile("rdtscp" : "+a"(a), "+d"(d), "+c"(c));
	tscp_aux = c;
	return (d << 32) | (u32)a;
}

// ---- RDTSC ----

static void
t_rdtsc(void)
{
	u64 prev, t, first, bad = 0;
	volatile u64 sink = 0;

	first = prev = rdtsc_checked();
	check_true("rdtsc.upper_halves_clear", first != ~0ULL, "RAX[63:32] = RDX[63:32] = 0", first);
	for (int i = 0; i < 1000; i++) {
		t = rdtsc_checked();
		if (t < prev)
			bad++;
		prev = t;
	}
	check_eq("rdtsc.monotonic.backward_steps", 0, bad);
	check_true("rdtsc.increases", prev > first, "last read > first read", prev - first);

	// Some work takes some time: 10000 dependent adds are far more than
	// 1000 ticks even if the TSC ran at a fraction of the core clock.
	t = rdtsc_checked();
	for (int i = 0; i < 10000; i++)
		sink += i;
	prev = rdtsc_checked();
	check_true("rdtsc.advances_over_loop", prev - t > 1000, "more than 1000 ticks", prev - t);

	// IA32_TSC (MSR 10H) is the same counter, and writing it moves it.
	t = rdtsc_checked();
	prev = rdmsr(MSR_TSC);
	first = rdtsc_checked();
	check_true("tsc.msr_read_between_rdtscs", t <= prev && prev <= first, "rdtsc <= rdmsr(10H) <= rdtsc", prev);
	wrmsr(MSR_TSC, 1ULL << 40);
	t = rdtsc_checked();
	check_true("tsc.msr_write_sets_counter", t >= (1ULL << 40) && t < (1ULL << 40) + (1ULL << 32),
	    "in [2^40, 2^40 + 2^32)", t);
}

// ---- RDTSCP, TSC_AUX, RDPID ----

static void
t_rdtscp(void)
{
	u64 t0, t1, v;
	u32 r[4];

	wrmsr(MSR_TSC_AUX, 0x12345);
	check_eq("tsc_aux.msr_readback", 0x12345, rdmsr(MSR_TSC_AUX));
	t0 = rdtsc_checked();
	t1 = rdtscp();
	// RDTSCP: ECX <- IA32_TSC_AUX[31:0], RCX[63:32] <- 0.
	check_eq("rdtscp.rcx_is_tsc_aux", 0x12345, tscp_aux);
	check_true("rdtscp.not_before_rdtsc", t1 >= t0, "rdtscp >= preceding rdtsc", t1 - t0);

	wrmsr(MSR_TSC_AUX, 0xfedcba98);
	rdtscp();
	check_eq("rdtscp.rcx_full_32_bits", 0xfedcba98, tscp_aux);

	// Bits 63:32 of IA32_TSC_AUX are reserved: WRMSR setting them is #GP(0).
	trap_reset();
	__asm__ volatile(PROBE("wrmsr")
	    : : "c"(MSR_TSC_AUX), "a"(0), "d"(1) : "r11", "memory");
	check_trap("tsc_aux.reserved_high_bits_gp", 13, 0, probe_rip, NOCR2);
	wrmsr(MSR_TSC_AUX, 0x12345);

	// RDPID exists only if CPUID.(EAX=7,ECX=0):ECX[22] says so; otherwise #UD.
	cpuid(7, 0, r);
	v = ~0ULL;
	trap_reset();
	__asm__ volatile(PROBE("rdpid %[v]") : [v] "+r"(v) : : "r11", "memory");
	if (r[2] & (1u << 22)) {
		check_notrap("rdpid.enumerated.no_trap");
		check_eq("rdpid.enumerated.value", 0x12345, v);
	} else {
		check_trap("rdpid.not_enumerated_ud", 6, NOERR, probe_rip, NOCR2);
	}
}

// ---- CR4.TSD: RDTSC and RDTSCP at CPL 3 ----

static u64
u_rdtsc(u64 arg)
{
	u64 a, d;

	(void)arg;
	__asm__ volatile(PROBE("rdtsc") : "=a"(a), "=d"(d) : : "r11", "memory");
	return 1;
}

static u64
u_rdtscp(u64 arg)
{
	(void)arg;
	__asm__ volatile(PROBE("rdtscp") : : : "r11", "rax", "rcx", "rdx", "memory");
	return 1;
}

static void
t_tsd(void)
{
	trap_reset();
	user_call(u_rdtsc, 0, 0x202);
	check_notrap("rdtsc.ring3_tsd0.allowed");
	trap_reset();
	user_call(u_rdtscp, 0, 0x202);
	check_notrap("rdtscp.ring3_tsd0.allowed");

	write_cr4(read_cr4() | CR4_TSD);
	trap_reset();
	user_call(u_rdtsc, 0, 0x202);
	check_trap("rdtsc.ring3_tsd1_gp", 13, 0, probe_rip, NOCR2);
	trap_reset();
	user_call(u_rdtscp, 0, 0x202);
	check_trap("rdtscp.ring3_tsd1_gp", 13, 0, probe_rip, NOCR2);
	trap_reset();
	rdtsc_checked();
	check_notrap("rdtsc.ring0_tsd1.allowed");
	write_cr4(read_cr4() & ~CR4_TSD);
}

// ---- CPUID ----

// Feature bits that must be enumerated, in the order they are checked: the
// leaf, the register (0 EAX .. 3 EDX, as cpuid() stores them) and the bit.
static const struct {
	const char *name;
	u32 leaf;
	int reg, bit;
} features[] = {
	{ "cpuid.1.edx.tsc", 1, 3, 4 }, { "cpuid.1.edx.msr", 1, 3, 5 },
	{ "cpuid.1.edx.pae", 1, 3, 6 }, { "cpuid.1.edx.cx8", 1, 3, 8 },
	{ "cpuid.1.edx.apic", 1, 3, 9 }, { "cpuid.1.edx.pge", 1, 3, 13 },
	{ "cpuid.1.edx.cmov", 1, 3, 15 }, { "cpuid.1.edx.pat", 1, 3, 16 },
	// The loader turns on CR4.FSGSBASE: the feature must be enumerated.
	{ "cpuid.7.ebx.fsgsbase", 7, 1, 0 },
	{ "cpuid.80000001.edx.syscall", 0x80000001, 3, 11 },
	{ "cpuid.80000001.edx.nx", 0x80000001, 3, 20 },
	{ "cpuid.80000001.edx.page1gb", 0x80000001, 3, 26 },
	{ "cpuid.80000001.edx.rdtscp", 0x80000001, 3, 27 },
	{ "cpuid.80000001.edx.lm", 0x80000001, 3, 29 },
	{ "cpuid.80000001.ecx.lahf_lm", 0x80000001, 2, 0 },
};

static void
t_cpuid(void)
{
	u32 r[4];
	char vendor[13];
	u64 a = ~0ULL, b = ~0ULL, c = ~0ULL, d = ~0ULL;

	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	check_true("cpuid.0.vendor_genuineintel", strcmp(vendor, "GenuineIntel") == 0,
	    "\"GenuineIntel\" in EBX EDX ECX", r[1]);
	check_true("cpuid.0.max_leaf_covers_7", r[0] >= 7, ">= 7 (leaf 7 is used)", r[0]);

	// CPUID writes the whole of RAX, RBX, RCX, RDX: upper halves cleared.
	a = (~0ULL << 32) | 0;
	c = ~0ULL << 32;
	__asm__ volatile("cpuid" : "+a"(a), "+b"(b), "+c"(c), "+d"(d));
	check_eq("cpuid.upper_halves_clear", 0, (a | b | c | d) >> 32);

	// The extended leaves read below exist.
	cpuid(0x80000000, 0, r);
	check_true("cpuid.80000000.max_ext_leaf", r[0] >= 0x80000008, ">= 0x80000008", r[0]);

	for (unsigned i = 0; i < sizeof features / sizeof features[0]; i++) {
		u32 bit = 1u << features[i].bit;

		cpuid(features[i].leaf, 0, r);
		check_eq(features[i].name, bit, r[features[i].reg] & bit);
	}

	// Address sizes: physical in [36, 52], linear 48 (4-level paging).
	cpuid(0x80000008, 0, r);
	check_true("cpuid.80000008.physical_bits", (r[0] & 0xff) >= 36 && (r[0] & 0xff) <= 52,
	    "36..52", r[0] & 0xff);
	check_eq("cpuid.80000008.linear_bits", 48, (r[0] >> 8) & 0xff);
}

int
main(void)
{
	cpu_init("rdtsc");
	vm_init();
	run("rdtsc", t_rdtsc);
	run("rdtscp", t_rdtscp);
	run("tsd", t_tsd);
	run("cpuid", t_cpuid);
	return report("rdtsc");
}
