// selftest.h: function ids of the selftest domain (shared with the
// kernel's guest/kernel/tests/lvd_test.c).
#pragma once
#include <lvd/domain.h>
enum {
	ST_WRITE = LVD_FN_USER, ST_READ, ST_JUMP, ST_VMFUNC, ST_INT, ST_CLI_LOOP, ST_STI,
	ST_WRMSR, ST_MOVCR3, ST_LIDT, ST_OUT, ST_HLT, ST_STACK, ST_SWAPGS, ST_UD2, ST_SPIN,
	ST_GARBAGE, ST_GAPS, ST_TAMPER, ST_POOLIDX,
	// Added with the threat model (docs/THREAT-MODEL.md):
	ST_FLAGS,        // popfq w1, then return
	ST_FLAGS_PRINT,  // popfq w1, then a print upcall, then return
	ST_FLAGS_SPIN,   // popfq w1 (IF kept on), spin w2 iterations: interrupts arrive with those flags
	ST_CR0,          // mov to cr0: cr0 ^ w1
	ST_CR4,          // mov to cr4: cr4 ^ w1
	ST_CR8,          // w1 = 0: mov from cr8; else mov w1 to cr8
	ST_CLTS,
	ST_KGS,          // swapgs; wrgsbase w1; swapgs: plant KERNEL_GS_BASE
	ST_FS,           // w1 = 0: load the FS selector 0x10; else wrfsbase w1
	ST_WRGS,         // wrgsbase w1
	ST_FORGE,        // jump to w1 (the entry path's VMFUNC) with RSP = w2, a frame of vector w3 below it
	ST_LOOP,         // endless loop with interrupts on (w1 = 0) or cli with an sti window every w1 iterations
	ST_DR,           // w1 = 0: mov from dr0; else mov w1 to dr7
	ST_SYS,          // one system instruction, by w1 (see selftest.c)
	ST_ISTSCAN,      // count kernel-looking words at the tops of this CPU's ISTs (w1-w3), outside [w4,w5) and [w6,w7)
	ST_PRINT_FORGE,  // print lines that would pass for the kernel's
	ST_RING3,        // iretq to ring 3 inside the domain
	ST_CR3,          // mov w1 to cr3
	ST_CR3_IRQ,      // cli, spin w2 (a timer interrupt becomes pending), sti; mov w1 to cr3: its delivery fails
	ST_STEP,         // iretq onto w1 with RFLAGS.TF set, ECX = EAX = 0, RSP = w2 (0: this stack): single-step into a VMFUNC
};
// The selftest domain's upcall (kernel service) for ST_POOLIDX: w1 = offset in
// the shared pool, w2 = length; the kernel checks both before touching it.
#define ST_KFN_POOL_SUM LVD_KFN_USER
