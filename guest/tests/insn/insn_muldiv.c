/*
 * insn_muldiv.c - mul imul (1-operand incl. AL*r8 -> AX and RDX:RAX forms,
 * 2-operand, 3-operand with imm8 and imm16/32), div idiv (8..64 bit,
 * including RDX:RAX / r64; operands that would raise #DE are skipped after
 * checking them in C).
 *
 * Line formats:
 *   mul/imul/div/idiv 1-op:  <name> <rax> <rdx> <src> F.. > <rax> <rdx> F..
 *   imul 2-op:               <name> <dst> <src> F.. > <dst> F..
 *   imul 3-op:               <name> <dst> <src> <imm> F.. > <dst> F..
 */
#include "insn_diff.h"

/*
 * Output flag masks (Intel SDM vol. 2):
 *   MUL: "The OF and CF flags are set to 0 if the upper half of the result is
 *     0; otherwise, they are set to 1. The SF, ZF, AF, and PF flags are
 *     undefined."                                               -> CF|OF
 *   IMUL: "For the one operand form of the instruction, the CF and OF flags
 *     are set when significant bits are carried into the upper half of the
 *     result and cleared when the result fits exactly in the lower half of
 *     the result. For the two- and three-operand forms of the instruction,
 *     the CF and OF flags are set when the result must be truncated to fit in
 *     the destination operand size and cleared when the result fits exactly
 *     in the destination operand size. The SF, ZF, AF, and PF flags are
 *     undefined."                                               -> CF|OF
 *   DIV/IDIV: "The CF, OF, SF, ZF, AF, and PF flags are undefined." -> none
 */
#define M_MUL (F_CF | F_OF)
#define M_DIV 0u

typedef struct {
    const char *name;
    fn_t fn;
    int w, sgn;
    i64 imm;
    int v; /* encoding variant (memory operand / extra immediate): NRAND_V */
} mform_t;

/* ---- one-operand forms: a = rax, d = rdx, b = source */
#define M1FOR_W(G, op, sg) G(op, sg, 8, b, b) G(op, sg, 16, w, w)             \
    G(op, sg, 32, l, k) G(op, sg, 64, q, q)
#define M1GEN_FN(op, sg, W, S, M) W_ACC_R(op##W##r, #op #S, #M) W_ACC_M(op##W##m, #op #S)
#define M1GEN_TAB(op, sg, W, S, M)                                            \
    {#op #W "r", op##W##r, W, sg, 0, 0}, {#op #W "m", op##W##m, W, sg, 0, 1},
M1FOR_W(M1GEN_FN, mul, 0)
M1FOR_W(M1GEN_FN, imul, 1)
M1FOR_W(M1GEN_FN, div, 0)
M1FOR_W(M1GEN_FN, idiv, 1)

static const mform_t mul1_forms[] = {
    M1FOR_W(M1GEN_TAB, mul, 0) M1FOR_W(M1GEN_TAB, imul, 1)
};
static const mform_t div_forms[] = {
    M1FOR_W(M1GEN_TAB, div, 0) M1FOR_W(M1GEN_TAB, idiv, 1)
};

/* ---- imul 2-operand (a = dst, b = src) and 3-operand (a = dst, b = src) */
/* imm8 forms: -128, 7 (opcode 6B); full-size imm: -0x8000 / -0x80000000 (69) */
#define IFOR_W(G) G(16, w, w, -0x8000) G(32, l, k, (-0x7fffffff - 1))          \
    G(64, q, q, (-0x7fffffff - 1))
#define IGEN_FN(W, S, M, IB)                                                  \
    W_RR(imul##W##rr, "imul" #S, #M, #M) W_RM(imul##W##rm, "imul" #S, #M)     \
    W_RRI(imul##W##rri8a, "imul" #S, #M, -128)                                \
    W_RRI(imul##W##rri8b, "imul" #S, #M, 7)                                   \
    W_RRI(imul##W##rri, "imul" #S, #M, IB) W_RMI(imul##W##rmi, "imul" #S, #M, IB)
#define IGEN_TAB(W, S, M, IB)                                                 \
    {"imul" #W "rr", imul##W##rr, W, 2, 0, 0},                                   \
    {"imul" #W "rm", imul##W##rm, W, 2, 0, 1},                                   \
    {"imul" #W "rri8", imul##W##rri8a, W, 3, -128, 0},                           \
    {"imul" #W "rri8", imul##W##rri8b, W, 3, 7, 1},                              \
    {"imul" #W "rri", imul##W##rri, W, 3, (i64)(IB), 0},                         \
    {"imul" #W "rmi", imul##W##rmi, W, 3, (i64)(IB), 1},
IFOR_W(IGEN_FN)
static const mform_t imul_forms[] = {IFOR_W(IGEN_TAB)};

/* ---------------------------------------------------------------- helpers */

/* place the two halves of a double-width operand into rax/rdx */
static void set_acc(st_t *t, int w, u64 lo, u64 hi)
{
    if (w == 8) {
        t->a = (rnd() & ~0xffffull) | ((hi & 0xff) << 8) | (lo & 0xff);
        t->d = rnd();
    } else {
        t->a = with_garbage(lo, w);
        t->d = with_garbage(hi, w);
    }
}

static void m1_case(const mform_t *f, u64 lo, u64 hi, u64 src, u32 mask)
{
    st_t t;
    u64 a0, d0, fl = rnd_flags();
    set_acc(&t, f->w, lo, hi);
    t.b = with_garbage(src, f->w);
    t.f = fl;
    a0 = t.a;
    d0 = t.d;
    f->fn(&t);
    L_in(f->name, fl, 3, a0, d0, src & wmask(f->w));
    L_out(t.f, mask, 2, t.a, t.d);
}

/* (hi:lo) / d for hi < d, 64-bit halves, restoring division in C */
static u64 udiv128(u64 hi, u64 lo, u64 d)
{
    u64 q = 0;
    int i;
    for (i = 63; i >= 0; i--) {
        u64 top = hi >> 63;
        hi = (hi << 1) | ((lo >> i) & 1);
        q <<= 1;
        if (top || hi >= d) {
            hi -= d;
            q |= 1;
        }
    }
    return q;
}

/* Would DIV/IDIV of the 2w-bit dividend hi:lo by d (w bits) raise #DE? */
static int div_ok(int sgn, int w, u64 hi, u64 lo, u64 d)
{
    u64 m = wmask(w), q, lim;
    int nneg, dneg;
    hi &= m;
    lo &= m;
    d &= m;
    if (d == 0)
        return 0;
    if (!sgn)
        return hi < d; /* quotient < 2^w  <=>  hi < d */
    nneg = (int)((hi >> (w - 1)) & 1);
    dneg = (int)((d >> (w - 1)) & 1);
    if (nneg) { /* negate the 2w-bit dividend */
        lo = (~lo + 1) & m;
        hi = (~hi + (lo == 0)) & m;
    }
    if (dneg)
        d = (~d + 1) & m; /* magnitude; smin stays smin = 2^(w-1) */
    if (hi >= d)
        return 0; /* |quotient| >= 2^w */
    q = w == 64 ? udiv128(hi, lo, d) : ((hi << w) | lo) / d;
    lim = nneg != dneg ? smin(w) : smin(w) - 1;
    return q <= lim;
}

static void run_div(const mform_t *f)
{
    int w = f->w, i, j, k, n, tries;
    u64 m = wmask(w), L[20], lo[3], hi[3];
    n = edge_long(w, L);
    lo[0] = 1;
    lo[1] = smin(w);
    lo[2] = m;
    for (i = 0; i < n; i++) {
        u64 d = L[i];
        if (d == 0)
            continue;
        for (j = 0; j < 3; j++) {
            hi[0] = 0;
            hi[1] = m;
            hi[2] = (d - 1) & m;
            for (k = 0; k < 3; k++)
                if (div_ok(f->sgn, w, hi[k], lo[j], d))
                    m1_case(f, lo[j], hi[k], d, M_DIV);
        }
    }
    for (i = 0; i < (f->v ? NRAND_V : NRAND); i++) {
        u64 d = 1, l = 0, h = 0;
        for (tries = 0; tries < 64; tries++) {
            u64 r = rnd();
            d = rnd_op(w);
            l = rnd_op(w);
            switch (r & 3) {
            case 0:
                h = rnd_op(w);
                break;
            case 1: /* sign extension of lo: always in range for |d| > 1 */
                h = (l & smin(w)) ? m : 0;
                break;
            default:
                h = d ? (rnd() & m) % d : 0;
                if (f->sgn && (r & 4))
                    h = (0 - h) & m;
                break;
            }
            if (div_ok(f->sgn, w, h, l, d))
                break;
        }
        if (tries == 64) {
            d = 1;
            h = 0;
        }
        m1_case(f, l, h, d, M_DIV);
    }
}

static void run_mul1(const mform_t *f)
{
    int w = f->w, i, j, nl, ns;
    u64 L[20], S[5];
    nl = edge_long(w, L);
    ns = edge_short(w, S);
    for (i = 0; i < nl; i++)
        for (j = 0; j < ns; j++)
            m1_case(f, L[i], rnd(), S[j], M_MUL);
    for (i = 0; i < (f->v ? NRAND_V : NRAND); i++) {
        u64 x = rnd_op(w), y = rnd_op(w);
        m1_case(f, x, rnd(), y, M_MUL);
    }
}

/* imul 3-operand (two = 0): the destination is only written, so it starts
 * as garbage; 2-operand: x is the destination, y the source */
static void imul_case(const mform_t *f, int two, u64 x, u64 y)
{
    st_t t;
    u64 a0, fl = rnd_flags();
    t.a = two ? with_garbage(x, f->w) : rnd(); /* 16-bit: upper bits kept */
    t.b = with_garbage(two ? y : x, f->w);
    t.f = fl;
    a0 = t.a;
    f->fn(&t);
    if (two)
        L_in(f->name, fl, 2, a0, y & wmask(f->w));
    else
        L_in(f->name, fl, 3, a0, x & wmask(f->w), (u64)f->imm & wmask(f->w));
    L_out(t.f, M_MUL, 1, t.a);
}

void run_muldiv(void)
{
    int i, j, k, nl, ns;
    u64 L[20], S[5];
    for (i = 0; i < NELEM(mul1_forms); i++)
        run_mul1(&mul1_forms[i]);
    for (i = 0; i < NELEM(imul_forms); i++) {
        const mform_t *f = &imul_forms[i];
        int two = f->sgn == 2; /* sgn field: 2 = two-operand, 3 = three-operand */
        nl = edge_long(f->w, L);
        ns = edge_short(f->w, S);
        if (two) {
            for (j = 0; j < nl; j++)
                for (k = 0; k < ns; k++)
                    imul_case(f, 1, L[j], S[k]);
            for (j = 0; j < (f->v ? NRAND_V : NRAND); j++) {
                u64 x = rnd_op(f->w), y = rnd_op(f->w);
                imul_case(f, 1, x, y);
            }
        } else {
            for (j = 0; j < nl; j++)
                imul_case(f, 0, L[j], 0);
            for (j = 0; j < (f->v ? NRAND_V : NRAND); j++)
                imul_case(f, 0, rnd_op(f->w), 0);
        }
    }
    for (i = 0; i < NELEM(div_forms); i++)
        run_div(&div_forms[i]);
}
