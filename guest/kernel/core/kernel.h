// kernel.h: types, constants and the functions every file of the kernel
// shares.  One header, like xv6's defs.h: a reader finds every kernel-wide
// interface here, grouped by the file that owns it.
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NCPU      64          // the machine's limit (docs/BOOT.md)
#define PGSIZE    4096UL
#define PGROUNDUP(a)   (((uint64_t)(a) + PGSIZE - 1) & ~(PGSIZE - 1))
#define PGROUNDDOWN(a) ((uint64_t)(a) & ~(PGSIZE - 1))

// Virtual layout (docs/KERNEL.md).  The five ranges are disjoint (LVD
// Invariant 1): user space, the direct map of physical memory, the kernel
// thread stacks, the range reserved for isolated domains, and the kernel
// image window.
#define USER_TOP      0x0000800000000000UL   // user space: [0, USER_TOP)
#define DIRECT_BASE   0xffff888000000000UL   // physical x at DIRECT_BASE + x
#define DIRECT_SIZE   (64UL << 40)           // up to 64 TiB of RAM
#define KSTACK_BASE   0xffffc88000000000UL   // kernel thread stacks behind guard pages (mm/kstack.c)
#define DOMAIN_BASE   0xffffc90000000000UL   // isolated domains (LVD), unmapped
#define DOMAIN_SIZE   (512UL << 30)          // one PML4 slot: 512 GiB
#define KERNEL_BASE   0xffffffff80000000UL   // image: KERNEL_BASE + physical

// Physical memory is reached through phys_base: 0 while the boot page
// tables (identity map of the first 4 GiB) are live, DIRECT_BASE once the
// kernel's own tables are.  Host tests point it at a fake memory area.
extern uint64_t phys_base;
#define P2V(pa) ((void *)((uint64_t)(pa) + phys_base))
#define V2P(va) ((uint64_t)(va) - phys_base)
// The image's own addresses (code, data, bss) are kernel-window addresses.
#define KV2P(va) ((uint64_t)(va) - KERNEL_BASE)

// boot.c: the boot-information block (docs/BOOT.md), copied into the kernel.
#define MMAP_MAX 64
#define MMAP_USABLE   1
#define MMAP_RESERVED 2
struct mmap_entry { uint64_t base, length; uint32_t type, pad; };
// Boot modules (docs/BOOT.md): images the loader placed in reserved memory,
// e.g. the drivers that run in LVD domains.
#define MODULE_MAX 64   // lvd fuzz-domains boots up to 60 domains at once
struct boot_module { uint64_t base, length; char name[32]; };
const struct boot_module *boot_module(const char *name);   // NULL if absent
struct bootinfo {
	uint32_t cpu_count;
	uint64_t mailbox;          // physical
	uint64_t tsc_hz;
	uint32_t mmap_count;
	struct mmap_entry mmap[MMAP_MAX];
	char cmdline[4096];       // the loader's limit (docs/BOOT.md)
	uint32_t module_count;
	struct boot_module module[MODULE_MAX];
};
extern struct bootinfo bootinfo;
void boot_parse(uint64_t info_pa);
void boot_print(void);
const char *cmdline_option(const char *name);   // value after "name=", or NULL

// spinlock.c
struct cpu;
struct spinlock {
	volatile uint16_t next;    // ticket handed to the next acquirer
	volatile uint16_t owner;   // ticket now allowed in
	const char *name;
	struct cpu *cpu;           // holder, for holding() and debugging
};
void initlock(struct spinlock *lk, const char *name);
void acquire(struct spinlock *lk);
void release(struct spinlock *lk);
int holding(struct spinlock *lk);
void push_off(void);
void pop_off(void);

// console.c / printk.c
void console_putc(int c);
void console_write(const char *p, size_t n);
int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void backtrace(uint64_t rbp);
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void machine_exit(uint32_t status);
extern volatile int panicking;
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);   // guest/libc/printf.c
int snprintf(char *buf, size_t size, const char *fmt, ...);
int vprintf(const char *fmt, va_list ap);

// string.c
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
char *strncpy(char *dst, const char *src, size_t n);

// kalloc.c
struct phys_range { uint64_t base, end; };
extern struct phys_range domain_phys;   // LVD Invariant 3: never given to kalloc
extern struct phys_range kernel_image;  // physical extent of the image
// pktpool.c: the packet pool (shared with isolated network drivers)
struct pktpool { uint64_t pa, size; uint8_t *va; };
extern struct pktpool pktpool;
void pktpool_init(void);
void *pktpool_alloc(void);        // one page, not zeroed; NULL if the pool is empty
void pktpool_free(void *page);
uint64_t pktpool_free_pages(void);   // leak accounting: free now
uint64_t pktpool_packet_pages(void); // pages for packets (all but the register pages)
void kalloc_init(uint64_t limit);
void kalloc_add(uint64_t lo, uint64_t hi);
void *kalloc(void);
void kfree_page(void *va);
uint64_t kalloc_free_pages(void);

// kheap.c
void *kmalloc(size_t n);
void *kzalloc(size_t n);
void kfree(void *p);
uint64_t kheap_pages(void);            // leak accounting: pages the heap took from kalloc
uint64_t kheap_blocks_in_use(void);    // leak accounting: blocks allocated, not freed

// vm.c
typedef uint64_t pte_t;
#define PTE_P   (1UL << 0)
#define PTE_W   (1UL << 1)
#define PTE_U   (1UL << 2)
#define PTE_PS  (1UL << 7)
#define PTE_G   (1UL << 8)
#define PTE_NX  (1UL << 63)
#define PTE_ADDR(e) ((e) & 0x000ffffffffff000UL)
extern uint64_t kernel_cr3;
pte_t *vm_walk(pte_t *pml4, uint64_t va, int level, int alloc);
int vm_map(pte_t *pml4, uint64_t va, uint64_t pa, uint64_t size, uint64_t perm, uint64_t pgsize);
uint64_t vm_translate(pte_t *pml4, uint64_t va);
void vm_init(void);
void vm_map_kernel(uint64_t va, uint64_t pa, uint64_t perm);

// kstack.c: kernel thread stacks, KSTACK_PAGES pages each below an unmapped
// guard, in their own PML4 slot: an overflow is a #PF, never another page.
#define KSTACK_PAGES 4   // 16 KiB, as Linux on x86-64 (lvd_selftest's frame alone is 5.4 KiB)
#define KSTACK_SIZE  (KSTACK_PAGES * PGSIZE)
#define KSTACK_GUARD (2 * PGSIZE)
#define KSTACK_SLOTS ((512UL << 30) / (KSTACK_GUARD + KSTACK_SIZE))   // one PML4 slot of them
void *kstack_alloc(void);
void kstack_free(void *stack);
int kstack_guard_hit(uint64_t va);

// proc.c: user processes, one ring-3 thread each (docs/KERNEL.md).
struct proc {
	pte_t *pml4;             // user half private, kernel half shared
	uint64_t entry;          // user RIP of the first instruction
	struct thread *thread;   // valid until it exits
	int pid;                 // the thread's tid
	int status;              // exit status; -1 if killed by a fault
	int done;                // guarded by proclock (proc.c)
	uint64_t arg;            // RDI at the program's first instruction
	struct kioctx *ioctx;    // aio.c: asynchronous I/O context, created on first use
};
struct proc *proc_create(const char *name, void *prog, int cpu);
struct proc *proc_create_arg(const char *name, void *prog, int cpu, uint64_t arg);
void workload_run(const char *name);      // workload.c; never returns
_Noreturn void proc_exit(int status);
int proc_wait(struct proc *p);
// What proc_wait runs for a subsystem that keeps per-process state, before the
// process is freed (aio.c: wait for its I/Os, free its context).  Registered
// once, at boot; the process code never names its clients.
void proc_set_release_hook(void (*release)(struct proc *p));
int copyin(struct proc *p, void *dst, uint64_t src, size_t n);
int copyout(struct proc *p, uint64_t dst, const void *src, size_t n);
int user_range_ok(struct proc *p, uint64_t va, size_t n, int write);
void *user_kaddr(struct proc *p, uint64_t va, int write);
struct proc *proc_create_data(const char *name, void *prog, int cpu, uint64_t arg,
			      const void *data, size_t len, size_t pages);
