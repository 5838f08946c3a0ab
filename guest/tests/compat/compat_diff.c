// compat_diff.c: 32-bit code in compatibility mode, on the host CPU and on
// the machine (README.md).  A 64-bit process far-calls (LCALL m16:32) into a
// 32-bit code segment (Linux: selector 0x23; the machine, where lvd exec
// programs run at CPL 0: a 32-bit ring-0 segment this program adds to a copy
// of its GDT), runs one snippet with registers and flags from a random
// input state, stores the registers, the flags and a data buffer, and far-
// returns (LRETL) to 64-bit mode, which prints one line per case.  Built
// natively with gcc -no-pie (everything below 4 GiB) and with lvd cc: the two
// outputs must be identical.

#include <stdio.h>
#include <string.h>
#include "../xorshift.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define NBUF	16
#ifndef NRAND
#define NRAND	40
#endif

// The state a snippet starts from and ends with (accessed from 32-bit code by absolute address).
u32 c_in[8], c_out[8], c_in_flags, c_out_flags, c_entry_esp, c_snip_esp, c_out_esp, c_snippet;
u32 buf[NBUF + 16] __attribute__((aligned(64)));
u8 stack32[16384] __attribute__((aligned(16)));
u64 c_saved_rsp;
u16 c_saved_ds, c_saved_es;
struct __attribute__((packed)) { u32 off; u16 sel; } c_far;

// name, 32-bit code (AT&T, no operands), defined output flags (CF PF AF ZF SF OF = 0x8d5 minus what the SDM leaves undefined)
#define ALU	0x8d5
#define LOGIC	0x8c5	// AF undefined
#define SHIFT	0x0c5	// OF (count != 1) and AF undefined
#define ROT	0x0d5	// OF undefined (count != 1); others unaffected
#define MUL	0x801
#define NONE	0
#define CASES(X) \
	X(inc_40_eax, ".byte 0x40") \
	X(inc_41_ecx, ".byte 0x41") \
	X(dec_4a_edx, ".byte 0x4a") \
	X(dec_4f_edi, ".byte 0x4f") \
	X(inc_46_esi_x3, ".byte 0x46, 0x46, 0x46") \
	X(add_rr, "addl %ecx, %eax") \
	X(adc_rr, "adcl %edx, %ebx") \
	X(sub_rr, "subl %esi, %edi") \
	X(sbb_ri, "sbbl $0x12345, %eax") \
	X(cmp_ri8, "cmpl $-3, %ecx") \
	X(neg_r, "negl %edx") \
	X(and_rr, "andl %ecx, %eax") \
	X(or_ri, "orl $0x80000001, %ebx") \
	X(xor_rr, "xorl %edi, %esi") \
	X(test_rr, "testl %ecx, %eax") \
	X(add16, "addw %cx, %ax") \
	X(inc16, "incw %dx") \
	X(sub16_imm, "subw $0x8001, %bx") \
	X(add8_high, "addb %ch, %al") \
	X(sub8_high, "subb %dh, %bh") \
	X(mov8_high, "movb %ah, %bl; movb %cl, %dh") \
	X(shl_cl, "shll %cl, %eax") \
	X(shr_cl, "shrl %cl, %edx") \
	X(sar_cl, "sarl %cl, %ebx") \
	X(shl_1, "shll $1, %esi") \
	X(rol_cl, "roll %cl, %eax") \
	X(rcr_cl, "rcrl %cl, %edi") \
	X(shld_cl, "shldl %cl, %ebx, %eax") \
	X(shrd_imm, "shrdl $7, %edx, %esi") \
	X(mul_r, "mull %ecx") \
	X(imul2, "imull %ebx, %eax") \
	X(imul3, "imull $-7, %ecx, %edx") \
	X(div_r, "xorl %edx, %edx; orl $1, %ecx; divl %ecx") \
	X(idiv_r, "andl $0x7fffffff, %ecx; orl $2, %ecx; cltd; idivl %ecx") \
	X(bsf_bsr, "orl $1, %ecx; bsfl %ecx, %eax; bsrl %ecx, %edx") \
	X(bt_bts, "btl %ecx, %eax; btsl $5, %ebx") \
	X(bswap, "bswap %eax; bswap %edi") \
	X(movzx_movsx, "movzbl %cl, %eax; movswl %dx, %ebx; movsbw %ch, %si") \
	X(cbw_cwde_cdq, "cbtw; cwtl; cltd") \
	X(lea_sib_wrap, "leal 0x12345678(%eax,%ebx,4), %ecx; leal (%edx,%edx,8), %esi") \
	X(lea_16bit_dst, "leaw 3(%eax,%ecx,2), %dx") \
	X(setcc, "setc %al; setz %ah; seto %bl; sets %bh; setl %cl; setbe %ch") \
	X(cmovcc, "cmovll %ecx, %eax; cmovael %edx, %ebx; cmovpl %esi, %edi") \
	X(jcc, "cmpl %ecx, %eax; jl 1f; movl $1, %edx; jmp 2f; 1: movl $2, %edx; 2:") \
	X(lahf_sahf, "lahf; xorb $0xd5, %ah; sahf") \
	X(xchg, "xchgl %eax, %ebx; xchgw %cx, %dx; xchgb %ah, %dl") \
	X(push_pop, "pushl %eax; pushl %ecx; popl %edx; popl %ebx") \
	X(push_imm8_sext, "pushl $-5; popl %eax; pushl $0x12345678; popl %ecx") \
	X(pushw_popw, "pushw %ax; pushw $-2; popw %bx; popw %dx") \
	X(push_pop_mem, "pushl buf+4; popl %eax; pushl %ecx; popl buf+8") \
	X(push_pop_sreg, "pushl $0; addl $4, %esp; pushl %ss; popl %eax; movl %ss, %ecx; subl %ecx, %eax; " \
		"pushl %ds; popl %ds; pushw %es; popw %es; movl %ds, %edx; movl %ss, %ecx; subl %ecx, %edx; xorl %ecx, %ecx") \
	X(pushf_popf, "pushfl; popl %eax; andl $0x8d5, %eax; andl $0x8d5, %ecx; pushl %ecx; popfl") \
	X(pusha_popa, "pushal; movl 12(%esp), %eax; subl %esp, %eax; movl %eax, 28(%esp); " \
		"xorl %ebx, %ebx; xorl %esi, %esi; popal") \
	X(call_ret, "call 1f; jmp 2f; 1: addl %ecx, %eax; ret; 2:") \
	X(call_ret_imm, "pushl %ebx; call 1f; jmp 2f; 1: incl %eax; ret $4; 2:") \
	X(enter_leave, "enter $24, $0; movl %ebp, %eax; subl %esp, %eax; leave") \
	X(jmp_call_indirect, "movl $1f, %eax; jmp *%eax; ud2; 1: movl $2f, %edx; call *%edx; jmp 3f; " \
		"2: incl %ecx; ret; 3: xorl %eax, %eax; xorl %edx, %edx") \
	X(loop, "andl $7, %ecx; incl %ecx; xorl %eax, %eax; 1: addl $3, %eax; loop 1b") \
	X(loopne, "andl $15, %ecx; incl %ecx; xorl %edx, %edx; 1: incl %edx; cmpl $5, %edx; loopne 1b") \
	X(jecxz, "andl $1, %ecx; movl $7, %eax; jecxz 1f; movl $9, %eax; 1:") \
	X(mem_alu, "addl %eax, buf; subl $5, buf+4; incl buf+8; notl buf+12; negl buf+16; xorl buf+20, %ecx") \
	X(mem_shift, "shll %cl, buf+24; rorl $3, buf+28") \
	X(mem_bts, "andl $127, %ecx; btsl %ecx, buf; btrl $9, buf+4") \
	X(moffs, "movl buf+16, %eax; movl %ebx, buf+20; movb buf+3, %dl") \
	X(xchg_mem, "xchgl %eax, buf+4; lock cmpxchgl %ecx, buf+8; lock xaddl %edx, buf+12") \
	X(movs, "movl $buf, %esi; movl $buf+32, %edi; andl $7, %ecx; rep movsl; subl $buf, %esi; subl $buf, %edi") \
	X(stos, "movl $buf+8, %edi; andl $7, %ecx; rep stosb; subl $buf, %edi") \
	X(lods, "movl $buf+4, %esi; lodsl; lodsw; subl $buf, %esi") \
	X(cmps, "movl $buf, %esi; movl $buf+4, %edi; movl $4, %ecx; repe cmpsb; subl $buf, %esi; subl $buf, %edi") \
	X(scas, "movl $buf, %edi; movl $16, %ecx; movb buf+5, %al; repne scasb; subl $buf, %edi") \
	X(std_movs_back, "std; movl $buf+12, %esi; movl $buf+60, %edi; movl $3, %ecx; rep movsl; cld; subl $buf, %esi; " \
		"subl $buf, %edi") \
	X(base_index_mem, "andl $7, %ecx; movl $buf, %ebx; movl (%ebx,%ecx,4), %eax; addl %edx, 4(%ebx,%ecx,4); subl $buf, %ebx")

#define FLAGS_inc_40_eax ALU
#define FLAGS_inc_41_ecx ALU
#define FLAGS_dec_4a_edx ALU
#define FLAGS_dec_4f_edi ALU
#define FLAGS_inc_46_esi_x3 ALU
#define FLAGS_add_rr ALU
#define FLAGS_adc_rr ALU
#define FLAGS_sub_rr ALU
#define FLAGS_sbb_ri ALU
#define FLAGS_cmp_ri8 ALU
#define FLAGS_neg_r ALU
#define FLAGS_and_rr LOGIC
#define FLAGS_or_ri LOGIC
#define FLAGS_xor_rr LOGIC
#define FLAGS_test_rr LOGIC
#define FLAGS_add16 ALU
#define FLAGS_inc16 ALU
#define FLAGS_sub16_imm ALU
#define FLAGS_add8_high ALU
#define FLAGS_sub8_high ALU
#define FLAGS_mov8_high ALU
#define FLAGS_shl_cl SHIFT
#define FLAGS_shr_cl SHIFT
#define FLAGS_sar_cl SHIFT
#define FLAGS_shl_1 (ALU & ~0x10)
#define FLAGS_rol_cl ROT
#define FLAGS_rcr_cl ROT
#define FLAGS_shld_cl SHIFT
#define FLAGS_shrd_imm SHIFT
#define FLAGS_mul_r MUL
#define FLAGS_imul2 MUL
#define FLAGS_imul3 MUL
#define FLAGS_div_r NONE
#define FLAGS_idiv_r NONE
#define FLAGS_bsf_bsr 0x040
#define FLAGS_bt_bts 0x001
#define FLAGS_bswap ALU
#define FLAGS_movzx_movsx ALU
#define FLAGS_cbw_cwde_cdq ALU
#define FLAGS_lea_sib_wrap ALU
#define FLAGS_lea_16bit_dst ALU
#define FLAGS_setcc ALU
#define FLAGS_cmovcc ALU
#define FLAGS_jcc ALU
#define FLAGS_lahf_sahf ALU
#define FLAGS_xchg ALU
#define FLAGS_push_pop ALU
#define FLAGS_push_imm8_sext ALU
#define FLAGS_pushw_popw ALU
#define FLAGS_push_pop_mem ALU
#define FLAGS_push_pop_sreg LOGIC
#define FLAGS_pushf_popf ALU
#define FLAGS_pusha_popa LOGIC
#define FLAGS_call_ret ALU
#define FLAGS_call_ret_imm ALU
#define FLAGS_enter_leave ALU
#define FLAGS_jmp_call_indirect LOGIC
#define FLAGS_loop ALU
#define FLAGS_loopne ALU
#define FLAGS_jecxz ALU
#define FLAGS_mem_alu LOGIC
#define FLAGS_mem_shift SHIFT	// the SHL leaves AF undefined; the ROR keeps it
#define FLAGS_mem_bts 0x001
#define FLAGS_moffs ALU
#define FLAGS_xchg_mem ALU
#define FLAGS_movs ALU
#define FLAGS_stos ALU
#define FLAGS_lods ALU
#define FLAGS_cmps ALU
#define FLAGS_scas ALU
#define FLAGS_std_movs_back ALU
#define FLAGS_base_index_mem ALU

#define EMIT(name, code) "s_" #name ":\n\t" code "\n\tjmp compat_exit\n"
__asm__(
"	.text\n"
"	.code64\n"
"c_run:\n"					// void c_run(void): one snippet, c_snippet
"	push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
"	mov %rsp, c_saved_rsp(%rip)\n"
"	mov %ds, c_saved_ds(%rip); mov %es, c_saved_es(%rip)\n"
"	mov %ss, %eax; mov %eax, %ds; mov %eax, %es\n"	// DS and ES usable in compatibility mode
"	lea stack32+16384(%rip), %rsp\n"
"	lcall *c_far(%rip)\n"
"	mov c_saved_rsp(%rip), %rsp\n"
"	mov c_saved_ds(%rip), %ds; mov c_saved_es(%rip), %es\n"
"	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
"	ret\n"
"	.code32\n"
"compat_entry:\n"
"	movl %esp, c_entry_esp\n"
"	pushl c_snippet\n"
"	pushl c_in_flags\n"
"	movl %esp, c_snip_esp; addl $8, c_snip_esp\n"
"	movl c_in+0, %eax; movl c_in+4, %ecx; movl c_in+8, %edx; movl c_in+12, %ebx\n"
"	movl c_in+20, %ebp; movl c_in+24, %esi; movl c_in+28, %edi\n"
"	popfl\n"
"	ret\n"
"compat_exit:\n"
"	movl %esp, c_out_esp\n"
"	pushfl; popl c_out_flags\n"
"	movl %eax, c_out+0; movl %ecx, c_out+4; movl %edx, c_out+8; movl %ebx, c_out+12\n"
"	movl %ebp, c_out+20; movl %esi, c_out+24; movl %edi, c_out+28\n"
"	movl c_entry_esp, %esp\n"
"	cld\n"
"	lretl\n"
CASES(EMIT)
"	.code64\n");

#define DECL(name, code) extern char s_##name[];
CASES(DECL)
extern char compat_entry[];
void c_run(void);

struct snippet {
	const char *name;
	char *code;
	u32 flags;
};
#define ENTRY(name, code) { #name, s_##name, FLAGS_##name },
static const struct snippet snippets[] = { CASES(ENTRY) };

static const u32 edge[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x7f, 0x80, 0xffff, 0x8000, 31, 32, 33 };
#define NEDGE (sizeof edge / sizeof edge[0])

static u64 gdt_copy[32] __attribute__((aligned(16)));

// The 32-bit code segment: Linux's user one at CPL 3; at CPL 0 (the machine) one of our own.
static u16
code32_selector(void)
{
	u16 cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	if ((cs & 3) == 3)
		return 0x23;
	struct __attribute__((packed)) { u16 limit; u64 base; } d;
	__asm__ volatile("sgdt %0" : "=m"(d));
	memcpy(gdt_copy, (void *)d.base, d.limit + 1);
	gdt_copy[30] = 0x00cf9a000000ffffULL;	// 32-bit code, DPL 0, flat
	d.limit = sizeof gdt_copy - 1;
	d.base = (u64)gdt_copy;
	__asm__ volatile("lgdt %0" : : "m"(d) : "memory");
	return 30 * 8;
}

int
main(void)
{
	u64 seed = 0x32b17c0de5eedULL;
	int cases = 0;

	c_far.off = (u32)(u64)compat_entry;
	c_far.sel = code32_selector();
	for (unsigned s = 0; s < sizeof snippets / sizeof snippets[0]; s++) {
		for (int k = 0; k < (int)NEDGE + NRAND; k++) {
			for (int r = 0; r < 8; r++)
				c_in[r] = (u32)xorshift64(&seed);
			if (k < (int)NEDGE) {
				c_in[0] = edge[k];
				c_in[1] = edge[(k * 5 + 1) % NEDGE];
				c_in[2] = edge[(k * 7 + 3) % NEDGE];
			}
			c_in_flags = 0x202 & ~0x200;
			c_in_flags |= (u32)xorshift64(&seed) & 0x8d5;
			for (int i = 0; i < NBUF + 16; i++)
				buf[i] = (u32)xorshift64(&seed);
			c_snippet = (u32)(u64)snippets[s].code;
			c_run();
			printf("%s in %x %x %x %x %x %x %x F%x >", snippets[s].name, c_in[0], c_in[1], c_in[2], c_in[3],
			    c_in[5], c_in[6], c_in[7], c_in_flags);
			printf(" %x %x %x %x %x %x %x esp%+d F%x m", c_out[0], c_out[1], c_out[2], c_out[3], c_out[5], c_out[6],
			    c_out[7], (int)(c_out_esp - c_snip_esp), c_out_flags & snippets[s].flags);
			for (int i = 0; i < NBUF + 16; i++)
				printf(" %x", buf[i]);
			printf("\n");
			cases++;
		}
	}
	printf("compat_diff: %d cases\n", cases);
	return 0;
}
