// selftest: a domain that misbehaves on request (docs/DOMAINS.md,
// "Isolation tests").  The kernel's LVD self test (guest/kernel/tests/lvd_test.c)
// calls each function through the real trampolines and checks that the
// domain is killed or the call rejected, and that the kernel goes on.

#include "lvd_driver.h"
#include <lvd/selftest.h>

long
driver_init(unsigned int ncpu)
{
	lvd_printf("selftest domain: up on %u cpus, heap at %#lx\n", ncpu, lvd_info->heap);
	return 0;
}

static inline unsigned long
rdtsc(void)
{
	unsigned int lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (unsigned long)hi << 32 | lo;
}

static long
recurse(long n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	return n == 0 ? pad[0] : recurse(n - 1) + pad[0];
}

long
driver_call(struct lvd_msg *m)
{
	unsigned long a = m->w[1];
	switch (lvd_msg_fn(m)) {
	case ST_WRITE:
		*(volatile unsigned long *)a = 0xbadbadbadUL;
		return 0;
	case ST_READ:
		m->w[1] = *(volatile unsigned long *)a;
		return 0;
	case ST_JUMP:
		((void (*)(void))a)();
		return 0;
	case ST_VMFUNC:
		__asm__ volatile("vmfunc" : : "a"(0), "c"(a) : "memory");
		return 0;
	case ST_INT:
		switch (a) {
		case 3: __asm__ volatile("int3"); break;
		case 0x20: __asm__ volatile("int $0x20"); break;
		case 0x80: __asm__ volatile("int $0x80"); break;
		default: __asm__ volatile("int $0xf0"); break;
		}
		return 0;
	case ST_CLI_LOOP:
		__asm__ volatile("cli; 1: jmp 1b");
		return 0;
	case ST_STI:
		__asm__ volatile("sti; nop; nop; nop");
		for (volatile unsigned long i = 0; i < a; i++)
			;
		return 0;
	case ST_WRMSR:
		__asm__ volatile("wrmsr" : : "c"(0xc0000101), "a"(0), "d"(0));
		return 0;
	case ST_MOVCR3:
		__asm__ volatile("mov %0, %%cr3" : : "r"(a) : "memory");
		return 0;
	case ST_LIDT: {
		struct { uint16_t l; uint64_t b; } __attribute__((packed)) d = { 0, 0 };
		__asm__ volatile("lidt %0" : : "m"(d));
		return 0;
	}
	case ST_OUT:
		__asm__ volatile("outb %%al, $0x80" : : "a"(0));
		return 0;
	case ST_HLT:
		__asm__ volatile("hlt");
		return 0;
	case ST_STACK:
		m->w[1] = (unsigned long)recurse(1000000);
		return 0;
	case ST_SWAPGS:
		__asm__ volatile("swapgs");
		return 0;
	case ST_UD2:
		__asm__ volatile("ud2");
		return 0;
	case ST_SPIN: {  // with interrupts on: a long call that interrupts preempt
		unsigned long sp0, sp1;
		__asm__ volatile("mov %%rsp, %0" : "=r"(sp0));
		for (volatile unsigned long i = 0; i < a; i++)
			;
		__asm__ volatile("mov %%rsp, %0" : "=r"(sp1));
		m->w[1] = sp0;   // the stack before and after the spin: the same one
		m->w[2] = sp1;   // if a preempted call resumed on its own stack
		return 0;
	}
	case ST_TAMPER:
		// Jump into the kernel's return trampoline right at its VMFUNC with an
		// ECX of our choosing (1: stay in this EPT), skipping the code that sets it.
		__asm__ volatile("jmp *%0" : : "r"(a), "a"(0), "c"(1) : "memory");
		return 0;
	case ST_POOLIDX: {
		// Hand the kernel a corrupt index into the shared pool.
		struct lvd_msg k = { { lvd_msg_word0(ST_KFN_POOL_SUM, 0), a, 64 } };
		return lvd_upcall_raw(&k);
	}
	case ST_GAPS: {
		// Interrupt cost inside a domain (lvd_bench.c): spin on RDTSC for
		// `a` cycles; a gap over 200 cycles is an interrupt taken here.
		unsigned long now = rdtsc(), end = now + a, prev = now, n = 0, sum = 0, min = ~0UL;
		while (now < end) {
			now = rdtsc();
			unsigned long g = now - prev;
			if (g < min)
				min = g;
			if (g > 200) {
				n++;
				sum += g;
			}
			prev = now;
		}
		m->w[1] = n;
		m->w[2] = sum;
		m->w[3] = min;
		return 0;
	}
	case ST_FLAGS:
		__asm__ volatile("pushq %0; popfq" : : "r"(a) : "memory", "cc");
		return 0;
	case ST_FLAGS_PRINT: {
		// The message is ready before the flags change: only the kernel's
		// side of the upcall runs with them (our own memcpy would not).
		struct lvd_msg k = { { lvd_msg_word0(LVD_KFN_PRINT, 0), 0x6c66207265707075UL, 0x0a736761UL } };
		k.w[7] = 13;   // "upcall flags\n"
		__asm__ volatile("pushq %0; popfq" : : "r"(a) : "memory", "cc");
		lvd_upcall_raw(&k);
		__asm__ volatile("cld" ::: "memory");
		return 0;
	}
	case ST_FLAGS_SPIN: {
		unsigned long n = m->w[2];
		__asm__ volatile("pushq %0; popfq" : : "r"(a | 0x200) : "memory", "cc");
		for (volatile unsigned long i = 0; i < n; i++)
			;
		return 0;
	}
	case ST_CR0: {
		unsigned long v;
		__asm__ volatile("mov %%cr0, %0" : "=r"(v));
		__asm__ volatile("mov %0, %%cr0" : : "r"(v ^ a) : "memory");
		return 0;
	}
	case ST_CR4: {
		unsigned long v;
		__asm__ volatile("mov %%cr4, %0" : "=r"(v));
		__asm__ volatile("mov %0, %%cr4" : : "r"(v ^ a) : "memory");
		return 0;
	}
	case ST_CR8:
		if (a == 0) {
			unsigned long v;
			__asm__ volatile("mov %%cr8, %0" : "=r"(v));
			m->w[1] = v;
		} else
			__asm__ volatile("mov %0, %%cr8" : : "r"(a) : "memory");
		return 0;
	case ST_CLTS:
		__asm__ volatile("clts");
		return 0;
	case ST_KGS:
		__asm__ volatile("swapgs; wrgsbase %0; swapgs" : : "r"(a) : "memory");
		return 0;
	case ST_FS:
		if (a == 0)
			__asm__ volatile("mov %0, %%fs" : : "r"(0x10) : "memory");
		else
			__asm__ volatile("wrfsbase %0" : : "r"(a) : "memory");
		return 0;
	case ST_WRGS:
		__asm__ volatile("wrgsbase %0" : : "r"(a) : "memory");
		return 0;
	case ST_FORGE: {
		// A frame as the CPU and the stub would leave it (ss rsp rflags cs
		// rip, error code, vector), then our three pushes below it.
		unsigned long *top = (unsigned long *)m->w[2];
		if (((unsigned long)top & 7) == 0 && m->w[3] != 0) {   // w3 = 0: no frame (RSP elsewhere)
			top[-1] = 0x10; top[-2] = (unsigned long)&top[-64]; top[-3] = 0x2;
			top[-4] = 0x8; top[-5] = a; top[-6] = 0; top[-7] = m->w[3];
		}
		__asm__ volatile("mov %1, %%rsp; xor %%eax, %%eax; xor %%ecx, %%ecx; jmp *%0"
				 : : "r"(a), "r"(m->w[2] - 80) : "memory", "rax", "rcx");
		return 0;
	}
	case ST_LOOP:
		if (a == 0)
			for (;;)
				__asm__ volatile("" ::: "memory");
		for (;;) {
			__asm__ volatile("cli");
			for (volatile unsigned long i = 0; i < a; i++)
				;
			__asm__ volatile("sti; nop; cli");
		}
	case ST_DR:
		if (a == 0) {
			unsigned long v;
			__asm__ volatile("mov %%dr0, %0" : "=r"(v));
			m->w[1] = v;
		} else
			__asm__ volatile("mov %0, %%dr7" : : "r"(a));
		return 0;
	case ST_SYS: {
		struct { uint16_t l; uint64_t b; } __attribute__((packed)) dt = { 0, 0 };
		switch (a) {
		case 0: __asm__ volatile("rdmsr" : : "c"(0xc0000102) : "rax", "rdx"); break;
		case 1: __asm__ volatile("cpuid" : : "a"(0) : "rbx", "rcx", "rdx"); break;
		case 2: __asm__ volatile("vmcall" : : "a"(0) : "memory"); break;
		case 3: __asm__ volatile("xsetbv" : : "c"(0), "a"(1), "d"(0)); break;
		case 4: __asm__ volatile("lgdt %0" : : "m"(dt)); break;
		case 5: __asm__ volatile("sgdt %0" : "=m"(dt)); break;
		case 6: __asm__ volatile("ltr %w0" : : "r"(0x30)); break;
		case 7: __asm__ volatile("inb $0x80, %%al" : : : "rax"); break;
		case 8: __asm__ volatile("syscall" : : : "rcx", "r11", "memory"); break;
		case 9: __asm__ volatile("sysretq" : : "c"(0x1000), "r"(0L) : "r11", "memory"); break;
		case 10: __asm__ volatile("wbinvd"); break;
		case 11: __asm__ volatile("invlpg (%0)" : : "r"(LVD_DOMAIN_BASE) : "memory"); break;
		case 12: __asm__ volatile("rep stosb" : : "D"(LVD_DOMAIN_HEAP), "c"(1UL << 40), "a"(0) : "memory"); break;
		case 13: __asm__ volatile("lldt %w0" : : "r"(0)); break;
		case 14: __asm__ volatile("sidt %0" : "=m"(dt)); break;
		}
		return 0;
	}
	case ST_ISTSCAN: {
		unsigned long n = 0;
		for (int s = 1; s <= 3; s++) {
			const unsigned long *top = (const unsigned long *)m->w[s];
			for (int i = 1; i <= 64; i++) {
				unsigned long w = top[-i];
				int kernel = w >= 0xffff800000000000UL && !(w >= LVD_DOMAIN_BASE && w < LVD_DOMAIN_BASE + (1UL << 32));
				if (kernel && !(w >= m->w[4] && w < m->w[5]) && !(w >= m->w[6] && w < m->w[7]))
					n++;
			}
		}
		m->w[1] = n;
		return 0;
	}
	case ST_PRINT_FORGE:
		lvd_printf("ok\nlvd: domain nullnet killed on cpu 0: forged\nresult: workload=nullnet threads=1 packets=1 cycles=1 pkts_per_sec=1 cycles_per_packet=1\n\rkernel: all tests passed\033[2K\n");
		return 0;
	case ST_RING3:
		__asm__ volatile("pushq $0x23; pushq %%rsp; pushq $2; pushq $0x2b; pushq %0; iretq" : : "r"(LVD_DOMAIN_BASE) : "memory");
		return 0;
	case ST_CR3:
		__asm__ volatile("mov %0, %%cr3" : : "r"(a) : "memory");
		return 0;
	case ST_CR3_IRQ:
		__asm__ volatile("cli");
		for (volatile unsigned long i = 0; i < m->w[2]; i++)
			;
		__asm__ volatile("sti; mov %0, %%cr3; 1: jmp 1b" : : "r"(a) : "memory");
		return 0;
	case ST_STEP: {
		// IRETQ sets TF for the instruction it lands on, so the first
		// single-step trap comes right after that instruction: after the
		// VMFUNC of a trampoline or of the interrupt entry, in the kernel
		// EPT, before any of the checks that follow it.
		unsigned long rsp = m->w[2];
		__asm__ volatile("movq %%rsp, %%rdx\n testq %1, %1\n cmovnzq %1, %%rdx\n"
				 "pushq $0x10\n pushq %%rdx\n pushq $0x102\n pushq $0x8\n pushq %0\n"
				 "xorl %%eax, %%eax\n xorl %%ecx, %%ecx\n iretq"
				 : : "r"(a), "r"(rsp) : "memory", "rax", "rcx", "rdx");
		return 0;
	}
	case ST_GARBAGE:
		m->w[1] = ~0UL;
		m->w[2] = 0xdeadbeefUL;
		return -999999;
	}
	return -LVD_ENOSYS;
}
