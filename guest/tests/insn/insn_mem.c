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

/* a = rsi, b = rdi, c = rcx, d = rax; DF is cleared again with cld right
 * after the flags have been captured */
#define STR(nm, ins)                                                          \
    INSN_WRAP(nm, "", ins, "\n\tcld",                                         \
              ("+S"(t->a), "+D"(t->b), "+c"(t->c), "+a"(t->d),), (), MEM)

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
    L_out(t.f, F_ALL | F_DF, 5, t.a - (u64)(__SIZE_TYPE__)sbuf,
          t.b - (u64)(__SIZE_TYPE__)dbuf, t.c, t.d, hash_bytes(dbuf, SBUF));
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

/* enter $0xSZ,$LV then leave, on the private stack (RSP/RBP from G.nrsp/nrbp);
 * RSP/RBP after each are saved in G */
#define ENTER(SZ, LV)                                                         \
    INSN(enter_##SZ##_##LV,                                                   \
         "movq %%rsp,%[srsp]\n\tmovq %%rbp,%[srbp]\n\t"                       \
         "movq %[nrsp],%%rsp\n\tmovq %[nrbp],%%rbp\n\t"                       \
         "enter $0x" #SZ ",$" #LV "\n\t"                                        \
         "movq %%rsp,%[o1sp]\n\tmovq %%rbp,%[o1bp]\n\t"                       \
         "leave\n\t"                                                          \
         "movq %%rsp,%[o2sp]\n\tmovq %%rbp,%[o2bp]\n\t"                       \
         "movq %[srsp],%%rsp\n\tmovq %[srbp],%%rbp",                          \
         ([srsp] "+m"(G.srsp), [srbp] "+m"(G.srbp), [o1sp] "=m"(G.o1sp),      \
          [o1bp] "=m"(G.o1bp), [o2sp] "=m"(G.o2sp), [o2bp] "=m"(G.o2bp),),    \
         ([nrsp] "m"(G.nrsp), [nrbp] "m"(G.nrbp),), MEM)
/* size (hex digits), nesting level (decimal): enter_<size>_<level> */
#define ENTER_OPS(X) X(0, 0) X(8, 0) X(18, 0) X(1f8, 0) X(0, 1) X(10, 1)        \
    X(10, 2) X(10, 3) X(10, 7) X(8, 31) X(10, 32) X(10, 33) X(1f8, 5)
ENTER_OPS(ENTER)

/* one push/pop (ins) on the private stack, [p] = pdat; RSP after it in G.o1sp */
#define STK(nm, ins, popsp)                                                   \
    INSN(nm,                                                                  \
         "movq %%rsp,%[srsp]\n\tmovq %[nrsp],%%rsp\n\t" ins "\n\t"            \
         "movq %%rsp,%[o1sp]\n\tmovq %[srsp],%%rsp",                          \
         ([srsp] "+m"(G.srsp), [o1sp] "=m"(G.o1sp),),                         \
         ([nrsp] "m"(G.nrsp), [p] "r"(pdat),), MEM)
/* name, instruction, top of stack holds a pointer into the private stack */
#define STK_OPS(X)                                                            \
    X(push_m, "pushq (%[p])", 0) X(push_m8, "pushq 8(%[p])", 0)               \
    X(pop_m, "popq (%[p])", 0) X(pop_m8, "popq 8(%[p])", 0)                   \
    X(push_sp8, "pushq 8(%%rsp)", 0) X(push_sp0, "pushq (%%rsp)", 0)          \
    X(pop_sp8, "popq 8(%%rsp)", 0) X(pop_sp0, "popq (%%rsp)", 0)              \
    X(pop_spm8, "popq -8(%%rsp)", 0)                                          \
    X(pushw_m, "pushw (%[p])", 0) X(popw_m, "popw (%[p])", 0)                 \
    X(pushw_popq, "pushw 2(%[p])\n\tpushw (%[p])\n\tpopq 8(%[p])", 0)        \
    X(push_rsp, "pushq %%rsp", 0) X(pop_rsp, "popq %%rsp", 1)                 \
    X(push_i8, "pushq $-1", 0) X(push_i32, "pushq $-0x7edcba98", 0)           \
    X(pushw_i, "pushw $0x8001", 0)
STK_OPS(STK)

typedef struct {
    const char *name;
    fn_t fn;
    int popsp; /* top of stack holds a pointer into the private stack */
} stkform_t;

#define ENTER_TAB(SZ, LV) {"enter_" #SZ "_" #LV, enter_##SZ##_##LV, 0},
#define STK_TAB(nm, ins, popsp) {#nm, nm, popsp},
static const stkform_t enter_forms[] = {ENTER_OPS(ENTER_TAB)};
static const stkform_t stk_forms[] = {STK_OPS(STK_TAB)};

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

/* run one stack form on a freshly filled private stack; the hash is taken
 * before the caller prints (it normalises the stack words in place) */
static u64 stk_run(const stkform_t *f, st_t *t)
{
    u64 fl = rnd_flags();
    stk_fill(f->popsp);
    t->f = fl;
    f->fn(t);
    L_in(f->name, fl, 0);
    return stk_hash();
}

void run_stack(void)
{
    int i, j;
    st_t t;
    for (i = 0; i < NELEM(enter_forms); i++)
        for (j = 0; j < 4; j++) {
            u64 h = stk_run(&enter_forms[i], &t);
            L_out(t.f, F_ALL, 5, stk_off(G.o1sp), stk_off(G.o1bp), stk_off(G.o2sp),
                  stk_off(G.o2bp), h);
        }
    for (i = 0; i < NELEM(stk_forms); i++)
        for (j = 0; j < 4; j++) {
            u64 h = stk_run(&stk_forms[i], &t);
            L_out(t.f, F_ALL, 4, stk_off(G.o1sp), h, norm(pdat[0]), norm(pdat[1]));
        }
}
