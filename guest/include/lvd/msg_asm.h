/*
 * lvd/msg_asm.h: assembler macros for the 64-byte message of a crossing
 * (lvd/domain.h): words 0..7 travel in rdi rsi rdx r8 r9 r10 r11 r12.  Used by
 * the kernel's trampolines (guest/kernel/lvd/lvd_tramp.S) and the domain
 * library (guest/domains/lib/entry.S), so both sides agree on one layout.
 */
#ifndef LVD_MSG_ASM_H
#define LVD_MSG_ASM_H
#ifdef __ASSEMBLY__

/* The 8 words at (\base) into the registers; \base may be %rdi (loaded last). */
.macro LVD_MSG_LOAD base
	movq 8(\base), %rsi
	movq 16(\base), %rdx
	movq 24(\base), %r8
	movq 32(\base), %r9
	movq 40(\base), %r10
	movq 48(\base), %r11
	movq 56(\base), %r12
	movq 0(\base), %rdi
.endm

/* The registers into the 8 words at (\base); word 0 from \w0 (default %rdi). */
.macro LVD_MSG_STORE base, w0=%rdi
	movq \w0, 0(\base)
	movq %rsi, 8(\base)
	movq %rdx, 16(\base)
	movq %r8, 24(\base)
	movq %r9, 32(\base)
	movq %r10, 40(\base)
	movq %r11, 48(\base)
	movq %r12, 56(\base)
.endm

#endif
#endif
