// swtch(uint64_t *save_rsp, uint64_t new_rsp): save the callee-saved
// registers on this stack, store RSP in *save_rsp, switch to new_rsp and
// pop the registers saved there.  The caller-saved ones are already saved
// by the compiler around the call: that is why this is all a switch needs.
.text
.globl swtch
swtch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

.section .note.GNU-stack, "", @progbits
