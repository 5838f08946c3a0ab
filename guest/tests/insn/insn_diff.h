/*
 * insn_diff.h - shared definitions for the instruction-level differential
 * harness (see README.md in this directory).
 *
 * The harness is compiled twice from the same sources: natively (gcc + glibc)
 * and for the LVD# emulator (gcc + the project's freestanding runtime).  The
 * two stdout streams must be byte-identical.  Therefore:
 *   - no headers from the C library are used (we declare the handful of
 *     functions we need ourselves), no <inttypes.h>;
 *   - nothing address-, time- or environment-dependent is ever printed;
 *   - all "random" data comes from one xorshift64 PRNG with a fixed seed, and
 *     every code path consumes the PRNG identically on both builds.
 */
#ifndef INSN_DIFF_H
#define INSN_DIFF_H

typedef unsigned long long u64;
typedef long long i64;
typedef unsigned int u32;
typedef unsigned char u8;

int printf(const char *, ...);
int puts(const char *);
int putchar(int);
void *memset(void *, int, __SIZE_TYPE__);
void *memcpy(void *, const void *, __SIZE_TYPE__);
__SIZE_TYPE__ strlen(const char *);
int strcmp(const char *, const char *);
void exit(int);

/* Number of random operand sets per instruction form. */
#ifndef NRAND
#define NRAND 64
#endif
/* Random operand sets for encoding variants of an operation whose register
 * form already gets NRAND cases (memory operands, other immediate encodings)
 * and for setcc/cmovcc/flag ops, whose flag inputs are enumerated
 * exhaustively anyway.  Keeps the output below ~3 MB. */
#ifndef NRAND_V
#define NRAND_V (NRAND / 4)
#endif

/* RFLAGS bits */
#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_DF 0x400u
#define F_OF 0x800u
#define F_ALL (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF) /* 0x8d5 */

/*
 * Every tested instruction is wrapped like this:
 *   lea -128(%rsp),%rsp   skip the red zone (the compiler may keep data there)
 *   push fi; popfq        load the random input flags (bit 1 and IF set)
 *   <instruction>
 *   pushfq; pop fo        capture the flags immediately after it
 *   lea 128(%rsp),%rsp    (lea does not touch the flags)
 * Operands named in the asm: [fi] input flags register, [fo] output flags.
 */
#define PRE "lea -128(%%rsp),%%rsp\n\tpushq %[fi]\n\tpopfq\n\t"
#define POST "\n\tpushfq\n\tpopq %[fo]\n\tlea 128(%%rsp),%%rsp"

/* Generic operand/result block passed to every instruction wrapper. */
typedef struct st {
    u64 a, b, c, d, e; /* operands in, results out (meaning depends on family) */
    u64 f;             /* RFLAGS in, RFLAGS out */
} st_t;

typedef void (*fn_t)(st_t *);

/*
 * The one wrapper shape behind every tested instruction: "static void nm(st_t
 * *t)" running  before PRE ins POST after  with t->f as the input flags and
 * the captured flags stored back into t->f.  The asm names the st_t fields
 * directly, so the compiler loads them into the registers the constraints ask
 * for and stores the outputs back; a memory operand is a field itself, passed
 * by address ([p], a 64-bit word, 8-byte aligned).
 *   OUT: parenthesised output operands, each followed by a comma ("()": none)
 *   IN:  parenthesised input operands, each followed by a comma
 *   ...: extra clobbers after "cc", each preceded by a comma
 * "before" and "after" are asm text outside the flag capture (a register
 * set-up for LEA, the cld after a DF=1 string instruction); usually "".
 */
#define INSN_ARGS(...) __VA_ARGS__
#define INSN_WRAP(nm, before, ins, after, OUT, IN, ...)                       \
    static UNUSED void nm(st_t *t)                                            \
    {                                                                         \
        __asm__ volatile(before PRE ins POST after                            \
                         : INSN_ARGS OUT [fo] "=&r"(t->f)                     \
                         : INSN_ARGS IN [fi] "r"(t->f)                        \
                         : "cc" __VA_ARGS__);                                 \
    }
#define INSN(nm, ins, OUT, IN, ...) INSN_WRAP(nm, "", ins, "", OUT, IN, __VA_ARGS__)

/* Operand roles used by the families below. */
#define OP_D [d] "+r"(t->a),        /* register destination: a */
#define OP_S [s] "r"(t->b),         /* register source: b */
#define OP_SW [s] "+r"(t->b),       /* register source that is written (xchg, xadd) */
#define OP_MA [p] "r"(&t->a),       /* memory operand: the word a */
#define OP_MB [p] "r"(&t->b),       /* memory operand: the word b */
#define OP_AD "+a"(t->a), "+d"(t->d), /* RAX = a, RDX = d (mul, div, convert) */
#define MEM , "memory"

/*
 * The instruction families.  M, MS, MD are operand-size modifiers
 * ("b", "w", "k", "q"); IMM is a literal immediate.
 *   reg:        ins %d                 reg-reg:  ins %s,%d
 *   reg-imm:    ins $IMM,%d            reg-reg-imm: ins $IMM,%s,%d
 *   mem:        ins (a)                mem-imm:  ins $IMM,(a)
 *   mem-reg:    ins %s,(a)             reg-mem:  ins (b),%d
 *   reg-mem-imm: ins $IMM,(b),%d
 *   accumulator: RDX:RAX = d:a, with a register (b) or memory (b) source
 */
#define W_R(nm, ins, M) INSN(nm, ins " %" M "[d]", (OP_D), ())
#define W_RR(nm, ins, MS, MD) INSN(nm, ins " %" MS "[s],%" MD "[d]", (OP_D), (OP_S))
#define W_RI(nm, ins, M, IMM) INSN(nm, ins " $" #IMM ",%" M "[d]", (OP_D), ())
#define W_RRI(nm, ins, M, IMM)                                                \
    INSN(nm, ins " $" #IMM ",%" M "[s],%" M "[d]", (OP_D), (OP_S))
#define W_M(nm, ins) INSN(nm, ins " (%[p])", (), (OP_MA), MEM)
#define W_MI(nm, ins, IMM) INSN(nm, ins " $" #IMM ",(%[p])", (), (OP_MA), MEM)
#define W_MR(nm, ins, M) INSN(nm, ins " %" M "[s],(%[p])", (), (OP_S OP_MA), MEM)
#define W_RM(nm, ins, M) INSN(nm, ins " (%[p]),%" M "[d]", (OP_D), (OP_MB), MEM)
#define W_RMI(nm, ins, M, IMM)                                                \
    INSN(nm, ins " $" #IMM ",(%[p]),%" M "[d]", (OP_D), (OP_MB), MEM)
#define W_ACC(nm, ins) INSN(nm, ins, (OP_AD), ())
#define W_ACC_R(nm, ins, M) INSN(nm, ins " %" M "[s]", (OP_AD), (OP_S))
#define W_ACC_M(nm, ins) INSN(nm, ins " (%[p])", (OP_AD), (OP_MB), MEM)

/* PRNG and operand generators (insn_diff.c) */
u64 rnd(void);
u64 wmask(int w);                /* all-ones of width w (8/16/32/64) */
u64 smin(int w);                 /* 0x80.. of width w */
u64 rnd_op(int w);               /* biased random operand, masked to w */
u64 rnd_flags(void);             /* 0x202 | random subset of F_ALL */
u64 with_garbage(u64 v, int w);  /* v in the low w bits, random above */
int edge_long(int w, u64 *out);  /* the long edge-value list for width w */
int edge_short(int w, u64 *out); /* 0,1,smax,smin,-1 for width w */
u64 sext(u64 v, int w);          /* sign-extend the low w bits */
u64 hash_bytes(const void *p, int n);

/* Line output: "name v v v F<flags> > v v ... F<flags>", one case per line;
 * values are lowercase hex without leading zeros, flags are prefixed by an
 * upper-case F. */
void L_begin(const char *name);
void L_x(u64 v);         /* " <hex>" */
void L_u(void);          /* " u"  (architecturally undefined value, masked) */
void L_str(const char *s); /* " <s>" */
void L_sep(void);        /* " >" */
void L_fin(u64 f);       /* " F<hex>" input flags (F_ALL and DF bits) */
/* The usual line in two calls: L_in(name, flags in, n, v1..vn) prints
 * "name v1 .. vn F<flags> >", L_out(flags out, mask, n, v1..vn) prints
 * " v1 .. vn F<flags & mask>" and ends the line.  The values are u64. */
void L_in(const char *name, u64 f, int n, ...);
void L_out(u64 f, u32 mask, int n, ...);
void L_end_f(u64 f, u32 mask); /* " F<hex>" masked output flags, newline */
void L_end(void);        /* newline only */

extern int g_ncases;
/* CPUID feature bits of the CPU we run on (host or emulator).  Instructions
 * that are optional in 64-bit mode are only executed when present; otherwise
 * an architectural model in C prints the identical line. */
extern int g_has_lzcnt, g_has_tzcnt, g_has_popcnt, g_has_cx16, g_has_lahf;

/* instruction families */
void run_alu(void);
void run_shift(void);
void run_muldiv(void);
void run_ext(void);
void run_bits(void);
void run_cond(void);
void run_atomic(void);
void run_string(void);
void run_stack(void);

#define NELEM(x) ((int)(sizeof(x) / sizeof((x)[0])))
#define UNUSED __attribute__((unused))

#endif
