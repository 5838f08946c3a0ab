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
	case ST_GARBAGE:
		m->w[1] = ~0UL;
		m->w[2] = 0xdeadbeefUL;
		return -999999;
	}
	return -LVD_ENOSYS;
}
