// callee_saved_asm.h: the System V callee-saved registers, saved and restored
// by every assembly function that hands the CPU to other code and comes back
// (swtch.S, lvd_tramp.S, the domain library's entry.S).  One order for all:
// a new thread's first stack (sched.c) is built to match it.
#pragma once

#ifdef __ASSEMBLY__

// rbp (and, with frame=1, a frame pointer: RBP = RSP), rbx, r12 ... r15.
.macro PUSH_CALLEE_SAVED frame=0
	pushq %rbp
	.if \frame
	movq %rsp, %rbp
	.endif
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
.endm

.macro POP_CALLEE_SAVED
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
.endm

#endif
