/*
 * insn_shift.c - shl shr sar rol ror rcl rcr (count in CL, "1" form, imm8
 * forms; register and memory destination) and shld shrd (CL and imm8).
 *
 * Line format:
 *   <op><w><form> <dst-in> <count> F<flags-in> > <dst-out> F<flags-out>
 *   shld/shrd:  <op><w><form> <dst-in> <src> <count> F.. > <dst-out|u> F..
 * <count> is the CL byte (the rest of RCX holds random garbage) or the imm8.
 */
#include "insn_diff.h"

enum { O_SHL, O_SHR, O_SAR, O_ROL, O_ROR, O_RCL, O_RCR, O_SHLD, O_SHRD };
enum { K_CL, K_IMM, K_MCL };

/*
 * Output flag masks (Intel SDM vol. 2).  "count" below is the masked count:
 * count & 0x1f, or count & 0x3f for 64-bit operands.
 *
 * SAL/SAR/SHL/SHR: "The CF flag contains the value of the last bit shifted
 *   out of the destination operand; it is undefined for SHL and SHR
 *   instructions where the count is greater than or equal to the size (in
 *   bits) of the destination operand. The OF flag is affected only for 1-bit
 *   shifts; otherwise, it is undefined. The SF, ZF, and PF flags are set
 *   according to the result. If the count is 0, the flags are not affected.
 *   For a non-zero count, the AF flag is undefined."
 *     count 0: all six (unchanged); else all but AF, minus OF if count != 1,
 *     minus CF for SHL/SHR if count >= width (only reachable for 8/16 bit).
 *
 * RCL/RCR/ROL/ROR: "If the masked count is 0, the flags are not affected. If
 *   the masked count is 1, then the OF flag is affected, otherwise (masked
 *   count is greater than 1) the OF flag is undefined. The CF flag is
 *   affected when the masked count is non-zero. The SF, ZF, AF, and PF flags
 *   are always unaffected."
 *     all six, minus OF if count > 1.  (SF/ZF/AF/PF are kept: they must be
 *     preserved.  Note: for 8/16-bit RCL/RCR the rotation is count mod 9/17
 *     and for ROL/ROR count mod 8/16, but the flag rules use the masked
 *     count, e.g. "rolb $8" sets CF and leaves OF undefined.)
 *
 * SHLD/SHRD: "If the count is 1 or greater, the CF flag is filled with the
 *   last bit shifted out of the destination operand and the SF, ZF, and PF
 *   flags are set according to the value of the result. For a 1-bit shift,
 *   the OF flag is set if a sign change occurred; otherwise, it is cleared.
 *   For shifts greater than 1 bit, the OF flag is undefined. If a shift
 *   occurs, the AF flag is undefined. If the count operand is 0, the flags
 *   are not affected. If the count is greater than the operand size, the
 *   flags are undefined."  and "If the count is greater than the operand
 *   size, the result is undefined."
 *     count 0: all six; count > width (16-bit only): nothing, and the
 *     destination is printed as "u"; else all but AF, minus OF if count != 1.
 */
static u32 shift_mask(int op, int w, u64 cnt, int *dst_undef)
{
    u32 c = (u32)(cnt & (w == 64 ? 63 : 31));
    u32 m = F_ALL;
    *dst_undef = 0;
    if (c == 0)
        return F_ALL;
    switch (op) {
    case O_SHL:
    case O_SHR:
    case O_SAR:
        m &= ~F_AF;
        if (c != 1)
            m &= ~F_OF;
        if (op != O_SAR && c >= (u32)w)
            m &= ~F_CF;
        return m;
    case O_SHLD:
    case O_SHRD:
        if (c > (u32)w) {
            *dst_undef = 1;
            return 0;
        }
        m &= ~F_AF;
        if (c != 1)
            m &= ~F_OF;
        return m;
    default: /* rotates */
        if (c != 1)
            m &= ~F_OF;
        return m;
    }
}

typedef struct {
    const char *name;
    fn_t fn;
    int w, kind, op;
    u64 imm;
} sform_t;

/* the count is CL: the whole of RCX is c (random garbage above the byte) */
#define OP_CL "c"(t->c),
#define SH_CL(nm, ins, M) INSN(nm, ins " %%cl,%" M "[d]", (OP_D), (OP_CL))
#define SH_MCL(nm, ins) INSN(nm, ins " %%cl,(%[p])", (), (OP_CL OP_MA), MEM)

#define SH_OPS(X) X(shl, O_SHL) X(shr, O_SHR) X(sar, O_SAR) X(rol, O_ROL)      \
    X(ror, O_ROR) X(rcl, O_RCL) X(rcr, O_RCR)
/* width, suffix, modifier, imm A (= width-1), imm B (> width, masked) */
#define SFOR_W(G, op, id)                                                     \
    G(op, id, 8, b, b, 7, 9) G(op, id, 16, w, w, 15, 17)                      \
    G(op, id, 32, l, k, 31, 33) G(op, id, 64, q, q, 63, 65)
#define SGEN_FN(op, id, W, S, M, IA, IB)                                      \
    SH_CL(op##W##cl, #op #S, #M)                                              \
    W_R(op##W##_1, #op #S, #M) /* no count: the D0/D1 shift-by-one form */  \
    W_RI(op##W##ia, #op #S, #M, IA)                                           \
    W_RI(op##W##ib, #op #S, #M, IB)                                           \
    SH_MCL(op##W##mcl, #op #S)
#define SGEN_TAB(op, id, W, S, M, IA, IB)                                     \
    {#op #W "cl", op##W##cl, W, K_CL, id, 0},                                 \
    {#op #W "_1", op##W##_1, W, K_IMM, id, 1},                                \
    {#op #W "i" #IA, op##W##ia, W, K_IMM, id, IA},                            \
    {#op #W "i" #IB, op##W##ib, W, K_IMM, id, IB},                            \
    {#op #W "mcl", op##W##mcl, W, K_MCL, id, 0},
#define SOP_FN(op, id) SFOR_W(SGEN_FN, op, id)
#define SOP_TAB(op, id) SFOR_W(SGEN_TAB, op, id)

SH_OPS(SOP_FN)

/* ---- shld / shrd: a = dst, b = src, c = count */
#define DSH_CL(nm, ins, M)                                                    \
    INSN(nm, ins " %%cl,%" M "[s],%" M "[d]", (OP_D), (OP_S OP_CL))
#define DSH_MCL(nm, ins, M)                                                   \
    INSN(nm, ins " %%cl,%" M "[s],(%[p])", (), (OP_S OP_CL OP_MA), MEM)
/* imm: 1, width-1, width (16: == size, still defined; 32/64: masked to 0) */
#define DFOR_W(G, op, id) G(op, id, 16, w, w, 15, 16) G(op, id, 32, l, k, 31, 32) \
    G(op, id, 64, q, q, 63, 64)
#define DGEN_FN(op, id, W, S, M, IA, IB)                                      \
    DSH_CL(op##W##cl, #op #S, #M)                                             \
    DSH_MCL(op##W##mcl, #op #S, #M)                                           \
    W_RRI(op##W##_1, #op #S, #M, 1)                                           \
    W_RRI(op##W##ia, #op #S, #M, IA)                                          \
    W_RRI(op##W##ib, #op #S, #M, IB)
#define DGEN_TAB(op, id, W, S, M, IA, IB)                                     \
    {#op #W "cl", op##W##cl, W, K_CL, id, 0},                                 \
    {#op #W "mcl", op##W##mcl, W, K_MCL, id, 0},                              \
    {#op #W "i1", op##W##_1, W, K_IMM, id, 1},                                \
    {#op #W "i" #IA, op##W##ia, W, K_IMM, id, IA},                            \
    {#op #W "i" #IB, op##W##ib, W, K_IMM, id, IB},
DFOR_W(DGEN_FN, shld, O_SHLD)
DFOR_W(DGEN_FN, shrd, O_SHRD)

static const sform_t sh_forms[] = {
    SH_OPS(SOP_TAB)
    DFOR_W(DGEN_TAB, shld, O_SHLD)
    DFOR_W(DGEN_TAB, shrd, O_SHRD)
};

static const u64 counts[] = {0, 1, 2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 255};

static void sh_case(const sform_t *f, u64 x, u64 y, u64 cnt, u64 fl)
{
    st_t t;
    int w = f->w, und;
    int dbl = f->op >= O_SHLD;
    u64 a0;
    u32 mask;
    t.a = with_garbage(x, w);
    t.b = with_garbage(y, w);
    t.c = f->kind == K_IMM ? f->imm : with_garbage(cnt, 8);
    t.f = fl;
    a0 = t.a;
    f->fn(&t);
    mask = shift_mask(f->op, w, t.c & 0xff, &und);
    if (dbl)
        L_in(f->name, fl, 3, a0, y & wmask(w), t.c & 0xff);
    else
        L_in(f->name, fl, 2, a0, t.c & 0xff);
    if (und)
        L_u();
    L_out(t.f, mask, !und, t.a); /* dst "u": no value */
}

static u64 rnd_count(int w)
{
    u64 r = rnd();
    if ((r & 3) == 0)
        return rnd() & 0xff;
    return rnd() % (u64)(w + 2);
}

static u64 edge_fl(int carry, int pass)
{
    u64 f = rnd_flags();
    if (carry)
        f = (f & ~(u64)F_CF) | (u64)pass;
    return f;
}

void run_shift(void)
{
    int i, j, k, pass;
    for (i = 0; i < NELEM(sh_forms); i++) {
        const sform_t *f = &sh_forms[i];
        int w = f->w;
        u64 m = wmask(w);
        int carry = f->op == O_RCL || f->op == O_RCR;
        int npass = carry ? 2 : 1;
        u64 V[5], S[5];
        int nv;
        V[0] = 1;
        V[1] = smin(w);
        V[2] = m;
        V[3] = smin(w) - 1;
        V[4] = 0xa5a5a5a5a5a5a5a5ull & m;
        edge_short(w, S);
        nv = f->kind == K_MCL ? 3 : 5;
        for (pass = 0; pass < npass; pass++) {
            if (f->op >= O_SHLD) {
                /* (dst, src) pairs x counts */
                static const int dv[4] = {4, 1, 2, 0}, sv[4] = {2, 4, 0, 1};
                if (f->kind == K_IMM) {
                    for (j = 0; j < 5; j++)
                        for (k = 0; k < 2; k++)
                            sh_case(f, S[j], k ? V[4] : S[4 - j], 0, edge_fl(0, 0));
                } else {
                    for (k = 0; k < NELEM(counts); k++)
                        for (j = 0; j < (f->kind == K_MCL ? 2 : 4); j++)
                            sh_case(f, V[dv[j]], V[sv[j]], counts[k], edge_fl(0, 0));
                }
            } else if (f->kind == K_IMM) {
                for (j = 0; j < 5; j++)
                    sh_case(f, S[j], 0, 0, edge_fl(carry, pass));
                sh_case(f, V[4], 0, 0, edge_fl(carry, pass));
            } else {
                for (k = 0; k < NELEM(counts); k++)
                    for (j = 0; j < nv; j++)
                        sh_case(f, V[j], 0, counts[k], edge_fl(carry, pass));
            }
        }
        for (j = 0; j < (f->kind == K_CL ? NRAND : NRAND_V); j++) {
            u64 x = rnd_op(w), y = rnd_op(w), c = rnd_count(w);
            sh_case(f, x, y, c, rnd_flags());
        }
    }
}
