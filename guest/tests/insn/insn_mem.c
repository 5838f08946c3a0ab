/*
 * insn_mem.c - string instructions and stack instructions.
 *
 * Strings: movs stos lods (plain and rep), cmps scas (plain, repe, repne),
 * each b/w/d/q, with DF=0 and DF=1 (DF is restored with cld right after the
 * flags have been captured), counts 0, 1, 7, 64 for the prefixed forms.
 * For cmps/scas three data patterns are used: all elements equal; equal
 * except one random element; all different except one random element.
 * Printed: final RSI/RDI as offsets from their buffers, RCX, RAX, RFLAGS
 * (status flags and DF) and a hash of the destination buffer.
 * Masks: MOVS/STOS/LODS "Flags Affected: None"; CMPS/SCAS "The CF, OF, SF,
 * ZF, AF, and PF flags are set according to the temporary result of the
 * comparison"; with a REP prefix and RCX = 0 nothing is executed, so the
 * flags are unchanged.  All six status flags and DF are compared.
 *
 * Stack: enter (sizes 0..0x1f8, nesting levels 0..33) followed by leave;
 * push/pop with memory operands (including RSP-based addressing, where POP
 * computes the address after incrementing RSP), 16-bit push/pop, push rsp,
 * pop rsp, push imm.  These run on a private stack inside a static array;
 * RSP/RBP are printed as offsets into it and any pointer into it that is
 * stored in memory is replaced by a tagged offset before hashing.
 * Flags: ENTER/LEAVE/PUSH/POP "None" -> all six must be unchanged.
 *
 * Line formats:
 *   <str-name> df0|df1 <count> <pattern 0-2> F.. > <rsi-off> <rdi-off> <rcx> <rax> <hash> F..
 *   <enter-name> F.. > <rsp> <rbp> <rsp after leave> <rbp after leave> <hash> F..
 *   <push/pop-name> F.. > <rsp> <hash> <mem0> <mem1> F..
 */
#include "insn_diff.h"

/* ---------------------------------------------------------------- strings */

#define SBUF 640
#define SREG 64  /* elements live in [64, 64+512) of each buffer */
static u8 sbuf[SBUF] __attribute__((aligned(16)));
static u8 dbuf[SBUF] __attribute__((aligned(16)));

/* a = rsi, b = rdi, c = rcx, d = rax */
#define STR(nm, ins)                                                          \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 si = t->a, di = t->b, cx = t->c, ax = t->d, fo;                   \
        __asm__ volatile(PRE ins POST "\n\tcld"                               \
                         : "+S"(si), "+D"(di), "+c"(cx), "+a"(ax),            \
                           [fo] "=&r"(fo)                                     \
                         : [fi] "r"(t->f)                                     \
                         : "cc", "memory");                                   \
        t->a = si;                                                            \
        t->b = di;                                                            \
        t->c = cx;                                                            \
        t->d = ax;                                                            \
        t->f = fo;                                                            \
    }

enum { S_MOVS, S_STOS, S_LODS, S_CMPS, S_SCAS };
enum { P_NONE, P_REP, P_REPE, P_REPNE };

typedef struct {
    const char *name;
    fn_t fn;
    int sz, op, pfx;
} strform_t;

#define SW(G, op, id) G(op, id, b, 1) G(op, id, w, 2) G(op, id, l, 4) G(op, id, q, 8)
#define SG_FN1(op, id, S, SZ) STR(op##S, #op #S) STR(rep_##op##S, "rep " #op #S)
#define SG_FN2(op, id, S, SZ)                                                 \
    STR(op##S, #op #S) STR(repe_##op##S, "repe " #op #S)                      \
    STR(repne_##op##S, "repne " #op #S)
#define SG_TAB1(op, id, S, SZ)                                                \
    {#op #S, op##S, SZ, id, P_NONE}, {"rep_" #op #S, rep_##op##S, SZ, id, P_REP},
#define SG_TAB2(op, id, S, SZ)                                                \
    {#op #S, op##S, SZ, id, P_NONE},                                          \
    {"repe_" #op #S, repe_##op##S, SZ, id, P_REPE},                           \
    {"repne_" #op #S, repne_##op##S, SZ, id, P_REPNE},
SW(SG_FN1, movs, S_MOVS)
SW(SG_FN1, stos, S_STOS)
SW(SG_FN1, lods, S_LODS)
SW(SG_FN2, cmps, S_CMPS)
SW(SG_FN2, scas, S_SCAS)
static const strform_t str_forms[] = {
    SW(SG_TAB1, movs, S_MOVS) SW(SG_TAB1, stos, S_STOS) SW(SG_TAB1, lods, S_LODS)
    SW(SG_TAB2, cmps, S_CMPS) SW(SG_TAB2, scas, S_SCAS)
};

/* address of element i when walking from the start in direction df */
static u8 *elem(u8 *buf, int df, int sz, int i)
{
    return df ? buf + SREG + 512 - sz - i * sz : buf + SREG + i * sz;
}

static void put_el(u8 *p, u64 v, int sz) { memcpy(p, &v, (__SIZE_TYPE__)sz); }
static u64 get_el(const u8 *p, int sz)
{
    u64 v = 0;
    memcpy(&v, p, (__SIZE_TYPE__)sz);
    return v;
}

static void str_case(const strform_t *f, int df, u64 cnt, int var)
{
    st_t t;
    int i, sz = f->sz, n = cnt ? (int)cnt : 1, k;
    u64 key, fl, m = wmask(sz * 8);
    for (i = 0; i < SBUF; i++) {
        sbuf[i] = (u8)rnd();
        dbuf[i] = (u8)rnd();
    }
    key = rnd();
    k = (int)(rnd() % (u64)n);
    for (i = 0; i < n; i++) {
        if (f->op == S_CMPS) {
            u64 v = get_el(elem(sbuf, df, sz, i), sz);
            if (var == 0 || (var == 1 && i != k) || (var == 2 && i == k))
                put_el(elem(dbuf, df, sz, i), v, sz);
            else
                put_el(elem(dbuf, df, sz, i), v ^ (1ull << (rnd() % (u64)(sz * 8))), sz);
        } else if (f->op == S_SCAS) {
            if (var == 0 || (var == 1 && i != k) || (var == 2 && i == k))
                put_el(elem(dbuf, df, sz, i), key, sz);
            else
                put_el(elem(dbuf, df, sz, i), (key & m) ^ (1 + (rnd() % (m < 255 ? m : 255))), sz);
        }
    }
    fl = rnd_flags() | (df ? F_DF : 0);
    t.a = (u64)(__SIZE_TYPE__)elem(sbuf, df, sz, 0);
    t.b = (u64)(__SIZE_TYPE__)elem(dbuf, df, sz, 0);
    t.c = cnt;
    t.d = key;
    t.f = fl;
    f->fn(&t);
    L_begin(f->name);
    L_str(df ? "df1" : "df0");
    L_x(cnt);
    L_x((u64)var);
    L_fin(fl);
    L_sep();
    L_x(t.a - (u64)(__SIZE_TYPE__)sbuf);
    L_x(t.b - (u64)(__SIZE_TYPE__)dbuf);
    L_x(t.c);
    L_x(t.d);
    L_x(hash_bytes(dbuf, SBUF));
    L_end_f(t.f, F_ALL | F_DF);
}

void run_string(void)
{
    static const u64 cnts[] = {0, 1, 7, 64};
    int i, df, c, v;
    for (i = 0; i < NELEM(str_forms); i++) {
        const strform_t *f = &str_forms[i];
        int nvar = (f->op == S_CMPS || f->op == S_SCAS) ? 3 : 1;
        for (df = 0; df < 2; df++) {
            if (f->pfx == P_NONE) {
                for (v = 0; v < nvar; v++)
                    str_case(f, df, 7, v);
                continue;
            }
            for (c = 0; c < NELEM(cnts); c++)
                for (v = 0; v < nvar; v++)
                    str_case(f, df, cnts[c], v);
        }
    }
}

/* ---------------------------------------------------------------- stack */

#define FSTK 1024
static u64 fstk[FSTK] __attribute__((aligned(16)));
static u64 pdat[4];
static struct {
    u64 srsp, srbp, nrsp, nrbp, o1sp, o1bp, o2sp, o2bp;
} G;

#define ENTER(nm, SZ, LV)                                                     \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 fo;                                                               \
        __asm__ volatile(PRE "movq %%rsp,%[srsp]\n\t"                         \
                         "movq %%rbp,%[srbp]\n\t"                             \
                         "movq %[nrsp],%%rsp\n\t"                             \
                         "movq %[nrbp],%%rbp\n\t"                             \
                         "enter $" #SZ ",$" #LV "\n\t"                        \
                         "movq %%rsp,%[o1sp]\n\t"                             \
                         "movq %%rbp,%[o1bp]\n\t"                             \
                         "leave\n\t"                                          \
                         "movq %%rsp,%[o2sp]\n\t"                             \
                         "movq %%rbp,%[o2bp]\n\t"                             \
                         "movq %[srsp],%%rsp\n\t"                             \
                         "movq %[srbp],%%rbp" POST                            \
                         : [srsp] "+m"(G.srsp), [srbp] "+m"(G.srbp),          \
                           [o1sp] "=m"(G.o1sp), [o1bp] "=m"(G.o1bp),          \
                           [o2sp] "=m"(G.o2sp), [o2bp] "=m"(G.o2bp),          \
                           [fo] "=&r"(fo)                                     \
                         : [nrsp] "m"(G.nrsp), [nrbp] "m"(G.nrbp),            \
                           [fi] "r"(t->f)                                     \
                         : "cc", "memory");                                   \
        t->f = fo;                                                            \
    }
ENTER(enter_0_0, 0, 0)
ENTER(enter_8_0, 8, 0)
ENTER(enter_18_0, 0x18, 0)
ENTER(enter_1f8_0, 0x1f8, 0)
ENTER(enter_0_1, 0, 1)
ENTER(enter_10_1, 0x10, 1)
ENTER(enter_10_2, 0x10, 2)
ENTER(enter_10_3, 0x10, 3)
ENTER(enter_10_7, 0x10, 7)
ENTER(enter_8_31, 8, 31)
ENTER(enter_10_32, 0x10, 32)
ENTER(enter_10_33, 0x10, 33)
ENTER(enter_1f8_5, 0x1f8, 5)

#define STK(nm, ins)                                                          \
    static void nm(st_t *t)                                                   \
    {                                                                         \
        u64 fo;                                                               \
        __asm__ volatile(PRE "movq %%rsp,%[srsp]\n\t"                         \
                         "movq %[nrsp],%%rsp\n\t" ins "\n\t"                  \
                         "movq %%rsp,%[o1sp]\n\t"                             \
                         "movq %[srsp],%%rsp" POST                            \
                         : [srsp] "+m"(G.srsp), [o1sp] "=m"(G.o1sp),          \
                           [fo] "=&r"(fo)                                     \
                         : [nrsp] "m"(G.nrsp), [p] "r"(pdat), [fi] "r"(t->f)  \
                         : "cc", "memory");                                   \
        t->f = fo;                                                            \
    }
STK(push_m, "pushq (%[p])")
STK(push_m8, "pushq 8(%[p])")
STK(pop_m, "popq (%[p])")
STK(pop_m8, "popq 8(%[p])")
STK(push_sp8, "pushq 8(%%rsp)")
STK(push_sp0, "pushq (%%rsp)")
STK(pop_sp8, "popq 8(%%rsp)")
STK(pop_sp0, "popq (%%rsp)")
STK(pop_spm8, "popq -8(%%rsp)")
STK(pushw_m, "pushw (%[p])")
STK(popw_m, "popw (%[p])")
STK(pushw_popq, "pushw 2(%[p])\n\tpushw (%[p])\n\tpopq 8(%[p])")
STK(push_rsp, "pushq %%rsp")
STK(pop_rsp, "popq %%rsp")
STK(push_i8, "pushq $-1")
STK(push_i32, "pushq $-0x7edcba98")
STK(pushw_i, "pushw $0x8001")

typedef struct {
    const char *name;
    fn_t fn;
    int popsp; /* top of stack holds a pointer into the private stack */
} stkform_t;

static const stkform_t enter_forms[] = {
    {"enter_0_0", enter_0_0, 0},     {"enter_8_0", enter_8_0, 0},
    {"enter_18_0", enter_18_0, 0},   {"enter_1f8_0", enter_1f8_0, 0},
    {"enter_0_1", enter_0_1, 0},     {"enter_10_1", enter_10_1, 0},
    {"enter_10_2", enter_10_2, 0},   {"enter_10_3", enter_10_3, 0},
    {"enter_10_7", enter_10_7, 0},   {"enter_8_31", enter_8_31, 0},
    {"enter_10_32", enter_10_32, 0}, {"enter_10_33", enter_10_33, 0},
    {"enter_1f8_5", enter_1f8_5, 0},
};
static const stkform_t stk_forms[] = {
    {"push_m", push_m, 0},     {"push_m8", push_m8, 0},   {"pop_m", pop_m, 0},
    {"pop_m8", pop_m8, 0},     {"push_sp8", push_sp8, 0}, {"push_sp0", push_sp0, 0},
    {"pop_sp8", pop_sp8, 0},   {"pop_sp0", pop_sp0, 0},   {"pop_spm8", pop_spm8, 0},
    {"pushw_m", pushw_m, 0},   {"popw_m", popw_m, 0},     {"pushw_popq", pushw_popq, 0},
    {"push_rsp", push_rsp, 0}, {"pop_rsp", pop_rsp, 1},   {"push_i8", push_i8, 0},
    {"push_i32", push_i32, 0}, {"pushw_i", pushw_i, 0},
};

#define STK_TOP 768
#define STK_FP 900

static u64 stk_off(u64 p) { return p - (u64)(__SIZE_TYPE__)fstk; }

/* replace pointers into the private stack by position-independent tags */
static u64 norm(u64 v)
{
    u64 o = stk_off(v);
    return o < sizeof(fstk) ? 0xadd0000000000000ull | o : v;
}

static void stk_fill(int popsp)
{
    int i;
    for (i = 0; i < FSTK; i++)
        fstk[i] = rnd();
    for (i = 0; i < 4; i++)
        pdat[i] = rnd();
    G.nrsp = (u64)(__SIZE_TYPE__)&fstk[STK_TOP];
    G.nrbp = (u64)(__SIZE_TYPE__)&fstk[STK_FP];
    if (popsp)
        fstk[STK_TOP] = (u64)(__SIZE_TYPE__)&fstk[700];
}

static u64 stk_hash(void)
{
    int i;
    for (i = 0; i < FSTK; i++)
        fstk[i] = norm(fstk[i]);
    return hash_bytes(fstk, sizeof(fstk));
}

void run_stack(void)
{
    int i, j;
    for (i = 0; i < NELEM(enter_forms); i++) {
        for (j = 0; j < 4; j++) {
            st_t t;
            u64 fl = rnd_flags();
            stk_fill(0);
            t.f = fl;
            enter_forms[i].fn(&t);
            L_begin(enter_forms[i].name);
            L_fin(fl);
            L_sep();
            L_x(stk_off(G.o1sp));
            L_x(stk_off(G.o1bp));
            L_x(stk_off(G.o2sp));
            L_x(stk_off(G.o2bp));
            L_x(stk_hash());
            L_end_f(t.f, F_ALL);
        }
    }
    for (i = 0; i < NELEM(stk_forms); i++) {
        for (j = 0; j < 4; j++) {
            st_t t;
            u64 fl = rnd_flags();
            stk_fill(stk_forms[i].popsp);
            t.f = fl;
            stk_forms[i].fn(&t);
            L_begin(stk_forms[i].name);
            L_fin(fl);
            L_sep();
            L_x(stk_off(G.o1sp));
            L_x(stk_hash());
            L_x(norm(pdat[0]));
            L_x(norm(pdat[1]));
            L_end_f(t.f, F_ALL);
        }
    }
}
