/*
 * smp.c: the machine's x2APIC and SMP start protocol (docs/BOOT.md), checked from inside.
 * Booted as a kernel (`lvd boot --kernel smp.elf --cpus N`): RDI holds the boot-info block.
 * Checks: boot info; APIC timer in one-shot, periodic and TSC-deadline modes (interrupts
 * arrive, at the programmed modeled time); self IPI; priority (TPR masks a class); nested
 * interrupts; starting every AP through INIT/SIPI and its mailbox; fixed IPIs from every AP
 * to the BSP and from the BSP to every AP; NMI IPI.  Prints PASS/FAIL and a summary.
 */
#include <stdio.h>
#include <string.h>

struct boot_info {
	unsigned long magic;
	unsigned int version, cpu_count;
	unsigned long cmdline, mailbox, tsc_hz;
	unsigned int mmap_count, reserved;
	struct { unsigned long base, length; unsigned int type, pad; } mmap[];
};

static int passed, failed;
static volatile int lock;

static void acquire(void) { while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE)) __asm__ volatile("pause"); }
static void release(void) { __atomic_store_n(&lock, 0, __ATOMIC_RELEASE); }

static void check(const char *name, long got, long want)
{
	acquire();
	if (got == want) { passed++; printf("PASS %s\n", name); }
	else { failed++; printf("FAIL %s: expected %ld got %ld\n", name, want, got); }
	release();
}

static unsigned long rdmsr(unsigned int msr)
{
	unsigned int lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((unsigned long)hi << 32) | lo;
}

static void wrmsr(unsigned int msr, unsigned long v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((unsigned int)v), "d"((unsigned int)(v >> 32)) : "memory");
}

static unsigned long rdtsc(void)
{
	unsigned int lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((unsigned long)hi << 32) | lo;
}

/* ---- IDT: one stub per vector we use, all into one C handler ---- */
struct idt_entry { unsigned short off0, sel; unsigned char ist, type; unsigned short off1; unsigned int off2, zero; };
static struct idt_entry idt[256] __attribute__((aligned(16)));
static volatile unsigned long hits[64][256];
static volatile unsigned long when[64][256];
static volatile int nested_seen;

void isr_common(unsigned long vector);
void isr_common(unsigned long vector)
{
	unsigned int cpu = (unsigned int)rdmsr(0x802);
	hits[cpu][vector]++;
	when[cpu][vector] = rdtsc();
	if (vector == 0x40) {
		/* Nested: enable interrupts inside a low-priority handler and take a higher one. */
		wrmsr(0x83f, 0x90);
		__asm__ volatile("sti; nop; nop; cli");
		nested_seen = hits[cpu][0x90] != 0;
	}
	if (vector != 2) wrmsr(0x80b, 0); /* EOI (not for NMI) */
}

#define STUB(v) \
	extern char stub_##v[]; \
	__asm__(".text\nstub_" #v ":\n push %rax\n push %rcx\n push %rdx\n push %rsi\n push %rdi\n push %r8\n push %r9\n push %r10\n push %r11\n" \
		" mov $" #v ", %edi\n call isr_common\n pop %r11\n pop %r10\n pop %r9\n pop %r8\n pop %rdi\n pop %rsi\n pop %rdx\n pop %rcx\n pop %rax\n iretq\n");
STUB(2) STUB(0x40) STUB(0x50) STUB(0x60) STUB(0x70) STUB(0x80) STUB(0x90)

static void set_gate(int v, void *h)
{
	unsigned long a = (unsigned long)h;
	idt[v] = (struct idt_entry){ (unsigned short)a, 0x08, 0, 0x8e, (unsigned short)(a >> 16), (unsigned int)(a >> 32), 0 };
}

static void load_idt(void)
{
	struct { unsigned short limit; unsigned long base; } __attribute__((packed)) d = { sizeof idt - 1, (unsigned long)idt };
	__asm__ volatile("lidt %0" : : "m"(d));
}

static void apic_enable(void) { wrmsr(0x80f, 0x1ff); }

/* Wait with interrupts on until hits[cpu][v] reaches n (or a deadline of modeled cycles). */
static int wait_hits(unsigned int cpu, int v, unsigned long n)
{
	unsigned long t0 = rdtsc();
	while (hits[cpu][v] < n) {
		__asm__ volatile("sti; hlt; cli");
		if (rdtsc() - t0 > 100000000UL)
			return 0;
	}
	return 1;
}

static void spin_with_interrupts(unsigned long cycles)
{
	unsigned long t0 = rdtsc();
	__asm__ volatile("sti");
	while (rdtsc() - t0 < cycles)
		__asm__ volatile("pause");
	__asm__ volatile("cli");
}

/* ---- APs ---- */
static volatile int ap_up[64];
static unsigned char ap_stack[64][8192] __attribute__((aligned(16)));

void ap_main(unsigned long id);
void ap_main(unsigned long id)
{
	load_idt();
	apic_enable();
	ap_up[id] = (int)rdmsr(0x802) + 1;
	wrmsr(0x830, (0UL << 32) | 0x50);	/* fixed IPI 0x50 to the BSP */
	wait_hits((unsigned int)id, 0x60, 1);	/* the BSP answers with 0x60 */
	ap_up[id] = 1000 + (int)id;
	for (;;)
		__asm__ volatile("sti; hlt");
}

/* crt0 keeps the loader's RDI (the boot-info block) in __lvd_entry_rdi. */
extern unsigned long __lvd_entry_rdi;

int main(void)
{
	struct boot_info *bi = (struct boot_info *)__lvd_entry_rdi;
	check("boot.magic", bi->magic == 0x4c56442d424f4f54UL, 1);
	check("boot.version", bi->version, 1);
	int n = (int)bi->cpu_count;
	printf("cpus %d tsc_hz %lu cmdline \"%s\" mmap %u\n", n, bi->tsc_hz, (char *)bi->cmdline, bi->mmap_count);
	unsigned long usable = 0;
	for (unsigned int i = 0; i < bi->mmap_count; i++)
		if (bi->mmap[i].type == 1)
			usable += bi->mmap[i].length;
	check("boot.usable_ram_mib", usable >= (32UL << 20), 1);

	for (int v = 0x40; v <= 0x90; v += 0x10)
		set_gate(v, v == 0x40 ? stub_0x40 : v == 0x50 ? stub_0x50 : v == 0x60 ? stub_0x60 : v == 0x70 ? stub_0x70 : v == 0x80 ? stub_0x80 : stub_0x90);
	set_gate(2, stub_2);
	load_idt();
	apic_enable();
	check("apic.id", (long)rdmsr(0x802), 0);
	check("apic.x2apic_enabled", (rdmsr(0x1b) >> 10) & 3, 3);

	/* One-shot timer, divide by 1: fires 5000 modeled cycles after the write. */
	wrmsr(0x83e, 0xb);
	wrmsr(0x832, 0x70);
	unsigned long t0 = rdtsc();
	wrmsr(0x838, 5000);
	check("timer.oneshot.fired", wait_hits(0, 0x70, 1), 1);
	long late = (long)(when[0][0x70] - t0);
	printf("one-shot of 5000 cycles arrived after %ld\n", late);
	check("timer.oneshot.on_time", late >= 5000 && late < 6500, 1);
	spin_with_interrupts(20000);
	check("timer.oneshot.once", (long)hits[0][0x70], 1);

	/* Periodic: 10 ticks of 2000 cycles. */
	wrmsr(0x832, 0x70 | (1 << 17));
	hits[0][0x70] = 0;
	t0 = rdtsc();
	wrmsr(0x838, 2000);
	check("timer.periodic.ten_ticks", wait_hits(0, 0x70, 10), 1);
	long span = (long)(when[0][0x70] - t0);
	printf("10 periodic ticks of 2000 cycles took %ld\n", span);
	check("timer.periodic.span", span >= 20000 && span < 22500, 1);
	wrmsr(0x838, 0);

	/* TSC deadline. */
	wrmsr(0x832, 0x70 | (2 << 17));
	hits[0][0x70] = 0;
	unsigned long deadline = rdtsc() + 30000;
	wrmsr(0x6e0, deadline);
	check("timer.deadline.fired", wait_hits(0, 0x70, 1), 1);
	check("timer.deadline.on_time", when[0][0x70] >= deadline && when[0][0x70] < deadline + 1500, 1);

	/* Self IPI, TPR masking, nesting. */
	wrmsr(0x808, 0x80);	/* TPR class 8: vector 0x80 blocked, 0x90 allowed */
	wrmsr(0x83f, 0x80);
	__asm__ volatile("sti; nop; nop; cli");
	check("tpr.blocks_class", (long)hits[0][0x80], 0);
	wrmsr(0x808, 0);
	__asm__ volatile("sti; nop; nop; cli");
	check("tpr.lowered_delivers", (long)hits[0][0x80], 1);
	wrmsr(0x83f, 0x40);
	__asm__ volatile("sti; nop; nop; cli");
	check("nested.higher_inside_lower", nested_seen, 1);

	/* Start every AP, take an IPI from each, answer each. */
	unsigned long *mb = (unsigned long *)bi->mailbox;
	for (int i = 1; i < n; i++) {
		mb[i * 8 + 0] = (unsigned long)ap_main;
		mb[i * 8 + 1] = (unsigned long)&ap_stack[i][8192];
		mb[i * 8 + 2] = (unsigned long)i;
		wrmsr(0x830, ((unsigned long)i << 32) | (5 << 8));	/* INIT */
		wrmsr(0x830, ((unsigned long)i << 32) | (6 << 8));	/* SIPI */
	}
	/* Fixed IPIs of one vector from several APs may coalesce in the IRR (one bit per vector,
	 * SDM 11.8.4), so wait for every AP's flag and check that IPIs arrived at all. */
	for (int spins = 0; spins < 1000; spins++) {
		int all = 1;
		for (int i = 1; i < n; i++)
			all &= ap_up[i] != 0;
		if (all)
			break;
		spin_with_interrupts(10000);
	}
	spin_with_interrupts(10000);
	check("ipi.from_aps", n == 1 || hits[0][0x50] >= 1, 1);
	int up = 0;
	for (int i = 1; i < n; i++)
		up += ap_up[i] == i + 1 || ap_up[i] == 1000 + i;
	check("smp.all_aps_up", up, n - 1);
	wrmsr(0x830, (3UL << 18) | 0x60);	/* all excluding self */
	spin_with_interrupts(200000);
	int answered = 0;
	for (int i = 1; i < n; i++)
		answered += ap_up[i] == 1000 + i;
	check("ipi.broadcast_reached_every_ap", answered, n - 1);

	/* NMI IPI to self. */
	wrmsr(0x830, (1UL << 18) | (4 << 8));
	check("ipi.nmi", (long)hits[0][2], 1);

	printf("smp: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}

