/*
 * x87_diff.c - x87 differential test: the same cases run on the host CPU and
 * on the machine, and the outputs must be identical (see README.md).  Each
 * case loads the whole x87 state with FXRSTOR (control word, status word with
 * TOP, tags, the eight registers), RFLAGS and a memory operand, runs one
 * instruction, and prints the status word, the full tag word (FNSTENV), the
 * eight registers, the memory operand and the arithmetic flags.
 *
 *   gcc -O1 -mgeneral-regs-only -o /tmp/x87 guest/tests/x87/x87_diff.c
 */
#include "../xorshift.h"

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;

int printf(const char *, ...);

typedef struct { u64 sig; u64 se; } reg_t;
typedef struct {
    u16 fcw, fsw; unsigned char ftw, r1; u16 fop; u64 fip, fdp; u32 mxcsr, mxcsr_mask;
    reg_t st[8]; u64 xmm[32]; u64 pad[12];
} __attribute__((aligned(16))) fx_t;
typedef struct { fx_t img; u64 m[2]; u64 fl; u32 env[7]; } st_t;
typedef void (*fn_t)(st_t *);

static u64 rng = 0x9e3779b97f4a7c15ull;
static u64 rnd(void) { return xorshift64(&rng); }
static int ncases;

#define PRE "fxrstor64 %[img]\n\tlea -128(%%rsp),%%rsp\n\tpushq %[fl]\n\tpopfq\n\t"
#define POST "\n\tpushfq\n\tpopq %[fl]\n\tlea 128(%%rsp),%%rsp\n\tfxsave64 %[img]\n\tfnstenv %[env]\n\tfninit"
#define OPS [img] "+m"(t->img), [m] "+m"(t->m), [fl] "+r"(t->fl), [env] "=m"(t->env)

#define FORM(nm, ins) static void f_##nm(st_t *t) { asm volatile(PRE ins POST : OPS : : "cc", "memory"); }

/* kinds: the operands a form reads.  R: ST(0), ST(1) ...; M32/M64/M80: a real in memory; I16/I32/I64: an integer in memory;
   BCD: packed BCD; ST: the stack itself (loads, stores, stack ops); T*: transcendental operand ranges */
enum { R, M32, M64, M80, I16, I32, I64, BCD, ST, TX1, TSMALL, TTRIG, TANY };

#define FORMS(X) \
    X(fld_m32, "flds %[m]", M32) X(fld_m64, "fldl %[m]", M64) X(fld_m80, "fldt %[m]", M80) X(fld_st1, "fld %%st(1)", R) \
    X(fld_st3, "fld %%st(3)", ST) X(fst_m32, "fsts %[m]", R) X(fst_m64, "fstl %[m]", R) X(fstp_m32, "fstps %[m]", R) \
    X(fstp_m64, "fstpl %[m]", R) X(fstp_m80, "fstpt %[m]", R) X(fst_st2, "fst %%st(2)", R) X(fstp_st1, "fstp %%st(1)", R) \
    X(fstp_st0, "fstp %%st(0)", ST) \
    X(fild_m16, "filds %[m]", I16) X(fild_m32, "fildl %[m]", I32) X(fild_m64, "fildll %[m]", I64) \
    X(fist_m16, "fists %[m]", R) X(fist_m32, "fistl %[m]", R) X(fistp_m16, "fistps %[m]", R) X(fistp_m32, "fistpl %[m]", R) \
    X(fistp_m64, "fistpll %[m]", R) X(fisttp_m16, "fisttps %[m]", R) X(fisttp_m32, "fisttpl %[m]", R) \
    X(fisttp_m64, "fisttpll %[m]", R) X(fbld, "fbld %[m]", BCD) X(fbstp, "fbstp %[m]", R) \
    X(fld1, "fld1", ST) X(fldz, "fldz", ST) X(fldpi, "fldpi", ST) X(fldl2e, "fldl2e", ST) X(fldl2t, "fldl2t", ST) \
    X(fldlg2, "fldlg2", ST) X(fldln2, "fldln2", ST) \
    X(fadd_st1, "fadd %%st(1), %%st", R) X(fadd_to_st1, "fadd %%st, %%st(1)", R) X(faddp, "faddp %%st, %%st(1)", R) \
    X(fadd_m32, "fadds %[m]", M32) X(fadd_m64, "faddl %[m]", M64) X(fiadd_m16, "fiadds %[m]", I16) X(fiadd_m32, "fiaddl %[m]", I32) \
    X(fsub_st1, "fsub %%st(1), %%st", R) X(fsub_to_st1, "fsub %%st, %%st(1)", R) X(fsubp, "fsubp %%st, %%st(1)", R) \
    X(fsub_m32, "fsubs %[m]", M32) X(fsub_m64, "fsubl %[m]", M64) X(fisub_m32, "fisubl %[m]", I32) \
    X(fsubr_st1, "fsubr %%st(1), %%st", R) X(fsubr_to_st1, "fsubr %%st, %%st(1)", R) X(fsubrp, "fsubrp %%st, %%st(1)", R) \
    X(fsubr_m32, "fsubrs %[m]", M32) X(fsubr_m64, "fsubrl %[m]", M64) X(fisubr_m16, "fisubrs %[m]", I16) \
    X(fmul_st1, "fmul %%st(1), %%st", R) X(fmul_to_st1, "fmul %%st, %%st(1)", R) X(fmulp, "fmulp %%st, %%st(1)", R) \
    X(fmul_m32, "fmuls %[m]", M32) X(fmul_m64, "fmull %[m]", M64) X(fimul_m32, "fimull %[m]", I32) \
    X(fdiv_st1, "fdiv %%st(1), %%st", R) X(fdiv_to_st1, "fdiv %%st, %%st(1)", R) X(fdivp, "fdivp %%st, %%st(1)", R) \
    X(fdiv_m32, "fdivs %[m]", M32) X(fdiv_m64, "fdivl %[m]", M64) X(fidiv_m16, "fidivs %[m]", I16) \
    X(fdivr_st1, "fdivr %%st(1), %%st", R) X(fdivr_to_st1, "fdivr %%st, %%st(1)", R) X(fdivrp, "fdivrp %%st, %%st(1)", R) \
    X(fdivr_m32, "fdivrs %[m]", M32) X(fdivr_m64, "fdivrl %[m]", M64) X(fidivr_m32, "fidivrl %[m]", I32) \
    X(fcom_st1, "fcom %%st(1)", R) X(fcomp_st1, "fcomp %%st(1)", R) X(fcompp, "fcompp", R) X(fcom_m32, "fcoms %[m]", M32) \
    X(fcomp_m64, "fcompl %[m]", M64) X(fucom_st1, "fucom %%st(1)", R) X(fucomp_st1, "fucomp %%st(1)", R) X(fucompp, "fucompp", R) \
    X(ficom_m16, "ficoms %[m]", I16) X(ficomp_m32, "ficompl %[m]", I32) \
    X(fcomi, "fcomi %%st(1), %%st", R) X(fcomip, "fcomip %%st(1), %%st", R) X(fucomi, "fucomi %%st(1), %%st", R) \
    X(fucomip, "fucomip %%st(1), %%st", R) X(ftst, "ftst", R) X(fxam, "fxam", R) \
    X(fchs, "fchs", R) X(fabs, "fabs", R) X(fsqrt, "fsqrt", R) X(frndint, "frndint", R) X(fscale, "fscale", R) \
    X(fxtract, "fxtract", R) X(fprem, "fprem", R) X(fprem1, "fprem1", R) X(fxch, "fxch %%st(1)", R) X(fxch3, "fxch %%st(3)", ST) \
    X(fcmovb, "fcmovb %%st(1), %%st", R) X(fcmove, "fcmove %%st(1), %%st", R) X(fcmovbe, "fcmovbe %%st(1), %%st", R) \
    X(fcmovu, "fcmovu %%st(1), %%st", R) X(fcmovnb, "fcmovnb %%st(1), %%st", R) X(fcmovne, "fcmovne %%st(1), %%st", R) \
    X(fcmovnbe, "fcmovnbe %%st(1), %%st", R) X(fcmovnu, "fcmovnu %%st(1), %%st", R) \
    X(ffree, "ffree %%st(1)", ST) X(fincstp, "fincstp", ST) X(fdecstp, "fdecstp", ST) X(fnop, "fnop", ST) \
    X(fnstenv_fldenv, "lea -32(%%rsp), %%rsp\n\tfnstenv (%%rsp)\n\tfldenv (%%rsp)\n\tlea 32(%%rsp), %%rsp", ST) X(fnclex, "fnclex", ST) \
    X(fnsave_frstor, "lea -112(%%rsp), %%rsp\n\tfnsave (%%rsp)\n\tfld1\n\tfrstor (%%rsp)\n\tlea 112(%%rsp), %%rsp", ST) \
    X(fnstsw_m, "fnstsw %[m]", R)

#define TFORMS(X) \
    X(f2xm1, "f2xm1", TX1) X(fyl2x, "fyl2x", TANY) X(fyl2xp1, "fyl2xp1", TSMALL) X(fptan, "fptan", TTRIG) \
    X(fpatan, "fpatan", TANY) X(fsin, "fsin", TTRIG) X(fcos, "fcos", TTRIG) X(fsincos, "fsincos", TTRIG)

#define X_F(nm, ins, k) FORM(nm, ins)
FORMS(X_F)
TFORMS(X_F)

struct form { const char *name; fn_t fn; int kind; };
#define T_F(nm, ins, k) { #nm, f_##nm, k },
static const struct form forms[] = { FORMS(T_F) };
static const struct form tforms[] = { TFORMS(T_F) };

/* binary80 operands: zeros, infinities, NaNs with payloads, denormals and pseudo-denormals, unnormals,
   pseudo-NaNs, the normal range's ends, values near 1, near the binary32/64 limits, near the integer limits */
static reg_t rnd_f80(void)
{
    u64 r = rnd(), s = (r >> 63) << 15, sig = rnd() | 1ull << 63;
    reg_t v;
    switch ((r >> 56) & 31) {
    case 0: v.sig = 0; v.se = s; break;
    case 1: v.sig = 1ull << 63; v.se = s | 0x7fff; break;
    case 2: v.sig = sig | 1ull << 62; v.se = s | 0x7fff; break;                  /* QNaN */
    case 3: v.sig = (sig & ~(1ull << 62)) | 1; v.se = s | 0x7fff; break;         /* SNaN */
    case 4: v.sig = sig >> (1 + (rnd() & 63)); v.se = s; break;                  /* denormal */
    case 5: v.sig = sig; v.se = s; break;                                         /* pseudo-denormal */
    case 6: v.sig = sig >> 1; v.se = s | (1 + (rnd() & 0x7ffd)); break;           /* unnormal */
    case 7: v.sig = sig >> 1; v.se = s | 0x7fff; break;                          /* pseudo-NaN / pseudo-infinity */
    case 8: v.sig = sig; v.se = s | (1 + (rnd() & 15)); break;                   /* smallest normals */
    case 9: v.sig = sig; v.se = s | (0x7ffe - (rnd() & 15)); break;              /* near overflow */
    case 10: case 11: case 12: v.sig = sig; v.se = s | (0x3ffe + (rnd() & 3)); break; /* near 1 */
    case 13: v.sig = sig & ~0ull << 40; v.se = s | (0x3fff - 126 - 24 + (rnd() & 31)); break; /* binary32 edges */
    case 14: v.sig = sig; v.se = s | (0x3fff - 1022 - 53 + (rnd() & 63)); break; /* binary64 subnormal range */
    case 15: v.sig = sig; v.se = s | (0x3fff + 1023 - 2 + (rnd() & 3)); break;   /* binary64 overflow */
    case 16: v.sig = sig; v.se = s | (0x3fff + 12 + (rnd() & 63)); break;        /* integers near 2^15 .. 2^63 */
    case 17: v.sig = sig & ~0ull << (rnd() & 63); v.se = s | (0x3fff + (rnd() & 63)); break; /* integers and halves */
    case 18: v.sig = sig & ~0ull << 11; v.se = s | (0x3fff - 60 + (rnd() & 127)); break; /* exact binary64 values */
    case 19: v.sig = sig & ~0ull << 40; v.se = s | (0x3fff - 30 + (rnd() & 63)); break;  /* exact binary32 values */
    default: v.sig = sig; v.se = s | (0x3fff - 200 + (rnd() % 400)); break;
    }
    return v;
}

static u64 rnd_f64(void)
{
    u64 r = rnd(), s = r & (1ull << 63), frac = rnd() & 0xfffffffffffffull;
    switch ((r >> 56) & 15) {
    case 0: return s;
    case 1: return s | 0x7ff0000000000000ull;
    case 2: return s | 0x7ff8000000000000ull | frac;
    case 3: return s | 0x7ff0000000000000ull | ((frac & 0x7ffffffffffffull) | 1);
    case 4: case 5: return s | frac;
    case 6: return s | (0x7feull << 52) | frac;
    case 7: case 8: return s | ((0x3feull + ((r >> 40) & 3)) << 52) | frac;
    default: return s | ((1 + rnd() % 2046) << 52) | frac;
    }
}

static u64 rnd_f32(void)
{
    u64 r = rnd(), s = (r >> 63) << 31, frac = rnd() & 0x7fffff;
    switch ((r >> 56) & 15) {
    case 0: return s;
    case 1: return s | 0x7f800000;
    case 2: return s | 0x7fc00000 | frac;
    case 3: return s | 0x7f800000 | ((frac & 0x3fffff) | 1);
    case 4: case 5: return s | frac;
    case 6: return s | (0xfeu << 23) | frac;
    case 7: case 8: return s | ((0x7eu + ((r >> 40) & 3)) << 23) | frac;
    default: return s | ((u64)(1 + (rnd() % 254)) << 23) | frac;
    }
}

static u64 rnd_int(int bits)
{
    u64 v = rnd() >> (rnd() & 63);
    if (rnd() & 1) v = -v;
    if (bits < 64) v &= (1ull << bits) - 1;
    return v;
}

static u64 rnd_bcd(void)
{
    u64 v = 0;
    int digits = 1 + rnd() % 16;
    for (int i = 0; i < digits; i++) v |= (rnd() % 10) << (4 * i);
    return v;
}

/* zeros, infinities, NaNs, denormals, pseudo-denormals, unnormals: the operands outside any range */
static reg_t rnd_special(void)
{
    reg_t v;
    do v = rnd_f80(); while ((v.se & 0x7fff) != 0 && (v.se & 0x7fff) != 0x7fff && v.sig >> 63);
    return v;
}

/* a finite normal value in [2^lo, 2^hi) */
static reg_t rnd_range(int lo, int hi)
{
    reg_t v;
    v.sig = rnd() | 1ull << 63;
    v.se = (rnd() & 1) << 15 | (0x3fff + lo + (int)(rnd() % (u64)(hi - lo)));
    return v;
}

static void setup(st_t *t, const struct form *f, int mode, int n)
{
    fx_t *x = &t->img;
    for (int i = 0; i < (int)(sizeof *x / 8); i++) ((u64 *)x)[i] = 0;
    int top = rnd() & 7;
    x->fcw = 0x3f | (mode % 3 == 0 ? 0 : mode % 3 == 1 ? 2 : 3) << 8 | (mode / 3) << 10;
    x->fsw = top << 11 | (rnd() & 0x4700);
    if (n == 0) x->fsw |= 0x3f; /* sticky flags in */
    /* Some cases with exceptions unmasked (and no flag pending, which would fault at once): the
       instruction's unmasked response, FSW.ES and B; no waiting x87 instruction follows it here
       (FXSAVE, FNSTENV and FNINIT do not wait), so nothing faults. */
    if (n % 4 == 3) x->fcw &= ~(u32)(rnd() & 0x3f);
    x->mxcsr = 0x1f80;
    x->mxcsr_mask = 0;
    for (int i = 0; i < 8; i++) x->st[i] = rnd_f80();
    /* which ST(i) are valid: usually ST(0)..ST(2); sometimes ST(0) or ST(1) empty, or all full */
    u32 valid = 7;
    u64 r = rnd();
    if (f->kind == ST) valid = rnd() & 0xff;
    else if (r % 13 == 0) valid = 6;
    else if (r % 13 == 1) valid = 5;
    else if (r % 13 == 2) valid = 0xff;
    u32 abridged = 0;
    for (int i = 0; i < 8; i++) if (valid >> i & 1) abridged |= 1u << ((top + i) & 7);
    x->ftw = abridged;
    t->m[0] = rnd(); t->m[1] = rnd();
    switch (f->kind) {
    case M32: t->m[0] = rnd_f32(); break;
    case M64: t->m[0] = rnd_f64(); break;
    case M80: { reg_t v = rnd_f80(); t->m[0] = v.sig; t->m[1] = v.se; break; }
    case I16: t->m[0] = rnd_int(16); break;
    case I32: t->m[0] = rnd_int(32); break;
    case I64: t->m[0] = rnd_int(64); break;
    case BCD: t->m[0] = rnd_bcd(); t->m[1] = rnd() & 0x80; break;
    case TX1: x->st[0] = rnd() % 4 ? rnd_range(-70, 0) : rnd_special(); break;
    case TSMALL: x->st[0] = rnd() % 4 ? rnd_range(-70, -2) : rnd_special(); break;
    case TTRIG: if (rnd() % 4) x->st[0] = rnd_range(-40, 8); break;
    case TANY: if (rnd() % 4) { x->st[0] = rnd_range(-60, 60); x->st[0].se &= 0x7fff; x->st[1] = rnd_range(-60, 60); } break;
    }
    /* pairs made related: equal, negated, one ulp apart (the same in memory for the real forms) */
    switch (rnd() & 7) {
    case 0: x->st[1] = x->st[0]; break;
    case 1: x->st[1] = x->st[0]; x->st[1].se ^= 0x8000; break;
    case 2: x->st[1] = x->st[0]; x->st[1].sig += 1; break;
    }
    for (int i = 0; i < 8; i++) x->st[i].se &= 0xffff;
    t->fl = 0x202 | (rnd() & 0x8d5);
}

static void run(const struct form *f, st_t *t)
{
    st_t in = *t;
    f->fn(t);
    fx_t *x = &t->img;
    printf("%s c%x s%x t%x %llx:%016llx %llx:%016llx m%llx:%llx f%llx > s%x t%x e%x:%x:%x", f->name, in.img.fcw, in.img.fsw,
           in.img.ftw, in.img.st[0].se, in.img.st[0].sig, in.img.st[1].se, in.img.st[1].sig, in.m[1], in.m[0], in.fl & 0x8d5,
           x->fsw, t->env[2] & 0xffff, t->env[0] >> 16, t->env[1] >> 16, t->env[2] >> 16);
    for (int i = 0; i < 8; i++) printf(" %llx:%016llx", x->st[i].se & 0xffff, x->st[i].sig);
    printf(" m%llx:%llx f%llx\n", t->m[1], t->m[0], t->fl & 0x8d5);
    ncases++;
}

#ifndef NRAND
#define NRAND 10
#endif

int main(void)
{
    static st_t t;
    for (unsigned i = 0; i < sizeof forms / sizeof forms[0]; i++)
        for (int mode = 0; mode < 12; mode++)
            for (int n = 0; n < NRAND; n++) { setup(&t, &forms[i], mode, n); run(&forms[i], &t); }
    for (unsigned i = 0; i < sizeof tforms / sizeof tforms[0]; i++)
        for (int mode = 0; mode < 12; mode++)
            for (int n = 0; n < 4 * NRAND; n++) { setup(&t, &tforms[i], mode, n); run(&tforms[i], &t); }
    printf("x87_diff: %d cases\n", ncases);
    return 0;
}
