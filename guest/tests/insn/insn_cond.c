/*
 * insn_cond.c - setcc (all 16 conditions), cmovcc (all 16 conditions,
 * 16/32/64 bit; note a 32-bit cmov zero-extends the destination even when
 * the condition is false), lahf sahf cmc clc stc.
 *
 * All input flag combinations of CF/PF/ZF/SF/OF are enumerated (AF random),
 * followed by NRAND_V random cases.
 *
 * Masks (Intel SDM vol. 2): SETcc, CMOVcc, LAHF: "Flags Affected: None" ->
 * all six status flags must be unchanged.  SAHF: "The SF, ZF, AF, PF, and CF
 * flags are loaded with values from the AH register." (OF unaffected) -> all
 * six.  CMC/CLC/STC: "The CF flag is complemented/cleared/set. The OF, ZF,
 * SF, AF, and PF flags are unaffected." -> all six.
 *
 * Line formats:
 *   setcc:   <name> <dst> F.. > <dst> F..
 *   cmovcc:  <name> <dst> <src> F.. > <dst> F..
 *   lahf/sahf/cmc/clc/stc:  <name> <rax> F.. > <rax> F..
 */
#include "insn_diff.h"

typedef struct {
    const char *name;
    fn_t fn;
    int w;
} cform_t;

#define CCS(X) X(o) X(no) X(b) X(ae) X(e) X(ne) X(be) X(a) X(s) X(ns) X(p)    \
    X(np) X(l) X(ge) X(le) X(g)

#define SETCC(cc) W_R(set##cc##_, "set" #cc, "b")
#define CMOV1(cc, W, S, M) W_RR(cmov##cc##W, "cmov" #cc #S, #M, #M)
#define CMOV(cc) CMOV1(cc, 16, w, w) CMOV1(cc, 32, l, k) CMOV1(cc, 64, q, q)
CCS(SETCC)
CCS(CMOV)

#define SET_TAB(cc) {"set" #cc, set##cc##_, 8},
#define CMOV_TAB(cc) {"cmov" #cc "16", cmov##cc##16, 16}, {"cmov" #cc "32", cmov##cc##32, 32}, \
    {"cmov" #cc "64", cmov##cc##64, 64},
static const cform_t set_forms[] = {CCS(SET_TAB)};
static const cform_t cmov_forms[] = {CCS(CMOV_TAB)};

/* a = rax */
#define FLAG_OPS(X) X(lahf) X(sahf) X(cmc) X(clc) X(stc)
#define FLAG_FN(op) INSN(f_##op, #op, ("+a"(t->a),), ())
#define FLAG_TAB(op) {#op, f_##op, 0},
FLAG_OPS(FLAG_FN)
/* architectural LAHF/SAHF, used when CPUID.80000001H:ECX.LAHF-SAHF is clear
 * (they are optional in 64-bit mode) */
static void m_lahf(st_t *t)
{
    t->a = (t->a & ~0xff00ull) | (((t->f & 0xd5) | 2) << 8);
}
static void m_sahf(st_t *t)
{
    t->f = (t->f & ~0xd5ull) | ((t->a >> 8) & 0xd5);
}

static const cform_t flag_forms[] = {FLAG_OPS(FLAG_TAB)};

/* combination i (0..63) of the six status flags */
static u64 combo_flags(int i)
{
    static const u32 bits[6] = {F_CF, F_PF, F_ZF, F_SF, F_OF, F_AF};
    u64 f = 0x202;
    int k;
    for (k = 0; k < 6; k++)
        if ((i >> k) & 1)
            f |= bits[k];
    return f;
}

static void c_case(const cform_t *f, u64 fl, int with_src)
{
    st_t t;
    u64 a0, b0;
    int w = f->w ? f->w : 64;
    t.a = rnd();
    t.b = 0;
    if (with_src) /* (two statements: keep the PRNG call order fixed) */
        t.b = with_garbage(rnd_op(w), w);
    t.f = fl;
    a0 = t.a;
    b0 = t.b;
    if (f->fn == f_lahf && !g_has_lahf)
        m_lahf(&t);
    else
        f->fn(&t);
    L_in(f->name, fl, 1 + with_src, a0, b0); /* b0 only with a source */
    L_out(t.f, F_ALL, 1, t.a);
}

void run_cond(void)
{
    int i, j;
    for (i = 0; i < NELEM(set_forms); i++) {
        for (j = 0; j < 32; j++)
            c_case(&set_forms[i], combo_flags(j) | (rnd() & F_AF), 0);
        for (j = 0; j < NRAND_V; j++)
            c_case(&set_forms[i], rnd_flags(), 0);
    }
    for (i = 0; i < NELEM(cmov_forms); i++) {
        for (j = 0; j < 32; j++)
            c_case(&cmov_forms[i], combo_flags(j) | (rnd() & F_AF), 1);
        for (j = 0; j < NRAND_V; j++)
            c_case(&cmov_forms[i], rnd_flags(), 1);
    }
    for (i = 0; i < NELEM(flag_forms); i++) {
        const cform_t *f = &flag_forms[i];
        if (f->fn == f_sahf) {
            /* every AH value, random input flags (OF must survive) */
            for (j = 0; j < 256; j++) {
                st_t t;
                u64 a0, fl = rnd_flags();
                t.a = (rnd() & ~0xff00ull) | ((u64)j << 8);
                t.f = fl;
                a0 = t.a;
                if (g_has_lahf)
                    f->fn(&t);
                else
                    m_sahf(&t);
                L_in(f->name, fl, 1, a0);
                L_out(t.f, F_ALL, 1, t.a);
            }
            continue;
        }
        for (j = 0; j < 64; j++)
            c_case(f, combo_flags(j), 0);
        for (j = 0; j < NRAND_V; j++)
            c_case(f, rnd_flags(), 0);
    }
}
