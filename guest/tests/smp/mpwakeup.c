// mpwakeup.c: application processors started as Linux 6.1 starts them on a
// platform whose MADT has a multiprocessor-wakeup structure (ACPI 6.4
// 5.2.12.19): the BSP finds the mailbox through the ACPI tables, writes
// ApicId and WakeupVector, then Command = 1, and waits for the firmware's
// acknowledgment (Command = 0).  The wakeup vector is a copy of the sequence
// of Linux's trampoline_start64 (arch/x86/realmode/rm/trampoline_64.S):
// LIDT (a null IDT), LGDT of a GDT with 32- and 64-bit code, a far jump into
// compatibility mode, CR0.PG=0 (out of IA-32e mode), a far jump into 32-bit
// protected mode, data segments, CR4, CR3, EFER through WRMSR, CR0 with PG
// (IA-32e mode again) and a far jump to the 64-bit code segment, which jumps
// to the C entry point.  Each AP then reports its state and halts.
//
// Run as an lvd exec program on the PC platform with 4 vCPUs and the mailbox
// configured (tests/Lvd.Tests/MpWakeupTests.cs).

#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "x86.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define MAXCPU		8
#define KERNEL32_CS	0x08	// Linux's GDT layout in the trampoline
#define KERNEL_CS	0x10
#define KERNEL_DS	0x18
#define CR0_STATE	0x80050033u	// PE MP ET NE WP AM PG, as Linux's trampoline sets it
#define MSR_X2APIC_ID	0x802

static int npass, nfail;

static void
check(const char *name, int ok, u64 got)
{
	if (ok)
		npass++;
	else
		nfail++;
	printf("%s %s (0x%llx)\n", ok ? "PASS" : "FAIL", name, (unsigned long long)got);
}

// ---- the trampoline and what it reads ----

u64 tr_gdt[4] __attribute__((aligned(16))) = {
	0, 0x00cf9b000000ffffULL, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL,
};
struct __attribute__((packed)) { u16 limit; u64 base; } tr_gdt64 = { sizeof tr_gdt - 1, 0 };
struct __attribute__((packed)) { u16 limit; u64 base; } tr_idt = { 0, 0 };
struct __attribute__((packed)) { u32 off; u16 sel; } tr_compat;
u32 tr_flags, tr_cr4, tr_cr3, tr_efer_lo, tr_efer_hi, tr_stack32;
u64 tr_start, tr_stack64;

extern char trampoline_start64[], trampoline_compat[], ap_entry64[];

__asm__(
"	.text\n"
"	.code64\n"
"	.balign 16\n"
"trampoline_start64:\n"
"	lidt tr_idt(%rip)\n"
"	lgdt tr_gdt64(%rip)\n"
"	ljmpl *tr_compat(%rip)\n"
"	.code32\n"
"trampoline_compat:\n"
"	movl tr_stack32, %esp\n"
"	movw $0x18, %dx\n"
"	movl $0x80050033 & ~0x80000000, %eax\n"
"	movl %eax, %cr0\n"
"	ljmpl $0x08, $startup_32\n"
"startup_32:\n"
"	movl %edx, %ss\n"
"	movl %edx, %ds\n"
"	movl %edx, %es\n"
"	movl %edx, %fs\n"
"	movl %edx, %gs\n"
"	btl $0, tr_flags\n"			// Linux: the SME bit; never set here
"	jnc 1f\n"
"	ud2\n"
"1:	movl tr_cr4, %eax\n"
"	movl %eax, %cr4\n"
"	movl tr_cr3, %eax\n"
"	movl %eax, %cr3\n"
"	movl $0xc0000080, %ecx\n"
"	rdmsr\n"				// Linux skips the write when EFER already holds the value
"	cmpl tr_efer_lo, %eax\n"
"	jne 3f\n"
"	cmpl tr_efer_hi, %edx\n"
"	je 4f\n"
"3:	movl tr_efer_lo, %eax\n"
"	movl tr_efer_hi, %edx\n"
"	wrmsr\n"
"4:\n"
"	movl $0x80050033, %eax\n"
"	movl %eax, %cr0\n"
"	ljmpl $0x10, $startup_64\n"
"	.code64\n"
"startup_64:\n"
"	jmpq *tr_start(%rip)\n"
"ap_entry64:\n"
"	movq tr_stack64(%rip), %rsp\n"
"	call ap_main\n"
"2:	cli; hlt; jmp 2b\n");

// ---- what each AP reports ----

struct apstate {
	u64 apic_id, cr0, cr4, efer, rflags;
	u16 cs, ss, ds, es, fs, gs;
	u32 arrived;
};
static volatile struct apstate ap[MAXCPU];
static u8 ap_stack[MAXCPU][8192] __attribute__((aligned(16)));

void
ap_main(void)
{
	struct apstate s;
	u64 cr0, cr4;

	s.apic_id = rdmsr(MSR_X2APIC_ID);
	__asm__ volatile("mov %%cr0, %0; mov %%cr4, %1" : "=r"(cr0), "=r"(cr4));
	s.cr0 = cr0;
	s.cr4 = cr4;
	s.efer = rdmsr(MSR_EFER);
	__asm__ volatile("pushfq; popq %0" : "=r"(s.rflags));
	__asm__ volatile("mov %%cs, %0; mov %%ss, %1; mov %%ds, %2" : "=r"(s.cs), "=r"(s.ss), "=r"(s.ds));
	__asm__ volatile("mov %%es, %0; mov %%fs, %1; mov %%gs, %2" : "=r"(s.es), "=r"(s.fs), "=r"(s.gs));
	u32 id = (u32)s.apic_id;
	if (id >= MAXCPU)
		return;
	ap[id].apic_id = s.apic_id;
	ap[id].cr0 = s.cr0;
	ap[id].cr4 = s.cr4;
	ap[id].efer = s.efer;
	ap[id].rflags = s.rflags;
	ap[id].cs = s.cs;
	ap[id].ss = s.ss;
	ap[id].ds = s.ds;
	ap[id].es = s.es;
	ap[id].fs = s.fs;
	ap[id].gs = s.gs;
	__atomic_store_n(&ap[id].arrived, 1, __ATOMIC_RELEASE);
}

// ---- ACPI: RSDP -> XSDT -> MADT ----

static u64
find_mailbox(int *cpus)
{
	for (u64 p = 0xe0000; p < 0x100000; p += 16) {
		if (memcmp((void *)p, "RSD PTR ", 8) != 0)
			continue;
		u64 xsdt = *(u64 *)(p + 24);
		u32 len = *(u32 *)(xsdt + 4);
		for (u64 e = xsdt + 36; e < xsdt + len; e += 8) {
			u64 t = *(u64 *)e;
			if (memcmp((void *)t, "APIC", 4) != 0)
				continue;
			u32 tlen = *(u32 *)(t + 4);
			u64 mailbox = 0;
			*cpus = 0;
			for (u64 s = t + 44; s < t + tlen; s += *(u8 *)(s + 1)) {
				u8 type = *(u8 *)s;
				if (type == 0 && (*(u32 *)(s + 4) & 1))
					(*cpus)++;
				if (type == 0x10)
					mailbox = *(u64 *)(s + 8);
			}
			return mailbox;
		}
	}
	return 0;
}

struct mailbox {
	volatile u16 command;
	u16 reserved;
	volatile u32 apic_id;
	volatile u64 wakeup_vector;
};

// Spins (with PAUSE, as Linux's cpu_relax) until the command is acknowledged; the iterations left.
static long
wait_ack(struct mailbox *mb, long timeout)
{
	while (__atomic_load_n(&mb->command, __ATOMIC_ACQUIRE) != 0 && --timeout)
		__asm__ volatile("pause");
	return timeout;
}

int
main(void)
{
	int cpus = 0;
	u64 addr = find_mailbox(&cpus);
	check("madt.mp_wakeup_structure", addr != 0 && (addr & 0xfff) == 0, addr);
	check("madt.four_processors", cpus == 4, cpus);
	if (addr == 0 || cpus < 2 || cpus > MAXCPU)
		return 1;
	struct mailbox *mb = (struct mailbox *)addr;

	u64 cr0, cr4, cr3;
	__asm__ volatile("mov %%cr0, %0; mov %%cr4, %1; mov %%cr3, %2" : "=r"(cr0), "=r"(cr4), "=r"(cr3));
	u64 efer = rdmsr(MSR_EFER);
	tr_gdt64.base = (u64)tr_gdt;
	tr_compat.off = (u32)(u64)trampoline_compat;
	tr_compat.sel = KERNEL32_CS;
	tr_cr4 = (u32)cr4;
	tr_cr3 = (u32)cr3;
	tr_efer_lo = (u32)(efer & ~(1ULL << 10));	// as Linux saves it: without LMA
	tr_efer_hi = (u32)(efer >> 32);
	tr_start = (u64)ap_entry64;

	// Nobody answers a wakeup for an APIC ID that is not parked (the BSP's own).
	mb->apic_id = 0;
	mb->wakeup_vector = (u64)trampoline_start64;
	__atomic_store_n(&mb->command, 1, __ATOMIC_RELEASE);
	check("mailbox.bsp_id_not_acknowledged", wait_ack(mb, 2000) == 0, mb->command);
	__atomic_store_n(&mb->command, 0, __ATOMIC_RELEASE);

	for (int id = 1; id < cpus; id++) {
		char name[64];
		tr_stack32 = (u32)(u64)&ap_stack[id][4096];	// the 32-bit part's stack, below the C stack
		tr_stack64 = (u64)&ap_stack[id][8192];
		mb->apic_id = id;
		mb->wakeup_vector = (u64)trampoline_start64;
		__atomic_store_n(&mb->command, 1, __ATOMIC_RELEASE);
		long left = wait_ack(mb, 1000000);
		snprintf(name, sizeof name, "ap%d.acknowledged", id);
		check(name, left > 0, mb->command);
		long t = 10000000;
		while (!__atomic_load_n(&ap[id].arrived, __ATOMIC_ACQUIRE) && --t)
			__asm__ volatile("pause");
		snprintf(name, sizeof name, "ap%d.reached_64bit_entry", id);
		check(name, t > 0, id);
		if (t == 0)
			continue;
		snprintf(name, sizeof name, "ap%d.apic_id", id);
		check(name, ap[id].apic_id == (u64)id, ap[id].apic_id);
		snprintf(name, sizeof name, "ap%d.cr0", id);
		check(name, ap[id].cr0 == CR0_STATE, ap[id].cr0);
		snprintf(name, sizeof name, "ap%d.cr4", id);
		check(name, ap[id].cr4 == cr4, ap[id].cr4);
		snprintf(name, sizeof name, "ap%d.efer_lma", id);
		check(name, ap[id].efer == efer, ap[id].efer);
		snprintf(name, sizeof name, "ap%d.cs_ss_ds", id);
		check(name, ap[id].cs == KERNEL_CS && ap[id].ss == KERNEL_DS && ap[id].ds == KERNEL_DS && ap[id].es == KERNEL_DS
		    && ap[id].fs == KERNEL_DS && ap[id].gs == KERNEL_DS, ap[id].cs | (u64)ap[id].ss << 16 | (u64)ap[id].ds << 32);
		snprintf(name, sizeof name, "ap%d.interrupts_off", id);
		check(name, (ap[id].rflags & (1 << 9)) == 0, ap[id].rflags);
	}
	// A woken AP never returns to the mailbox: a second wakeup of AP 1 is not answered.
	mb->apic_id = 1;
	__atomic_store_n(&mb->command, 1, __ATOMIC_RELEASE);
	check("mailbox.woken_ap_not_parked", wait_ack(mb, 2000) == 0, mb->command);
	printf("mpwakeup: %d passed, %d failed\n", npass, nfail);
	return nfail == 0 ? 0 : 1;
}
