/*
 * insn_ext.c - cbw cwde cdqe cwd cdq cqo; movzx movsx movsxd (register,
 * memory and legacy high-byte sources); bswap (32/64); lea with various
 * addressing modes, operand sizes and address sizes.
 *
 * None of these instructions affects RFLAGS ("Flags Affected: None." in the
 * SDM for CBW/CWDE/CDQE, CWD/CDQ/CQO, MOVZX, MOVSX/MOVSXD, BSWAP, LEA), so
 * the output mask is all six status flags: they must come out unchanged.
 *
 * Line formats:
 *   convert:  <name> <rax> <rdx> F.. > <rax> <rdx> F..
 *   movx/bswap: <name> <dst> <src> F.. > <dst> F..
 *   lea:      <name> <base> <index> <dst> F.. > <dst> F..
 */
#include "insn_diff.h"

typedef struct {
    const char *name;
    fn_t fn;
    int sw; /* width of the interesting source bits */
} xform_t;

/* ---------------------------------------------------------------- convert */
/* name, AT&T mnemonic, source width; a = rax, d = rdx */
#define CVT_OPS(X) X(cbw, "cbtw", 8) X(cwde, "cwtl", 16) X(cdqe, "cltq", 32)   \
    X(cwd, "cwtd", 16) X(cdq, "cltd", 32) X(cqo, "cqto", 64)
#define CVT_FN(nm, ins, sw) W_ACC(x_##nm, ins)
#define CVT_TAB(nm, ins, sw) {#nm, x_##nm, sw},
CVT_OPS(CVT_FN)
static const xform_t cvt_forms[] = {CVT_OPS(CVT_TAB)};

/* ---------------------------------------------------------------- movx */
/* a = destination register (random garbage), b = source.
 * Register source: instruction, source / destination modifier, source width
 * (plain 32-bit mov zero-extends, 16-bit mov preserves bits 16..63). */
#define MOVX_RR(X) X(movzbw, b, w, 8) X(movzbl, b, k, 8) X(movzbq, b, q, 8)    \
    X(movzwl, w, k, 16) X(movzwq, w, q, 16) X(movsbw, b, w, 8)                \
    X(movsbl, b, k, 8) X(movsbq, b, q, 8) X(movswl, w, k, 16)                 \
    X(movswq, w, q, 16) X(movslq, k, q, 32) X(movl, k, k, 32)                 \
    X(movw, w, w, 16) X(movb, b, b, 8)
#define MOVX_RR_FN(ins, MS, MD, sw) W_RR(ins##_r, #ins, #MS, #MD)
#define MOVX_RR_TAB(ins, MS, MD, sw) {#ins, ins##_r, sw},
/* memory source: instruction, destination modifier, source width */
#define MOVX_RM(X) X(movzbw, w, 8) X(movzbl, k, 8) X(movzwq, q, 16)            \
    X(movsbw, w, 8) X(movsbq, q, 8) X(movswl, k, 16) X(movslq, q, 32)
#define MOVX_RM_FN(ins, MD, sw) W_RM(ins##_m, #ins, #MD)
#define MOVX_RM_TAB(ins, MD, sw) {#ins "_m", ins##_m, sw},
/* high-byte registers: source in rax, destination rcx (no REX allowed);
 * sw 0 = high byte source, value taken from bits 8..15 */
#define MOVX_H(X)                                                             \
    X(movzbl_ah, "movzbl %%ah,%%ecx", 0) X(movzbw_ah, "movzbw %%ah,%%cx", 0)  \
    X(movsbl_ah, "movsbl %%ah,%%ecx", 0) X(movsbw_ah, "movsbw %%ah,%%cx", 0)  \
    X(movb_ah_cl, "movb %%ah,%%cl", 0) X(movb_ah_ch, "movb %%ah,%%ch", 0)     \
    X(movb_al_ch, "movb %%al,%%ch", 8)
#define MOVX_H_FN(nm, ins, sw) INSN(nm, ins, ("+c"(t->a),), ("a"(t->b),))
#define MOVX_H_TAB(nm, ins, sw) {#nm, nm, sw},
MOVX_RR(MOVX_RR_FN)
MOVX_RM(MOVX_RM_FN)
MOVX_H(MOVX_H_FN)
/* bswap: b unused, a = register */
INSN(bswap32, "bswapl %k[d]", (OP_D), ())
INSN(bswap64, "bswapq %q[d]", (OP_D), ())

static const xform_t movx_forms[] = {
    MOVX_RR(MOVX_RR_TAB) MOVX_RM(MOVX_RM_TAB) MOVX_H(MOVX_H_TAB)
    {"bswap32", bswap32, 32}, {"bswap64", bswap64, 64},
};

/* ---------------------------------------------------------------- lea */
/* a = destination (garbage), b = base, c = index */
#define LEA_OPS(X)                                                            \
    X(lea_bis1, "leaq 0x12(%[b],%[i],1),%q[d]")                               \
    X(lea_bis2, "leaq -0x80(%[b],%[i],2),%q[d]")                              \
    X(lea_bis4, "leaq 0x7fffffff(%[b],%[i],4),%q[d]")                         \
    X(lea_bis8, "leaq -0x80000000(%[b],%[i],8),%q[d]")                        \
    X(lea_is8, "leaq (,%[i],8),%q[d]")                                        \
    X(lea_is2d, "leaq -0x1234(,%[i],2),%q[d]")                                \
    X(lea_bd, "leaq 0x1234(%[b]),%q[d]")                                      \
    X(lea_bb9, "leaq 0x7f(%[b],%[b],8),%q[d]")                                \
    X(lea_o32, "leal 0x10(%[b],%[i],8),%k[d]")                                \
    X(lea_a32, "leal -1(%k[b],%k[i],4),%k[d]")                                \
    X(lea_a32q, "leaq 5(%k[b],%k[i],2),%q[d]")                                \
    X(lea_a32d, "leaq 0x80000000(%k[b]),%q[d]")                               \
    X(lea_o16, "leaw -1(%[b],%[i],2),%w[d]")                                  \
    X(lea_o16a32, "leaw 0x7fff(%k[b],%k[i]),%w[d]")
/* fixed base registers that need special ModRM/SIB encodings: the base is
 * copied from b into REG before the flags are loaded */
#define LEAX_OPS(X)                                                           \
    X(lea_r13, "r13", "leaq (%%r13),%q[d]")                                   \
    X(lea_r13i, "r13", "leaq (%%r13,%[i],1),%q[d]")                           \
    X(lea_r12, "r12", "leaq -8(%%r12),%q[d]")                                 \
    X(lea_r12i, "r12", "leaq 0x100(%%r12,%[i],4),%q[d]")
#define LEA_IN ([b] "r"(t->b), [i] "r"(t->c),)
#define LEA_FN(nm, ins) INSN(nm, ins, (OP_D), LEA_IN)
#define LEAX_FN(nm, REG, ins)                                                 \
    INSN_WRAP(nm, "movq %[b],%%" REG "\n\t", ins, "", (OP_D), LEA_IN, , REG)
#define LEA_TAB(nm, ins) {#nm, nm, 64},
#define LEAX_TAB(nm, REG, ins) {#nm, nm, 64},
LEA_OPS(LEA_FN)
LEAX_OPS(LEAX_FN)

static const xform_t lea_forms[] = {LEA_OPS(LEA_TAB) LEAX_OPS(LEAX_TAB)};

/* ---------------------------------------------------------------- drivers */

static void cvt_case(const xform_t *f, u64 x)
{
    st_t t;
    u64 a0, d0, fl = rnd_flags();
    t.a = with_garbage(x, f->sw);
    t.d = rnd();
    t.f = fl;
    a0 = t.a;
    d0 = t.d;
    f->fn(&t);
    L_in(f->name, fl, 2, a0, d0);
    L_out(t.f, F_ALL, 2, t.a, t.d);
}

static void movx_case(const xform_t *f, u64 x)
{
    st_t t;
    u64 a0, b0, fl = rnd_flags();
    t.a = rnd();
    if (f->sw == 0)
        t.b = (rnd() & ~0xff00ull) | ((x & 0xff) << 8);
    else
        t.b = with_garbage(x, f->sw);
    if (f->fn == bswap32 || f->fn == bswap64)
        t.a = t.b;
    t.f = fl;
    a0 = t.a;
    b0 = t.b;
    f->fn(&t);
    L_in(f->name, fl, 2, a0, b0);
    L_out(t.f, F_ALL, 1, t.a);
}

static void lea_case(const xform_t *f, u64 b, u64 i)
{
    st_t t;
    u64 a0, fl = rnd_flags();
    t.a = rnd();
    t.b = b;
    t.c = i;
    t.f = fl;
    a0 = t.a;
    f->fn(&t);
    L_in(f->name, fl, 3, b, i, a0);
    L_out(t.f, F_ALL, 1, t.a);
}

void run_ext(void)
{
    int i, j, k, n;
    u64 L[20];
    static const u64 lb[] = {0, 1, 0x7fffffff, 0x80000000, 0xffffffff,
                             0xfffffffffffffff0ull, 0x8000000000000000ull};
    static const u64 li[] = {0, 1, 0xffffffffffffffffull, 0x40000000, 0x7fffffffffffffffull};
    for (i = 0; i < NELEM(cvt_forms); i++) {
        const xform_t *f = &cvt_forms[i];
        n = edge_long(f->sw, L);
        for (j = 0; j < n; j++)
            cvt_case(f, L[j]);
        for (j = 0; j < NRAND; j++)
            cvt_case(f, rnd_op(64));
    }
    for (i = 0; i < NELEM(movx_forms); i++) {
        const xform_t *f = &movx_forms[i];
        int sw = f->sw ? f->sw : 8;
        n = edge_long(sw, L);
        for (j = 0; j < n; j++)
            movx_case(f, L[j]);
        for (j = 0; j < (f->name[strlen(f->name) - 1] == 'm' ? NRAND_V : NRAND); j++)
            movx_case(f, rnd_op(64));
    }
    for (i = 0; i < NELEM(lea_forms); i++) {
        const xform_t *f = &lea_forms[i];
        for (j = 0; j < NELEM(lb); j++)
            for (k = 0; k < NELEM(li); k++)
                lea_case(f, lb[j], li[k]);
        for (j = 0; j < NRAND; j++) {
            u64 b = rnd_op(64), x = rnd_op(64);
            lea_case(f, b, x);
        }
    }
}
