// crt0.S: where a guest program starts.
//
// The loader jumps to _start in 64-bit mode at CPL 0, paging on (the first
// 4 GiB identity-mapped), interrupts off.  It gives us some stack, but we
// move to our own (exec.ld reserves it) so no program depends on how big
// the loader's is.

	.section .text.start, "ax"
	.globl _start
	.type _start, @function
_start:
	// RDI at entry is the boot-information block when the program is booted as a kernel
	// (docs/BOOT.md); keep it for the program (.data, so zeroing .bss cannot erase it).
	movq %rdi, __lvd_entry_rdi(%rip)
	// A program (RDI = 0, as under Linux): RSP points to argc, argv[], NULL,
	// envp[], NULL, auxv (docs/EXEC-ABI.md).  Kept in callee-saved registers
	// across the constructors; the auxiliary vector's place for getauxval.
	xorl %r13d, %r13d           // argc
	leaq empty(%rip), %r14      // argv
	movq %r14, %r15             // envp
	xorl %esi, %esi             // the auxiliary vector, stored once .bss is clear
	testq %rdi, %rdi
	jnz 4f
	movq (%rsp), %r13
	leaq 8(%rsp), %r14
	leaq 8(%r14,%r13,8), %r15   // past argv's NULL
	movq %r15, %rsi
5:	cmpq $0, (%rsi)             // past envp's NULL
	leaq 8(%rsi), %rsi
	jne 5b
4:
	// Zero .bss first, while nothing can have used it.  rep stos needs no
	// stack.  exec.ld aligns both ends to 8 bytes.  The loader may have
	// zeroed it already; doing it again is cheap and removes the doubt.
	cld
	leaq __bss_start(%rip), %rdi
	leaq __bss_end(%rip), %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	movq %rsi, __lvd_auxv(%rip)

	// Our stack.  __stack_top is 16-byte aligned, so after the call below
	// pushes the return address, main sees the alignment the ABI promises.
	leaq __stack_top(%rip), %rsp
	xorl %ebp, %ebp		// end of the frame-pointer chain for debuggers
#ifdef __SSE2__
	// The x87 as Linux starts a process: FNINIT (all exceptions masked, 64-bit
	// precision, round to nearest) instead of the power-up control word 0x40,
	// which unmasks them.  MXCSR is already 0x1F80.  Not in the runtime built
	// with -mgeneral-regs-only, whose programs do not touch that state.
	fninit
#endif

	// Constructors (__attribute__((constructor))), in exec.ld's order.
	// rbx and r12 are callee-saved, so they survive the calls.
	leaq __init_array_start(%rip), %rbx
	leaq __init_array_end(%rip), %r12
1:	cmpq %r12, %rbx
	jae 2f
	call *(%rbx)
	addq $8, %rbx
	jmp 1b
2:
	// main(argc, argv, envp); booted as a kernel, empty lists (argv[argc]
	// must still be NULL).
	movl %r13d, %edi
	movq %r14, %rsi
	movq %r15, %rdx
	call main

	movl %eax, %edi
	call exit
3:	hlt			// exit does not return
	jmp 3b
	.size _start, . - _start

	.section .rodata
	.balign 8
empty:
	.quad 0

	// No executable stack wanted.
	.section .note.GNU-stack, "", @progbits

	.data
	.balign 8
	.globl __lvd_entry_rdi
__lvd_entry_rdi:
	.quad 0
