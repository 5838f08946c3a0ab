/*
 * sse_diff.c - SSE/SSE2 differential test: the same cases run on the host CPU
 * and on the machine, and the two outputs must be byte-identical (see
 * README.md).  Each case loads XMM0 (destination) and XMM1 (source) from
 * memory, loads MXCSR and RFLAGS, runs one instruction, and prints XMM0, the
 * new MXCSR and the arithmetic flags.  Every asm statement loads and stores
 * the XMM registers it uses itself: the program is built with
 * -mgeneral-regs-only (gcc cannot name XMM clobbers then), and nothing else
 * in it keeps a value in an XMM register across statements.
 *
 *   gcc -O1 -mgeneral-regs-only -o /tmp/sse guest/tests/sse/sse_diff.c
 */
#include "../xorshift.h"

typedef unsigned long long u64;
typedef unsigned int u32;

int printf(const char *, ...);

typedef struct { u64 lo, hi; } v128;
typedef struct { v128 d, s; u32 mx; u64 fl; u64 g; } st_t;
typedef void (*fn_t)(st_t *);

static u64 rng = 0x2545f4914f6cdd1dull;
static u64 rnd(void) { return xorshift64(&rng); }
static int ncases;

#define PRE "movdqu %[d], %%xmm0\n\tmovdqu %[s], %%xmm1\n\tldmxcsr %[mx]\n\tlea -128(%%rsp),%%rsp\n\tpushq %[fl]\n\tpopfq\n\t"
#define POST "\n\tpushfq\n\tpopq %[fl]\n\tlea 128(%%rsp),%%rsp\n\tstmxcsr %[mx]\n\tmovdqu %%xmm0, %[d]\n\tldmxcsr %[dflt]"
#define OPS [d] "+m"(t->d), [mx] "+m"(t->mx), [fl] "+r"(t->fl), [g] "+r"(t->g) : [s] "m"(t->s), [dflt] "m"(dflt)

static u32 dflt = 0x1f80;

/* name, instruction text with xmm1 -> xmm0 */
#define FORM(nm, ins) static void f_##nm(st_t *t) { asm volatile(PRE ins POST : OPS : "cc", "memory"); }

/* floating point: kind 0 ps, 1 pd, 2 ss, 3 sd */
#define FP_FORMS(X) \
    X(addps, "addps %%xmm1, %%xmm0", 0) X(addpd, "addpd %%xmm1, %%xmm0", 1) X(addss, "addss %%xmm1, %%xmm0", 2) X(addsd, "addsd %%xmm1, %%xmm0", 3) \
    X(subps, "subps %%xmm1, %%xmm0", 0) X(subpd, "subpd %%xmm1, %%xmm0", 1) X(subss, "subss %%xmm1, %%xmm0", 2) X(subsd, "subsd %%xmm1, %%xmm0", 3) \
    X(mulps, "mulps %%xmm1, %%xmm0", 0) X(mulpd, "mulpd %%xmm1, %%xmm0", 1) X(mulss, "mulss %%xmm1, %%xmm0", 2) X(mulsd, "mulsd %%xmm1, %%xmm0", 3) \
    X(divps, "divps %%xmm1, %%xmm0", 0) X(divpd, "divpd %%xmm1, %%xmm0", 1) X(divss, "divss %%xmm1, %%xmm0", 2) X(divsd, "divsd %%xmm1, %%xmm0", 3) \
    X(minps, "minps %%xmm1, %%xmm0", 0) X(minpd, "minpd %%xmm1, %%xmm0", 1) X(minss, "minss %%xmm1, %%xmm0", 2) X(minsd, "minsd %%xmm1, %%xmm0", 3) \
    X(maxps, "maxps %%xmm1, %%xmm0", 0) X(maxpd, "maxpd %%xmm1, %%xmm0", 1) X(maxss, "maxss %%xmm1, %%xmm0", 2) X(maxsd, "maxsd %%xmm1, %%xmm0", 3) \
    X(sqrtps, "sqrtps %%xmm1, %%xmm0", 0) X(sqrtpd, "sqrtpd %%xmm1, %%xmm0", 1) X(sqrtss, "sqrtss %%xmm1, %%xmm0", 2) \
    X(sqrtsd, "sqrtsd %%xmm1, %%xmm0", 3) \
    X(cmpeqps, "cmpps $0, %%xmm1, %%xmm0", 0) X(cmpltps, "cmpps $1, %%xmm1, %%xmm0", 0) X(cmpleps, "cmpps $2, %%xmm1, %%xmm0", 0) \
    X(cmpunordps, "cmpps $3, %%xmm1, %%xmm0", 0) X(cmpneqps, "cmpps $4, %%xmm1, %%xmm0", 0) X(cmpnltps, "cmpps $5, %%xmm1, %%xmm0", 0) \
    X(cmpnleps, "cmpps $6, %%xmm1, %%xmm0", 0) X(cmpordps, "cmpps $7, %%xmm1, %%xmm0", 0) \
    X(cmpeqpd, "cmppd $0, %%xmm1, %%xmm0", 1) X(cmpltpd, "cmppd $1, %%xmm1, %%xmm0", 1) X(cmplepd, "cmppd $2, %%xmm1, %%xmm0", 1) \
    X(cmpunordpd, "cmppd $3, %%xmm1, %%xmm0", 1) X(cmpneqpd, "cmppd $4, %%xmm1, %%xmm0", 1) X(cmpnltpd, "cmppd $5, %%xmm1, %%xmm0", 1) \
    X(cmpnlepd, "cmppd $6, %%xmm1, %%xmm0", 1) X(cmpordpd, "cmppd $7, %%xmm1, %%xmm0", 1) \
    X(cmpltss, "cmpss $1, %%xmm1, %%xmm0", 2) X(cmpunordss, "cmpss $3, %%xmm1, %%xmm0", 2) X(cmpnless, "cmpss $6, %%xmm1, %%xmm0", 2) \
    X(cmpeqsd, "cmpsd $0, %%xmm1, %%xmm0", 3) X(cmplesd, "cmpsd $2, %%xmm1, %%xmm0", 3) X(cmpneqsd, "cmpsd $4, %%xmm1, %%xmm0", 3) \
    X(cmpnltsd, "cmpsd $5, %%xmm1, %%xmm0", 3) X(cmpordsd, "cmpsd $7, %%xmm1, %%xmm0", 3) \
    X(comiss, "comiss %%xmm1, %%xmm0", 2) X(ucomiss, "ucomiss %%xmm1, %%xmm0", 2) \
    X(comisd, "comisd %%xmm1, %%xmm0", 3) X(ucomisd, "ucomisd %%xmm1, %%xmm0", 3) \
    X(cvtss2sd, "cvtss2sd %%xmm1, %%xmm0", 2) X(cvtsd2ss, "cvtsd2ss %%xmm1, %%xmm0", 3) \
    X(cvtps2pd, "cvtps2pd %%xmm1, %%xmm0", 0) X(cvtpd2ps, "cvtpd2ps %%xmm1, %%xmm0", 1) \
    X(cvtps2dq, "cvtps2dq %%xmm1, %%xmm0", 0) X(cvttps2dq, "cvttps2dq %%xmm1, %%xmm0", 0) \
    X(cvtpd2dq, "cvtpd2dq %%xmm1, %%xmm0", 1) X(cvttpd2dq, "cvttpd2dq %%xmm1, %%xmm0", 1) \
    X(cvtss2si32, "cvtss2si %%xmm1, %k[g]", 2) X(cvtss2si64, "cvtss2si %%xmm1, %q[g]", 2) \
    X(cvttss2si32, "cvttss2si %%xmm1, %k[g]", 2) X(cvttss2si64, "cvttss2si %%xmm1, %q[g]", 2) \
    X(cvtsd2si32, "cvtsd2si %%xmm1, %k[g]", 3) X(cvtsd2si64, "cvtsd2si %%xmm1, %q[g]", 3) \
    X(cvttsd2si32, "cvttsd2si %%xmm1, %k[g]", 3) X(cvttsd2si64, "cvttsd2si %%xmm1, %q[g]", 3) \
    X(addsd_m, "addsd %[s], %%xmm0", 3) X(mulps_m, "mulps %[s], %%xmm0", 0) X(divss_m, "divss %[s], %%xmm0", 2)

/* integer sources (general register in g): kind 4 int32, 5 int64 */
#define CVTI_FORMS(X) \
    X(cvtsi2ss32, "cvtsi2ss %k[g], %%xmm0", 4) X(cvtsi2ss64, "cvtsi2ss %q[g], %%xmm0", 5) \
    X(cvtsi2sd32, "cvtsi2sd %k[g], %%xmm0", 4) X(cvtsi2sd64, "cvtsi2sd %q[g], %%xmm0", 5) \
    X(cvtdq2ps, "cvtdq2ps %%xmm1, %%xmm0", 6) X(cvtdq2pd, "cvtdq2pd %%xmm1, %%xmm0", 6)

/* moves, bitwise, shuffles, the SSE2 integer set: random 128-bit operands */
#define INT_FORMS(X) \
    X(movaps, "movaps %%xmm1, %%xmm0") X(movss, "movss %%xmm1, %%xmm0") X(movsd, "movsd %%xmm1, %%xmm0") \
    X(movss_m, "movss %[s], %%xmm0") X(movsd_m, "movsd %[s], %%xmm0") X(movups_m, "movups %[s], %%xmm0") \
    X(movq, "movq %%xmm1, %%xmm0") X(movq_m, "movq %[s], %%xmm0") X(movd_g, "movd %k[g], %%xmm0") X(movq_g, "movq %q[g], %%xmm0") \
    X(movd_to_g, "movd %%xmm1, %k[g]") X(movq_to_g, "movq %%xmm1, %q[g]") \
    X(movlps_m, "movlps %[s], %%xmm0") X(movhps_m, "movhps %[s], %%xmm0") X(movhlps, "movhlps %%xmm1, %%xmm0") \
    X(movlhps, "movlhps %%xmm1, %%xmm0") X(movmskps, "movmskps %%xmm1, %k[g]") X(movmskpd, "movmskpd %%xmm1, %k[g]") \
    X(pmovmskb, "pmovmskb %%xmm1, %k[g]") \
    X(andps, "andps %%xmm1, %%xmm0") X(andnpd, "andnpd %%xmm1, %%xmm0") X(orps, "orps %%xmm1, %%xmm0") X(xorpd, "xorpd %%xmm1, %%xmm0") \
    X(pand, "pand %%xmm1, %%xmm0") X(pandn, "pandn %%xmm1, %%xmm0") X(por, "por %%xmm1, %%xmm0") X(pxor, "pxor %%xmm1, %%xmm0") \
    X(shufps1b, "shufps $0x1b, %%xmm1, %%xmm0") X(shufpse4, "shufps $0xe4, %%xmm1, %%xmm0") X(shufpd1, "shufpd $1, %%xmm1, %%xmm0") \
    X(shufpd2, "shufpd $2, %%xmm1, %%xmm0") X(unpcklps, "unpcklps %%xmm1, %%xmm0") X(unpckhps, "unpckhps %%xmm1, %%xmm0") \
    X(unpcklpd, "unpcklpd %%xmm1, %%xmm0") X(unpckhpd, "unpckhpd %%xmm1, %%xmm0") X(pshufd, "pshufd $0x4e, %%xmm1, %%xmm0") \
    X(pshufd2, "pshufd $0x93, %%xmm1, %%xmm0") X(pshuflw, "pshuflw $0x1b, %%xmm1, %%xmm0") X(pshufhw, "pshufhw $0xb1, %%xmm1, %%xmm0") \
    X(paddb, "paddb %%xmm1, %%xmm0") X(paddw, "paddw %%xmm1, %%xmm0") X(paddd, "paddd %%xmm1, %%xmm0") X(paddq, "paddq %%xmm1, %%xmm0") \
    X(psubb, "psubb %%xmm1, %%xmm0") X(psubw, "psubw %%xmm1, %%xmm0") X(psubd, "psubd %%xmm1, %%xmm0") X(psubq, "psubq %%xmm1, %%xmm0") \
    X(paddsb, "paddsb %%xmm1, %%xmm0") X(paddsw, "paddsw %%xmm1, %%xmm0") X(paddusb, "paddusb %%xmm1, %%xmm0") \
    X(paddusw, "paddusw %%xmm1, %%xmm0") X(psubsb, "psubsb %%xmm1, %%xmm0") X(psubsw, "psubsw %%xmm1, %%xmm0") \
    X(psubusb, "psubusb %%xmm1, %%xmm0") X(psubusw, "psubusw %%xmm1, %%xmm0") \
    X(pcmpeqb, "pcmpeqb %%xmm1, %%xmm0") X(pcmpeqw, "pcmpeqw %%xmm1, %%xmm0") X(pcmpeqd, "pcmpeqd %%xmm1, %%xmm0") \
    X(pcmpgtb, "pcmpgtb %%xmm1, %%xmm0") X(pcmpgtw, "pcmpgtw %%xmm1, %%xmm0") X(pcmpgtd, "pcmpgtd %%xmm1, %%xmm0") \
    X(psllw, "psllw %%xmm1, %%xmm0") X(pslld, "pslld %%xmm1, %%xmm0") X(psllq, "psllq %%xmm1, %%xmm0") \
    X(psrlw, "psrlw %%xmm1, %%xmm0") X(psrld, "psrld %%xmm1, %%xmm0") X(psrlq, "psrlq %%xmm1, %%xmm0") \
    X(psraw, "psraw %%xmm1, %%xmm0") X(psrad, "psrad %%xmm1, %%xmm0") \
    X(psllwi, "psllw $3, %%xmm0") X(pslldi, "pslld $31, %%xmm0") X(psllqi, "psllq $40, %%xmm0") X(psrlwi, "psrlw $16, %%xmm0") \
    X(psrldi, "psrld $7, %%xmm0") X(psrlqi, "psrlq $1, %%xmm0") X(psrawi, "psraw $15, %%xmm0") X(psradi, "psrad $40, %%xmm0") \
    X(pslldq, "pslldq $5, %%xmm0") X(psrldq, "psrldq $11, %%xmm0") X(psrldq16, "psrldq $16, %%xmm0") \
    X(punpcklbw, "punpcklbw %%xmm1, %%xmm0") X(punpckhbw, "punpckhbw %%xmm1, %%xmm0") X(punpcklwd, "punpcklwd %%xmm1, %%xmm0") \
    X(punpckhwd, "punpckhwd %%xmm1, %%xmm0") X(punpckldq, "punpckldq %%xmm1, %%xmm0") X(punpckhdq, "punpckhdq %%xmm1, %%xmm0") \
    X(punpcklqdq, "punpcklqdq %%xmm1, %%xmm0") X(punpckhqdq, "punpckhqdq %%xmm1, %%xmm0") \
    X(packsswb, "packsswb %%xmm1, %%xmm0") X(packssdw, "packssdw %%xmm1, %%xmm0") X(packuswb, "packuswb %%xmm1, %%xmm0") \
    X(pmaddwd, "pmaddwd %%xmm1, %%xmm0") X(pmulhw, "pmulhw %%xmm1, %%xmm0") X(pmulhuw, "pmulhuw %%xmm1, %%xmm0") \
    X(pmullw, "pmullw %%xmm1, %%xmm0") X(pmuludq, "pmuludq %%xmm1, %%xmm0") \
    X(pminub, "pminub %%xmm1, %%xmm0") X(pmaxub, "pmaxub %%xmm1, %%xmm0") X(pminsw, "pminsw %%xmm1, %%xmm0") \
    X(pmaxsw, "pmaxsw %%xmm1, %%xmm0") X(pavgb, "pavgb %%xmm1, %%xmm0") X(pavgw, "pavgw %%xmm1, %%xmm0") \
    X(psadbw, "psadbw %%xmm1, %%xmm0") X(pinsrw, "pinsrw $5, %k[g], %%xmm0") X(pextrw, "pextrw $6, %%xmm1, %k[g]") \
    X(pxor_m, "pxor %[s], %%xmm0") X(pcmpeqb_m, "pcmpeqb %[s], %%xmm0")

#define X_FP(nm, ins, k) FORM(nm, ins)
#define X_INT(nm, ins) FORM(nm, ins)
FP_FORMS(X_FP)
CVTI_FORMS(X_FP)
INT_FORMS(X_INT)

struct form { const char *name; fn_t fn; int kind; };
#define T_FP(nm, ins, k) { #nm, f_##nm, k },
#define T_INT(nm, ins) { #nm, f_##nm, 7 },
static const struct form forms[] = { FP_FORMS(T_FP) CVTI_FORMS(T_FP) INT_FORMS(T_INT) };

/* Interesting binary32 / binary64 values: zeros, infinities, NaNs with payloads, denormals,
   the normal range's ends, values near 1 and near the rounding boundaries. */
static u64 rnd_f32(void)
{
    u64 r = rnd(), s = (r >> 63) << 31, frac = rnd() & 0x7fffff;
    switch ((r >> 56) & 15) {
    case 0: return s;                                           /* +-0 */
    case 1: return s | 0x7f800000;                              /* +-inf */
    case 2: return s | 0x7fc00000 | (frac & 0x3fffff);          /* QNaN */
    case 3: return s | 0x7f800000 | ((frac & 0x3fffff) | 1);    /* SNaN */
    case 4: case 5: return s | frac;                            /* denormal */
    case 6: return s | (1u << 23) | (frac & 0xff);              /* smallest normals */
    case 7: return s | (0xfeu << 23) | frac;                    /* near overflow */
    case 8: return s | ((0x7f + ((r >> 40) & 3) - 1) << 23) | frac; /* near 1 */
    case 9: return s | ((u64)(1 + ((r >> 40) & 30)) << 23) | frac; /* near underflow */
    default: return s | ((u64)(1 + (rnd() % 254)) << 23) | frac;
    }
}

static u64 rnd_f64(void)
{
    u64 r = rnd(), s = r & (1ull << 63), frac = rnd() & 0xfffffffffffffull;
    switch ((r >> 56) & 15) {
    case 0: return s;
    case 1: return s | 0x7ff0000000000000ull;
    case 2: return s | 0x7ff8000000000000ull | (frac & 0x7ffffffffffffull);
    case 3: return s | 0x7ff0000000000000ull | ((frac & 0x7ffffffffffffull) | 1);
    case 4: case 5: return s | frac;
    case 6: return s | (1ull << 52) | (frac & 0xfff);
    case 7: return s | (0x7feull << 52) | frac;
    case 8: return s | ((0x3ffull + ((r >> 40) & 3) - 1) << 52) | frac;
    case 9: return s | ((1 + ((r >> 40) & 62)) << 52) | frac;
    case 10: return s | ((0x3ffull + 30 + ((r >> 40) & 40)) << 52) | frac; /* integers near 2^31..2^63 */
    default: return s | ((1 + rnd() % 2046) << 52) | frac;
    }
}

static u64 rnd_lane(int kind)
{
    if (kind == 1 || kind == 3) return rnd_f64();
    return rnd_f32() | rnd_f32() << 32;
}

/* Operands derived from each other often: equal values, a value and its negation, x and x+1ulp. */
static void fp_operands(st_t *t, int kind)
{
    t->d.lo = rnd_lane(kind); t->d.hi = rnd_lane(kind);
    t->s.lo = rnd_lane(kind); t->s.hi = rnd_lane(kind);
    switch (rnd() & 7) {
    case 0: t->s = t->d; break;
    case 1: t->s.lo = t->d.lo ^ (kind & 1 ? 1ull << 63 : 0x8000000080000000ull); break;
    case 2: t->s.lo = t->d.lo + 1; break;
    }
}

static void run(const struct form *f, st_t *t)
{
    st_t in = *t;
    f->fn(t);
    printf("%s %llx:%llx %llx:%llx g%llx m%x f%llx > %llx:%llx g%llx m%x f%llx\n", f->name, in.d.hi, in.d.lo, in.s.hi, in.s.lo,
           in.g, in.mx, in.fl & 0x8d5, t->d.hi, t->d.lo, t->g, t->mx, t->fl & 0x8d5);
    ncases++;
}

#ifndef NRAND
#define NRAND 12
#endif

int main(void)
{
    int nforms = sizeof forms / sizeof forms[0];
    for (int i = 0; i < nforms; i++) {
        const struct form *f = &forms[i];
        if (f->kind == 7) {
            for (int n = 0; n < 4 * NRAND; n++) {
                st_t t = { { rnd(), rnd() }, { rnd(), rnd() }, 0x1f80, 0x202 | (rnd() & 0x8d5), rnd() };
                if (n % 3 == 0) t.s.lo &= 0x3f; /* shift counts in range */
                if (n % 5 == 0) t.s = t.d;
                run(f, &t);
            }
            continue;
        }
        /* every rounding mode with FTZ/DAZ off and on, all exceptions masked; sticky flags in */
        for (u32 m = 0; m < 16; m++) {
            u32 mx = 0x1f80 | (m & 3) << 13 | (m & 4 ? 0x8000 : 0) | (m & 8 ? 0x40 : 0);
            for (int n = 0; n < NRAND; n++) {
                st_t t;
                if (f->kind >= 4) {
                    t.d.lo = rnd(); t.d.hi = rnd(); t.s.lo = rnd(); t.s.hi = rnd();
                    if (n & 1) t.s.lo >>= (rnd() & 63);
                    t.g = f->kind == 4 ? (u64)(int)rnd() >> (rnd() & 31) : rnd() >> (rnd() & 63);
                    if (n & 2) t.g = -t.g;
                } else {
                    fp_operands(&t, f->kind);
                    t.g = rnd();
                }
                t.mx = mx | (n == 0 ? 0x3f : 0);
                t.fl = 0x202 | (rnd() & 0x8d5);
                run(f, &t);
            }
        }
    }
    printf("sse_diff: %d cases\n", ncases);
    return 0;
}
