// trapframe_asm.h: assembler macros that push and pop the general
// registers of a struct trapframe (percpu.h), lowest address first: r15 ...
// rax.  One definition for every entry path (vectors.S, syscall.S).
#pragma once

// Shared with C (percpu.h): the IST size, and the two words above each
// thread's kernel stack top (struct cpu.kstack_top) that hold the thread's
// user FS and GS bases.  Every return to user mode loads them (vectors.S
// trapret, syscall.S), so nothing a domain leaves in FS_BASE or
// KERNEL_GS_BASE ever reaches a user process (docs/THREAT-MODEL.md).
#define ISTSIZE 4096
#define USER_FS 0
#define USER_GS 8
#define USER_BASES_SIZE 16

#ifdef __ASSEMBLY__

// RFLAGS = 2 (only the always-one bit): interrupts off, DF = AC = NT = TF = 0,
// IOPL 0: what kernel code runs with on every way back from a domain
// (lvd_tramp.S, vectors.S).  Needs a kernel stack.
.macro KNOWN_RFLAGS
	pushq $2
	popfq
.endm

// Every return to user mode: the thread's user FS and GS bases (the words
// above its kernel stack top, %gs:8 = cpu.kstack_top) into FS_BASE and, after
// SWAPGS, GS_BASE, whatever a domain left in FS_BASE or KERNEL_GS_BASE
// meanwhile.  Clobbers \a and \b; ends with the user's GS active.
.macro SWAPGS_TO_USER a, b
	movq %gs:8, \a
	movq USER_FS(\a), \b
	wrfsbase \b
	movq USER_GS(\a), \b
	swapgs
	wrgsbase \b
.endm

.macro PUSH_GPRS
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
.endm

// All but rcx, rbx and rax (the domain return path needs those two free).
.macro POP_GPRS_TO_RDX
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rdx
.endm

.macro POP_GPRS
	POP_GPRS_TO_RDX
	popq %rcx
	popq %rbx
	popq %rax
.endm

#endif
