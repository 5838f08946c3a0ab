/*
 * insn_bits.c - bt bts btr btc (register destination with register or
 * immediate bit index; memory destination with immediate index; memory
 * destination with a register bit offset that reaches outside the addressed
 * word: offsets -70..+200 bits around a base inside a 64-byte buffer), and
 * bsf bsr tzcnt lzcnt popcnt (16/32/64).
 *
 * lzcnt/tzcnt/popcnt are only executed if CPUID reports them; otherwise the
 * architecturally defined result is computed in C and printed in the same
 * format (on a CPU without LZCNT the F3 0F BD encoding silently executes as
 * BSR, so it must not be executed there).
 *
 * Line formats:
 *   bt reg/imm:   <name> <dst> <index|imm> F.. > <dst> F..
 *   bt mem/reg:   <name> <bit offset> F.. > <buffer hash> F..
 *   bit scan:     <name> <dst> <src> F.. > <dst|u> F..
 */
#include "insn_diff.h"

/*
 * Output flag masks (Intel SDM vol. 2):
 *   BT/BTS/BTR/BTC: "The CF flag contains the value of the selected bit
 *     before it is [set/cleared/complemented]. The ZF flag is unaffected.
 *     The OF, SF, AF, and PF flags are undefined."          -> CF|ZF
 *   BSF/BSR: "The ZF flag is set to 1 if the source operand is 0; otherwise,
 *     the ZF flag is cleared. The CF, OF, SF, AF, and PF flags are
 *     undefined."  And "If the content of the source operand is 0, the
 *     content of the destination operand is undefined."    -> ZF (dst "u")
 *   LZCNT/TZCNT: "ZF flag is set to 1 in case of zero output (most/least
 *     significant bit of the source is set), and to 0 otherwise, CF flag is
 *     set to 1 if input was zero and cleared otherwise. OF, SF, PF and AF
 *     flags are undefined."                                 -> CF|ZF
 *   POPCNT: "OF, SF, ZF, AF, CF, PF are all cleared. ZF is set if SRC = 0,
 *     otherwise ZF is cleared."                             -> all six
 */
#define M_BT (F_CF | F_ZF)
#define M_BSX F_ZF
#define M_XCNT (F_CF | F_ZF)
#define M_POPCNT F_ALL

static u8 bbuf[64] __attribute__((aligned(16)));
#define BT_BASE 24 /* byte offset of the base address inside bbuf */

typedef struct {
    const char *name;
    fn_t fn;
    int w, kind;
    u64 imm;
} bform_t;
enum { K_RR, K_RI, K_MI, K_MR };

/* a = dst, b = index.  The memory forms with a register bit offset address
 * bbuf + BT_BASE (the offset may reach outside the addressed word). */
#define BT_MR(nm, ins, M)                                                     \
    INSN(nm, ins " %" M "[s],(%[p])", (), (OP_S [p] "r"(bbuf + BT_BASE),), MEM)
#define BT_OPS(X) X(bt) X(bts) X(btr) X(btc)
/* width, suffix, modifier, imm A (width-1), imm B (200: masked), mem imm */
#define BTFOR_W(G, op) G(op, 16, w, w, 15, 200, 19) G(op, 32, l, k, 31, 200, 35) \
    G(op, 64, q, q, 63, 200, 67)
#define BTGEN_FN(op, W, S, M, IA, IB, IM)                                     \
    W_RR(op##W##rr, #op #S, #M, #M) W_RI(op##W##ia, #op #S, #M, IA)          \
    W_RI(op##W##ib, #op #S, #M, IB) W_MI(op##W##mi, #op #S, IM)              \
    BT_MR(op##W##mr, #op #S, #M)
#define BTGEN_TAB(op, W, S, M, IA, IB, IM)                                    \
    {#op #W "rr", op##W##rr, W, K_RR, 0},                                     \
    {#op #W "ri" #IA, op##W##ia, W, K_RI, IA},                                \
    {#op #W "ri" #IB, op##W##ib, W, K_RI, IB},                                \
    {#op #W "mi" #IM, op##W##mi, W, K_MI, IM},                                \
    {#op #W "mr", op##W##mr, W, K_MR, 0},
#define BTOP_FN(op) BTFOR_W(BTGEN_FN, op)
#define BTOP_TAB(op) BTFOR_W(BTGEN_TAB, op)
BT_OPS(BTOP_FN)
static const bform_t bt_forms[] = {BT_OPS(BTOP_TAB)};

static void bt_case(const bform_t *f, u64 x, u64 idx)
{
    st_t t;
    u64 a0, fl = rnd_flags();
    int w = f->w;
    t.a = with_garbage(x, w);
    t.b = f->kind == K_RR ? idx : f->imm;
    t.f = fl;
    a0 = t.a;
    f->fn(&t);
    L_in(f->name, fl, 2, a0, t.b);
    L_out(t.f, M_BT, 1, t.a);
}

static void bt_mem_case(const bform_t *f, i64 off)
{
    st_t t;
    u64 fl = rnd_flags();
    int i, w = f->w;
    for (i = 0; i < 64; i++)
        bbuf[i] = (u8)rnd();
    /* the bit offset is the signed value of the w-bit index register;
     * the bits above w are random and must be ignored */
    t.b = with_garbage((u64)off, w);
    t.f = fl;
    f->fn(&t);
    L_in(f->name, fl, 1, (u64)off & wmask(w));
    L_out(t.f, M_BT, 1, hash_bytes(bbuf, 64));
}

/* ---------------------------------------------------------------- scans */

/* a = dst (garbage), b = src */
#define SFOR_W(G, op) G(op, 16, w, w) G(op, 32, l, k) G(op, 64, q, q)
#define SGEN_FN(op, W, S, M) W_RR(op##W, #op #S, #M, #M)
SFOR_W(SGEN_FN, bsf)
SFOR_W(SGEN_FN, bsr)
SFOR_W(SGEN_FN, tzcnt)
SFOR_W(SGEN_FN, lzcnt)
SFOR_W(SGEN_FN, popcnt)

enum { X_BSF, X_BSR, X_TZCNT, X_LZCNT, X_POPCNT };

/* write a w-bit result to a 64-bit register: 16-bit keeps bits 16..63,
 * 32-bit zero-extends */
static u64 wr_reg(u64 old, u64 v, int w)
{
    if (w == 16)
        return (old & ~0xffffull) | (v & 0xffff);
    return v & wmask(w);
}

/* architectural model of LZCNT/TZCNT/POPCNT, used when the host lacks them */
static void xcnt_model(int op, int w, st_t *t)
{
    u64 s = t->b & wmask(w), n = 0;
    u64 f = t->f & ~(u64)F_ALL;
    int i;
    if (op == X_POPCNT) {
        for (i = 0; i < w; i++)
            n += (s >> i) & 1;
        if (s == 0)
            f |= F_ZF;
    } else {
        if (op == X_TZCNT)
            while (n < (u64)w && !((s >> n) & 1))
                n++;
        else
            while (n < (u64)w && !((s >> (w - 1 - n)) & 1))
                n++;
        if (s == 0)
            f |= F_CF;
        if (n == 0)
            f |= F_ZF;
    }
    t->a = wr_reg(t->a, n, w);
    t->f = f;
}

typedef struct {
    const char *name;
    fn_t fn;
    int w, op;
} scform_t;
static const scform_t scan_forms[] = {
    {"bsf16", bsf16, 16, X_BSF},       {"bsf32", bsf32, 32, X_BSF},
    {"bsf64", bsf64, 64, X_BSF},       {"bsr16", bsr16, 16, X_BSR},
    {"bsr32", bsr32, 32, X_BSR},       {"bsr64", bsr64, 64, X_BSR},
    {"tzcnt16", tzcnt16, 16, X_TZCNT}, {"tzcnt32", tzcnt32, 32, X_TZCNT},
    {"tzcnt64", tzcnt64, 64, X_TZCNT}, {"lzcnt16", lzcnt16, 16, X_LZCNT},
    {"lzcnt32", lzcnt32, 32, X_LZCNT}, {"lzcnt64", lzcnt64, 64, X_LZCNT},
    {"popcnt16", popcnt16, 16, X_POPCNT}, {"popcnt32", popcnt32, 32, X_POPCNT},
    {"popcnt64", popcnt64, 64, X_POPCNT},
};

static void scan_case(const scform_t *f, u64 x)
{
    st_t t;
    u64 a0, fl = rnd_flags();
    int w = f->w, native = 1, und;
    u32 mask;
    t.a = rnd();
    t.b = with_garbage(x, w);
    t.f = fl;
    a0 = t.a;
    if (f->op == X_LZCNT)
        native = g_has_lzcnt;
    else if (f->op == X_TZCNT)
        native = g_has_tzcnt;
    else if (f->op == X_POPCNT)
        native = g_has_popcnt;
    if (native)
        f->fn(&t);
    else
        xcnt_model(f->op, w, &t);
    mask = f->op <= X_BSR ? M_BSX : f->op == X_POPCNT ? M_POPCNT : M_XCNT;
    und = f->op <= X_BSR && (x & wmask(w)) == 0;
    L_in(f->name, fl, 2, a0, x & wmask(w));
    if (und)
        L_u();
    L_out(t.f, mask, !und, t.a); /* dst "u": no value */
}

void run_bits(void)
{
    int i, j, n;
    u64 L[20];
    for (i = 0; i < NELEM(bt_forms); i++) {
        const bform_t *f = &bt_forms[i];
        int w = f->w;
        if (f->kind == K_MR) {
            i64 off;
            for (off = -70; off <= 200; off++)
                bt_mem_case(f, off);
            continue;
        }
        if (f->kind == K_RR) {
            static const u64 idx[] = {0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 255, 256,
                                      0xffffffffffffffffull, 0x8000000000000000ull,
                                      0x7fffffff, 0xffffffe1ull};
            for (j = 0; j < NELEM(idx); j++) {
                bt_case(f, 0, idx[j]);
                bt_case(f, wmask(w), idx[j]);
                bt_case(f, rnd_op(w), idx[j]);
            }
            for (j = 0; j < NRAND; j++) {
                u64 x = rnd_op(w), ix = (rnd() & 1) ? rnd() : rnd() & 0xff;
                bt_case(f, x, ix);
            }
            continue;
        }
        n = edge_long(w, L);
        for (j = 0; j < n; j++)
            bt_case(f, L[j], 0);
        for (j = 0; j < NRAND_V; j++) /* immediate index: encoding variants */
            bt_case(f, rnd_op(w), 0);
    }
    for (i = 0; i < NELEM(scan_forms); i++) {
        const scform_t *f = &scan_forms[i];
        int w = f->w;
        n = edge_long(w, L);
        for (j = 0; j < n; j++)
            scan_case(f, L[j]);
        for (j = 0; j < w; j++)
            scan_case(f, 1ull << j);
        for (j = 0; j < NRAND; j++)
            scan_case(f, rnd_op(w));
    }
}
