/*
 * insn_alu.c - add adc sub sbb and or xor cmp test (reg,reg / mem,reg /
 * reg,mem / reg,imm8 / reg,imm), inc dec neg not (reg / mem), and a few
 * legacy high-byte register forms (%ah, %ch).
 *
 * Line format:  <name> <dst-in> <src-in> F<flags-in> > <dst-out> F<flags-out>
 * <dst> is the full 64-bit register (or the full 64-bit memory word holding
 * the operand): the bits above the operand width must be preserved for 8/16
 * bit forms and zeroed for 32-bit register destinations.
 */
#include "insn_diff.h"

/*
 * Output flag masks (Intel SDM vol. 2, "Flags Affected"):
 *   ADD/ADC/SUB/SBB/CMP/NEG: "The OF, SF, ZF, AF, CF, and PF flags are set
 *       according to the result."                      -> all six defined
 *   AND/OR/XOR/TEST: "The OF and CF flags are cleared; the SF, ZF, and PF
 *       flags are set according to the result. The state of the AF flag is
 *       undefined."                                      -> all but AF
 *   INC/DEC: "The CF flag is not affected. The OF, SF, ZF, AF, and PF flags
 *       are set according to the result."    -> all six (CF must be kept)
 *   NOT: "None."                        -> all six (all must be preserved)
 */
enum { C_ARITH, C_CARRY, C_LOGIC, C_NONE };
static const u32 cls_mask[] = {
    /* C_ARITH */ F_ALL,
    /* C_CARRY */ F_ALL,          /* adc/sbb: as ADD/SUB, CF is also an input */
    /* C_LOGIC */ F_ALL & ~F_AF,
    /* C_NONE  */ F_ALL,          /* inc/dec/not: unaffected flags kept */
};

enum { K_RR, K_MR, K_RM, K_RI, K_HB };

typedef struct {
    const char *name;
    fn_t fn;
    int w, kind, cls;
    i64 imm;      /* K_RI: the immediate; K_HB: dst/src byte shifts */
} bform_t;

/* ---------------------------------------------------------------- binary */

/* op, class, has reg,mem form (test r,m is the same encoding as test m,r) */
#define ALU_OPS(X)                                                            \
    X(add, C_ARITH, 1) X(adc, C_CARRY, 1) X(sub, C_ARITH, 1)                  \
    X(sbb, C_CARRY, 1) X(and, C_LOGIC, 1) X(or, C_LOGIC, 1)                   \
    X(xor, C_LOGIC, 1) X(cmp, C_ARITH, 1) X(test, C_LOGIC, 0)

/* width, suffix, operand modifier, imm8 (sign-extended), full-size imm */
#define FOR_W(G, op, cls, rm)                                                 \
    G(op, cls, rm, 8, b, b, -128, 0x7f)                                       \
    G(op, cls, rm, 16, w, w, -128, 0x8000)                                    \
    G(op, cls, rm, 32, l, k, -128, 0x80000000)                                \
    G(op, cls, rm, 64, q, q, -128, (-0x7fffffff - 1))

#define GEN_FN(op, cls, rm, W, S, M, I1, I2)                                  \
    W_RR(op##W##rr, #op #S, #M, #M)                                           \
    W_MR(op##W##mr, #op #S, #M)                                               \
    W_RM(op##W##rm, #op #S, #M)                                               \
    W_RI(op##W##i1, #op #S, #M, I1)                                           \
    W_RI(op##W##i2, #op #S, #M, I2)
#define GEN_TAB(op, cls, rm, W, S, M, I1, I2)                                 \
    {#op #W "rr", op##W##rr, W, K_RR, cls, 0},                                \
    {#op #W "mr", op##W##mr, W, K_MR, cls, 0},                                \
    {#op #W "rm", rm ? op##W##rm : 0, W, K_RM, cls, 0},                       \
    {#op #W "i8", op##W##i1, W, K_RI, cls, (i64)(I1)},                        \
    {#op #W "i", op##W##i2, W, K_RI, cls, (i64)(I2)},

#define OP_FN(op, cls, rm) FOR_W(GEN_FN, op, cls, rm)
#define OP_TAB(op, cls, rm) FOR_W(GEN_TAB, op, cls, rm)

ALU_OPS(OP_FN)

/* Legacy high-byte registers (no REX prefix allowed): fixed rax/rcx.
 * name, instruction, dst/src register, class, dst | src byte shift << 8 */
#define HB_OPS(X)                                                             \
    X(add8hh, "addb %%ch,%%ah", "a", "c", C_ARITH, 8 | 8 << 8)                \
    X(sub8lh, "subb %%ah,%%cl", "c", "a", C_ARITH, 0 | 8 << 8)                \
    X(sbb8hh, "sbbb %%ch,%%ah", "a", "c", C_CARRY, 8 | 8 << 8)                \
    X(xor8hh, "xorb %%ah,%%ch", "c", "a", C_LOGIC, 8 | 8 << 8)                \
    X(cmp8hh, "cmpb %%ch,%%ah", "a", "c", C_ARITH, 8 | 8 << 8)                \
    X(and8hl, "andb %%cl,%%ah", "a", "c", C_LOGIC, 8 | 0 << 8)
#define HB_FN(nm, ins, DREG, SREG, cls, sh)                                   \
    INSN(hb_##nm, ins, ([d] "+" DREG(t->a),), ([s] SREG(t->b),))
#define HB_TAB(nm, ins, DREG, SREG, cls, sh) {#nm, hb_##nm, 8, K_HB, cls, sh},
HB_OPS(HB_FN)

static const bform_t bin_forms[] = {
    ALU_OPS(OP_TAB)
    HB_OPS(HB_TAB)
};

static u64 put_byte(u64 full, u64 v, int sh)
{
    return (full & ~(0xffull << sh)) | ((v & 0xff) << sh);
}

static void bin_case(const bform_t *f, u64 x, u64 y, u64 fl)
{
    st_t t, t0;
    int w = f->w;
    u64 m = wmask(w);
    if (f->kind == K_HB) {
        t.a = put_byte(rnd(), x, (int)(f->imm & 0xff));
        t.b = put_byte(rnd(), y, (int)(f->imm >> 8));
    } else {
        t.a = with_garbage(x, w);
        t.b = f->kind == K_RI ? ((u64)f->imm & m) : with_garbage(y, w);
    }
    t.f = fl;
    t0 = t;
    f->fn(&t);
    L_in(f->name, fl, 2, t0.a, f->kind == K_HB ? t0.b : t0.b & m);
    L_out(t.f, cls_mask[f->cls], 1, t.a);
}

static int in_list(u64 v, const u64 *l, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (l[i] == v)
            return 1;
    return 0;
}

static void run_bin(const bform_t *f)
{
    u64 L[20], S[5];
    int nl, ns, i, j, pass, npass;
    if (!f->fn)
        return;
    nl = edge_long(f->w, L);
    ns = edge_short(f->w, S);
    /* carry-consuming forms: every edge case with CF=0 and with CF=1 */
    npass = f->cls == C_CARRY ? 2 : 1;
    for (pass = 0; pass < npass; pass++) {
        u64 cfset = pass;
#define FL() (npass == 2 ? ((rnd_flags() & ~(u64)F_CF) | cfset) : rnd_flags())
        switch (f->kind) {
        case K_RR:
            for (i = 0; i < nl; i++)
                for (j = 0; j < ns; j++)
                    bin_case(f, L[i], S[j], FL());
            for (i = 0; i < ns; i++)
                for (j = 0; j < nl; j++)
                    if (!in_list(L[j], S, ns))
                        bin_case(f, S[i], L[j], FL());
            break;
        case K_RI:
            for (i = 0; i < nl; i++)
                bin_case(f, L[i], 0, FL());
            break;
        default:
            for (i = 0; i < ns; i++)
                for (j = 0; j < ns; j++)
                    bin_case(f, S[i], S[j], FL());
            break;
        }
#undef FL
    }
    for (i = 0; i < (f->kind == K_RR || f->kind == K_HB ? NRAND : NRAND_V); i++) {
        u64 x = rnd_op(f->w), y = rnd_op(f->w);
        bin_case(f, x, y, rnd_flags());
    }
}

/* ---------------------------------------------------------------- unary */

#define UN_OPS(X) X(inc, C_NONE) X(dec, C_NONE) X(neg, C_ARITH) X(not, C_NONE)
#define UFOR_W(G, op, cls) G(op, cls, 8, b, b) G(op, cls, 16, w, w)           \
    G(op, cls, 32, l, k) G(op, cls, 64, q, q)
#define UGEN_FN(op, cls, W, S, M) W_R(op##W##r, #op #S, #M) W_M(op##W##m, #op #S)
#define UGEN_TAB(op, cls, W, S, M)                                            \
    {#op #W "r", op##W##r, W, K_RR, cls, 0}, {#op #W "m", op##W##m, W, K_MR, cls, 0},
#define UOP_FN(op, cls) UFOR_W(UGEN_FN, op, cls)
#define UOP_TAB(op, cls) UFOR_W(UGEN_TAB, op, cls)

UN_OPS(UOP_FN)

INSN(incb_ah, "incb %%ah", ("+a"(t->a),), ())
INSN(negb_ch, "negb %%ch", ("+c"(t->a),), ())

static const bform_t un_forms[] = {
    UN_OPS(UOP_TAB)
    {"inc8h", incb_ah, 8, K_HB, C_NONE, 8},
    {"neg8h", negb_ch, 8, K_HB, C_ARITH, 8},
};

static void un_case(const bform_t *f, u64 x)
{
    st_t t;
    u64 a0, fl = rnd_flags();
    t.a = f->kind == K_HB ? put_byte(rnd(), x, (int)f->imm) : with_garbage(x, f->w);
    t.f = fl;
    a0 = t.a;
    f->fn(&t);
    L_in(f->name, fl, 1, a0);
    L_out(t.f, cls_mask[f->cls], 1, t.a);
}

void run_alu(void)
{
    int i, j, n;
    u64 L[20];
    for (i = 0; i < NELEM(bin_forms); i++)
        run_bin(&bin_forms[i]);
    for (i = 0; i < NELEM(un_forms); i++) {
        const bform_t *f = &un_forms[i];
        n = edge_long(f->w, L);
        for (j = 0; j < n; j++)
            un_case(f, L[j]);
        for (j = 0; j < (f->kind == K_MR ? NRAND_V : NRAND); j++)
            un_case(f, rnd_op(f->w));
    }
}
