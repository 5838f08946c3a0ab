// entry.S: a domain's side of the trampolines (docs/DOMAINS.md).
//
// lvd_domain_entry is the first byte of the image (domain.ld): the kernel's
// trampoline jumps here, on this thread's domain stack, with the message in
// rdi rsi rdx r8 r9 r10 r11 r12.  The reply goes back in the same registers
// through LVD_TRAMP_RETURN.

#include <lvd/domain.h>
#include <lvd/msg_asm.h>
#include <callee_saved_asm.h>

.section .text.lvd_entry, "ax"
.globl lvd_domain_entry
lvd_domain_entry:
	subq $64, %rsp
	LVD_MSG_STORE %rsp
	movq %rsp, %rdi            // (16-aligned: the kernel hands out aligned stacks, rbp zeroed)
	call lvd_dispatch          // lib.c: the reply replaces the message
	LVD_MSG_LOAD %rsp
	movabsq $LVD_TRAMP_RETURN, %rax
	jmp *%rax

// long lvd_upcall_raw(struct lvd_msg *m): call a kernel service; the reply
// replaces *m.  Callee-saved registers are saved here: the kernel returns
// with them zeroed.
.text
.globl lvd_upcall_raw
lvd_upcall_raw:
	PUSH_CALLEE_SAVED frame=1
	pushq %rdi
	LVD_MSG_LOAD %rdi
	movabsq $LVD_TRAMP_UPCALL, %rax
	call *%rax
	popq %rax                  // the message
	LVD_MSG_STORE %rax
	POP_CALLEE_SAVED
	movq 0(%rax), %rax         // word 0: the status
	ret

.section .note.GNU-stack, "", @progbits
