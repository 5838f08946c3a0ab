// gdt.c: per-CPU GDT and TSS.
//
// Each CPU has its own GDT because each has its own TSS (a busy TSS
// descriptor cannot be shared), and its own TSS because each has its own
// IST stacks: LVD section 5 runs every vector on an IST, and an IST stack
// must belong to one CPU (later: mapped only on that CPU in EPT_I).

#include "kernel.h"
#include "percpu.h"
#include "x86.h"

// Descriptor bits: present, DPL, code/data, long mode.
#define DESC_P    (1ULL << 47)
#define DESC_S    (1ULL << 44)     // code or data (not system)
#define DESC_CODE (0xbULL << 40)   // execute/read, accessed
#define DESC_DATA (0x3ULL << 40)   // read/write, accessed
// (Accessed set up front: the CPU never writes a descriptor when it loads
// one, so the GDT page can be read-only in domain EPTs.)
#define DESC_L    (1ULL << 53)     // 64-bit code
#define DESC_DPL3 (3ULL << 45)
#define DESC_G    (1ULL << 55)
#define DESC_DB   (1ULL << 54)
#define FLAT      (0xfULL << 48 | 0xffffULL | DESC_G)

struct cpu_desc cpu_descs[NCPU];

void
gdt_init(struct cpu *c)
{
	c->desc = &cpu_descs[c->id];
	c->desc->gdt[0] = 0;
	c->desc->gdt[SEG_KCODE / 8] = DESC_P | DESC_S | DESC_CODE | DESC_L | FLAT;
	c->desc->gdt[SEG_KDATA / 8] = DESC_P | DESC_S | DESC_DATA | DESC_DB | FLAT;
	c->desc->gdt[3] = 0;   // 32-bit user code: never
	c->desc->gdt[SEG_UDATA / 8] = DESC_P | DESC_S | DESC_DATA | DESC_DB | DESC_DPL3 | FLAT;
	c->desc->gdt[SEG_UCODE / 8] = DESC_P | DESC_S | DESC_CODE | DESC_L | DESC_DPL3 | FLAT;

	// IST stacks: separate ones for exceptions, interrupts and NMIs, so
	// that an NMI during an exception (or an exception in an interrupt
	// handler) does not land on the frame being handled.
	for (int i = 0; i < 3; i++) {
		c->ist[i] = kalloc();
		if (c->ist[i] == NULL)
			panic("gdt_init: no memory for IST stacks");
		c->desc->tss.ist[i] = (uint64_t)c->ist[i] + ISTSIZE;
	}
	c->desc->tss.iomap_base = sizeof(struct tss);   // no I/O bitmap

	uint64_t base = (uint64_t)&c->desc->tss, limit = sizeof(struct tss) - 1;
	c->desc->gdt[SEG_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
	                      (0x9ULL << 40) | DESC_P |           // available 64-bit TSS
	                      (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	c->desc->gdt[SEG_TSS / 8 + 1] = base >> 32;

	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr = {
		sizeof c->desc->gdt - 1, (uint64_t)c->desc->gdt
	};
	// Reload CS (through an iretq: this machine does not implement lretq)
	// and the data selectors; not FS and GS, whose selector load would
	// clear the GS base percpu_init() set.
	__asm__ volatile(
		"lgdt %0\n\t"
		"movq %%rsp, %%rax\n\t"
		"pushq %2\n\t"          // ss
		"pushq %%rax\n\t"       // rsp
		"pushfq\n\t"
		"pushq %1\n\t"          // cs
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"       // rip
		"iretq\n"
		"1:\n\t"
		"movw %w2, %%ax\n\t"
		"movw %%ax, %%ds\n\t"
		"movw %%ax, %%es\n\t"
		"movw %%ax, %%ss\n\t"
		"movw %w3, %%ax\n\t"
		"ltr %%ax"
		: : "m"(gdtr), "i"(SEG_KCODE), "i"(SEG_KDATA), "i"(SEG_TSS) : "rax", "memory");
}
