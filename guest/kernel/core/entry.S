// entry.S: where the boot loader and the AP start protocol enter the kernel.
// Both arrive in 64-bit mode on the boot page tables with IF = 0
// (docs/BOOT.md).

#define STACK 16384

.section .text.entry, "ax"
.globl _start
_start:
	// RDI = physical address of the boot-information block: leave it for
	// kmain.  The loader's stack is somewhere we do not own; use ours.
	leaq boot_stack_top(%rip), %rsp
	xorl %ebp, %ebp            // ends the backtrace's frame chain
	call kmain
1:	cli
	hlt
	jmp 1b

// AP n enters here from its mailbox with RSP = its stack in ap_stacks
// (kernel window, valid under both page tables) and RDI = n.
.globl ap_start
ap_start:
	movq kernel_cr3(%rip), %rax   // leave the boot tables: the kernel's own
	movq %rax, %cr3
	xorl %ebp, %ebp
	call ap_main
1:	cli
	hlt
	jmp 1b

.section .bss
.balign 4096
boot_stack:
	.space STACK
boot_stack_top:

.section .note.GNU-stack, "", @progbits
