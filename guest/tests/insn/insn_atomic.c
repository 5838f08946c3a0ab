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

static u64 mb[2] __attribute__((aligned(16)));

typedef struct {
    const char *name;
    fn_t fn;
    int w, kind;
} aform_t;
enum { K_XCHG, K_CMPX, K_XADD };

/* xchg / xadd register form: a = dst, b = src, both written */
#define X2_RR(nm, ins, M)                                                     \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 d = t->a, s = t->b, fo;                                           \
        __asm__ volatile(PRE ins " %" M "[s],%" M "[d]" POST                  \
                         : [d] "+r"(d), [s] "+r"(s), [fo] "=&r"(fo)           \
                         : [fi] "r"(t->f)                                     \
                         : "cc");                                             \
        t->a = d;                                                             \
        t->b = s;                                                             \
        t->f = fo;                                                            \
    }
#define X2_MR(nm, ins, M)                                                     \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 s = t->b, fo;                                                     \
        mb[0] = t->a;                                                         \
        __asm__ volatile(PRE ins " %" M "[s],(%[p])" POST                     \
                         : [s] "+r"(s), [fo] "=&r"(fo)                        \
                         : [fi] "r"(t->f), [p] "r"(mb)                        \
                         : "cc", "memory");                                   \
        t->a = mb[0];                                                         \
        t->b = s;                                                             \
        t->f = fo;                                                            \
    }
/* cmpxchg: a = dst, b = src, d = rax */
#define CX_R(nm, ins, M)                                                      \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 d = t->a, ax = t->d, fo;                                          \
        __asm__ volatile(PRE ins " %" M "[s],%" M "[d]" POST                  \
                         : [d] "+r"(d), "+a"(ax), [fo] "=&r"(fo)              \
                         : [s] "r"(t->b), [fi] "r"(t->f)                      \
                         : "cc");                                             \
        t->a = d;                                                             \
        t->d = ax;                                                            \
        t->f = fo;                                                            \
    }
#define CX_M(nm, ins, M)                                                      \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 ax = t->d, fo;                                                    \
        mb[0] = t->a;                                                         \
        __asm__ volatile(PRE ins " %" M "[s],(%[p])" POST                     \
                         : "+a"(ax), [fo] "=&r"(fo)                           \
                         : [s] "r"(t->b), [fi] "r"(t->f), [p] "r"(mb)         \
                         : "cc", "memory");                                   \
        t->a = mb[0];                                                         \
        t->d = ax;                                                            \
        t->f = fo;                                                            \
    }

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
static void xchg32ax(st_t *t)
{
    u64 d = t->a, s = t->b, fo;
    __asm__ volatile(PRE "xchgl %%eax,%k[s]" POST
                     : "+a"(d), [s] "+r"(s), [fo] "=&r"(fo)
                     : [fi] "r"(t->f)
                     : "cc");
    t->a = d;
    t->b = s;
    t->f = fo;
}
static void xchg16ax(st_t *t)
{
    u64 d = t->a, s = t->b, fo;
    __asm__ volatile(PRE "xchgw %%ax,%w[s]" POST
                     : "+a"(d), [s] "+r"(s), [fo] "=&r"(fo)
                     : [fi] "r"(t->f)
                     : "cc");
    t->a = d;
    t->b = s;
    t->f = fo;
}
static void xchg64ax(st_t *t)
{
    u64 d = t->a, s = t->b, fo;
    __asm__ volatile(PRE "xchgq %%rax,%q[s]" POST
                     : "+a"(d), [s] "+r"(s), [fo] "=&r"(fo)
                     : [fi] "r"(t->f)
                     : "cc");
    t->a = d;
    t->b = s;
    t->f = fo;
}

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
    L_begin(f->name);
    if (f->kind == K_CMPX) {
        L_x(d0);
        L_x(a0);
        L_x(b0 & wmask(w));
        L_fin(fl);
        L_sep();
        L_x(t.d);
        L_x(t.a);
    } else {
        L_x(a0);
        L_x(b0);
        L_fin(fl);
        L_sep();
        L_x(t.a);
        L_x(t.b);
    }
    L_end_f(t.f, F_ALL);
}

/* ---------------------------------------------------------------- 8b/16b */

static struct {
    u64 m[2]; /* 16-byte aligned memory operand */
} cx __attribute__((aligned(16)));

#define CX8(nm, ins)                                                          \
    static void nm(u64 *ax, u64 *dx, u64 bx, u64 cxv, u64 *fl)                \
    {                                                                         \
        u64 a = *ax, d = *dx, fo;                                             \
        __asm__ volatile(PRE ins " (%[p])" POST                               \
                         : "+a"(a), "+d"(d), [fo] "=&r"(fo)                   \
                         : "b"(bx), "c"(cxv), [p] "r"(cx.m), [fi] "r"(*fl)    \
                         : "cc", "memory");                                   \
        *ax = a;                                                              \
        *dx = d;                                                              \
        *fl = fo;                                                             \
    }
CX8(cx8, "cmpxchg8b")
CX8(cx8l, "lock cmpxchg8b")
CX8(cx16, "cmpxchg16b")
CX8(cx16l, "lock cmpxchg16b")

typedef void (*cxfn_t)(u64 *, u64 *, u64, u64, u64 *);

/* architectural CMPXCHG16B, used when CPUID.01H:ECX.CX16 is clear */
static void cx16_model(u64 *ax, u64 *dx, u64 bx, u64 cv, u64 *fl)
{
    if (cx.m[0] == *ax && cx.m[1] == *dx) {
        cx.m[0] = bx;
        cx.m[1] = cv;
        *fl |= F_ZF;
    } else {
        *ax = cx.m[0];
        *dx = cx.m[1];
        *fl &= ~(u64)F_ZF;
    }
}

static void cx_case(const char *name, cxfn_t fn, int wide, int eq)
{
    u64 ax = rnd(), dx = rnd(), bx = rnd(), cv = rnd(), fl = rnd_flags();
    u64 a0, d0, m0, m1, f0 = fl;
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
    a0 = ax;
    d0 = dx;
    m0 = cx.m[0];
    m1 = cx.m[1];
    if (wide && !g_has_cx16)
        fn = cx16_model;
    fn(&ax, &dx, bx, cv, &fl);
    L_begin(name);
    if (wide)
        L_x(m1);
    L_x(m0);
    L_x(d0);
    L_x(a0);
    L_x(cv);
    L_x(bx);
    L_fin(f0);
    L_sep();
    if (wide)
        L_x(cx.m[1]);
    L_x(cx.m[0]);
    L_x(dx);
    L_x(ax);
    L_end_f(fl, F_ALL);
}

void run_atomic(void)
{
    int i, j, n;
    u64 L[20];
    static const struct {
        const char *name;
        cxfn_t fn;
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
