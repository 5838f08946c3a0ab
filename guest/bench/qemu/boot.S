// boot.S: a multiboot (version 1) boot stub that runs an `lvd cc` program under
// qemu-system-x86_64 (TCG, full system), for the qemu-system column of
// `lvd bench mips` (docs/HOST-SPEED.md).  build.sh puts this stub's page at
// 0x3FF000, right below the program's image (linked at 0x400000 by
// guest/libc/exec.ld, flattened with objcopy), so the whole file is one
// multiboot "a.out kludge" image that qemu's -kernel loads as it is.
//
// The program expects what the emulator's loader gives it (guest/libc/README.md,
// the execution ABI): 64-bit mode, CPL 0, the first 4 GiB identity-mapped,
// interrupts off; COM1 at 0x3F8 for output; a 32-bit write to port 0xF4 ends
// the run (qemu: -device isa-debug-exit,iobase=0xf4,iosize=4).  RDI != 0
// tells crt0 it was booted as a kernel (no argv, no auxiliary vector).
//
// Defined by build.sh: ENTRY (the program's e_entry) and BSS_END (its _end).

#define MB_MAGIC  0x1BADB002
#define MB_FLAGS  0x00010000            // bit 16: the load addresses are in the header
#define TABLES    0x3F0000              // PML4, PDPT, 4 page directories: 6 pages below the stub
#define STUB      0x3FF000

	.section .text
	.code32
	.globl _start
_start:
	jmp entry

	.balign 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mb_header                 // header_addr
	.long STUB                      // load_addr: the file's first byte
	.long 0                         // load_end_addr: the whole file
	.long BSS_END                   // bss_end_addr: zeroed by the loader (crt0 zeroes .bss again)
	.long entry                     // entry_addr

entry:
	cli
	// Identity-map 4 GiB with 2 MiB pages (present, writable).
	movl $TABLES, %edi
	movl $(6 * 1024), %ecx
	xorl %eax, %eax
	rep stosl
	movl $(TABLES + 0x1000 + 3), TABLES                 // PML4[0] -> PDPT
	movl $(TABLES + 0x2000 + 3), TABLES + 0x1000        // PDPT[0..3] -> the directories
	movl $(TABLES + 0x3000 + 3), TABLES + 0x1008
	movl $(TABLES + 0x4000 + 3), TABLES + 0x1010
	movl $(TABLES + 0x5000 + 3), TABLES + 0x1018
	movl $(TABLES + 0x2000), %edi                       // 2048 entries: 2 MiB pages 0 .. 4 GiB
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax                                     // present, writable, page size
	movl %eax, (%edi,%ecx,8)
	movl %ecx, %eax
	shrl $11, %eax                                      // bits 32+ of the address: ecx >> 11
	movl %eax, 4(%edi,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jb 1b

	lgdt gdt_ptr
	movl %cr4, %eax
	orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax        // PAE, OSFXSR, OSXMMEXCPT
	movl %eax, %cr4
	movl $TABLES, %eax
	movl %eax, %cr3
	movl $0xC0000080, %ecx                              // EFER.LME
	rdmsr
	orl $(1 << 8), %eax
	wrmsr
	movl %cr0, %eax
	andl $~(1 << 2), %eax                               // no EM
	orl $((1 << 31) | (1 << 1) | 1), %eax               // PG, MP, PE
	movl %eax, %cr0
	ljmp $0x08, $long_mode

	.code64
long_mode:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movq $TABLES, %rsp                                  // crt0 moves to its own stack
	movl $1, %edi                                       // booted as a kernel
	movq $ENTRY, %rax
	jmp *%rax

	.balign 8
gdt:
	.quad 0
	.quad 0x00209A0000000000                            // 0x08: 64-bit code, DPL 0
	.quad 0x00CF92000000FFFF                            // 0x10: data
gdt_ptr:
	.word gdt_ptr - gdt - 1
	.long gdt

	.section .note.GNU-stack, "", @progbits
