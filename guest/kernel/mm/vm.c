// vm.c: the kernel's own 4-level page tables.
//
// Layout (docs/KERNEL.md), one or more whole PML4 slots per range so that
// the ranges can never overlap (LVD Invariant 1):
//   [0, 0x0000800000000000)              user space (PML4 0..255), empty for now
//   0xffff888000000000 + pa              direct map of physical memory (2 MiB pages, NX)
//   [0xffffc88000000000, +512 GiB)       kernel thread stacks behind guard pages (PML4 401, kstack.c)
//   [0xffffc90000000000, +512 GiB)       isolated domains (PML4 402), nothing mapped
//   0xffffffff80000000 + pa              the kernel image (4 KiB pages, per-section rights)
// The boot identity map is gone once these tables are loaded: a stray
// low pointer in the kernel now faults instead of silently working.

#include "kernel.h"
#ifndef HOST_TEST
#include "x86.h"
#endif

uint64_t phys_base;     // see P2V in kernel.h
uint64_t kernel_cr3;    // physical; APs load it in entry.S

#define PML4_SLOT(va) (((uint64_t)(va) >> 39) & 511)

// The entry for va at `level` (1 = PT entry for a 4 KiB page, 2 = PD entry
// for a 2 MiB page, 3 = PDPT entry), creating the tables above it if alloc.
// NULL if a table is missing (and !alloc) or a large page is in the way.
pte_t *
vm_walk(pte_t *pml4, uint64_t va, int level, int alloc)
{
	pte_t *table = pml4;

	for (int lvl = 4; lvl > level; lvl--) {
		pte_t *e = &table[(va >> (12 + 9 * (lvl - 1))) & 511];
		if (*e & PTE_P) {
			if (*e & PTE_PS)
				return NULL;
			table = P2V(PTE_ADDR(*e));
			continue;
		}
		if (!alloc)
			return NULL;
		pte_t *next = kalloc();
		if (next == NULL)
			return NULL;
		// Intermediate entries grant everything; the leaf decides.  User
		// bit only below USER_TOP, so a kernel table is never user-walkable.
		*e = V2P(next) | PTE_P | PTE_W | (va < USER_TOP ? PTE_U : 0);
		table = next;
	}
	return &table[(va >> (12 + 9 * (level - 1))) & 511];
}

// Map [va, va+size) to [pa, pa+size) with pages of pgsize (4 KiB or 2 MiB).
// Refuses (-1) to replace an existing mapping: in this kernel a remap is
// always a bug, and with domains it would be a hole in an invariant.
int
vm_map(pte_t *pml4, uint64_t va, uint64_t pa, uint64_t size, uint64_t perm, uint64_t pgsize)
{
	int level = pgsize == PGSIZE ? 1 : 2;

	if (pgsize != PGSIZE && pgsize != (2UL << 20))
		return -1;
	if (((va | pa | size) & (pgsize - 1)) != 0)
		return -1;
	for (uint64_t off = 0; off < size; off += pgsize) {
		pte_t *e = vm_walk(pml4, va + off, level, 1);
		if (e == NULL || (*e & PTE_P))
			return -1;
		*e = (pa + off) | perm | PTE_P | (level == 2 ? PTE_PS : 0);
	}
	return 0;
}

// The physical address va maps to, or ~0 if none.
uint64_t
vm_translate(pte_t *pml4, uint64_t va)
{
	pte_t *table = pml4;

	for (int lvl = 4; lvl >= 1; lvl--) {
		int shift = 12 + 9 * (lvl - 1);
		pte_t e = table[(va >> shift) & 511];
		if (!(e & PTE_P))
			return ~0UL;
		if (lvl == 1 || (e & PTE_PS)) {
			uint64_t mask = (1UL << shift) - 1;
			return (PTE_ADDR(e) & ~mask) | (va & mask);
		}
		table = P2V(PTE_ADDR(e));
	}
	return ~0UL;
}

#ifndef HOST_TEST
extern char __kernel_start[], __text_end[], __rodata_end[], __kernel_end[];
static pte_t *kpml4;

static void
map_or_panic(uint64_t va, uint64_t pa, uint64_t size, uint64_t perm, uint64_t pgsize, const char *what)
{
	if (vm_map(kpml4, va, pa, size, perm, pgsize) != 0)
		panic("vm_init: cannot map %s", what);
}

void
vm_init(void)
{
	uint64_t top = 0;

	for (uint32_t i = 0; i < bootinfo.mmap_count; i++) {
		uint64_t end = bootinfo.mmap[i].base + bootinfo.mmap[i].length;
		if (end > top)
			top = end;
	}
	top = (top + (2UL << 20) - 1) & ~((2UL << 20) - 1);
	if (top > DIRECT_SIZE)
		panic("vm_init: %lu GiB of RAM is more than the direct map", top >> 30);

	kpml4 = kalloc();
	// Global pages: kernel mappings survive CR3 switches between processes.
	map_or_panic(DIRECT_BASE, 0, top, PTE_W | PTE_NX | PTE_G, 2UL << 20, "the direct map");
	uint64_t text = (uint64_t)__kernel_start, rodata = (uint64_t)__text_end;
	uint64_t data = (uint64_t)__rodata_end, end = (uint64_t)__kernel_end;
	map_or_panic(text, KV2P(text), rodata - text, PTE_G, PGSIZE, "kernel text");
	map_or_panic(rodata, KV2P(rodata), data - rodata, PTE_NX | PTE_G, PGSIZE, "kernel rodata");
	map_or_panic(data, KV2P(data), end - data, PTE_W | PTE_NX | PTE_G, PGSIZE, "kernel data");
	if (kpml4[PML4_SLOT(DOMAIN_BASE)] != 0 || kpml4[PML4_SLOT(0)] != 0 || kpml4[PML4_SLOT(KSTACK_BASE)] != 0)
		panic("vm_init: domain, stack or user range is not empty");
	// The stack range's PML4 entry exists from now on (processes copy the
	// kernel half once; no slot is added after vm_init); its pages come later.
	if (vm_walk(kpml4, KSTACK_BASE, 3, 1) == NULL)
		panic("vm_init: cannot make the kernel stack range");

	kernel_cr3 = V2P(kpml4);
	lcr3(kernel_cr3);
	phys_base = DIRECT_BASE;
	kpml4 = P2V(kernel_cr3);
	printk("vm: direct map %#lx..%#lx, image %#lx..%#lx, cr3 %#lx\n",
	       DIRECT_BASE, DIRECT_BASE + top, text, end, kernel_cr3);
}

// One 4 KiB page more in the kernel half (the kernel's tables, shared by
// every process): only into slots vm_init made, never over a mapping.
void
vm_map_kernel(uint64_t va, uint64_t pa, uint64_t perm)
{
	if (va < KSTACK_BASE || va >= KSTACK_BASE + (512UL << 30) || vm_map(kpml4, va, pa, PGSIZE, perm, PGSIZE) != 0)
		panic("vm_map_kernel: cannot map %#lx", va);
}
#endif
