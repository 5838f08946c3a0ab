// probe.c: the state probe (probe.h).  What no misbehaving domain may change
// (docs/THREAT-MODEL.md): this CPU's control registers (the kernel's view:
// CR0/CR4 read their shadows, CR8 exits and is emulated), RFLAGS' system
// bits, the FS and GS bases and the user bases the thread will return with,
// the descriptor-table registers, the syscall MSRs, the contents of the IDT
// and of this CPU's GDT/TSS page, and (by the hypervisor) the kernel's image.

#include <lvd/hypercall.h>
#include "kernel.h"
#include "percpu.h"
#include "x86.h"
#include "probe.h"

static uint64_t
fnv(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325UL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3UL;
	return h;
}

uint64_t idt_address(void);

uint64_t
probe_kernel_hash(void)
{
	extern char __kernel_start[], __rodata_end[];
	struct lvd_hc_result a = lvd_hypercall(LVD_HC_HASH_MEMORY, KV2P(__kernel_start),
					       (uint64_t)(__rodata_end - __kernel_start), 0, 0, 0);
	if (a.status != 0)
		panic("lvd: probe: HASH_MEMORY failed (%ld)", a.status);
	return a.value;
}

void
probe_take(struct probe *p, uint64_t (*hash)(void))
{
	memset(p, 0, sizeof *p);
	struct cpu *c = mycpu();
	__asm__ volatile("mov %%cr0, %0" : "=r"(p->cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(p->cr4));
	__asm__ volatile("mov %%cr8, %0" : "=r"(p->cr8));
	p->cr3 = rcr3();
	p->rflags = rflags() & (FL_IF | 0x400 | 0x40000 | 0x4000 | 0x3000 | 0x100);   // IF DF AC NT IOPL TF
	__asm__ volatile("rdfsbase %0" : "=r"(p->fs));
	__asm__ volatile("rdgsbase %0" : "=r"(p->gs));
	const uint64_t *ub = (const uint64_t *)c->kstack_top;
	p->ufs = ub[USER_FS / 8];
	p->ugs = ub[USER_GS / 8];
	p->efer = rdmsr(MSR_EFER);
	p->lstar = rdmsr(MSR_LSTAR);
	p->star = rdmsr(MSR_STAR);
	__asm__ volatile("sgdt %0" : "=m"(p->gdtr));
	__asm__ volatile("sidt %0" : "=m"(p->idtr));
	__asm__ volatile("str %0" : "=r"(p->tr));
	p->idt_hash = fnv((const void *)idt_address(), PGSIZE);
	p->desc_hash = fnv(&cpu_descs[c->id], PGSIZE);
	p->kernel_hash = hash();
}

const char *
probe_diff(const struct probe *a, const struct probe *b)
{
	if (a->cr0 != b->cr0) return "CR0";
	if (a->cr3 != b->cr3) return "CR3";
	if (a->cr4 != b->cr4) return "CR4";
	if (a->cr8 != b->cr8) return "CR8";
	if (a->rflags != b->rflags) return "RFLAGS";
	if (a->fs != b->fs) return "FS base";
	if (a->gs != b->gs) return "GS base";
	if (a->ufs != b->ufs || a->ugs != b->ugs) return "the thread's user FS/GS bases";
	if (a->efer != b->efer || a->lstar != b->lstar || a->star != b->star) return "EFER/LSTAR/STAR";
	if (memcmp(a->gdtr, b->gdtr, sizeof a->gdtr) != 0) return "GDTR";
	if (memcmp(a->idtr, b->idtr, sizeof a->idtr) != 0) return "IDTR";
	if (a->tr != b->tr) return "TR";
	if (a->idt_hash != b->idt_hash) return "the IDT";
	if (a->desc_hash != b->desc_hash) return "this CPU's GDT/TSS";
	if (a->kernel_hash != b->kernel_hash) return "the kernel image (hypervisor hash)";
	return NULL;
}
