// mode32.c: compatibility mode and 32-bit protected mode (SDM 9.8.5, 5.8, 6.12).
//
// The sequence of Linux 6.1's trampoline_64.S, from 64-bit mode: a far jump
// through m16:32 into a 32-bit code segment (compatibility mode), CR0.PG=0
// there (leaving IA-32e mode: EFER.LMA=0), a far jump into protected mode
// without paging, data segments reloaded, CR3/EFER.LME/CR0.PG (IA-32e mode
// again, still compatibility mode) and a far jump to a 64-bit segment.  On
// the way: 32-bit-only encodings (INC 40), the ESP stack, flags, a near
// call, physical page 0 readable with paging off, faults through a 32-bit
// IDT (IRETD back).  Then the far transfers' checks from 64-bit mode (#GP,
// #NP for bad descriptors, bad CR0/CR4/EFER transitions), LRET/IRET/LCALL
// between the modes, and exceptions raised in compatibility mode, delivered
// through the 64-bit IDT and returned from with IRETQ.
//
// Under the LVD hypervisor ("unrestricted guest"; every CR0, CR3 and CR4 write
// and the EFER accesses exit and are emulated) the same checks hold as natively.

#include <lvd/hypercall.h>
#include "cputest.h"

#define KCODE32		0x40	// 32-bit code, DPL 0, flat (Linux's __KERNEL32_CS)
#define NP_CODE32	0x48	// not present
#define LD_CODE		0x50	// L=1 and D=1: reserved
#define XO_CODE32	0x58	// execute-only
#define SMALL_CODE32	0x60	// limit 0xfff, byte granular
#define NP_DATA		0x68	// not present
#define CONF3_CODE32	0x70	// conforming, DPL 3
#define LDTSEL		0x78	// an LDT (16-byte descriptor in IA-32e mode)

volatile u32 m32_res[32];
volatile u32 m32_gperr[4], m32_gpeip[4], m32_gpcount;
u32 m32_gpresume[4];
volatile u64 m32_saved_rsp;
volatile u32 m32_cr3;
static u64 idt32[256] __attribute__((aligned(16)));
static u64 ldt[4] __attribute__((aligned(16)));
struct __attribute__((packed)) { u16 limit; u32 base; } m32_idt32_desc;
struct __attribute__((packed)) { u32 off; u16 sel; } m32_to_compat, m32_far;

extern char m32_trampoline[], m32_compat[], m32_pg_off[], m32_pm_after_ud[], m32_pm_after_gp1[], m32_pm_after_gp2[];
extern char m32_pm_ud[], m32_pm_gp[], m32_ud2[], m32_gp_null[], m32_gp_pae[];
extern char m32_bad_landing[], m32_lret_test[], m32_iret_test[], m32_lcall_test[], m32_compat_fn[];
extern char m32_ud_test[], m32_ud_rip[], m32_ud_back64[], m32_int3_test[];

// ---- the trampoline sequence ----
__asm__(
"	.text\n"
"	.code64\n"
"m32_trampoline:\n"
"	push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
"	mov %rsp, m32_saved_rsp(%rip)\n"
"	ljmpl *m32_to_compat(%rip)\n"
"	.code32\n"
"m32_compat:\n"
"	mov %cs, %eax; mov %eax, m32_res+0\n"
"	mov $0xc0000080, %ecx; rdmsr; mov %eax, m32_res+4\n"
"	.byte 0x40\n"				// INC EAX (REX in 64-bit mode)
"	mov %eax, m32_res+8\n"
"	mov %esp, %edx; pushl $0x11223344; popl %ebx; sub %esp, %edx\n"
"	mov %ebx, m32_res+12; mov %edx, m32_res+16\n"
"	mov %cr0, %eax; and $0x7fffffff, %eax\n"
"m32_pg_off:\n"
"	mov %eax, %cr0\n"			// leaves IA-32e mode
"	ljmpl $0x40, $m32_pm\n"
"m32_pm:\n"
"	lidt m32_idt32_desc\n"			// 8-byte gates from here on
"	mov $0xc0000080, %ecx; rdmsr; mov %eax, m32_res+20\n"
"	mov %cr0, %eax; mov %eax, m32_res+24\n"
"	mov $0x10, %eax; mov %eax, %ds; mov %eax, %es; mov %eax, %ss\n"
"	movl $0xabcd1234, 0x8; mov 0x8, %eax; mov %eax, m32_res+28\n"	// page 0: not mapped when paging is on
"	mov $0xffffffff, %eax; add $1, %eax; pushfl; popl %eax; mov %eax, m32_res+32\n"
"	call 1f; jmp 2f\n"
"1:	mov $0x5a5a, %eax; ret\n"
"2:	mov %eax, m32_res+36\n"
"	mov $1, %eax; mov $2, %ecx; mov $3, %edx; mov $4, %ebx; mov $5, %ebp; mov $6, %esi; mov $7, %edi\n"
"	mov %esp, m32_res+40\n"
"	pushal; movl $0, %eax; movl $0, %edi; mov 12(%esp), %ecx; mov %ecx, m32_res+44; popal\n"
"	mov %edi, m32_res+48; mov %eax, m32_res+52; mov %esp, m32_res+56\n"
"m32_ud2:\n"
"	ud2\n"
"m32_pm_after_ud:\n"
"m32_gp_null:\n"
"	.byte 0xea; .long m32_pm_after_gp1; .word 0\n"	// ljmp $0, $...: #GP(0)
"m32_pm_after_gp1:\n"
"	mov %cr4, %eax; mov %eax, %ebx; and $~0x20, %eax; mov %eax, %cr4\n"
"	mov %cr0, %eax; or $0x80000000, %eax\n"
"m32_gp_pae:\n"
"	mov %eax, %cr0\n"			// LME=1 and PAE=0: #GP(0)
"m32_pm_after_gp2:\n"
"	mov %ebx, %cr4\n"
"	mov $0xc0000080, %ecx; rdmsr; and $~0x100, %eax; wrmsr\n"	// LME may change while PG=0
"	rdmsr; mov %eax, m32_res+84\n"
"	mov m32_cr3, %eax; mov %eax, %cr3\n"
"	mov $0xc0000080, %ecx; rdmsr; or $0x100, %eax; wrmsr\n"
"	mov %cr0, %eax; or $0x80000000, %eax; mov %eax, %cr0\n"	// IA-32e mode again
"	mov $0xc0000080, %ecx; rdmsr; mov %eax, m32_res+60\n"
"	mov %cs, %eax; mov %eax, m32_res+64\n"
"	ljmpl $0x08, $m32_back64\n"
"	.code64\n"
"m32_back64:\n"
"	mov %cs, %eax; mov %eax, m32_res+68(%rip)\n"
"	mov m32_saved_rsp(%rip), %rsp\n"
"	mov $0x10, %eax; mov %eax, %ds; mov %eax, %es; mov %eax, %ss\n"
"	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
"	ret\n"
// 32-bit interrupt gates of the protected-mode part
"	.code32\n"
"m32_pm_ud:\n"
"	mov (%esp), %eax; mov %eax, m32_res+72\n"
"	mov 4(%esp), %eax; mov %eax, m32_res+76\n"
"	mov 8(%esp), %eax; mov %eax, m32_res+80\n"
"	movl $m32_pm_after_ud, (%esp)\n"
"	iretl\n"
"m32_pm_gp:\n"
"	pop %eax\n"
"	mov m32_gpcount, %edx; mov %eax, m32_gperr(,%edx,4)\n"
"	mov (%esp), %eax; mov %eax, m32_gpeip(,%edx,4)\n"
"	mov m32_gpresume(,%edx,4), %eax; mov %eax, (%esp)\n"
"	incl m32_gpcount\n"
"	iretl\n"
"	.code64\n");

static void
gate32(int vec, u32 handler)
{
	idt32[vec] = (handler & 0xffff) | ((u64)KCODE32 << 16) | (0x8eULL << 40) | ((u64)(handler >> 16) << 48);
}


static void
t_trampoline(void)
{
	memset((void *)m32_res, 0, sizeof m32_res);
	m32_gpcount = 0;
	m32_gpresume[0] = (u32)(u64)m32_pm_after_gp1;
	m32_gpresume[1] = (u32)(u64)m32_pm_after_gp2;
	m32_to_compat.off = (u32)(u64)m32_compat;
	m32_to_compat.sel = KCODE32;
	m32_cr3 = (u32)read_cr3();
	memset(idt32, 0, sizeof idt32);
	gate32(6, (u32)(u64)m32_pm_ud);
	gate32(13, (u32)(u64)m32_pm_gp);
	m32_idt32_desc.limit = sizeof idt32 - 1;
	m32_idt32_desc.base = (u32)(u64)idt32;
	u64 efer = rdmsr(MSR_EFER), cr0 = read_cr0();
	trap_reset();
	__asm__ volatile("call m32_trampoline" : : : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
	trap_hook(13, 0);
	idt_load(256 * 16 - 1);

	check_eq("compat.cs", KCODE32, m32_res[0]);
	check_eq("compat.efer_lma_lme", efer & 0xffffffff, m32_res[1]);
	check_eq("compat.inc_40_is_inc_eax", (efer + 1) & 0xffffffff, m32_res[2]);
	check_eq("compat.push_pop_imm32", 0x11223344, m32_res[3]);
	check_eq("compat.esp_balanced", 0, m32_res[4]);
	check_eq("pm.efer_lme_no_lma", (efer & ~0x400ULL) & 0xffffffff, m32_res[5]);
	check_eq("pm.cr0_pg_clear", (cr0 & ~0x80000000ULL) & 0xffffffff, m32_res[6]);
	check_eq("pm.phys_page0_unpaged", 0xabcd1234, m32_res[7]);
	check_eq("pm.add_flags", FL_CF | FL_ZF | (1 << 2) | (1 << 4), m32_res[8] & 0x8d5);
	check_eq("pm.near_call_ret", 0x5a5a, m32_res[9]);
	check_eq("pm.pushad_esp_slot", m32_res[10], m32_res[11]);
	check_eq("pm.popad_edi", 7, m32_res[12]);
	check_eq("pm.popad_eax", 1, m32_res[13]);
	check_eq("pm.popad_esp_balanced", m32_res[10], m32_res[14]);
	check_eq("pm.ud_eip", (u32)(u64)m32_ud2, m32_res[18]);
	check_eq("pm.ud_cs", KCODE32, m32_res[19]);
	check_true("pm.ud_eflags_if_clear", (m32_res[20] & 0x200) == 0, "IF=0", m32_res[20]);
	check_eq("pm.gp_count", 2, m32_gpcount);
	check_eq("pm.gp_null_selector_err", 0, m32_gperr[0]);
	check_eq("pm.gp_null_selector_eip", (u32)(u64)m32_gp_null, m32_gpeip[0]);
	check_eq("pm.gp_pg_without_pae_err", 0, m32_gperr[1]);
	check_eq("pm.gp_pg_without_pae_eip", (u32)(u64)m32_gp_pae, m32_gpeip[1]);
	check_eq("pm.efer_lme_cleared_without_paging", (efer & ~0x500ULL) & 0xffffffff, m32_res[21]);
	check_eq("back.efer_lma_lme", efer & 0xffffffff, m32_res[15]);
	check_eq("back.still_compat_cs", KCODE32, m32_res[16]);
	check_eq("back.cs64", KCODE, m32_res[17]);
	check_eq("back.cr0", cr0, read_cr0());
	check_eq("back.efer", efer, rdmsr(MSR_EFER));
}

// ---- far transfers from 64-bit mode that must fault ----
__asm__(
"	.code32\n"
"m32_bad_landing:\n"
"	ljmpl $0x08, $1f\n"
"	.code64\n"
"1:	jmp *probe_resume(%rip)\n");

static void
probe_ljmp(u16 sel, u32 off)
{
	m32_far.off = off;
	m32_far.sel = sel;
	__asm__ volatile(PROBE("ljmpl *m32_far(%%rip)") : : : "r11", "memory");
}

static void
probe_movseg(int ss, u16 sel)
{
	if (ss)
		__asm__ volatile(PROBE("movw %0, %%ss") : : "r"(sel) : "r11", "memory");
	else
		__asm__ volatile(PROBE("movw %0, %%ds") : : "r"(sel) : "r11", "memory");
	__asm__ volatile("movw %0, %%ds; movw %0, %%ss" : : "r"((u16)KDATA));
}

static void
t_far_faults(void)
{
	u32 land = (u32)(u64)m32_bad_landing;
	struct { const char *name; u16 sel; u32 off; int vec; u32 err; } c[] = {
		{ "ljmp.null_gp0", 0, land, 13, 0 },
		{ "ljmp.data_segment_gp", KDATA, land, 13, KDATA },
		{ "ljmp.dpl3_nonconforming_gp", 0x18, land, 13, 0x18 },
		{ "ljmp.rpl3_gp", KCODE32 | 3, land, 13, KCODE32 },
		{ "ljmp.conforming_dpl3_gp", CONF3_CODE32, land, 13, CONF3_CODE32 },
		{ "ljmp.not_present_np", NP_CODE32, land, 11, NP_CODE32 },
		{ "ljmp.l_and_d_gp", LD_CODE, land, 13, LD_CODE },
		{ "ljmp.beyond_gdt_limit_gp", 0x100, land, 13, 0x100 },
		{ "ljmp.ldt_without_ldt_gp", 0x44, land, 13, 0x44 },
		{ "ljmp.offset_beyond_limit_gp0", SMALL_CODE32, 0x2000, 13, 0 },
	};
	for (unsigned i = 0; i < sizeof c / sizeof c[0]; i++) {
		trap_reset();
		probe_ljmp(c[i].sel, c[i].off);
		check_trap(c[i].name, c[i].vec, c[i].err, probe_rip, NOCR2);
	}
	trap_reset();
	probe_movseg(0, XO_CODE32);
	check_trap("mov_ds.execute_only_code_gp", 13, XO_CODE32, probe_rip, NOCR2);
	trap_reset();
	probe_movseg(0, NP_DATA);
	check_trap("mov_ds.not_present_np", 11, NP_DATA, probe_rip, NOCR2);
	trap_reset();
	probe_movseg(1, UDATA);
	check_trap("mov_ss.rpl_dpl_3_gp", 13, UDATA & ~3, probe_rip, NOCR2);
	trap_reset();
	probe_movseg(1, KCODE32);
	check_trap("mov_ss.code_segment_gp", 13, KCODE32, probe_rip, NOCR2);
	trap_reset();
	probe_movseg(0, KCODE32);
	check_notrap("mov_ds.readable_code_ok");

	// SDM MOV CR / WRMSR: the transitions 64-bit mode forbids.
	u64 cr0 = read_cr0(), cr4 = read_cr4(), efer = rdmsr(MSR_EFER);
	trap_reset();
	__asm__ volatile(PROBE("mov %0, %%cr0") : : "r"(cr0 & ~0x80000000ULL) : "r11", "memory");
	check_trap("cr0.clear_pg_in_64bit_mode_gp", 13, 0, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("mov %0, %%cr4") : : "r"(cr4 & ~0x20ULL) : "r11", "memory");
	check_trap("cr4.clear_pae_in_ia32e_gp", 13, 0, probe_rip, NOCR2);
	trap_reset();
	__asm__ volatile(PROBE("wrmsr") : : "c"(MSR_EFER), "a"((u32)(efer & ~0x100ULL)), "d"((u32)(efer >> 32)) : "r11", "memory");
	check_trap("efer.clear_lme_with_paging_gp", 13, 0, probe_rip, NOCR2);
	check_eq("modes.unchanged", cr0 | (efer << 32), read_cr0() | (rdmsr(MSR_EFER) << 32));

	// LRETQ to the reserved L=1, D=1 segment.
	trap_reset();
	__asm__ volatile("pushq %0\n\tpushq %1\n\t" PROBE("lretq") "addq $16, %%rsp"
	    : : "i"(LD_CODE), "r"((u64)m32_bad_landing) : "r11", "memory");
	check_trap("lretq.l_and_d_gp", 13, LD_CODE, probe_rip, NOCR2);

	// An LDT: a flat data segment at LDT index 1 (selector 0x0c).
	u64 base = (u64)ldt;
	ldt[1] = 0x00cf93000000ffffULL;
	gdt[LDTSEL / 8] = 0x1fULL | ((base & 0xffffff) << 16) | (0x82ULL << 40) | (((base >> 24) & 0xff) << 56);
	gdt[LDTSEL / 8 + 1] = base >> 32;
	u16 ds = 0;
	trap_reset();
	__asm__ volatile("lldt %w1; movw %w2, %%ds; movw %%ds, %0; movw %w3, %%ds" : "=r"(ds)
	    : "r"((u16)LDTSEL), "r"((u16)0x0c), "r"((u16)KDATA) : "memory");
	check_eq("lldt.ds_from_ldt", 0x0c, ds);
	trap_reset();
	__asm__ volatile(PROBE("lldt %w0") : : "r"((u16)KDATA) : "r11", "memory");
	check_trap("lldt.not_an_ldt_gp", 13, KDATA, probe_rip, NOCR2);
	__asm__ volatile("lldt %w0" : : "r"((u16)0));
}

// ---- LRET, IRET and LCALL between the modes; exceptions in compatibility mode ----
__asm__(
"	.code64\n"
"m32_lret_test:\n"
"	pushq $0x40; leaq 1f(%rip), %rax; pushq %rax; lretq\n"
"	.code32\n"
"1:	mov %cs, %eax; mov %eax, m32_res+0\n"
"	pushl $0x08; pushl $2f; lretl\n"
"	.code64\n"
"2:	mov %cs, %eax; mov %eax, m32_res+4(%rip)\n"
"	ret\n"
"m32_iret_test:\n"
"	mov %rsp, %rdx\n"
"	pushq $0x10; pushq %rdx; pushfq; pushq $0x40; leaq 1f(%rip), %rax; pushq %rax; iretq\n"
"	.code32\n"
"1:	mov %cs, %eax; mov %eax, m32_res+8\n"
"	mov %esp, %edx\n"
"	pushfl; pushl $0x08; pushl $2f; iretl\n"
"	.code64\n"
"2:	mov %cs, %eax; mov %eax, m32_res+12(%rip)\n"
"	sub %esp, %edx; mov %edx, m32_res+16(%rip)\n"	// IRETD to the same level pops 3 slots, not SS:ESP
"	ret\n"
"m32_lcall_test:\n"
"	lcall *m32_far(%rip)\n"
"	mov %eax, m32_res+20(%rip)\n"
"	mov %cs, %eax; mov %eax, m32_res+24(%rip)\n"
"	ret\n"
"	.code32\n"
"m32_compat_fn:\n"
"	mov 4(%esp), %eax; mov %eax, m32_res+28\n"	// the CS slot the call pushed
"	mov %cs, %eax\n"
"	lretl\n"
"	.code64\n"
"m32_ud_test:\n"
"	push %rbx\n"
"	mov %rsp, m32_saved_rsp(%rip)\n"
"	pushq $0x40; leaq 1f(%rip), %rax; pushq %rax; lretq\n"
"	.code32\n"
"1:	mov $0x1234, %ebx\n"
"m32_ud_rip:\n"
"	ud2\n"
"	.code64\n"
"m32_ud_back64:\n"
"	mov m32_saved_rsp(%rip), %rsp\n"
"	mov %ebx, m32_res+32(%rip)\n"
"	pop %rbx\n"
"	ret\n"
"m32_int3_test:\n"
"	pushq $0x40; leaq 1f(%rip), %rax; pushq %rax; lretq\n"
"	.code32\n"
"1:	int3\n"
"	mov %cs, %eax; mov %eax, m32_res+36\n"		// back in compatibility mode after IRETQ
"	pushl $0x08; pushl $2f; lretl\n"
"	.code64\n"
"2:	ret\n");

static void
ud_hook(struct trapframe *f)
{
	f->rip = (u64)m32_ud_back64;
	f->cs = KCODE;
}

static void
just_return(struct trapframe *f)
{
	(void)f;
}

static void
t_transfers(void)
{
	memset((void *)m32_res, 0, sizeof m32_res);
	__asm__ volatile("call m32_lret_test" : : : "rax", "memory");
	check_eq("lretq.to_compat_cs", KCODE32, m32_res[0]);
	check_eq("lretl.to_64bit_cs", KCODE, m32_res[1]);
	__asm__ volatile("call m32_iret_test" : : : "rax", "rdx", "memory");
	check_eq("iretq.to_compat_cs", KCODE32, m32_res[2]);
	check_eq("iretl.to_64bit_cs", KCODE, m32_res[3]);
	check_eq("iretl.same_level_pops_12_bytes", 0, m32_res[4]);
	m32_far.off = (u32)(u64)m32_compat_fn;
	m32_far.sel = KCODE32;
	__asm__ volatile("call m32_lcall_test" : : : "rax", "memory");
	check_eq("lcall_m1632.cs_in_compat", KCODE32, m32_res[5]);
	check_eq("lcall_m1632.pushed_cs", KCODE, m32_res[7]);
	check_eq("lcall_m1632.back_in_64bit", KCODE, m32_res[6]);

	trap_reset();
	trap_hook(6, ud_hook);
	__asm__ volatile("call m32_ud_test" : : : "rax", "rcx", "rdx", "memory");
	trap_hook(6, 0);
	check_trap("compat.ud2_through_64bit_idt", 6, NOERR, (u64)m32_ud_rip, NOCR2);
	check_eq("compat.ud2_frame_cs", KCODE32, last.cs);
	check_eq("compat.ud2_frame_ss", KDATA, last.ss);
	check_eq("compat.ebx_kept", 0x1234, m32_res[8]);

	trap_reset();
	trap_hook(3, just_return);
	__asm__ volatile("call m32_int3_test" : : : "rax", "memory");
	trap_hook(3, 0);
	check_eq("compat.int3_traps", 1, ntraps);
	check_eq("compat.int3_frame_cs", KCODE32, last.cs);
	check_eq("compat.iretq_back_to_compat", KCODE32, m32_res[9]);
}

int
main(void)
{
	cpu_init("mode32");
	gdt[KCODE32 / 8] = 0x00cf9b000000ffffULL;
	gdt[NP_CODE32 / 8] = 0x00cf1b000000ffffULL;
	gdt[LD_CODE / 8] = 0x00ef9b000000ffffULL;
	gdt[XO_CODE32 / 8] = 0x00cf99000000ffffULL;
	gdt[SMALL_CODE32 / 8] = 0x00409b0000000fffULL;
	gdt[NP_DATA / 8] = 0x00cf13000000ffffULL;
	gdt[CONF3_CODE32 / 8] = 0x00cffe000000ffffULL;
	run("trampoline", t_trampoline);
	run("far_faults", t_far_faults);
	run("transfers", t_transfers);
	return report("mode32");
}
