// lvd_tramp.S: the cross-domain trampolines (LVD.md section 4).
//
// This is the first page of the kernel image (kernel.ld), at LVD_TRAMP_BASE,
// mapped execute-only-ish (R+X) at the same address in the kernel and in every
// domain: after a VMFUNC the next instruction is fetched through the other
// EPT, so every VMFUNC here is followed by code of this same page.  Domains
// reach it only through the two entries at its start.
//
// Rules kept on every path:
// - after every VMFUNC, ECX is checked against the EPTP index the code meant
//   to reach (a VMFUNC the trampoline did not issue lands on a wrong ECX);
//   a mismatch is ud2: an exception, which kills the domain (lvd_trap);
// - in the kernel EPT only the state page is trusted: RSP comes from it;
// - the state page's in_domain word is 1 exactly while RSP is not a kernel
//   stack (vectors.S then puts interrupt frames on the kernel stack of the
//   call, never below a domain-chosen RSP);
// - registers the domain must not see (rbx, rbp, r13-r15) are zeroed;
// - RFLAGS is a known value (KNOWN_RFLAGS) as soon as RSP is the kernel's,
//   on every way back into the kernel: return, upcall, unwind, abort: no
//   DF, AC, NT, TF or IOPL a domain set survives into kernel code.

#include "lvd.h"
#include <lvd/msg_asm.h>
#include <callee_saved_asm.h>
#include "trapframe_asm.h"

#define KDATA 0x10
#define ST(off) (lvd_state + off)(%rip)


// Into the domain (EPTP-list slot 1): zero the registers the domain must not
// see, give it interrupts if the call was made with them on (the STI shadow
// covers the VMFUNC), switch.  The caller checks ECX right after.
.macro VMFUNC_TO_DOMAIN
	xorl %ebx, %ebx
	xorl %ebp, %ebp
	xorl %r13d, %r13d
	xorl %r14d, %r14d
	xorl %r15d, %r15d
	movl $1, %ecx
	xorl %eax, %eax
	cmpq $0, ST(S_DOMIF)
	je 1f
	sti
1:	vmfunc
.endm

.section .lvd_tramp, "ax"
.balign 4096
.globl lvd_tramp_start
lvd_tramp_start:
	// LVD_TRAMP_RETURN: a domain's reply, words in registers.
	jmp lvd_domain_return
	.balign 16
	// LVD_TRAMP_UPCALL: a domain calls a kernel service (with `call`).
	jmp lvd_domain_upcall
	.balign 16

// long lvd_enter(struct lvd_msg *m, uint64_t domain_rsp, uint64_t domain_if)
// Called by lvd_call with interrupts off, EPTP slot 1 = the domain on this
// CPU and the CR3 remap in place.  Returns 0 (reply words written to *m) or
// -LVD_EDEAD through lvd_unwind.
.globl lvd_enter
lvd_enter:
	cli
	PUSH_CALLEE_SAVED frame=1
	pushq %rdi                      // the message, for the reply
	rdfsbase %rax                   // the FS base, restored on the way back
	pushq %rax
	pushq ST(S_DOMIF)               // the outer call's words (nesting)
	pushq ST(S_DRSP)
	pushq ST(S_KRSP)
	movq %rsp, ST(S_KRSP)
	movq %rdx, ST(S_DOMIF)
	movq %rsi, %rax                 // the domain stack
	LVD_MSG_LOAD %rdi
	movq $1, ST(S_INDOM)            // from here RSP is not ours
	movq %rax, %rsp
	VMFUNC_TO_DOMAIN
	cmpl $1, %ecx                   // in the domain EPT now
	jne lvd_bad_vmfunc
	movabsq $LVD_DOMAIN_BASE, %rax  // the domain's entry point
	jmp *%rax

// The domain's reply (reached by jmp LVD_TRAMP_RETURN with any IF).
lvd_domain_return:
	cli
	xorl %eax, %eax
	xorl %ecx, %ecx
.globl lvd_return_vmfunc             // (the self test makes a domain jump here with its own ECX)
lvd_return_vmfunc:
	vmfunc
	cmpl $0, %ecx                   // in the kernel EPT now
	jne lvd_bad_vmfunc
	cli                             // (a jump straight to the vmfunc skipped the first)
	cmpq $0, ST(S_INDOM)
	je lvd_bad_vmfunc               // no call in progress on this CPU
	movq ST(S_KRSP), %rsp
	KNOWN_RFLAGS
	movq %rdi, %rax                 // keep the reply's first word
	rdgsbase %rcx                   // the domain must leave GS alone (Invariant 5)
	cmpq ST(S_KGS), %rcx
	jne lvd_gs_tampered
	movq $0, ST(S_INDOM)
	popq ST(S_KRSP)
	popq ST(S_DRSP)
	popq ST(S_DOMIF)
	popq %rcx
	wrfsbase %rcx                   // whatever the domain did to FS
	popq %rcx                       // the message
	LVD_MSG_STORE %rcx, %rax
	POP_CALLEE_SAVED
	xorl %eax, %eax
	ret

// A kernel service called by a domain: words in registers, the return
// address on the domain stack.
lvd_domain_upcall:
	cli
	xorl %eax, %eax
	xorl %ecx, %ecx
	vmfunc
	cmpl $0, %ecx
	jne lvd_bad_vmfunc
	cli
	cmpq $0, ST(S_INDOM)
	je lvd_bad_vmfunc
	movq %rsp, ST(S_DRSP)
	movq ST(S_KRSP), %rsp
	KNOWN_RFLAGS
	rdgsbase %rcx
	cmpq ST(S_KGS), %rcx
	jne lvd_gs_tampered
	movq $0, ST(S_INDOM)
	subq $64, %rsp                  // the message, on the kernel stack
	andq $-16, %rsp
	LVD_MSG_STORE %rsp
	movq %rsp, %rdi
	xorl %ebp, %ebp
	call lvd_upcall_dispatch        // lvd.c: never trusts the words
	LVD_MSG_LOAD %rsp
	movq $1, ST(S_INDOM)
	movq ST(S_DRSP), %rsp
	VMFUNC_TO_DOMAIN
	cmpl $1, %ecx
	jne lvd_bad_vmfunc
	ret                             // in the domain, from the domain stack

// A VMFUNC that landed with the wrong ECX, or a trampoline entered out of
// turn: an exception, taken in whichever EPT we are in (vectors.S sends
// it to lvd_trap, which kills the domain).
.globl lvd_bad_vmfunc
lvd_bad_vmfunc:
	ud2

.balign 4096
.globl lvd_tramp_end
lvd_tramp_end:

// Kernel-only from here (not mapped in domains).
.text

// The domain changed the GS base (swapgs or wrgsbase): kill it.
lvd_gs_tampered:
	movq ST(S_KGS), %rax
	wrgsbase %rax
	movq $0, ST(S_INDOM)
	movl $1, %edi
	call lvd_fault_gs
	jmp lvd_unwind

// The hypervisor's domain-abort entry (Hypercall DomainAbortEntry): a
// violation by a domain.  Kernel EPT, interrupts off, kernel CS/SS; the
// violation in rdi, rsi, rdx, r10, r8.
.globl lvd_abort_entry
lvd_abort_entry:
	movw $KDATA, %ax
	movw %ax, %ss
	movw %ax, %ds
	movw %ax, %es
	movq ST(S_KGS), %rax
	wrgsbase %rax
	cmpq $0, ST(S_INDOM)
	je 1f
	movq ST(S_KRSP), %rsp
	KNOWN_RFLAGS
	movq $0, ST(S_INDOM)
	movq %r10, %rcx
	call lvd_violation              // lvd.c: report, kill
	jmp lvd_unwind
1:	// Not inside a call: the kernel itself caused it.
	movq ST(S_KRSP), %rsp
	movq %r10, %rcx
	call lvd_violation_kernel       // panics

// Return -LVD_EDEAD from the innermost lvd_enter (RSP = its frame).
.globl lvd_unwind
lvd_unwind:
	cli
	movq ST(S_KRSP), %rsp
	KNOWN_RFLAGS
	movq $0, ST(S_INDOM)
	popq ST(S_KRSP)
	popq ST(S_DRSP)
	popq ST(S_DOMIF)
	popq %rcx
	wrfsbase %rcx
	popq %rcx                       // the message
	POP_CALLEE_SAVED
	movq $-LVD_EDEAD, %rax
	ret

// The view page: 1 here, and 0 in the page domain EPTs map at its address.
.section .lvd_view, "aw"
.balign 4096
.globl lvd_view_in_kernel
lvd_view_in_kernel:
	.quad 1
.balign 4096

// The state page (struct lvd_state); per-CPU host pages after lvd_init.
.section .lvd_state, "aw"
.balign 4096
.globl lvd_state
lvd_state:
	.zero 4096

.section .note.GNU-stack, "", @progbits
