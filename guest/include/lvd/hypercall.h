/*
 * lvd/hypercall.h: how guest code talks to the LVD hypervisor (docs/HYPERCALLS.md).
 *
 * Outside VMX operation the hypervisor is platform firmware reached through CPUID leaf
 * LVD_CPUID_LAUNCH (VMCALL would be #UD there); once launched, every request is a VMCALL
 * with the number in RAX and arguments in RDI, RSI, RDX, R10, R8.  The numbers come from
 * lvd_abi.h, generated from the hypervisor's C# definitions, so the two cannot drift.
 */
#ifndef LVD_HYPERCALL_H
#define LVD_HYPERCALL_H

#include <lvd_abi.h>

struct lvd_hc_result {
	long status;		/* 0 or a negative LVD_HS_* */
	unsigned long value;	/* RDX */
};

static inline struct lvd_hc_result
lvd_hypercall(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2,
	      unsigned long a3, unsigned long a4)
{
	struct lvd_hc_result r;
	register unsigned long r10 __asm__("r10") = a3;
	register unsigned long r8 __asm__("r8") = a4;
	unsigned long rdx = a2;
	__asm__ volatile("vmcall"
			 : "=a"(r.status), "+d"(rdx)
			 : "a"(nr), "D"(a0), "S"(a1), "r"(r10), "r"(r8)
			 : "memory");
	r.value = rdx;
	return r;
}

/* A counter of this vCPU (LVD_COUNTER_VM_EXITS: its VM exits so far, this call's own
 * included; LVD_COUNTER_VMFUNCS: its VMFUNCs so far); 0 if the call fails. */
static inline unsigned long
lvd_counter(unsigned long which)
{
	struct lvd_hc_result r = lvd_hypercall(LVD_HC_COUNTER, which, 0, 0, 0, 0);
	return r.status == 0 ? r.value : 0;
}

/* Late launch of every vCPU (LVD_SCOPE_ALL_CPUS, each where it stands) or of the calling one only
 * (LVD_SCOPE_THIS_CPU): 0 once it runs as a VT-x guest, nonzero if no hypervisor is installed. */
static inline long
lvd_launch_scope(unsigned int scope)
{
	unsigned int a = LVD_CPUID_LAUNCH, b, c = scope, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
	return (long)(int)a;
}

static inline long
lvd_launch(void)
{
	return lvd_launch_scope(LVD_SCOPE_ALL_CPUS);
}

/* Leave VMX operation on every vCPU (LVD_SCOPE_ALL_CPUS) or on the calling one only; 0 on success. */
static inline long
lvd_devirtualize(unsigned int scope)
{
	return lvd_hypercall(LVD_HC_DEVIRTUALIZE, scope, 0, 0, 0, 0).status;
}

/* True under the LVD hypervisor (CPUID hypervisor bit and our signature). */
static inline int
lvd_hypervisor_present(void)
{
	unsigned int a = LVD_CPUID_INFO, b, c = 0, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return b == 0x2344564c; /* "LVD#" */
}

#endif
