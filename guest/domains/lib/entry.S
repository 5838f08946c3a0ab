// entry.S: a domain's side of the trampolines (docs/DOMAINS.md).
//
// lvd_domain_entry is the first byte of the image (domain.ld): the kernel's
// trampoline jumps here, on this thread's domain stack, with the message in
// rdi rsi rdx r8 r9 r10 r11 r12.  The reply goes back in the same registers
// through LVD_TRAMP_RETURN.

#include <lvd/domain.h>

.section .text.lvd_entry, "ax"
.globl lvd_domain_entry
lvd_domain_entry:
	subq $64, %rsp
	movq %rdi, 0(%rsp)
	movq %rsi, 8(%rsp)
	movq %rdx, 16(%rsp)
	movq %r8, 24(%rsp)
	movq %r9, 32(%rsp)
	movq %r10, 40(%rsp)
	movq %r11, 48(%rsp)
	movq %r12, 56(%rsp)
	movq %rsp, %rdi            // (16-aligned: the kernel hands out aligned stacks, rbp zeroed)
	call lvd_dispatch          // lib.c: the reply replaces the message
	movq 0(%rsp), %rdi
	movq 8(%rsp), %rsi
	movq 16(%rsp), %rdx
	movq 24(%rsp), %r8
	movq 32(%rsp), %r9
	movq 40(%rsp), %r10
	movq 48(%rsp), %r11
	movq 56(%rsp), %r12
	movabsq $LVD_TRAMP_RETURN, %rax
	jmp *%rax

// long lvd_upcall_raw(struct lvd_msg *m): call a kernel service; the reply
// replaces *m.  Callee-saved registers are saved here: the kernel returns
// with them zeroed.
.text
.globl lvd_upcall_raw
lvd_upcall_raw:
	pushq %rbp
	movq %rsp, %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushq %rdi
	movq 8(%rdi), %rsi
	movq 16(%rdi), %rdx
	movq 24(%rdi), %r8
	movq 32(%rdi), %r9
	movq 40(%rdi), %r10
	movq 48(%rdi), %r11
	movq 56(%rdi), %r12
	movq 0(%rdi), %rdi
	movabsq $LVD_TRAMP_UPCALL, %rax
	call *%rax
	popq %rax                  // the message
	movq %rdi, 0(%rax)
	movq %rsi, 8(%rax)
	movq %rdx, 16(%rax)
	movq %r8, 24(%rax)
	movq %r9, 32(%rax)
	movq %r10, 40(%rax)
	movq %r11, 48(%rax)
	movq %r12, 56(%rax)
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	movq 0(%rax), %rax         // word 0: the status
	ret

.section .note.GNU-stack, "", @progbits
