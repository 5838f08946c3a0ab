// syscall.S: the SYSCALL entry point (MSR_LSTAR) and the SYSRET exit.
//
// SYSCALL switches CS/SS and RIP but not RSP, and leaves IF cleared
// (MSR_FMASK): until we are on this thread's kernel stack nothing may
// interrupt us.  The user RSP is parked in the per-CPU scratch word only
// for the two instructions it takes to push it: a syscall can sleep and
// another thread's syscall can reuse the scratch word on this CPU.
// The frame built is a struct trapframe (percpu.h), the same one traps
// use, so syscall code and the fault path read user registers alike.

#include "trapframe_asm.h"

#define SEG_UDATA 0x20
#define SEG_UCODE 0x28

.text
.globl syscall_entry
syscall_entry:
	swapgs                    // GS: the user's -> this CPU's block
	movq %rsp, %gs:16         // user RSP
	movq %gs:8, %rsp          // this thread's kernel stack top
	pushq $(SEG_UDATA | 3)    // ss
	pushq %gs:16              // rsp
	pushq %r11                // rflags (SYSCALL saved them in R11)
	pushq $(SEG_UCODE | 3)    // cs
	pushq %rcx                // rip (SYSCALL saved it in RCX)
	pushq $0                  // err
	pushq $-1                 // vector: -1 marks a system call
	cld
	PUSH_GPRS
	movq %rsp, %rdi
	xorl %ebp, %ebp           // the backtrace ends here
	call syscall              // syscall.c; enables interrupts itself
	cli                       // from here to sysret we hold user RSP/GS state
	POP_GPRS
	addq $16, %rsp            // vector and error code
	// SYSRET takes RIP from RCX and RFLAGS from R11 (SDM SYSRET); the
	// frame's values, not the user's RCX/R11, which SYSCALL overwrote.
	SWAPGS_TO_USER %rcx, %r11 // the thread's FS and GS bases (trapframe_asm.h)
	movq 0(%rsp), %rcx
	movq 16(%rsp), %r11
	movq 24(%rsp), %rsp       // user RSP: from here on no kernel stack
	sysretq

// usermode_enter(tf): start a user thread from a frame built on its
// kernel stack, through the trap exit path (swapgs, iretq).
.globl usermode_enter
usermode_enter:
	cli
	movq %rdi, %rsp
	jmp trapret

.section .note.GNU-stack, "", @progbits
