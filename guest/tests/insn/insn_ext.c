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

static u64 mb[2];

typedef struct {
    const char *name;
    fn_t fn;
    int sw; /* width of the interesting source bits */
} xform_t;

/* ---------------------------------------------------------------- convert */
#define CVT(nm, ins)                                                          \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 a = t->a, d = t->d, fo;                                           \
        __asm__ volatile(PRE ins POST                                         \
                         : "+a"(a), "+d"(d), [fo] "=&r"(fo)                   \
                         : [fi] "r"(t->f)                                     \
                         : "cc");                                             \
        t->a = a;                                                             \
        t->d = d;                                                             \
        t->f = fo;                                                            \
    }
CVT(x_cbw, "cbtw")
CVT(x_cwde, "cwtl")
CVT(x_cdqe, "cltq")
CVT(x_cwd, "cwtd")
CVT(x_cdq, "cltd")
CVT(x_cqo, "cqto")

static const xform_t cvt_forms[] = {
    {"cbw", x_cbw, 8},   {"cwde", x_cwde, 16}, {"cdqe", x_cdqe, 32},
    {"cwd", x_cwd, 16},  {"cdq", x_cdq, 32},   {"cqo", x_cqo, 64},
};

/* ---------------------------------------------------------------- movx */
/* a = destination register (random garbage), b = source */
#define MOVX_R(nm, ins, MS, MD)                                               \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 d = t->a, fo;                                                     \
        __asm__ volatile(PRE ins " %" MS "[s],%" MD "[d]" POST                \
                         : [d] "+r"(d), [fo] "=&r"(fo)                        \
                         : [s] "r"(t->b), [fi] "r"(t->f)                      \
                         : "cc");                                             \
        t->a = d;                                                             \
        t->f = fo;                                                            \
    }
#define MOVX_M(nm, ins, MD)                                                   \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 d = t->a, fo;                                                     \
        mb[0] = t->b;                                                         \
        __asm__ volatile(PRE ins " (%[p]),%" MD "[d]" POST                    \
                         : [d] "+r"(d), [fo] "=&r"(fo)                        \
                         : [p] "r"(mb), [fi] "r"(t->f)                        \
                         : "cc", "memory");                                   \
        t->a = d;                                                             \
        t->f = fo;                                                            \
    }
/* high-byte source: source in rax (%ah), destination rcx (no REX allowed) */
#define MOVX_H(nm, ins)                                                       \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 d = t->a, fo;                                                     \
        __asm__ volatile(PRE ins POST                                         \
                         : "+c"(d), [fo] "=&r"(fo)                            \
                         : "a"(t->b), [fi] "r"(t->f)                          \
                         : "cc");                                             \
        t->a = d;                                                             \
        t->f = fo;                                                            \
    }
MOVX_R(movzbw_r, "movzbw", "b", "w")
MOVX_R(movzbl_r, "movzbl", "b", "k")
MOVX_R(movzbq_r, "movzbq", "b", "q")
MOVX_R(movzwl_r, "movzwl", "w", "k")
MOVX_R(movzwq_r, "movzwq", "w", "q")
MOVX_R(movsbw_r, "movsbw", "b", "w")
MOVX_R(movsbl_r, "movsbl", "b", "k")
MOVX_R(movsbq_r, "movsbq", "b", "q")
MOVX_R(movswl_r, "movswl", "w", "k")
MOVX_R(movswq_r, "movswq", "w", "q")
MOVX_R(movslq_r, "movslq", "k", "q")
MOVX_R(movl_r, "movl", "k", "k")    /* plain 32-bit mov zero-extends */
MOVX_R(movw_r, "movw", "w", "w")    /* 16-bit mov preserves bits 16..63 */
MOVX_R(movb_r, "movb", "b", "b")
MOVX_M(movzbw_m, "movzbw", "w")
MOVX_M(movzbl_m, "movzbl", "k")
MOVX_M(movzwq_m, "movzwq", "q")
MOVX_M(movsbw_m, "movsbw", "w")
MOVX_M(movsbq_m, "movsbq", "q")
MOVX_M(movswl_m, "movswl", "k")
MOVX_M(movslq_m, "movslq", "q")
MOVX_H(movzbl_h, "movzbl %%ah,%%ecx")
MOVX_H(movzbw_h, "movzbw %%ah,%%cx")
MOVX_H(movsbl_h, "movsbl %%ah,%%ecx")
MOVX_H(movsbw_h, "movsbw %%ah,%%cx")
MOVX_H(movb_hl, "movb %%ah,%%cl")
MOVX_H(movb_hh, "movb %%ah,%%ch")
MOVX_H(movb_lh, "movb %%al,%%ch")

/* bswap: b unused, a = register */
#define BSWAP(nm, ins)                                                        \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 d = t->a, fo;                                                     \
        __asm__ volatile(PRE ins POST                                         \
                         : [d] "+r"(d), [fo] "=&r"(fo)                        \
                         : [fi] "r"(t->f)                                     \
                         : "cc");                                             \
        t->a = d;                                                             \
        t->f = fo;                                                            \
    }
BSWAP(bswap32, "bswapl %k[d]")
BSWAP(bswap64, "bswapq %q[d]")

/* sw = source width; sw 0 = high byte source, value taken from bits 8..15 */
static const xform_t movx_forms[] = {
    {"movzbw", movzbw_r, 8},  {"movzbl", movzbl_r, 8},  {"movzbq", movzbq_r, 8},
    {"movzwl", movzwl_r, 16}, {"movzwq", movzwq_r, 16}, {"movsbw", movsbw_r, 8},
    {"movsbl", movsbl_r, 8},  {"movsbq", movsbq_r, 8},  {"movswl", movswl_r, 16},
    {"movswq", movswq_r, 16}, {"movslq", movslq_r, 32}, {"movl", movl_r, 32},
    {"movw", movw_r, 16},     {"movb", movb_r, 8},
    {"movzbw_m", movzbw_m, 8}, {"movzbl_m", movzbl_m, 8}, {"movzwq_m", movzwq_m, 16},
    {"movsbw_m", movsbw_m, 8}, {"movsbq_m", movsbq_m, 8}, {"movswl_m", movswl_m, 16},
    {"movslq_m", movslq_m, 32},
    {"movzbl_ah", movzbl_h, 0}, {"movzbw_ah", movzbw_h, 0}, {"movsbl_ah", movsbl_h, 0},
    {"movsbw_ah", movsbw_h, 0}, {"movb_ah_cl", movb_hl, 0}, {"movb_ah_ch", movb_hh, 0},
    {"movb_al_ch", movb_lh, 8},
    {"bswap32", bswap32, 32}, {"bswap64", bswap64, 64},
};

/* ---------------------------------------------------------------- lea */
/* a = destination (garbage), b = base, c = index */
#define LEA(nm, ins)                                                          \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 d = t->a, fo;                                                     \
        __asm__ volatile(PRE ins POST                                         \
                         : [d] "+r"(d), [fo] "=&r"(fo)                        \
                         : [b] "r"(t->b), [i] "r"(t->c), [fi] "r"(t->f)       \
                         : "cc");                                             \
        t->a = d;                                                             \
        t->f = fo;                                                            \
    }
/* fixed base registers that need special ModRM/SIB encodings */
#define LEAX(nm, REG, ins)                                                    \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 d = t->a, fo;                                                     \
        __asm__ volatile("movq %[b],%%" REG "\n\t" PRE ins POST               \
                         : [d] "+r"(d), [fo] "=&r"(fo)                        \
                         : [b] "r"(t->b), [i] "r"(t->c), [fi] "r"(t->f)       \
                         : "cc", REG);                                        \
        t->a = d;                                                             \
        t->f = fo;                                                            \
    }
LEA(lea_bis1, "leaq 0x12(%[b],%[i],1),%q[d]")
LEA(lea_bis2, "leaq -0x80(%[b],%[i],2),%q[d]")
LEA(lea_bis4, "leaq 0x7fffffff(%[b],%[i],4),%q[d]")
LEA(lea_bis8, "leaq -0x80000000(%[b],%[i],8),%q[d]")
LEA(lea_is8, "leaq (,%[i],8),%q[d]")
LEA(lea_is2d, "leaq -0x1234(,%[i],2),%q[d]")
LEA(lea_bd, "leaq 0x1234(%[b]),%q[d]")
LEA(lea_bb9, "leaq 0x7f(%[b],%[b],8),%q[d]")
LEA(lea_o32, "leal 0x10(%[b],%[i],8),%k[d]")
LEA(lea_a32, "leal -1(%k[b],%k[i],4),%k[d]")
LEA(lea_a32q, "leaq 5(%k[b],%k[i],2),%q[d]")
LEA(lea_a32d, "leaq 0x80000000(%k[b]),%q[d]")
LEA(lea_o16, "leaw -1(%[b],%[i],2),%w[d]")
LEA(lea_o16a32, "leaw 0x7fff(%k[b],%k[i]),%w[d]")
LEAX(lea_r13, "r13", "leaq (%%r13),%q[d]")
LEAX(lea_r13i, "r13", "leaq (%%r13,%[i],1),%q[d]")
LEAX(lea_r12, "r12", "leaq -8(%%r12),%q[d]")
LEAX(lea_r12i, "r12", "leaq 0x100(%%r12,%[i],4),%q[d]")

static const xform_t lea_forms[] = {
    {"lea_bis1", lea_bis1, 64},   {"lea_bis2", lea_bis2, 64},
    {"lea_bis4", lea_bis4, 64},   {"lea_bis8", lea_bis8, 64},
    {"lea_is8", lea_is8, 64},     {"lea_is2d", lea_is2d, 64},
    {"lea_bd", lea_bd, 64},       {"lea_bb9", lea_bb9, 64},
    {"lea_o32", lea_o32, 64},     {"lea_a32", lea_a32, 64},
    {"lea_a32q", lea_a32q, 64},   {"lea_a32d", lea_a32d, 64},
    {"lea_o16", lea_o16, 64},     {"lea_o16a32", lea_o16a32, 64},
    {"lea_r13", lea_r13, 64},     {"lea_r13i", lea_r13i, 64},
    {"lea_r12", lea_r12, 64},     {"lea_r12i", lea_r12i, 64},
};

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
    L_begin(f->name);
    L_x(a0);
    L_x(d0);
    L_fin(fl);
    L_sep();
    L_x(t.a);
    L_x(t.d);
    L_end_f(t.f, F_ALL);
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
    L_begin(f->name);
    L_x(a0);
    L_x(b0);
    L_fin(fl);
    L_sep();
    L_x(t.a);
    L_end_f(t.f, F_ALL);
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
    L_begin(f->name);
    L_x(b);
    L_x(i);
    L_x(a0);
    L_fin(fl);
    L_sep();
    L_x(t.a);
    L_end_f(t.f, F_ALL);
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
