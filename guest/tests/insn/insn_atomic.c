/*
 * insn_atomic.c - xchg (reg,reg / mem,reg), cmpxchg (reg / mem / lock mem,
 * 8..64 bit, equal and not-equal cases), xadd (reg / mem / lock mem),
 * cmpxchg8b and cmpxchg16b (plain and lock).
 *
 * Masks (Intel SDM vol. 2):
 *   XCHG: "None."                                         -> all six kept
 *   CMPXCHG: "The ZF flag is set if the values in the destination operand
 *     and register AL, AX, or EAX are equal; otherwise it is cleared. The
 *     CF, PF, AF, SF, and OF flags are set according to the results of the
 *     comparison operation."                              -> all six
 *   XADD: "The CF, PF, AF, SF, ZF, and OF flags are set according to the
 *     result of the addition, which is stored in the destination operand."
 *                                                         -> all six
 *   CMPXCHG8B/16B: "The ZF flag is set if the destination operand and
 *     EDX:EAX are equal; otherwise it is cleared. The CF, PF, AF, SF, and OF
 *     flags are unaffected."                              -> all six
 *
 * Register values are printed as full 64-bit registers: whether the
 * accumulator / destination are written (and hence zero-extended for 32-bit
 * operands) in the equal and not-equal cases is observable here and must
 * match the host.
 *
 * Line formats:
 *   xchg/xadd:   <name> <dst> <src> F.. > <dst> <src> F..
 *   cmpxchg:     <name> <rax> <dst> <src> F.. > <rax> <dst> F..
 *   cmpxchg8b:   <name> <mem> <rdx> <rax> <rcx> <rbx> F.. > <mem> <rdx> <rax> F..
 *   cmpxchg16b:  <name> <memhi> <memlo> <rdx> <rax> <rcx> <rbx> F..
 *                > <memhi> <memlo> <rdx> <rax> F..
 */
#include "insn_diff.h"

typedef struct {
    const char *name;
    fn_t fn;
    int w, kind;
} aform_t;
enum { K_XCHG, K_CMPX, K_XADD };

/* xchg / xadd: a = dst, b = src, both written */
#define X2_RR(nm, ins, M) INSN(nm, ins " %" M "[s],%" M "[d]", (OP_D OP_SW), ())
#define X2_MR(nm, ins, M) INSN(nm, ins " %" M "[s],(%[p])", (OP_SW), (OP_MA), MEM)
/* cmpxchg: a = dst, b = src, d = rax */
#define OP_AX "+a"(t->d),
#define CX_R(nm, ins, M) INSN(nm, ins " %" M "[s],%" M "[d]", (OP_D OP_AX), (OP_S))
#define CX_M(nm, ins, M) INSN(nm, ins " %" M "[s],(%[p])", (OP_AX), (OP_S OP_MA), MEM)

#define AFOR_W(G) G(8, b, b) G(16, w, w) G(32, l, k) G(64, q, q)
#define AGEN_FN(W, S, M)                                                      \
    X2_RR(xchg##W##rr, "xchg" #S, #M) X2_MR(xchg##W##mr, "xchg" #S, #M)      \
    X2_RR(xadd##W##rr, "xadd" #S, #M) X2_MR(xadd##W##mr, "xadd" #S, #M)      \
    X2_MR(lxadd##W##mr, "lock xadd" #S, #M)                                   \
    CX_R(cmpxchg##W##rr, "cmpxchg" #S, #M)                                    \
    CX_M(cmpxchg##W##mr, "cmpxchg" #S, #M)                                    \
    CX_M(lcmpxchg##W##mr, "lock cmpxchg" #S, #M)
#define AGEN_TAB(W, S, M)                                                     \
    {"xchg" #W "rr", xchg##W##rr, W, K_XCHG},                                 \
    {"xchg" #W "mr", xchg##W##mr, W, K_XCHG},                                 \
    {"xadd" #W "rr", xadd##W##rr, W, K_XADD},                                 \
    {"xadd" #W "mr", xadd##W##mr, W, K_XADD},                                 \
    {"lock_xadd" #W "mr", lxadd##W##mr, W, K_XADD},                           \
    {"cmpxchg" #W "rr", cmpxchg##W##rr, W, K_CMPX},                           \
    {"cmpxchg" #W "mr", cmpxchg##W##mr, W, K_CMPX},                           \
    {"lock_cmpxchg" #W "mr", lcmpxchg##W##mr, W, K_CMPX},
AFOR_W(AGEN_FN)

/* xchg with the accumulator uses the short 90+r encoding */
#define XAX(nm, ins) INSN(nm, ins, ("+a"(t->a), OP_SW), ())
XAX(xchg32ax, "xchgl %%eax,%k[s]")
XAX(xchg16ax, "xchgw %%ax,%w[s]")
XAX(xchg64ax, "xchgq %%rax,%q[s]")

static const aform_t a_forms[] = {
    AFOR_W(AGEN_TAB)
    {"xchg16ax", xchg16ax, 16, K_XCHG},
    {"xchg32ax", xchg32ax, 32, K_XCHG},
    {"xchg64ax", xchg64ax, 64, K_XCHG},
};

static void a_case(const aform_t *f, u64 x, u64 y, u64 acc)
{
    st_t t;
    u64 a0, b0, d0, fl = rnd_flags();
    int w = f->w;
    t.a = with_garbage(x, w);
    t.b = with_garbage(y, w);
    t.d = with_garbage(acc, w);
    t.f = fl;
    a0 = t.a;
    b0 = t.b;
    d0 = t.d;
    f->fn(&t);
    if (f->kind == K_CMPX) {
        L_in(f->name, fl, 3, d0, a0, b0 & wmask(w));
        L_out(t.f, F_ALL, 2, t.d, t.a);
    } else {
        L_in(f->name, fl, 2, a0, b0);
        L_out(t.f, F_ALL, 2, t.a, t.b);
    }
}

/* ---------------------------------------------------------------- 8b/16b */

static struct {
    u64 m[2]; /* 16-byte aligned memory operand */
} cx __attribute__((aligned(16)));

/* a = rax, d = rdx, b = rbx, c = rcx; the memory operand is cx.m */
#define CX8(nm, ins)                                                          \
    INSN(nm, ins " (%[p])", (OP_AD), ("b"(t->b), "c"(t->c), [p] "r"(cx.m),), MEM)
CX8(cx8, "cmpxchg8b")
CX8(cx8l, "lock cmpxchg8b")
CX8(cx16, "cmpxchg16b")
CX8(cx16l, "lock cmpxchg16b")

/* architectural CMPXCHG16B, used when CPUID.01H:ECX.CX16 is clear */
static void cx16_model(st_t *t)
{
    if (cx.m[0] == t->a && cx.m[1] == t->d) {
        cx.m[0] = t->b;
        cx.m[1] = t->c;
        t->f |= F_ZF;
    } else {
        t->a = cx.m[0];
        t->d = cx.m[1];
        t->f &= ~(u64)F_ZF;
    }
}

static void cx_case(const char *name, fn_t fn, int wide, int eq)
{
    u64 ax = rnd(), dx = rnd(), bx = rnd(), cv = rnd(), fl = rnd_flags();
    u64 m0, m1;
    st_t t;
    cx.m[0] = rnd();
    cx.m[1] = rnd();
    if (eq) {
        if (wide) {
            cx.m[0] = ax;
            cx.m[1] = dx;
        } else {
            /* compare EDX:EAX (upper halves of RAX/RDX are garbage) */
            cx.m[0] = (ax & 0xffffffffull) | (dx << 32);
        }
    } else if (eq == 0 && (rnd() & 1)) {
        /* not equal in one half only */
        if (wide)
            cx.m[0] = ax;
        else
            cx.m[0] = (rnd() & 0xffffffffull) | (dx << 32);
    }
    m0 = cx.m[0];
    m1 = cx.m[1];
    if (wide && !g_has_cx16)
        fn = cx16_model;
    t.a = ax;
    t.d = dx;
    t.b = bx;
    t.c = cv;
    t.f = fl;
    fn(&t);
    /* memory (high word first for 16b), rdx, rax, rcx, rbx */
    if (wide)
        L_in(name, fl, 6, m1, m0, dx, ax, cv, bx);
    else
        L_in(name, fl, 5, m0, dx, ax, cv, bx);
    if (wide)
        L_x(cx.m[1]);
    L_out(t.f, F_ALL, 3, cx.m[0], t.d, t.a);
}

void run_atomic(void)
{
    int i, j, n;
    u64 L[20];
    static const struct {
        const char *name;
        fn_t fn;
        int wide;
    } cxf[] = {
        {"cmpxchg8b", cx8, 0},
        {"lock_cmpxchg8b", cx8l, 0},
        {"cmpxchg16b", cx16, 1},
        {"lock_cmpxchg16b", cx16l, 1},
    };
    for (i = 0; i < NELEM(a_forms); i++) {
        const aform_t *f = &a_forms[i];
        int w = f->w;
        n = edge_long(w, L);
        for (j = 0; j < n; j++) {
            u64 y = rnd_op(w);
            a_case(f, L[j], y, L[j]);               /* equal (cmpxchg) */
            a_case(f, L[j] ^ 1, L[j], L[j]);        /* not equal */
        }
        for (j = 0; j < (f->name[strlen(f->name) - 2] == 'm' ? NRAND_V : NRAND); j++) {
            u64 x = rnd_op(w), y = rnd_op(w), acc = rnd_op(w);
            if (j & 1)
                acc = x;
            a_case(f, x, y, acc);
        }
    }
    for (i = 0; i < NELEM(cxf); i++)
        for (j = 0; j < NRAND; j++)
            cx_case(cxf[i].name, cxf[i].fn, cxf[i].wide, j & 1);
}
