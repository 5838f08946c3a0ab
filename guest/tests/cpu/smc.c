// smc.c: self-modifying code.  On x86 a store to an instruction that has
// not yet executed is seen by it, even when it comes right after the store
// in straight-line code (SDM Vol. 3A 11.6: "a write to a memory location in
// a code segment that is currently cached in the processor causes the
// associated cache line (or lines) to be invalidated"; the processor checks
// whether a write may modify an instruction that has been prefetched and
// invalidates it).  Only cross-modifying code (another CPU) needs a
// serializing instruction; everything here is one CPU.
//
// The code runs from two pages of our .bss: the identity map is RWX, and
// the same physical pages are also mapped at TESTVA, writable, for stores
// through a second linear address.

#include "cputest.h"

static u8 code[2][4096] __attribute__((aligned(4096)));
static u64 straddle_fix;
#define CODE	((u64)code)
#define ALIAS	TESTVA

// Templates, assembled into .rodata and copied into `code`.  Every memory
// operand is RIP-relative to the template itself, so a copy works anywhere.
// Each global label "x_at" marks the instruction a test modifies.
__asm__(
"	.section .rodata\n"

// The store rewrites the immediate of the very next instruction.
"	.globl tpl_next, tpl_next_at, tpl_next_end\n"
"tpl_next:\n"
"	movb $0x22, tpl_next_at+1(%rip)\n"
"tpl_next_at:\n"
"	movl $0x11, %eax\n"
"	ret\n"
"tpl_next_end:\n"

// ... an instruction a few instructions further on in the same block.
"	.globl tpl_later, tpl_later_at, tpl_later_end\n"
"tpl_later:\n"
"	movb $0x33, tpl_later_at+1(%rip)\n"
"	addl $0, %ecx\n"
"	nop\n"
"	leaq 0(%rax), %rax\n"
"	xorl %edx, %edx\n"
"tpl_later_at:\n"
"	movl $0x11, %eax\n"
"	ret\n"
"tpl_later_end:\n"

// A loop that rewrites its own add's immediate every iteration:
// returns 1 + 2 + ... + n (n <= 127, the imm8 is sign-extended).
"	.globl tpl_loop, tpl_loop_at, tpl_loop_end\n"
"tpl_loop:\n"
"	xorl %eax, %eax\n"
"	movl $1, %ecx\n"
"1:	movb %cl, tpl_loop_at+2(%rip)\n"
"tpl_loop_at:\n"
"	addl $0, %eax\n"
"	incl %ecx\n"
"	cmpl %edi, %ecx\n"
"	jbe 1b\n"
"	ret\n"
"tpl_loop_end:\n"

// The store goes through another linear address (RDI = alias - identity).
"	.globl tpl_alias, tpl_alias_at, tpl_alias_end\n"
"tpl_alias:\n"
"	leaq tpl_alias_at+1(%rip), %rax\n"
"	addq %rdi, %rax\n"
"	movb $0x44, (%rax)\n"
"tpl_alias_at:\n"
"	movl $0x11, %eax\n"
"	ret\n"
"tpl_alias_end:\n"

// REP MOVSB copies a whole new instruction over the next one.
"	.globl tpl_rep, tpl_rep_at, tpl_rep_end\n"
"tpl_rep:\n"
"	leaq 2f(%rip), %rsi\n"
"	leaq tpl_rep_at(%rip), %rdi\n"
"	movl $5, %ecx\n"
"	rep movsb\n"
"tpl_rep_at:\n"
"	movl $0x11, %eax\n"
"	ret\n"
"2:	.byte 0xb8, 0x55, 0, 0, 0\n"
"tpl_rep_end:\n"

// A 4-byte store turns two instructions into NOPs: returns 1, not 3.
"	.globl tpl_nops, tpl_nops_at, tpl_nops_end\n"
"tpl_nops:\n"
"	xorl %eax, %eax\n"
"	movl $0x90909090, tpl_nops_at(%rip)\n"
"tpl_nops_at:\n"
"	incl %eax\n"
"	incl %eax\n"
"	incl %eax\n"
"	ret\n"
"tpl_nops_end:\n"

// Code that keeps a counter in its own page.
"	.globl tpl_counter, tpl_counter_end\n"
"tpl_counter:\n"
"	incl 2f(%rip)\n"
"	movl 2f(%rip), %eax\n"
"	ret\n"
"	.p2align 3\n"
"2:	.long 0\n"
"tpl_counter_end:\n"
"	.text\n"
);

extern const u8 tpl_next[], tpl_next_at[], tpl_next_end[];
extern const u8 tpl_later[], tpl_later_at[], tpl_later_end[];
extern const u8 tpl_loop[], tpl_loop_at[], tpl_loop_end[];
extern const u8 tpl_alias[], tpl_alias_at[], tpl_alias_end[];
extern const u8 tpl_rep[], tpl_rep_at[], tpl_rep_end[];
extern const u8 tpl_nops[], tpl_nops_at[], tpl_nops_end[];
extern const u8 tpl_counter[], tpl_counter_end[];

typedef u64 (*fn_t)(u64);

// Copies a template to code + off; returns its address there.
static u64
place(u64 off, const u8 *start, const u8 *end)
{
	memcpy((void *)(CODE + off), start, end - start);
	return CODE + off;
}

static u64
callat(u64 addr, u64 arg)
{
	return ((fn_t)addr)(arg);
}

// ---- a function rewritten between calls ----

static void
t_rewrite(void)
{
	u8 *p = code[0];
	int bad = 0;

	// mov $imm32, %eax; ret -- then the same with a new immediate, 64 times.
	for (u32 i = 0; i < 64; i++) {
		u32 imm = 0x1000 + i * 0x101;
		p[0] = 0xb8;
		memcpy(p + 1, &imm, 4);
		p[5] = 0xc3;
		if (callat(CODE, 0) != imm)
			bad++;
	}
	check_eq("smc.rewrite_immediate.mismatches", 0, bad);

	// A different instruction of a different length: xor %eax,%eax; ret.
	memcpy(p, "\xb8\x07\x00\x00\x00\xc3", 6);
	check_eq("smc.rewrite_opcode.before", 7, callat(CODE, 0));
	memcpy(p, "\x31\xc0\xc3", 3);
	check_eq("smc.rewrite_opcode.after", 0, callat(CODE, 0));
	// lea 5(%rdi), %eax; ret: the function now uses its argument.
	memcpy(p, "\x8d\x47\x05\xc3", 4);
	check_eq("smc.rewrite_opcode.again", 12, callat(CODE, 7));

	// Rewritten through the alias mapping.
	memcpy(p, "\xb8\x07\x00\x00\x00\xc3", 6);
	check_eq("smc.rewrite_via_alias.before", 7, callat(CODE, 0));
	*(volatile u8 *)(ALIAS + 1) = 9;
	check_eq("smc.rewrite_via_alias.after", 9, callat(CODE, 0));
}

// ---- the same linear address remapped to other code ----

static void
t_remap(void)
{
	u64 va = ALIAS + 0x10000, f1 = frame_alloc(), f2 = frame_alloc();

	memcpy((void *)f1, "\xb8\x01\x00\x00\x00\xc3", 6);
	memcpy((void *)f2, "\xb8\x02\x00\x00\x00\xc3", 6);
	vm_map(va, f1, PTE_P);
	check_eq("smc.remap.first", 1, callat(va, 0));
	vm_map(va, f2, PTE_P);	// vm_map does the INVLPG
	check_eq("smc.remap.second", 2, callat(va, 0));
	vm_map(va, f1, PTE_P);
	check_eq("smc.remap.back", 1, callat(va, 0));
}

// ---- an instruction that straddles two pages, run warm ----

// mov $imm32, %eax; ret with the opcode and two immediate bytes at the end of page 1 and the rest (two bytes and
// the ret) at the start of page 2: run many times (an emulator may keep the decoded block), then with either page's
// bytes rewritten, and with the second linear page mapped to another frame, or to none.
static int
straddle_mismatches(u64 f, u64 want)
{
	int bad = 0;
	for (int i = 0; i < 200; i++)
		if (callat(f, 0) != want)
			bad++;
	return bad;
}

static void
map_straddle_page(struct trapframe *tf)
{
	(void)tf;
	vm_map(ALIAS + 0x21000, straddle_fix, PTE_P);
}

static void
t_straddle(void)
{
	u64 va = ALIAS + 0x20000, f1 = frame_alloc(), f2 = frame_alloc(), f3 = frame_alloc();
	u8 *p1 = (u8 *)f1, *p2 = (u8 *)f2, *p3 = (u8 *)f3;

	memcpy(p1 + 0xffd, "\xb8\x01\x02", 3);
	memcpy(p2, "\x03\x04\xc3", 3);
	memcpy(p3, "\x13\x14\xc3", 3);
	vm_map(va, f1, PTE_P);
	vm_map(va + 4096, f2, PTE_P);
	u64 f = va + 0xffd;
	check_eq("smc.straddle.warm", 0, straddle_mismatches(f, 0x04030201));
	p2[1] = 0x24;	// the immediate's last byte, on the second page
	check_eq("smc.straddle.second_page_written", 0, straddle_mismatches(f, 0x24030201));
	p1[0xfff] = 0x22;	// a byte on the first page
	check_eq("smc.straddle.first_page_written", 0, straddle_mismatches(f, 0x24032201));
	vm_map(va + 4096, f3, PTE_P);	// the second page remapped (vm_map does the INVLPG)
	check_eq("smc.straddle.second_page_remapped", 0, straddle_mismatches(f, 0x14132201));
	vm_map(va + 4096, f2, PTE_P);
	check_eq("smc.straddle.second_page_back", 0, straddle_mismatches(f, 0x24032201));
	// The second page unmapped: the fetch faults (CR2 on that page, RIP at the mov); the handler maps f3 and the
	// retry runs the new bytes.
	vm_map(va + 4096, 0, 0);
	straddle_fix = f3;
	trap_hook(14, map_straddle_page);
	trap_reset();
	u64 v = callat(f, 0);
	trap_hook(14, 0);
	check_trap("smc.straddle.second_page_missing", 14, PF_I, f, va + 4096);
	check_eq("smc.straddle.second_page_missing.retry_value", 0x14132201, v);
	check_eq("smc.straddle.after_fault", 0, straddle_mismatches(f, 0x14132201));
}

// ---- a store to an instruction later in the block that is executing ----

static void
t_same_block(void)
{
	u64 f, at;

	f = place(0x100, tpl_next, tpl_next_end);
	at = CODE + 0x100 + (tpl_next_at - tpl_next);
	check_eq("smc.same_block.next_insn", 0x22, callat(f, 0));
	*(u8 *)(at + 1) = 0x11;	// undo, then again from a warm cache
	check_eq("smc.same_block.next_insn_again", 0x22, callat(f, 0));

	f = place(0x200, tpl_later, tpl_later_end);
	check_eq("smc.same_block.later_insn", 0x33, callat(f, 0));

	f = place(0x300, tpl_loop, tpl_loop_end);
	check_eq("smc.same_block.loop_rewrites_own_add", 100 * 101 / 2, callat(f, 100));
	check_eq("smc.same_block.loop_again", 100 * 101 / 2, callat(f, 100));

	f = place(0x400, tpl_alias, tpl_alias_end);
	check_eq("smc.same_block.store_via_alias", 0x44, callat(f, ALIAS - CODE));

	f = place(0x500, tpl_rep, tpl_rep_end);
	check_eq("smc.same_block.rep_movsb", 0x55, callat(f, 0));

	f = place(0x600, tpl_nops, tpl_nops_end);
	check_eq("smc.same_block.store_nops", 1, callat(f, 0));

	// The modified instruction starts exactly on the next page...
	f = place(4096 - (tpl_next_at - tpl_next), tpl_next, tpl_next_end);
	check_eq("smc.same_block.target_on_next_page", 0x22, callat(f, 0));
	// ... or straddles the page boundary, its immediate on the next page.
	f = place(4096 - (tpl_next_at - tpl_next) - 1, tpl_next, tpl_next_end);
	check_eq("smc.same_block.target_straddles_pages", 0x22, callat(f, 0));

	// Code whose data shares its page: every call stores into it.
	f = place(0x700, tpl_counter, tpl_counter_end);
	for (int i = 0; i < 999; i++)
		callat(f, 0);
	check_eq("smc.code_page_with_data.counter", 1000, callat(f, 0));
}

int
main(void)
{
	cpu_init("smc");
	vm_init();
	vm_map(ALIAS, CODE, PTE_P | PTE_W);
	vm_map(ALIAS + 4096, CODE + 4096, PTE_P | PTE_W);
	run("rewrite", t_rewrite);
	run("same_block", t_same_block);
	run("remap", t_remap);
	run("straddle", t_straddle);
	return report("smc");
}
