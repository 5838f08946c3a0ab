// paging.c: 4-level paging and the page-fault exception against the SDM
// (Vol. 3A chapter 4: 4.5 formats, 4.6 access rights, 4.7 #PF error code,
// 4.8 accessed/dirty flags, 4.10 TLBs and their invalidation).
//
// Every mapping under test lives in the second 512 GiB of the address space
// (cputest.h: TESTVA) and points at frames of our own .bss, so each one can
// also be read through the identity map to see where a write really went.

#include "cputest.h"

static int maxphy;	// CPUID.80000008H:EAX[7:0]

// ---- address space bookkeeping ----

// 4 KiB test pages share the first 2 MiB of TESTVA (one page table); a test
// that needs its own PDE, or a large page, takes a fresh 2 MiB region; 1 GiB
// pages get their own PDPT slot.
static u64 nextpage = TESTVA, nextregion = TESTVA + (2 << 20), next1g = TESTVA + (1ULL << 30);

static u64
newpage(void)
{
	u64 va = nextpage;

	nextpage += 4096;
	return va;
}

static u64
newregion(void)
{
	u64 va = nextregion;

	nextregion += 2 << 20;
	return va;
}

// Two 2 MiB physical frames for the large-page tests.
static u8 big[4 << 20] __attribute__((aligned(2 << 20)));

// ---- probes: one instruction that may trap; on a trap they return BAD ----
// (loads: probe_load() in cputest.c)

static void
store(u64 va, u64 v)
{
	__asm__ volatile(PROBE("movq %[v], (%[a])") : : [v] "r"(v), [a] "r"(va) : "r11", "memory");
}

// A fault at the target of a call comes after the return address has been
// pushed; r12 keeps RSP so the resume point can drop it again.
static u64
call(u64 va)
{
	u64 r = BAD;

	__asm__ volatile("movq %%rsp, %%r12\n\t" PROBE("call *%[a]") "movq %%r12, %%rsp"
	    : "+a"(r) : [a] "r"(va)
	    : "r11", "r12", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "memory");
	return r;
}

// The same, run at CPL 3 through user_call() (loads: probe_load).
static u64
ustore(u64 va)
{
	store(va, 0x5555);
	return 0;
}

static u64
ucall(u64 va)
{
	return call(va);
}

// A load that must not fault: names the two checks (no trap; the value read,
// compared in the bits of mask).
static void
check_load(const char *name, const char *value_name, u64 va, u64 mask, u64 want)
{
	u64 v;

	trap_reset();
	v = probe_load(va);
	check_notrap(name);
	check_eq(value_name, want, v & mask);
}

// mov $42, %eax; ret
static const u8 ret42[] = { 0xb8, 42, 0, 0, 0, 0xc3 };

static u64
codeframe(void)
{
	u64 pa = frame_alloc();

	memcpy((void *)pa, ret42, sizeof ret42);
	return pa;
}

// Hooks that repair the faulting mapping and return: the iretq re-executes
// the faulting instruction (SDM 6.5: faults are restartable, the saved RIP
// is the faulting instruction).
static u64 fix_va, fix_set, fix_clear;
static u64 *fix_entry;

static void
fix_pte(struct trapframe *tf)
{
	(void)tf;
	*fix_entry = (*fix_entry | fix_set) & ~fix_clear;
	invlpg(fix_va);
}

// SDM 4.10.4.1: a page fault invalidates the TLB entries for the faulting
// linear address, so raising permissions needs no INVLPG before the retry:
// at most one spurious fault (4.10.4.3), which is the one being handled.
static void
fix_pte_noinvlpg(struct trapframe *tf)
{
	(void)tf;
	*fix_entry = (*fix_entry | fix_set) & ~fix_clear;
}

static void
arm_fix(u64 va, u64 *entry, u64 set, u64 clear, int invalidate)
{
	fix_va = va;
	fix_entry = entry;
	fix_set = set;
	fix_clear = clear;
	trap_hook(14, invalidate ? fix_pte : fix_pte_noinvlpg);
}

// ---- not present ----

static void
t_notpresent(void)
{
	u64 va = newpage(), pa = frame_alloc(), v;

	*vm_entry(va, 1) = 0;
	invlpg(va);

	trap_reset();
	v = probe_load(va + 0x123);
	check_trap("pf.notpresent.read", 14, 0, probe_rip, va + 0x123);
	check_eq("pf.notpresent.read.dest_unchanged", BAD, v);

	trap_reset();
	store(va + 0x238, 1);
	check_trap("pf.notpresent.write", 14, PF_W, probe_rip, va + 0x238);

	// No page table at all (the PDPTE is absent) is the same fault.
	trap_reset();
	probe_load(TESTVA + (7ULL << 30) + 0x18);
	check_trap("pf.notpresent.upper_level", 14, 0, probe_rip, TESTVA + (7ULL << 30) + 0x18);

	*(u64 *)(pa + 0x40) = 0x1111222233334444ULL;
	arm_fix(va, vm_entry(va, 1), pa | PTE_P | PTE_W, 0, 1);
	trap_reset();
	v = probe_load(va + 0x40);
	trap_hook(14, 0);
	check_trap("pf.notpresent.retry.one_fault", 14, 0, probe_rip, va + 0x40);
	check_eq("pf.notpresent.retry.value", 0x1111222233334444ULL, v);

	// Not present -> present needs no INVLPG either: nothing is cached from
	// an entry with P=0 (SDM 4.10.4.3).
	va = newpage();
	*vm_entry(va, 1) = 0;
	invlpg(va);
	arm_fix(va, vm_entry(va, 1), pa | PTE_P | PTE_W, 0, 0);
	trap_reset();
	store(va + 8, 0x77);
	trap_hook(14, 0);
	check_trap("pf.notpresent.retry_noinvlpg.one_fault", 14, PF_W, probe_rip, va + 8);
	check_eq("pf.notpresent.retry_noinvlpg.value", 0x77, *(u64 *)(pa + 8));
}

// ---- read-only pages and CR0.WP (SDM 4.6.1) ----

static void
t_readonly(void)
{
	u64 va = newpage(), pa = frame_alloc();

	*(u64 *)pa = 0xabcd;
	vm_map(va, pa, PTE_P);

	check_load("pf.readonly.read.ok", "pf.readonly.read.value", va, ~0ULL, 0xabcd);

	trap_reset();
	store(va + 0x10, 0xdead);
	check_trap("pf.readonly.write_wp1", 14, PF_P | PF_W, probe_rip, va + 0x10);
	check_eq("pf.readonly.write_wp1.memory_unchanged", 0, *(u64 *)(pa + 0x10));
	check_eq("pf.readonly.write_wp1.dirty_clear", 0, *vm_entry(va, 1) & PTE_D);

	// With WP clear, supervisor writes ignore R/W.
	write_cr0(read_cr0() & ~CR0_WP);
	trap_reset();
	store(va + 0x10, 0xbeef);
	write_cr0(read_cr0() | CR0_WP);
	check_notrap("pf.readonly.write_wp0.ok");
	check_eq("pf.readonly.write_wp0.memory", 0xbeef, *(u64 *)(pa + 0x10));

	// And with WP set again it faults again (the TLB holds R/W, not the
	// outcome of the check: SDM 4.10.2.2).
	trap_reset();
	store(va + 0x18, 0xdead);
	check_trap("pf.readonly.write_wp1_again", 14, PF_P | PF_W, probe_rip, va + 0x18);

	// Make it writable in the handler without INVLPG; the retry succeeds.
	arm_fix(va, vm_entry(va, 1), PTE_W, 0, 0);
	trap_reset();
	store(va + 0x20, 0xcafe);
	trap_hook(14, 0);
	check_trap("pf.readonly.retry.one_fault", 14, PF_P | PF_W, probe_rip, va + 0x20);
	check_eq("pf.readonly.retry.memory", 0xcafe, *(u64 *)(pa + 0x20));

	// R/W clear in a non-leaf entry write-protects everything below it.
	va = newregion();
	vm_map(va, pa, PTE_P | PTE_W);
	*vm_entry(va, 2) &= ~PTE_W;
	invlpg(va);
	trap_reset();
	store(va + 0x28, 1);
	check_trap("pf.readonly.nonleaf", 14, PF_P | PF_W, probe_rip, va + 0x28);
	*vm_entry(va, 2) |= PTE_W;
	invlpg(va);
}

// ---- ring 3 (SDM 4.6.1: user-mode accesses need U/S=1 at every level) ----

static void
t_user(void)
{
	u64 va = newpage(), pa = frame_alloc(), code = codeframe(), v;
	u64 rsp0frame = (STACKTOP(rsp0_stack) & ~15ULL) - 48;

	*(u64 *)pa = 0x600d;

	vm_map(va, pa, PTE_P | PTE_W);	// supervisor
	trap_reset();
	v = user_call(probe_load, va + 0x30, 0x202);
	check_trap("pf.user.supervisor_read", 14, PF_P | PF_U, probe_rip, va + 0x30);
	check_eq("pf.user.supervisor_read.frame_cs", UCODE, last.cs);
	check_eq("pf.user.supervisor_read.frame_ss", UDATA, last.ss);
	check_eq("pf.user.supervisor_read.frame_rsp", probe_rsp, last.rsp);
	check_eq("pf.user.supervisor_read.on_rsp0", rsp0frame, last.frame);
	check_eq("pf.user.supervisor_read.returned", BAD, v);

	trap_reset();
	user_call(ustore, va + 0x38, 0x202);
	check_trap("pf.user.supervisor_write", 14, PF_P | PF_W | PF_U, probe_rip, va + 0x38);

	vm_map(va, pa, PTE_P | PTE_U);	// user, read-only
	trap_reset();
	v = user_call(probe_load, va, 0x202);
	check_notrap("pf.user.readonly_read.ok");
	check_eq("pf.user.readonly_read.value", 0x600d, v);
	trap_reset();
	user_call(ustore, va + 0x40, 0x202);
	check_trap("pf.user.readonly_write", 14, PF_P | PF_W | PF_U, probe_rip, va + 0x40);
	// CR0.WP only concerns supervisor writes.
	write_cr0(read_cr0() & ~CR0_WP);
	trap_reset();
	user_call(ustore, va + 0x40, 0x202);
	write_cr0(read_cr0() | CR0_WP);
	check_trap("pf.user.readonly_write_wp0", 14, PF_P | PF_W | PF_U, probe_rip, va + 0x40);

	vm_map(va, 0, 0);
	trap_reset();
	user_call(probe_load, va + 0x48, 0x202);
	check_trap("pf.user.notpresent_read", 14, PF_U, probe_rip, va + 0x48);
	trap_reset();
	user_call(ustore, va + 0x50, 0x202);
	check_trap("pf.user.notpresent_write", 14, PF_W | PF_U, probe_rip, va + 0x50);

	// Fetch from a supervisor page: U and I/D.
	va = newpage();
	vm_map(va, code, PTE_P | PTE_W);
	trap_reset();
	user_call(ucall, va, 0x202);
	check_trap("pf.user.supervisor_fetch", 14, PF_P | PF_U | PF_I, va, va);

	// U/S clear only in the PDE.
	va = newregion();
	vm_map(va, pa, PTE_P | PTE_W | PTE_U);
	*vm_entry(va, 2) &= ~PTE_U;
	invlpg(va);
	trap_reset();
	user_call(probe_load, va + 0x58, 0x202);
	check_trap("pf.user.nonleaf_supervisor", 14, PF_P | PF_U, probe_rip, va + 0x58);
	*vm_entry(va, 2) |= PTE_U;
	invlpg(va);

	// The handler grants U and the user-mode instruction is retried.
	va = newpage();
	vm_map(va, pa, PTE_P | PTE_W);
	arm_fix(va, vm_entry(va, 1), PTE_U, 0, 1);
	trap_reset();
	v = user_call(probe_load, va, 0x202);
	trap_hook(14, 0);
	check_trap("pf.user.retry.one_fault", 14, PF_P | PF_U, probe_rip, va);
	check_eq("pf.user.retry.value", 0x600d, v);
	check_eq("pf.user.retry.completed", 0, user_faulted);
}

// ---- execute disable (SDM 4.6.2 with IA32_EFER.NXE = 1) ----

static void
t_nx(void)
{
	u64 va = newpage(), code = codeframe(), v;

	vm_map(va, code, PTE_P | PTE_W | PTE_NX);
	trap_reset();
	v = call(va);
	check_trap("pf.nx.fetch", 14, PF_P | PF_I, va, va);
	check_eq("pf.nx.fetch.frame_rsp", probe_rsp - 8, last.rsp);
	check_eq("pf.nx.fetch.frame_cs", KCODE, last.cs);
	check_eq("pf.nx.fetch.returned", BAD, v);

	check_load("pf.nx.read.ok", "pf.nx.read.value", va, 0xffffffffffffULL, 0xc30000002ab8ULL);

	arm_fix(va, vm_entry(va, 1), 0, PTE_NX, 1);
	trap_reset();
	v = call(va);
	trap_hook(14, 0);
	check_trap("pf.nx.retry.one_fault", 14, PF_P | PF_I, va, va);
	check_eq("pf.nx.retry.value", 42, v);

	va = newpage();
	vm_map(va, 0, 0);
	trap_reset();
	call(va + 0x80);
	check_trap("pf.notpresent.fetch", 14, PF_I, va + 0x80, va + 0x80);

	// XD in a non-leaf entry covers every page below it.
	va = newregion();
	vm_map(va, code, PTE_P | PTE_W);
	*vm_entry(va, 2) |= PTE_NX;
	invlpg(va);
	trap_reset();
	call(va);
	check_trap("pf.nx.nonleaf", 14, PF_P | PF_I, va, va);
	*vm_entry(va, 2) &= ~PTE_NX;
	invlpg(va);

	// With NXE clear, bit 63 is reserved (SDM 4.5, Table 4-20 note).
	va = newpage();
	vm_map(va, code, PTE_P | PTE_W | PTE_NX);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_NXE);
	trap_reset();
	probe_load(va);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	check_trap("pf.nx.nxe0_reserved", 14, PF_P | PF_RSVD, probe_rip, va);
}

// ---- reserved and ignored bits (SDM 4.5 Tables 4-14..4-19, 4.7) ----

static void
rsvd_leaf(const char *name, u64 bit, u64 err)
{
	u64 va = newpage(), pa = frame_alloc();

	vm_map(va, pa | bit, PTE_P | PTE_W);
	trap_reset();
	if (err & PF_W)
		store(va + 0x60, 1);
	else
		probe_load(va + 0x60);
	check_trap(name, 14, err, probe_rip, va + 0x60);
}

// Bits the SDM says are ignored must not fault and must not change the frame.
static void
ignored_leaf(const char *name, u64 bits)
{
	u64 va = newpage(), pa = frame_alloc();
	char n[64];

	*(u64 *)(pa + 0x68) = 0x1234;
	vm_map(va, pa | bits, PTE_P | PTE_W);
	snprintf(n, sizeof n, "%s.value", name);
	check_load(name, n, va + 0x68, ~0ULL, 0x1234);
}

static void
t_reserved(void)
{
	u64 va, pa = frame_alloc(), code = codeframe();
	u32 r[4];

	cpuid(0x80000008, 0, r);
	maxphy = r[0] & 0xff;

	rsvd_leaf("pf.rsvd.pte_maxphyaddr.read", 1ULL << maxphy, PF_P | PF_RSVD);
	rsvd_leaf("pf.rsvd.pte_maxphyaddr.write", 1ULL << maxphy, PF_P | PF_RSVD | PF_W);
	rsvd_leaf("pf.rsvd.pte_bit51.read", 1ULL << 51, PF_P | PF_RSVD);

	va = newpage();
	vm_map(va, code | (1ULL << 51), PTE_P | PTE_W);
	trap_reset();
	call(va);
	check_trap("pf.rsvd.fetch", 14, PF_P | PF_RSVD | PF_I, va, va);

	va = newpage();
	vm_map(va, pa | (1ULL << 51), PTE_P | PTE_W | PTE_U);
	trap_reset();
	user_call(probe_load, va + 8, 0x202);
	check_trap("pf.rsvd.user", 14, PF_P | PF_U | PF_RSVD, probe_rip, va + 8);

	// Reserved bits in an entry that is not present do not matter.
	vm_map(va, pa | (1ULL << 51), 0);
	trap_reset();
	probe_load(va + 8);
	check_trap("pf.rsvd.ignored_when_not_present", 14, 0, probe_rip, va + 8);

	// A reserved bit in a non-leaf PDE.
	va = newregion();
	vm_map(va, pa, PTE_P | PTE_W);
	*vm_entry(va, 2) |= 1ULL << 51;
	invlpg(va);
	trap_reset();
	probe_load(va + 0x10);
	check_trap("pf.rsvd.pde", 14, PF_P | PF_RSVD, probe_rip, va + 0x10);
	*vm_entry(va, 2) &= ~(1ULL << 51);
	invlpg(va);

	// PS is reserved in a PML4E (Table 4-15).  PML4 slot 2 is ours alone.
	va = 2ULL << 39;
	vm_map(va, pa, PTE_P | PTE_W);
	pml4[2] |= PTE_PS;
	invlpg(va);
	trap_reset();
	probe_load(va + 0x18);
	check_trap("pf.rsvd.pml4e_ps", 14, PF_P | PF_RSVD, probe_rip, va + 0x18);
	pml4[2] &= ~PTE_PS;
	invlpg(va);

	// Bits 20:13 of a 2 MiB PDE and 29:13 of a 1 GiB PDPTE are reserved.
	va = newregion();
	*vm_entry(va, 2) = (u64)big | (1ULL << 13) | PTE_P | PTE_W | PTE_PS;
	invlpg(va);
	trap_reset();
	probe_load(va + 0x20);
	check_trap("pf.rsvd.pde_2m_bit13", 14, PF_P | PF_RSVD, probe_rip, va + 0x20);
	*vm_entry(va, 2) = 0;
	invlpg(va);

	va = next1g;
	next1g += 1ULL << 30;
	*vm_entry(va, 3) = (1ULL << 13) | PTE_P | PTE_W | PTE_PS;
	invlpg(va);
	trap_reset();
	probe_load(va + 0x28);
	check_trap("pf.rsvd.pdpte_1g_bit13", 14, PF_P | PF_RSVD, probe_rip, va + 0x28);
	*vm_entry(va, 3) = 0;
	invlpg(va);

	// Table 4-19: bits 11:9 and 58:52 are ignored, 62:59 are the
	// protection key only with CR4.PKE=1 (ignored here).
	ignored_leaf("pte.ignored.bits_11_9", 7ULL << 9);
	ignored_leaf("pte.ignored.bit52", 1ULL << 52);
	ignored_leaf("pte.ignored.bit58", 1ULL << 58);
	ignored_leaf("pte.ignored.bit62_pke0", 1ULL << 62);

	// Table 4-18: the same bits are ignored in a PDE that references a table.
	va = newregion();
	*(u64 *)(pa + 0x70) = 0x4321;
	vm_map(va, pa, PTE_P | PTE_W);
	*vm_entry(va, 2) |= 0x7fULL << 52;
	invlpg(va);
	check_load("pde.ignored.bits_58_52", "pde.ignored.bits_58_52.value", va + 0x70, ~0ULL, 0x4321);
	*vm_entry(va, 2) &= ~(0x7fULL << 52);
	invlpg(va);

	// MOV to CR3 with a bit at or above MAXPHYADDR: #GP(0) (SDM MOV CR).
	trap_reset();
	{
		u64 bad = read_cr3() | (1ULL << 51);
		__asm__ volatile(PROBE("movq %[v], %%cr3") : : [v] "r"(bad) : "r11", "memory");
	}
	check_trap("cr3.reserved_bit51", 13, 0, probe_rip, NOCR2);

	// CR4 bits for features CPUID does not report are reserved (SDM 2.5):
	// SMEP without CPUID.(EAX=7,ECX=0):EBX[7].
	cpuid(7, 0, r);
	if (!(r[1] & (1u << 7))) {
		u64 cr4 = read_cr4(), bad = cr4 | (1ULL << 20);

		trap_reset();
		__asm__ volatile(PROBE("movq %[v], %%cr4") : : [v] "r"(bad) : "r11", "memory");
		write_cr4(cr4);
		check_trap("cr4.smep_not_reported", 13, 0, probe_rip, NOCR2);
	}
}

// ---- large pages (SDM 4.5: PS=1 in a PDE maps 2 MiB, in a PDPTE 1 GiB) ----

static void
t_large(void)
{
	u64 va2m = newregion(), va2m_b = newregion(), va4k = newpage();
	u64 va1g = next1g, pa = (u64)big;
	u64 *pde;

	next1g += 1ULL << 30;

	pde = vm_entry(va2m, 2);
	*pde = pa | PTE_P | PTE_W | PTE_PS;
	invlpg(va2m);
	*vm_entry(va2m_b, 2) = (pa + (2 << 20)) | PTE_P | PTE_W | PTE_PS;
	invlpg(va2m_b);
	vm_map(va4k, pa + 0x5000, PTE_P | PTE_W);

	trap_reset();
	*(volatile u64 *)(va2m + 0x1ff008) = 0x2222;
	check_eq("large.2m.write_lands_at_offset", 0x2222, *(volatile u64 *)(pa + 0x1ff008));
	*(volatile u64 *)(pa + 0x123450) = 0x3333;
	check_eq("large.2m.read_sees_frame", 0x3333, *(volatile u64 *)(va2m + 0x123450));
	*(volatile u64 *)(pa + (2 << 20) + 0x18) = 0x4444;
	check_eq("large.2m.second_frame", 0x4444, *(volatile u64 *)(va2m_b + 0x18));

	// A 4 KiB alias inside the 2 MiB frame: each view sees the other's writes.
	*(volatile u64 *)(va2m + 0x5010) = 0x5555;
	check_eq("large.2m.alias_4k_sees_2m_write", 0x5555, *(volatile u64 *)(va4k + 0x10));
	*(volatile u64 *)(va4k + 0x20) = 0x6666;
	check_eq("large.2m.alias_2m_sees_4k_write", 0x6666, *(volatile u64 *)(va2m + 0x5020));
	check_eq("large.2m.accessed_dirty", PTE_A | PTE_D, *pde & (PTE_A | PTE_D));
	check_notrap("large.2m.no_faults");

	// Bit 12 of a 2 MiB PDE is PAT, not an address bit.
	*pde = pa | (1ULL << 12) | PTE_P | PTE_W | PTE_PS;
	invlpg(va2m);
	check_load("large.2m.pat_bit.no_fault", "large.2m.pat_bit.same_frame", va2m + 0x123450, ~0ULL,
	    0x3333);

	// 1 GiB page at physical 0: it aliases the identity map.
	*vm_entry(va1g, 3) = PTE_P | PTE_W | PTE_PS;
	invlpg(va1g);
	*(volatile u64 *)(va1g + pa + 0x5030) = 0x7777;
	check_eq("large.1g.alias_4k_sees_1g_write", 0x7777, *(volatile u64 *)(va4k + 0x30));
	*(volatile u64 *)(va2m + 0x5038) = 0x8888;
	check_eq("large.1g.sees_2m_write", 0x8888, *(volatile u64 *)(va1g + pa + 0x5038));
	check_eq("large.1g.high_offset", *(volatile u64 *)(pa + 0x3ff000),
	    *(volatile u64 *)(va1g + pa + 0x3ff000));
	check_eq("large.1g.accessed_dirty", PTE_A | PTE_D, *vm_entry(va1g, 3) & (PTE_A | PTE_D));
}

// ---- accessed and dirty flags (SDM 4.8) ----

static void
t_accessed_dirty(void)
{
	u64 va = newregion(), pa = frame_alloc(), code = codeframe();
	u64 *pte, *pde, *pdpte = vm_entry(va, 3), *pml4e = vm_entry(va, 4);

	vm_map(va, pa, PTE_P | PTE_W);
	pte = vm_entry(va, 1);
	pde = vm_entry(va, 2);
	*pte &= ~(PTE_A | PTE_D);
	*pde &= ~(PTE_A | PTE_D);
	*pdpte &= ~PTE_A;
	*pml4e &= ~PTE_A;
	// INVLPG also empties the paging-structure caches (SDM 4.10.4.1), so
	// the next walk reads, and marks, every level.
	invlpg(va);

	probe_load(va);
	check_eq("ad.read.pte_accessed", PTE_A, *pte & (PTE_A | PTE_D));
	check_eq("ad.read.pde_accessed", PTE_A, *pde & PTE_A);
	check_eq("ad.read.pdpte_accessed", PTE_A, *pdpte & PTE_A);
	check_eq("ad.read.pml4e_accessed", PTE_A, *pml4e & PTE_A);

	store(va + 8, 1);
	check_eq("ad.write.pte_dirty", PTE_A | PTE_D, *pte & (PTE_A | PTE_D));
	// D exists only in entries that map a page.
	check_eq("ad.write.pde_not_dirty", 0, *pde & PTE_D);

	// A write after the dirty flag was cleared (and the entry flushed)
	// sets it again.
	*pte &= ~PTE_D;
	invlpg(va);
	store(va + 8, 2);
	check_eq("ad.rewrite.pte_dirty", PTE_D, *pte & PTE_D);

	// A write straight away, no read first.
	va = newpage();
	vm_map(va, pa, PTE_P | PTE_W);
	store(va + 16, 3);
	check_eq("ad.first_write.accessed_dirty", PTE_A | PTE_D, *vm_entry(va, 1) & (PTE_A | PTE_D));

	va = newpage();
	vm_map(va, code, PTE_P | PTE_W);
	check_eq("ad.fetch.result", 42, call(va));
	check_eq("ad.fetch.accessed_only", PTE_A, *vm_entry(va, 1) & (PTE_A | PTE_D));
}

// ---- TLB invalidation (SDM 4.10.4) ----

static void
t_tlb(void)
{
	u64 va = newpage(), f1 = frame_alloc(), f2 = frame_alloc(), v;
	u64 *pte = vm_entry(va, 1);

	*(u64 *)f1 = 0x1;
	*(u64 *)f2 = 0x2;

	vm_map(va, f1, PTE_P | PTE_W);
	probe_load(va);
	*pte = f2 | PTE_P | PTE_W;
	invlpg(va);
	check_eq("tlb.invlpg.remap", 0x2, probe_load(va));

	*pte = f1 | PTE_P | PTE_W;
	write_cr3(read_cr3());
	check_eq("tlb.cr3_reload.remap", 0x1, probe_load(va));

	*pte = 0;
	invlpg(va);
	trap_reset();
	probe_load(va);
	check_trap("tlb.invlpg.unmap", 14, 0, probe_rip, va);

	*pte = f1 | PTE_P | PTE_W;
	invlpg(va);
	store(va + 8, 5);
	*pte = f1 | PTE_P;
	invlpg(va);
	trap_reset();
	store(va + 8, 6);
	check_trap("tlb.invlpg.write_protect", 14, PF_P | PF_W, probe_rip, va + 8);

	// Global pages: INVLPG and a CR4.PGE toggle both drop them (SDM
	// 4.10.4.1); nothing is claimed about what a CR3 load keeps.
	*pte = f1 | PTE_P | PTE_W | PTE_G;
	invlpg(va);
	probe_load(va);
	*pte = f2 | PTE_P | PTE_W | PTE_G;
	invlpg(va);
	check_eq("tlb.global.invlpg", 0x2, probe_load(va));

	*pte = f1 | PTE_P | PTE_W | PTE_G;
	write_cr4(read_cr4() & ~CR4_PGE);
	write_cr4(read_cr4() | CR4_PGE);
	check_eq("tlb.global.pge_toggle", 0x1, probe_load(va));

	// INVLPG of any address in a 2 MiB page drops every TLB entry for that
	// page, even ones cached in 4 KiB pieces (SDM 4.10.2.3 and INVLPG in
	// 4.10.4.1).  Touch all 512 pieces, so whatever the TLB's geometry some
	// of them are cached, remap, INVLPG the first, and count stale pieces.
	va = newregion();
	for (int i = 0; i < 512; i++) {
		*(volatile u64 *)((u64)big + i * 4096 + 0xff8) = 0xa000 + i;
		*(volatile u64 *)((u64)big + (2 << 20) + i * 4096 + 0xff8) = 0xb000 + i;
	}
	*vm_entry(va, 2) = (u64)big | PTE_P | PTE_W | PTE_PS;
	invlpg(va);
	for (int i = 0; i < 512; i++)
		probe_load(va + i * 4096 + 0xff8);
	*vm_entry(va, 2) = ((u64)big + (2 << 20)) | PTE_P | PTE_W | PTE_PS;
	invlpg(va);
	v = 0;
	for (int i = 0; i < 512; i++)
		if (probe_load(va + i * 4096 + 0xff8) != 0xb000ULL + i)
			v++;
	check_eq("tlb.invlpg.large_page_stale_pieces", 0, v);
}

// ---- accesses that straddle into a missing page ----

static u64 straddle_va, straddle_pa;

static void
map_second_page(struct trapframe *tf)
{
	(void)tf;
	vm_map(straddle_va, straddle_pa, PTE_P | PTE_W);
}

// A wrong #UD must not be retried: that would loop.
static void
map_second_page_and_skip(struct trapframe *tf)
{
	map_second_page(tf);
	tf->rip = probe_resume;
	probe_resume = 0;
}

static void
t_straddle(void)
{
	u64 a = newpage(), b = newpage(), fa = frame_alloc(), fb = frame_alloc(), v;
	u8 *p = (u8 *)fa;

	vm_map(a, fa, PTE_P | PTE_W);
	vm_map(b, fb, 0);

	// Data: a faulting split access has no effect on the first page.
	memset(p + 0xff8, 0x11, 8);
	trap_reset();
	store(a + 0xffc, 0x2222222222222222ULL);
	check_true("pf.straddle.write", ntraps == 1 && last.vector == 14 &&
	    last.error == PF_W && last.rip == probe_rip &&
	    (last.cr2 == b || last.cr2 == a + 0xffc),
	    "1 trap vector 14 error 0x2 at the store, cr2 = 2nd page or the store address",
	    last.cr2);
	check_eq("pf.straddle.write.first_page_unchanged", 0x1111111111111111ULL, *(u64 *)(p + 0xff8));
	trap_reset();
	v = probe_load(a + 0xffc);
	check_true("pf.straddle.read", ntraps == 1 && last.vector == 14 &&
	    last.error == 0 && last.rip == probe_rip &&
	    (last.cr2 == b || last.cr2 == a + 0xffc),
	    "1 trap vector 14 error 0x0 at the load, cr2 = 2nd page or the load address",
	    last.cr2);
	check_eq("pf.straddle.read.dest_unchanged", BAD, v);

	// Code: mov $0x12345678, %eax; ret, with the mov split 2 + 3 bytes.  The
	// fetch of the missing bytes faults with CR2 in the second page and RIP
	// at the start of the mov; mapping the page and retrying runs it.
	p[0xffe] = 0xb8;
	p[0xfff] = 0x78;
	memcpy((void *)fb, "\x56\x34\x12\xc3", 4);
	straddle_va = b;
	straddle_pa = fb;
	trap_hook(14, map_second_page);
	trap_hook(6, map_second_page_and_skip);	// what a wrong CPU might raise
	trap_reset();
	v = call(a + 0xffe);
	trap_hook(14, 0);
	trap_hook(6, 0);
	check_trap("pf.straddle.fetch", 14, PF_I, a + 0xffe, b);
	check_eq("pf.straddle.fetch.retry_value", 0x12345678, v);
	// Whatever happened above, with both pages present it must run.
	trap_reset();
	v = call(a + 0xffe);
	check_notrap("pf.straddle.fetch.both_present.no_trap");
	check_eq("pf.straddle.fetch.both_present.value", 0x12345678, v);
}

int
main(void)
{
	cpu_init("paging");
	vm_init();
	run("notpresent", t_notpresent);
	run("readonly", t_readonly);
	run("user", t_user);
	run("nx", t_nx);
	run("reserved", t_reserved);
	run("large", t_large);
	run("accessed_dirty", t_accessed_dirty);
	run("tlb", t_tlb);
	run("straddle", t_straddle);
	return report("paging");
}
