// vectors.S: the 256 interrupt entry points and the common trap path.
//
// Every gate uses an IST (trap.c), so every trap starts on a per-CPU IST
// stack.  An IST stack is reset to its top on each entry, so a handler that
// could be re-entered, or that could switch threads, must not stay on it:
// interrupts and user-mode exceptions copy their frame to the interrupted
// thread's stack (the interrupted RSP in kernel mode, the thread's kernel
// stack from user mode) and continue there, with interrupts still off
// (LVD section 5: "handlers keep interrupts off until the frame is copied
// off the IST").  Kernel-mode exceptions, NMI, #DF and #MC stay on their
// IST: they panic (or, for NMI, return without ever enabling interrupts).

#include "lvd.h"
#include "trapframe_asm.h"

#define TF_SIZE   (22 * 8)
#define TF_VECTOR (15 * 8)
#define TF_CS     (18 * 8)
#define TF_RSP    (20 * 8)

// Each stub is at most 16 bytes and 16-aligned: trap.c finds vector n's
// entry at vectors + 16 * n.
// The stubs and the common path live in .lvd_entry: mapped in every domain
// EPT too, so that interrupts arriving inside a domain need no VM exit.
.section .lvd_entry, "ax"
.balign 16
.globl vectors
vectors:
.set n, 0
.rept 256
	.balign 16
	// The CPU pushes an error code for these; the others get a 0 so that
	// every frame has the same shape.
	.if (n == 8) || (n == 10) || (n == 11) || (n == 12) || (n == 13) || (n == 14) || (n == 17) || (n == 21) || (n == 29) || (n == 30)
	.else
	pushq $0
	.endif
	pushq $n
	jmp alltraps
	.set n, n + 1
.endr
.balign 16
.globl vectors_end
vectors_end:

alltraps:
	cld
	// LVD section 5: a trap taken inside a domain (the view page reads 0
	// in domain EPTs), or in a trampoline window (RSP not the kernel's).
	testq $1, lvd_view_in_kernel(%rip)
	jz lvd_from_domain
	cmpq $0, lvd_state+S_INDOM(%rip)
	jne lvd_from_window
kernel_trap:
	PUSH_GPRS

	// From user mode, GS holds the user's base: swap in the kernel's.
	// (An NMI hitting kernel entry code before its swapgs would see
	// CS = kernel with the user GS; with no user mode yet, not handled.)
	testb $3, TF_CS(%rsp)
	jz 1f
	swapgs
1:
	movq TF_VECTOR(%rsp), %rax
	cmpq $2, %rax             // NMI
	je stay
	cmpq $8, %rax             // #DF
	je stay
	cmpq $18, %rax            // #MC
	je stay
	testb $3, TF_CS(%rsp)
	jnz from_user
	cmpq $32, %rax            // kernel-mode exception: it panics, stay
	jb stay
	movq TF_RSP(%rsp), %rdi   // kernel-mode interrupt: below the interrupted RSP
	jmp copy
from_user:
	movq %gs:8, %rdi          // the current thread's kernel stack top
copy:
	subq $TF_SIZE, %rdi
	andq $~15, %rdi
	movq %rdi, %rdx
	movq %rsp, %rsi
	movl $(TF_SIZE / 8), %ecx
	rep movsq
	// The IST pages are mapped writable in domain EPTs (their own CPU's):
	// leave none of this context's registers behind on them.
	cmpl $0, lvd_enabled(%rip)
	je 2f
	leaq -TF_SIZE(%rsi), %rdi
	xorl %eax, %eax
	movl $(TF_SIZE / 8), %ecx
	rep stosq
2:	movq %rdx, %rsp
stay:
	movq %rsp, %rdi
	// A frame-pointer link so that backtraces run through the trap into
	// the interrupted code: [rbp] = interrupted rbp, [rbp+8] = its rip.
	pushq 17*8(%rsp)          // tf->rip
	pushq 10*8+8(%rsp)        // tf->rbp
	movq %rsp, %rbp
	call trap
	addq $16, %rsp

.globl trapret
trapret:
	testb $3, TF_CS(%rsp)
	jz 1f
	SWAPGS_TO_USER %rax, %rcx // to user mode: the thread's FS and GS bases
1:
	POP_GPRS
	addq $16, %rsp            // vector and error code
	// Returning from the NMI IST (NMI, #DF, #MC taken in the kernel): scrub
	// the words pushed there, which this CPU's domain EPTs can read.  (The
	// CPU's own 5-word frame stays until the next such event:
	// docs/THREAT-MODEL.md.)
	cmpq lvd_state+S_ISTNMI(%rip), %rsp
	jae 4f
	pushq %rax                // (the slot is scrubbed below)
	movq lvd_state+S_ISTNMI(%rip), %rax
	subq $ISTSIZE, %rax
	cmpq %rax, %rsp
	popq %rax
	jb 4f
	.set i, 0
	.rept 17
	movq $0, -8 * (i + 1)(%rsp)
	.set i, i + 1
	.endr
4:	iretq

// ---- traps inside domains (docs/DOMAINS.md, "Interrupts") ----

lvd_from_window:
	// In the kernel EPT but on a domain-chosen RSP.  NMI, #DF and #MC stay
	// on their IST as always; everything else goes to the call's kernel stack.
	cmpq $2, (%rsp)
	je kernel_trap
	cmpq $8, (%rsp)
	je kernel_trap
	cmpq $18, (%rsp)
	je kernel_trap
	PUSH_GPRS
	xorl %r8d, %r8d           // kind 0: no VMFUNC on the way back
	jmp lvd_domain_trap

lvd_from_domain:
	// In a domain EPT, on this CPU's IST.  Back to the kernel EPT first.
	pushq %rax
	pushq %rcx
	pushq %rdx
	xorl %eax, %eax
	xorl %ecx, %ecx
.globl lvd_from_domain_vmfunc     // (the self test makes a domain jump here)
lvd_from_domain_vmfunc:
	vmfunc
	testq $1, lvd_view_in_kernel(%rip)
	jz lvd_bad_vmfunc         // still in a domain EPT: not our VMFUNC
	// Now in the kernel EPT: nothing may touch memory through RSP until it
	// is known to be where the CPU put this frame: one of this CPU's IST
	// tops minus the frame (5 words), vector and error code, and our three
	// pushes.  A domain that jumped here with a stack of its choosing (a
	// kernel address, to make the pushes below write kernel memory) or a
	// misaligned forged frame dies at the ud2, whose own frame goes to the
	// IST (vectors.S -> lvd_from_window -> lvd_trap).
	leaq 80(%rsp), %rax
	cmpq lvd_state+S_ISTIRQ(%rip), %rax
	je 2f
	cmpq lvd_state+S_ISTEXC(%rip), %rax
	je 2f
	cmpq lvd_state+S_ISTNMI(%rip), %rax
	jne lvd_bad_vmfunc
2:	popq %rdx
	popq %rcx
	popq %rax
	PUSH_GPRS
	movl $1, %r8d             // kind 1: VMFUNC back into the domain on return

lvd_domain_trap:
	// Trust only the state page: the kernel GS, the kernel stack of the call.
	movq %rsp, %rsi           // the frame on the IST
	rdgsbase %rdx             // the domain's GS base, restored on return
	movq lvd_state+S_KGS(%rip), %rax
	wrgsbase %rax
	movq lvd_state+S_KRSP(%rip), %rdi
	subq $(TF_SIZE + DF_SIZE), %rdi
	andq $~15, %rdi
	movq %rdx, TF_SIZE+DF_GS(%rdi)
	movq %r8, TF_SIZE+DF_KIND(%rdi)
	movq %rsi, TF_SIZE+DF_IST(%rdi)
	movq %rdi, %rdx
	movl $(TF_SIZE / 8), %ecx
	rep movsq
	movq %rdx, %rsp
	KNOWN_RFLAGS              // no AC, IOPL, DF of the domain's in kernel code
	movq $0, lvd_state+S_INDOM(%rip)
	movq %rsp, %rdi
	xorl %ebp, %ebp
	call lvd_trap             // lvd.c: kills the domain (no return) or handles an interrupt
	cli
	movq TF_SIZE+DF_GS(%rsp), %rax
	wrgsbase %rax
	movq $1, lvd_state+S_INDOM(%rip)
	cmpq $0, TF_SIZE+DF_KIND(%rsp)
	je 1f
	// Back into the domain: the frame returns to the IST (mapped in the
	// domain EPT), then VMFUNC, then iretq from there.
	movq TF_SIZE+DF_IST(%rsp), %rdi
	movq %rsp, %rsi
	movl $(TF_SIZE / 8), %ecx
	rep movsq
	movq TF_SIZE+DF_IST(%rsp), %rsp
	POP_GPRS_TO_RDX
	movq 8(%rsp), %rbx
	xorl %eax, %eax
	movl $1, %ecx
	vmfunc
	cmpl $1, %ecx
	jne lvd_bad_vmfunc
	movq 0(%rsp), %rcx
	movq 16(%rsp), %rax
	addq $(3 * 8 + 16), %rsp
	iretq
1:	// A trampoline window: return where it was, in the kernel EPT.
	POP_GPRS
	addq $16, %rsp
	iretq

.section .note.GNU-stack, "", @progbits
