/*
 * lvd/domain.h: the contract between the kernel's LVD runtime and an isolated
 * domain (docs/DOMAINS.md).  Included by the kernel (guest/kernel/lvd*.c) and
 * by every domain image (guest/domains/).  Plain C and assembler: no kernel
 * types.
 *
 * A cross-domain call carries a 64-byte message (LVD.md section 4): word 0 is
 * {u32 function; u32 target}, words 1..7 are arguments.  The words travel in
 * rdi rsi rdx r8 r9 r10 r11 r12 (never rcx: VMFUNC takes the EPTP index in
 * ECX); the reply comes back the same way.
 */
#ifndef LVD_DOMAIN_H
#define LVD_DOMAIN_H

/* Every domain is linked at LVD_DOMAIN_BASE (its own page table, so all domains
 * share the range; the kernel maps nothing there: LVD Invariant 1).  Its entry
 * point, which receives every call, is the first byte of the image. */
#define LVD_DOMAIN_BASE     0xffffc90000000000UL
#define LVD_DOMAIN_HEAP     0xffffc90040000000UL   /* + heap pages (kernel-chosen size) */
#define LVD_DOMAIN_STACKS   0xffffc90080000000UL   /* per-CPU stack pools */
#define LVD_DOMAIN_POOL     0xffffc900c0000000UL   /* the shared packet/buffer pool */
#define LVD_DOMAIN_INFO     0xffffc900fffff000UL   /* read-only page: struct lvd_domain_info */
#define LVD_DOMAIN_MMIO     0xffffc90100000000UL   /* a device's registers (BAR 0), uncached: a driver given a device */
#define LVD_STACK_SIZE      8192
#define LVD_STACKS_PER_CPU  8

/* The kernel's trampoline page is the first page of the kernel image, at the
 * same address in the kernel and in every domain.  Domains jump to these: */
#define LVD_TRAMP_BASE      0xffffffff80100000UL
#define LVD_TRAMP_RETURN    (LVD_TRAMP_BASE + 0)    /* reply words in registers -> kernel */
#define LVD_TRAMP_UPCALL    (LVD_TRAMP_BASE + 16)   /* call the kernel (call, not jmp) */

/* Function ids every domain understands (word 0, low half).  Interface ids
 * start at LVD_FN_USER. */
#define LVD_FN_INIT         1    /* w1 = cpu count; reply w1 = 0 or error */
#define LVD_FN_PING         2    /* null call: reply w1 = w1 + 1 (Table 1) */
#define LVD_FN_NEST         3    /* w1 = depth: calls the kernel's LVD_KFN_NEST (nested calls) */
#define LVD_FN_USER         16

/* Kernel services a domain may call (upcalls). */
#define LVD_KFN_PRINT       1    /* w1 = offset in the pool, w2 = len: print a line */
#define LVD_KFN_NEST        2    /* w1 = depth: calls the domain's LVD_FN_NEST with depth - 1 */
#define LVD_KFN_USER        16

/* Status codes: the one list for the kernel's LVD runtime, the domain library
 * and the IDL-generated glue (guest/glue/lvd_glue.h, docs/IDL.md).  The
 * constants are positive; a failure is the negated code, in reply word 0 of a
 * failed call and as the result of lvd_call and of every generated stub
 * (return -LVD_EINVAL).  0 is success. */
#define LVD_OK              0
#define LVD_ENOSYS          1    /* unknown function */
#define LVD_EBADREF         2    /* capability unknown, stale, or of another type */
#define LVD_ERANGE          3    /* buffer offset/length outside the shared pool */
#define LVD_E2BIG           4    /* length or string over its declared bound */
#define LVD_EBADUNION       5    /* union discriminator names no arm */
#define LVD_ELOOP           6    /* list longer than its depth bound, or cyclic */
#define LVD_ENOMEM          7    /* no shadow object or capability slot left */
#define LVD_EINVAL          8    /* bad message, bad reference, NULL object */
#define LVD_ENOREF          9    /* the caller holds no reference the callee knows */
#define LVD_ECROSS          10   /* the crossing itself failed (generated glue) */
#define LVD_EDEAD           11   /* the domain was killed */
#define LVD_ENOSTACK        12   /* no free domain stack / kernel stack too low */
#define LVD_EMAX            LVD_ENOSTACK

/* The per-CPU register page of generated glue (lvd_glue.h): the first ncpu pages
 * of a domain's shared pool, CPU c's at pool offset c * 4096 (the kernel keeps
 * them out of the packet pool, pktpool.c). */
#define LVD_REGPAGE_SIZE    4096
#define LVD_POOL_REGPAGE(cpu) ((unsigned long)(cpu) * LVD_REGPAGE_SIZE)

/* A domain thread's stack tells its CPU: CPU c's pool of LVD_STACKS_PER_CPU
 * stacks, each below an unmapped guard of the same size, is the c-th run of
 * 2 * LVD_STACKS_PER_CPU * LVD_STACK_SIZE bytes at LVD_DOMAIN_STACKS (lvd.c). */
#define LVD_STACK_CPU(sp)   (((unsigned long)(sp) - LVD_DOMAIN_STACKS) / (2UL * LVD_STACKS_PER_CPU * LVD_STACK_SIZE))

#ifndef __ASSEMBLY__
/* The message (LVD.md section 4), the one definition for the kernel, the
 * domains and the generated glue: the registers rdi rsi rdx r8 r9 r10 r11 r12. */
#define LVD_MSG_WORDS 8
struct lvd_msg {
	unsigned long w[LVD_MSG_WORDS];
};

static inline unsigned int lvd_msg_fn(const struct lvd_msg *m) { return (unsigned int)m->w[0]; }
static inline unsigned int lvd_msg_target(const struct lvd_msg *m) { return (unsigned int)(m->w[0] >> 32); }
static inline unsigned long lvd_msg_word0(unsigned int fn, unsigned int target)
{
	return (unsigned long)target << 32 | fn;
}

/* What the kernel tells a domain about its memory, at LVD_DOMAIN_INFO. */
struct lvd_domain_info {
	unsigned long magic;            /* LVD_INFO_MAGIC */
	unsigned long heap, heap_size;  /* virtual */
	unsigned long pool, pool_size;  /* virtual: the shared pool */
	unsigned int ncpu;
	char name[16];
	/* A domain given a device (the kernel's ixgbe configuration, docs/DOMAINS.md):
	 * its BAR 0 at LVD_DOMAIN_MMIO, and the part of the pool its DMA memory is:
	 * [dma, dma + dma_size) virtual, dma_bus the device's address of dma (the
	 * IOMMU domain of the device maps exactly that range).  0 otherwise. */
	unsigned long mmio, mmio_size;
	unsigned long dma, dma_size, dma_bus;
	unsigned int devfn;             /* the device's PCI function (bus 0) */
	unsigned short vendor, device;
};
#define LVD_INFO_MAGIC 0x4c56442d444f4d31UL   /* "LVD-DOM1" */
#endif

#endif
