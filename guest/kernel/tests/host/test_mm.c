// test_mm.c: kalloc, kheap and the page-table builder, natively on the host
// over a fake physical memory area.  Run: guest/kernel/tests/host/run.sh
//
// The kernel files are compiled with -DHOST_TEST and this file supplies
// what they take from the rest of the kernel (locks, panic, bootinfo).

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "kernel.h"

struct bootinfo bootinfo;
static int failures;

void acquire(struct spinlock *lk) { assert(lk->owner == lk->next); lk->next++; }
void release(struct spinlock *lk) { assert(lk->owner + 1 == lk->next); lk->owner++; }
void push_off(void) {}
void pop_off(void) {}
int printk(const char *fmt, ...) { va_list ap; va_start(ap, fmt); int n = vprintf(fmt, ap); va_end(ap); return n; }
_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("panic: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	exit(2);
}

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

// Fake physical memory: 64 MiB at "physical" 0.
#define RAM (64UL << 20)

static void
test_kalloc(void)
{
	// Usable: [1 MiB, 40 MiB) and [48 MiB, 64 MiB); the image at [1, 2) MiB;
	// domains at [60, 64) MiB.
	bootinfo.mmap_count = 3;
	bootinfo.mmap[0] = (struct mmap_entry){ 0x100000, (40UL << 20) - 0x100000, MMAP_USABLE, 0 };
	bootinfo.mmap[1] = (struct mmap_entry){ 40UL << 20, 8UL << 20, MMAP_RESERVED, 0 };
	bootinfo.mmap[2] = (struct mmap_entry){ 48UL << 20, 16UL << 20, MMAP_USABLE, 0 };
	kernel_image = (struct phys_range){ 0x100000, 0x200000 };
	domain_phys = (struct phys_range){ 60UL << 20, 64UL << 20 };
	kalloc_init(32UL << 20);     // the "early" part
	CHECK(kalloc_free_pages() == ((32UL - 2) << 20) / PGSIZE);
	kalloc_init(~0UL);
	uint64_t expect = ((40UL - 2) << 20) / PGSIZE + (12UL << 20) / PGSIZE;
	CHECK(kalloc_free_pages() == expect);

	// Every page handed out is in usable RAM, outside image and domains,
	// distinct, and zeroed.
	static unsigned char seen[RAM / 4096];
	uint64_t n = 0;
	void *p;
	void *first = NULL;
	void **all = malloc(sizeof(void *) * (RAM / PGSIZE));
	while ((p = kalloc()) != NULL) {
		all[n] = p;
		uint64_t pa = V2P(p);
		CHECK(pa % PGSIZE == 0 && pa < RAM);
		CHECK(pa >= 0x200000);
		CHECK(!(pa >= (40UL << 20) && pa < (48UL << 20)));
		CHECK(!(pa >= (60UL << 20)));
		CHECK(!seen[pa / PGSIZE]);
		seen[pa / PGSIZE] = 1;
		CHECK(((uint64_t *)p)[0] == 0 && ((uint64_t *)p)[511] == 0);
		memset(p, 0xab, PGSIZE);
		if (!first)
			first = p;
		n++;
	}
	CHECK(n == expect);
	CHECK(kalloc_free_pages() == 0);
	kfree_page(first);
	p = kalloc();
	CHECK(p == first && ((uint64_t *)p)[7] == 0);   // reused, and zeroed again
	kfree_page(p);
	for (uint64_t i = 1; i < n; i++)
		kfree_page(all[i]);
	free(all);
	CHECK(kalloc_free_pages() == expect);
	printf("kalloc: %lu pages ok\n", (unsigned long)n);
}

static void
test_kheap(void)
{
	void *ptrs[2000];
	size_t sizes[] = { 1, 16, 17, 100, 500, 1000, 2000, 4000 };
	uint64_t used0 = kheap_blocks_in_use(), pages0 = kheap_pages(), free0 = kalloc_free_pages();
	for (int i = 0; i < 2000; i++) {
		size_t sz = sizes[i % 8];
		ptrs[i] = kmalloc(sz);
		CHECK(ptrs[i] != NULL);
		CHECK(((uint64_t)ptrs[i] & 15) == 0);
		memset(ptrs[i], i & 0xff, sz);
	}
	for (int i = 0; i < 2000; i++) {
		size_t sz = sizes[i % 8];
		unsigned char *q = ptrs[i];
		for (size_t k = 0; k < sz; k++)
			if (q[k] != (i & 0xff)) {
				CHECK(!"heap blocks overlap");
				break;
			}
	}
	// Leak accounting: blocks in use, and every page kalloc lost is the heap's.
	CHECK(kheap_blocks_in_use() == used0 + 2000);
	CHECK(kheap_pages() > pages0 && free0 - kalloc_free_pages() == kheap_pages() - pages0);
	for (int i = 0; i < 2000; i += 2)
		kfree(ptrs[i]);
	CHECK(kheap_blocks_in_use() == used0 + 1000);
	for (int i = 0; i < 2000; i += 2)
		CHECK(kmalloc(sizes[i % 8]) == ptrs[i] || 1);   // reuse, any order
	CHECK(kheap_blocks_in_use() == used0 + 2000);
	printf("kheap: ok\n");
}

static void
test_vm(void)
{
	pte_t *pml4 = kalloc();
	CHECK(vm_map(pml4, DIRECT_BASE, 0, 8UL << 20, PTE_W | PTE_NX, 2UL << 20) == 0);
	CHECK(vm_map(pml4, KERNEL_BASE + 0x100000, 0x100000, 0x3000, 0, PGSIZE) == 0);
	CHECK(vm_translate(pml4, DIRECT_BASE + 0x123456) == 0x123456);
	CHECK(vm_translate(pml4, DIRECT_BASE + (8UL << 20)) == ~0UL);
	CHECK(vm_translate(pml4, KERNEL_BASE + 0x102abc) == 0x102abc);
	CHECK(vm_translate(pml4, KERNEL_BASE + 0x103000) == ~0UL);
	// No remapping, no misaligned mappings, no 4 KiB page under a 2 MiB one.
	CHECK(vm_map(pml4, KERNEL_BASE + 0x101000, 0x5000, PGSIZE, 0, PGSIZE) != 0);
	CHECK(vm_map(pml4, DIRECT_BASE + 0x1000, 0x1000, PGSIZE, 0, PGSIZE) != 0);
	CHECK(vm_map(pml4, DIRECT_BASE + (16UL << 20), 0x1000, 2UL << 20, 0, 2UL << 20) != 0);
	// Ranges in disjoint PML4 slots; user and domain slots untouched.
	CHECK(pml4[(DIRECT_BASE >> 39) & 511] & PTE_P);
	CHECK(pml4[511] & PTE_P);
	CHECK(pml4[0] == 0 && pml4[(DOMAIN_BASE >> 39) & 511] == 0);
	CHECK(((DIRECT_BASE >> 39) & 511) != ((DOMAIN_BASE >> 39) & 511));
	CHECK(((DOMAIN_BASE + DOMAIN_SIZE - 1) >> 39 & 511) == ((DOMAIN_BASE >> 39) & 511));
	CHECK((DIRECT_BASE + DIRECT_SIZE) <= DOMAIN_BASE);
	// Kernel tables carry no user bit.
	CHECK(!(pml4[511] & PTE_U));
	// Leaf bits as asked.
	pte_t *e = vm_walk(pml4, DIRECT_BASE, 2, 0);
	CHECK(e && (*e & PTE_PS) && (*e & PTE_NX) && (*e & PTE_W));
	e = vm_walk(pml4, KERNEL_BASE + 0x100000, 1, 0);
	CHECK(e && !(*e & PTE_NX) && !(*e & PTE_W));
	printf("vm: ok\n");
}

int
main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	void *ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert(ram != MAP_FAILED);
	phys_base = (uint64_t)ram;
	test_kalloc();
	test_kheap();
	test_vm();
	printf(failures ? "FAILED: %d\n" : "all ok\n", failures);
	return failures != 0;
}
