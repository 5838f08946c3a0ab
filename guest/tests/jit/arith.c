/*
 * arith.c: ADC, SBB, INC, DEC, NEG, NOT, shifts by an immediate, one-operand MUL/IMUL, DIV/IDIV, CBW..CQO on 8- to
 * 64-bit register and memory operands over boundary values, shifts by CL (counts 0, 1, the width less one and
 * their aliases once masked), BT/BTS/BTR/BTC of registers and IMUL with a memory source, each in a hot loop of its own (tests/Lvd.Tests/JitTests.cs:
 * compiled regions compute these in their locals, and take the carry-in of ADC/SBB and the kept CF of INC/DEC from
 * the flags' producer before them: CMP, ADD, SUB, ADC/SBB, a shift, IMUL, NEG, INC/DEC). After each sequence SETcc of
 * CF, ZF, SF, BE, OF and PF and LAHF record the flags the SDM defines for its last instruction. The same source
 * runs on the host CPU; the outputs must match.
 */
#include <stdio.h>

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

#define N 12
static const u64 vals[N] = {
	0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x7fffffff, 0x80000000u, 0x7fffffffffffffffull, 0x8000000000000000ull,
};

/* The flags an instruction defines (RFLAGS bits): arithmetic, shifts by one, by more. */
#define F_ALU 0x8d5ull
#define F_SH1 0x8c5ull
#define F_SHN 0x0c5ull

/* Counts for shifts by CL (in CL in every sequence), and the flags a 4- or 8-byte shift by one defines: by a masked
 * count of 0 none changes (the producer's stay), by 1 OF too. */
static const u8 cnts[8] = {0, 1, 2, 31, 32, 33, 63, 64};
#define CLMASK(T, n) (((n) & (sizeof(T) == 8 ? 63 : 31)) == 0 ? F_ALU : ((n) & (sizeof(T) == 8 ? 63 : 31)) == 1 ? F_SH1 : F_SHN)

static u64 h[200];
static const char *names[200];
static int ncat;

#define MIX(cat, v) (h[cat] = (h[cat] ^ (u64)(v)) * 0x100000001b3ull)

/* The SETcc results the mask defines, as bits: CF, ZF, SF, BE (CF and ZF), OF, PF. */
#define CONDBITS(mask, c, z, s, be, o, p)                                                                  \
	(((mask) & 1 ? c : 0) | ((mask) & 0x40 ? z << 1 : 0) | ((mask) & 0x80 ? s << 2 : 0) |                 \
	 (((mask) & 0x41) == 0x41 ? be << 3 : 0) | ((mask) & 0x800 ? o << 4 : 0) | ((mask) & 4 ? p << 5 : 0))

/* No PUSHF (the red zone; and a block with one is not compiled): LAHF gives SF, ZF, AF, PF, CF; SETO gives OF. */
#define SETS "\n\tsetc %[c]\n\tsetz %[z]\n\tsets %[s]\n\tsetbe %[be]\n\tseto %[o]\n\tsetp %[p]\n\tlahf\n\tmovzbl %%ah, %k[f]"

/*
 * One sequence on type T in a loop of its own over all pairs of values: x and mem start from A and B (mem is a stack
 * slot: the memory forms), a and b are register inputs, %c[sz] the operand size.
 */
#define SEQ(T, name, code, mask)                                                                           \
	do {                                                                                               \
		int cat = ncat++;                                                                          \
		names[cat] = name;                                                                         \
		for (int i = 0; i < N; i++)                                                                \
			for (int j = 0; j < N; j++) {                                                      \
				u64 A = vals[i] + round, B = vals[j] - (round >> 1);                       \
				T a = (T)A, b = (T)B, x = (T)(A ^ (B >> 3)), mem = (T)(B ^ 0x5a);           \
				u8 cnt = cnts[(i + j + round) & 7];                                        \
				u64 f;                                                                     \
				u8 c, z, s, be, o, p;                                                      \
				asm volatile(code SETS                                                     \
					     : [x] "+r"(x), [mem] "+m"(mem), [c] "=&q"(c), [z] "=&q"(z),   \
					       [s] "=&q"(s), [be] "=&q"(be), [o] "=&q"(o), [p] "=&q"(p),   \
					       [f] "=&Q"(f)                                                \
					     : [a] "r"(a), [b] "r"(b), [n] "c"(cnt), [sz] "i"(sizeof(T))    \
					     : "rax", "cc");                                               \
				f |= (u64)o << 11;                                                         \
				MIX(cat, x);                                                               \
				MIX(cat, mem);                                                             \
				MIX(cat, f & (mask));                                                      \
				MIX(cat, CONDBITS(mask, c, z, s, be, o, p));                               \
			}                                                                                  \
	} while (0)

#define SIZED(T, S)                                                                                        \
	static __attribute__((noinline)) void seqs_##T(u64 round)                                        \
	{                                                                                                  \
		SEQ(T, "cmp;adc " #T, "cmp %[b], %[a]\n\tadc" S " %[b], %[x]", F_ALU);                    \
		SEQ(T, "add;adc;adc " #T, "add" S " %[b], %[x]\n\tadc" S " %[a], %[x]\n\tadc" S " %[b], %[x]", F_ALU); \
		SEQ(T, "sub;sbb;sbb " #T, "sub" S " %[b], %[x]\n\tsbb" S " %[a], %[x]\n\tsbb" S " %[b], %[x]", F_ALU); \
		SEQ(T, "shl1;adc " #T, "shl" S " $1, %[x]\n\tadc" S " %[b], %[x]", F_ALU);                \
		SEQ(T, "shr;sbb " #T, "shr" S " $3, %[x]\n\tsbb" S " %[a], %[x]", F_ALU);                 \
		SEQ(T, "neg;adc " #T, "neg" S " %[x]\n\tadc" S " %[b], %[x]", F_ALU);                     \
		SEQ(T, "cmp;inc;adc " #T, "cmp %[a], %[b]\n\tinc" S " %[x]\n\tadc" S " %[a], %[x]", F_ALU); \
		SEQ(T, "add;dec;sbb " #T, "add %[a], %[x]\n\tdec" S " %[x]\n\tsbb" S " %[b], %[x]", F_ALU); \
		SEQ(T, "inc " #T, "inc" S " %[x]", F_ALU);                                                 \
		SEQ(T, "dec " #T, "dec" S " %[x]", F_ALU);                                                 \
		SEQ(T, "neg " #T, "cmp %[a], %[b]\n\tneg" S " %[x]", F_ALU);                               \
		SEQ(T, "not " #T, "sub %[b], %[a]\n\tnot" S " %[x]", F_ALU);                               \
		SEQ(T, "adc mem " #T, "cmp %[b], %[a]\n\tadc" S " %[b], %[mem]\n\tadc" S " %[mem], %[x]", F_ALU); \
		SEQ(T, "sbb mem " #T, "cmp %[a], %[b]\n\tsbb" S " %[a], %[mem]\n\tsbb" S " %[mem], %[x]", F_ALU); \
		SEQ(T, "adc imm " #T, "cmp %[a], %[b]\n\tadc" S " $0x35, %[x]\n\tadc" S " $-1, %[mem]", F_ALU); \
		SEQ(T, "inc mem " #T, "add %[a], %[x]\n\tinc" S " %[mem]", F_ALU);                        \
		SEQ(T, "dec mem " #T, "sub %[a], %[x]\n\tdec" S " %[mem]", F_ALU);                        \
		SEQ(T, "neg mem " #T, "neg" S " %[mem]", F_ALU);                                           \
		SEQ(T, "not mem " #T, "add %[b], %[x]\n\tnot" S " %[mem]", F_ALU);                        \
		SEQ(T, "shl1 " #T, "shl" S " $1, %[x]", F_SH1);                                            \
		SEQ(T, "shl3 " #T, "shl" S " $3, %[x]", F_SHN);                                            \
		SEQ(T, "shr1 " #T, "shr" S " $1, %[x]", F_SH1);                                            \
		SEQ(T, "shr5 " #T, "shr" S " $5, %[x]", F_SHN);                                            \
		SEQ(T, "sar1 " #T, "sar" S " $1, %[x]", F_SH1);                                            \
		SEQ(T, "sar6 " #T, "sar" S " $6, %[x]", F_SHN);                                            \
		SEQ(T, "shlmax " #T, "shl" S " $(8 * %c[sz] - 1), %[x]", F_SHN);                          \
		SEQ(T, "sarmax " #T, "sar" S " $(8 * %c[sz] - 1), %[mem]", F_SHN);                        \
		SEQ(T, "shl mem " #T, "shl" S " $2, %[mem]\n\tadc" S " %[mem], %[x]", F_ALU);             \
		SEQ(T, "shr mem " #T, "shr" S " $1, %[mem]", F_SH1);                                       \
		SEQ(T, "sar mem " #T, "sar" S " $3, %[mem]\n\tsbb" S " %[a], %[x]", F_ALU);               \
	}

/* Shifts of 4- and 8-byte registers by CL after each kind of producer (the flags of a count of 0 are the producer's). */
#define SHIFTCL(T, S)                                                                                      \
	static __attribute__((noinline)) void shcl_##T(u64 round)                                        \
	{                                                                                                  \
		SEQ(T, "cmp;shl cl " #T, "cmp %[a], %[b]\n\tshl" S " %%cl, %[x]", CLMASK(T, cnt));           \
		SEQ(T, "add;shr cl " #T, "add" S " %[a], %[x]\n\tshr" S " %%cl, %[x]", CLMASK(T, cnt));      \
		SEQ(T, "sub;sar cl " #T, "sub" S " %[b], %[x]\n\tsar" S " %%cl, %[x]", CLMASK(T, cnt));      \
		SEQ(T, "test;sal cl " #T, "test %[a], %[b]\n\tsal" S " %%cl, %[x]", CLMASK(T, cnt));         \
		SEQ(T, "shl cl;adc " #T, "cmp %[b], %[a]\n\tshl" S " %%cl, %[x]\n\tadc" S " %[b], %[x]", F_ALU); \
		SEQ(T, "sar cl;sbb " #T, "cmp %[a], %[b]\n\tsar" S " %%cl, %[x]\n\tsbb" S " %[a], %[x]", F_ALU); \
		/* BT, BTS, BTR, BTC of a register by a register (any value: taken modulo the width) and an     \
		 * immediate; CF is what they define (ZF: Intel keeps it, AMD leaves it undefined). */         \
		SEQ(T, "cmp;bt " #T, "cmp %[a], %[b]\n\tbt" S " %[a], %[x]", 0x001);                          \
		SEQ(T, "add;bt imm " #T, "add" S " %[b], %[x]\n\tbt" S " $29, %[x]", 0x001);                   \
		SEQ(T, "bts;adc " #T, "bts" S " %[b], %[x]\n\tadc" S " %[a], %[x]", F_ALU);                     \
		SEQ(T, "btr imm " #T, "sub %[a], %[b]\n\tbtr" S " $5, %[x]", 0x001);                           \
		SEQ(T, "btc " #T, "btc" S " %[a], %[x]", 0x001);                                               \
		/* A 32-bit register shifted by CL is zero-extended, by a count of 0 too. */                \
		SEQ(u64, "shll cl zext " #T, "cmp %[a], %[b]\n\tshll %%cl, %k[x]", CLMASK(u32, cnt));     \
	}

SHIFTCL(u32, "l")
SHIFTCL(u64, "q")

SIZED(u8, "b")
SIZED(u16, "w")
SIZED(u32, "l")
SIZED(u64, "q")

/* One-operand MUL/IMUL (CF, OF), DIV/IDIV that cannot fault, and the sign extensions, of 4 and 8 bytes. */
#define MULDIV(T, ST, S)                                                                                   \
	static __attribute__((noinline)) void muldiv_##T(u64 round)                                      \
	{                                                                                                  \
		int cm = ncat++, cmi = ncat++, cd = ncat++, cdi = ncat++, ce = ncat++;                     \
		names[cm] = "mul " #T; names[cmi] = "imul1 " #T; names[cd] = "div " #T;                      \
		names[cdi] = "idiv " #T; names[ce] = "cbw cwd " #T;                                          \
		for (int i = 0; i < N; i++)                                                                \
			for (int j = 0; j < N; j++) {                                                      \
				T a = (T)(vals[i] + round), b = (T)(vals[j] - (round >> 1)), lo = a, hi;    \
				u8 c, o;                                                                   \
				asm volatile("mul" S " %[b]\n\tsetc %[c]\n\tseto %[o]"                     \
					     : "+a"(lo), "=d"(hi), [c] "=&q"(c), [o] "=&q"(o) : [b] "r"(b) : "cc"); \
				MIX(cm, lo); MIX(cm, hi); MIX(cm, c | o << 1);                             \
				T m = b;                                                                   \
				lo = a;                                                                    \
				asm volatile("imul" S " %[m]\n\tsetc %[c]\n\tseto %[o]"                    \
					     : "+a"(lo), "=d"(hi), [c] "=&q"(c), [o] "=&q"(o) : [m] "m"(m) : "cc"); \
				MIX(cmi, lo); MIX(cmi, hi); MIX(cmi, c | o << 1);                          \
				/* Two- and three-operand IMUL with a memory source (CF and OF). */       \
				T xm = a;                                                                  \
				asm volatile("imul" S " %[m], %[x]\n\tsetc %[c]\n\tseto %[o]"              \
					     : [x] "+r"(xm), [c] "=&q"(c), [o] "=&q"(o) : [m] "m"(m) : "cc"); \
				MIX(cmi, xm); MIX(cmi, c | o << 1);                                        \
				asm volatile("imul" S " $-77, %[m], %[x]\n\tsetc %[c]\n\tseto %[o]"        \
					     : [x] "=r"(xm), [c] "=&q"(c), [o] "=&q"(o) : [m] "m"(m) : "cc"); \
				MIX(cmi, xm); MIX(cmi, c | o << 1);                                        \
				asm volatile("imul" S " $0x12345, %[m], %[x]\n\tsetc %[c]\n\tseto %[o]"    \
					     : [x] "=r"(xm), [c] "=&q"(c), [o] "=&q"(o) : [m] "m"(m) : "cc"); \
				MIX(cmi, xm); MIX(cmi, c | o << 1);                                        \
				/* DIV: a zero high half (the fast path), then a high half below the divisor. */ \
				T d = b | 2, q = a, r = 0;                                                 \
				asm volatile("div" S " %[d]" : "+a"(q), "+d"(r) : [d] "r"(d) : "cc");      \
				MIX(cd, q); MIX(cd, r);                                                    \
				q = a; r = (T)(d - 1) >> (i & 3);                                          \
				asm volatile("div" S " %[m]" : "+a"(q), "+d"(r) : [m] "m"(d) : "cc");      \
				MIX(cd, q); MIX(cd, r);                                                    \
				/* IDIV: RDX the sign of RAX (the fast path), divisor -1, a zero high half. */ \
				ST sd = (ST)((b >> 1) | 2) * ((j & 1) ? -1 : 1), sq = (ST)a, sr;                   \
				if (sq == (ST)((T)1 << (8 * sizeof(T) - 1))) sq++;                         \
				sr = sq < 0 ? -1 : 0;                                                      \
				asm volatile("idiv" S " %[d]" : "+a"(sq), "+d"(sr) : [d] "r"(sd) : "cc");  \
				MIX(cdi, sq); MIX(cdi, sr);                                                \
				sq = (ST)a; if (sq == (ST)((T)1 << (8 * sizeof(T) - 1))) sq++;             \
				sr = sq < 0 ? -1 : 0;                                                      \
				ST m1 = -1;                                                                \
				asm volatile("idiv" S " %[m]" : "+a"(sq), "+d"(sr) : [m] "m"(m1) : "cc");  \
				MIX(cdi, sq); MIX(cdi, sr);                                                \
				sq = (ST)(a | ((T)1 << (8 * sizeof(T) - 1))); sr = 0;                      \
				asm volatile("idiv" S " %[d]" : "+a"(sq), "+d"(sr) : [d] "r"(sd) : "cc");  \
				MIX(cdi, sq); MIX(cdi, sr);                                                \
				/* CBW family on RAX, CWD family into RDX. */                              \
				u64 ra = vals[i] ^ (vals[j] << 7) ^ round, rd = vals[j] ^ round;           \
				asm volatile("cbtw" : "+a"(ra)); MIX(ce, ra);                              \
				asm volatile("cwtl" : "+a"(ra)); MIX(ce, ra);                              \
				ra ^= vals[j];                                                             \
				asm volatile("cltq" : "+a"(ra)); MIX(ce, ra);                              \
				ra = vals[i] ^ round;                                                      \
				asm volatile("cwtd" : "+a"(ra), "+d"(rd)); MIX(ce, rd);                    \
				asm volatile("cltd" : "+a"(ra), "+d"(rd)); MIX(ce, rd);                    \
				asm volatile("cqto" : "+a"(ra), "+d"(rd)); MIX(ce, rd);                    \
			}                                                                                  \
	}

MULDIV(u32, int, "l")
MULDIV(u64, long long, "q")

int main(void)
{
	for (u64 round = 0; round < 12; round++) {
		ncat = 0;
		seqs_u8(round);
		seqs_u16(round);
		seqs_u32(round);
		seqs_u64(round);
		shcl_u32(round);
		shcl_u64(round);
		muldiv_u32(round);
		muldiv_u64(round);
	}
	for (int k = 0; k < ncat; k++) printf("%-20s %016llx\n", names[k], h[k]);
	return 0;
}
