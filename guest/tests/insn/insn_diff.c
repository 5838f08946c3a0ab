/*
 * insn_diff.c - instruction-level differential harness: driver, PRNG, output.
 *
 * Build natively:
 *   gcc -O1 -mgeneral-regs-only -o /tmp/insn_native guest/tests/insn/insn_*.c
 * and run it on the host and on the emulator; the outputs must be identical.
 * See README.md.
 */
#include "insn_diff.h"
#include "../xorshift.h"

int g_ncases;
int g_has_lzcnt, g_has_tzcnt, g_has_popcnt, g_has_cx16, g_has_lahf;

/* ---------------------------------------------------------------- PRNG */

static u64 rng_state = 0x9e3779b97f4a7c15ull;

u64 rnd(void)
{
    return xorshift64(&rng_state);
}

u64 wmask(int w) { return w >= 64 ? ~0ull : (1ull << w) - 1; }
u64 smin(int w) { return 1ull << (w - 1); }

u64 sext(u64 v, int w)
{
    if (w >= 64)
        return v;
    v &= wmask(w);
    if (v & smin(w))
        v |= ~wmask(w);
    return v;
}

/* Random operand of width w, biased towards interesting values. */
u64 rnd_op(int w)
{
    u64 r = rnd(), m = wmask(w);
    switch (rnd() & 7) {
    case 0:
    case 1:
    case 2:
        return r & m;
    case 3:
        return (r & 0x1f) & m;                  /* small positive */
    case 4:
        return (0 - (r & 0x1f)) & m;            /* small negative */
    case 5:
        return (smin(w) + (r & 0xf) - 8) & m;   /* around the sign boundary */
    case 6:
        return (r & rnd() & rnd()) & m;         /* sparse bits */
    default:
        return (r | rnd() | rnd()) & m;         /* dense bits */
    }
}

/* Random CF/PF/AF/ZF/SF/OF; bit 1 (reserved, always 1) and IF set. */
u64 rnd_flags(void) { return 0x202 | (rnd() & F_ALL); }

u64 with_garbage(u64 v, int w)
{
    if (w >= 64)
        return v;
    return (rnd() & ~wmask(w)) | (v & wmask(w));
}

static const u64 edge_vals[] = {
    0, 1, 2, 0xf, 0x10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
    0x7fffffffull, 0x80000000ull, 0xffffffffull,
    0x7fffffffffffffffull, 0x8000000000000000ull,
};

int edge_long(int w, u64 *o)
{
    u64 m = wmask(w);
    int n = 0, i;
    for (i = 0; i < NELEM(edge_vals); i++)
        if (edge_vals[i] <= m)
            o[n++] = edge_vals[i];
    o[n++] = (smin(w) + 1) & m;
    o[n++] = m - 1;
    if (w == 64)
        o[n++] = m;
    return n; /* <= 19 */
}

int edge_short(int w, u64 *o)
{
    o[0] = 0;
    o[1] = 1;
    o[2] = smin(w) - 1;
    o[3] = smin(w);
    o[4] = wmask(w);
    return 5;
}

u64 hash_bytes(const void *p, int n)
{
    const u8 *b = (const u8 *)p;
    u64 h = 0xcbf29ce484222325ull;
    int i;
    for (i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---------------------------------------------------------------- output */

static char lb[512];
static int lp;

static void put_hex(u64 v)
{
    char t[17];
    int n = 0;
    do {
        t[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        lb[lp++] = t[--n];
}

void L_begin(const char *name)
{
    lp = 0;
    while (*name && lp < 64)
        lb[lp++] = *name++;
}

void L_x(u64 v)
{
    lb[lp++] = ' ';
    put_hex(v);
}

void L_u(void)
{
    lb[lp++] = ' ';
    lb[lp++] = 'u';
}

void L_str(const char *s)
{
    lb[lp++] = ' ';
    while (*s && lp < 480)
        lb[lp++] = *s++;
}

void L_sep(void)
{
    lb[lp++] = ' ';
    lb[lp++] = '>';
}

void L_fin(u64 f)
{
    lb[lp++] = ' ';
    lb[lp++] = 'F';
    put_hex(f & (F_ALL | F_DF));
}

void L_end(void)
{
    lb[lp] = 0;
    puts(lb);
    g_ncases++;
}

void L_end_f(u64 f, u32 mask)
{
    lb[lp++] = ' ';
    lb[lp++] = 'F';
    put_hex(f & mask);
    L_end();
}

/* no <stdarg.h> (no libc headers): the compiler's own varargs */
void L_in(const char *name, u64 f, int n, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, n);
    L_begin(name);
    while (n-- > 0)
        L_x(__builtin_va_arg(ap, u64));
    __builtin_va_end(ap);
    L_fin(f);
    L_sep();
}

void L_out(u64 f, u32 mask, int n, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, n);
    while (n-- > 0)
        L_x(__builtin_va_arg(ap, u64));
    __builtin_va_end(ap);
    L_end_f(f, mask);
}

/* ---------------------------------------------------------------- CPUID */

static void cpuid(u32 leaf, u32 sub, u32 r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

static void detect(void)
{
    u32 r[4];
    u32 maxstd, maxext;
    cpuid(0, 0, r);
    maxstd = r[0];
    cpuid(0x80000000u, 0, r);
    maxext = r[0];
    if (maxstd >= 1) {
        cpuid(1, 0, r);
        g_has_popcnt = (r[2] >> 23) & 1;   /* CPUID.01H:ECX.POPCNT[bit 23] */
        g_has_cx16 = (r[2] >> 13) & 1;     /* CPUID.01H:ECX.CMPXCHG16B[bit 13] */
    }
    if (maxstd >= 7) {
        cpuid(7, 0, r);
        g_has_tzcnt = (r[1] >> 3) & 1;     /* CPUID.(EAX=07H,ECX=0):EBX.BMI1[bit 3] */
    }
    if (maxext >= 0x80000001u) {
        cpuid(0x80000001u, 0, r);
        g_has_lzcnt = (r[2] >> 5) & 1;     /* CPUID.80000001H:ECX.LZCNT/ABM[bit 5] */
        g_has_lahf = r[2] & 1;             /* CPUID.80000001H:ECX.LAHF-SAHF[bit 0] */
    }
#ifdef INSN_FORCE_MODEL
    /* self-test of the C fallbacks: -DINSN_FORCE_MODEL must give the same
     * output as a normal run */
    g_has_lzcnt = g_has_tzcnt = g_has_popcnt = g_has_cx16 = g_has_lahf = 0;
#endif
}

int main(void)
{
    detect();
    /* Which of lzcnt/tzcnt/popcnt/cmpxchg16b/lahf/sahf were executed natively
     * is deliberately NOT printed: the fallback computes the identical line. */
    run_alu();
    run_shift();
    run_muldiv();
    run_ext();
    run_bits();
    run_cond();
    run_atomic();
    run_string();
    run_stack();
    printf("insn_diff: %d cases\n", g_ncases);
    return 0;
}
