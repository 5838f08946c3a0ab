// swtch(uint64_t *save_rsp, uint64_t new_rsp): save the callee-saved
// registers on this stack, store RSP in *save_rsp, switch to new_rsp and
// pop the registers saved there.  The caller-saved ones are already saved
// by the compiler around the call: that is why this is all a switch needs.
#include <callee_saved_asm.h>

.text
.globl swtch
swtch:
	PUSH_CALLEE_SAVED
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	POP_CALLEE_SAVED
	ret

.section .note.GNU-stack, "", @progbits
