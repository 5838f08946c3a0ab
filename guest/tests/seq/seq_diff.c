/*
 * seq_diff.c - instruction-SEQUENCE differential harness (guest/tests/seq/README.md).
 *
 * Generates random chains of integer instructions that feed each other through registers,
 * flags and memory, writes each chain into an executable buffer, runs it from a random
 * register/flag/memory state and prints one hash per chain of every GPR (but RSP), the
 * defined arithmetic flags and the 3-page data buffer. Built natively (gcc -no-pie) and for
 * the emulator (lvd cc); the two outputs must be identical.
 *
 *   gcc -O1 -no-pie -mgeneral-regs-only -DNCHAINS=N -DSEED=S -o /tmp/seq guest/tests/seq/seq_diff.c
 *
 * Covered: ALU reg/mem/imm forms at 8 (incl. AH..BH), 16, 32, 64 bits, ADC/SBB chained on CF,
 * INC/DEC (CF kept), NEG/NOT, shifts and rotates by 1/imm/CL, SHLD/SHRD, IMUL 2-operand, MUL/
 * IMUL 1-operand, LEA with SIB and 32-bit address size, MOVZX/MOVSX/MOVSXD, MOV loads/stores,
 * SETcc/CMOVcc on the flags the chain left defined, BT/BTS/BTR/BTC, BSWAP, XCHG/XADD/CMPXCHG,
 * CBW.../CWD..., forward Jcc, LOOP/LOOPE/LOOPNE/JRCXZ with and without 0x67 (ECX counting),
 * RIP-relative loads/stores, addr32 memory operands ([r15d+disp]), operands straddling a page
 * boundary, chains starting just before a code page boundary, and self-modifying code (a store
 * into the immediate of the next instruction).
 *
 * SDM-undefined flags are not compared and not consumed: the generator tracks which flags are
 * defined after each instruction (e.g. IMUL leaves SF/ZF/AF/PF undefined, a shift by more than
 * one leaves OF undefined); a flag consumer (ADC, SETcc, CMOVcc, Jcc, LOOPE) only uses defined
 * ones, and the final flags are masked by the defined set. No instruction is skipped for it.
 */

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

int printf(const char *fmt, ...);
void *memcpy(void *d, const void *s, unsigned long n);

#ifndef NCHAINS
#define NCHAINS 2000
#endif
#ifndef SEED
#define SEED 1
#endif

#define CF 0x001
#define PF 0x004
#define AF 0x010
#define ZF 0x040
#define SF 0x080
#define OF 0x800
#define ALLF (CF | PF | AF | ZF | SF | OF)

/* The chain's code: writable and executable, natively too (the "#" ends gcc's own flags). */
static u8 code[4 * 4096] __attribute__((section(".seqcode,\"awx\",@progbits#"), aligned(4096)));
static u8 data[3 * 4096] __attribute__((aligned(4096)));

struct state { u64 r[16]; u64 flags; };
struct state seq_in, seq_out;
u64 seq_saved_rsp, seq_entry;
void seq_run(void);
void seq_exit(void);

__asm__(
    ".text\n"
    ".globl seq_run\n"
    "seq_run:\n"
    "  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "  mov %rsp, seq_saved_rsp(%rip)\n"
    "  pushq seq_in+128(%rip)\n popfq\n"
    "  mov seq_in+0(%rip), %rax\n mov seq_in+8(%rip), %rcx\n mov seq_in+16(%rip), %rdx\n mov seq_in+24(%rip), %rbx\n"
    "  mov seq_in+40(%rip), %rbp\n mov seq_in+48(%rip), %rsi\n mov seq_in+56(%rip), %rdi\n"
    "  mov seq_in+64(%rip), %r8\n mov seq_in+72(%rip), %r9\n mov seq_in+80(%rip), %r10\n mov seq_in+88(%rip), %r11\n"
    "  mov seq_in+96(%rip), %r12\n mov seq_in+104(%rip), %r13\n mov seq_in+112(%rip), %r14\n mov seq_in+120(%rip), %r15\n"
    "  jmp *seq_entry(%rip)\n"
    ".globl seq_exit\n"
    "seq_exit:\n"
    "  pushfq\n popq seq_out+128(%rip)\n"
    "  mov %rax, seq_out+0(%rip)\n mov %rcx, seq_out+8(%rip)\n mov %rdx, seq_out+16(%rip)\n mov %rbx, seq_out+24(%rip)\n"
    "  mov %rbp, seq_out+40(%rip)\n mov %rsi, seq_out+48(%rip)\n mov %rdi, seq_out+56(%rip)\n"
    "  mov %r8, seq_out+64(%rip)\n mov %r9, seq_out+72(%rip)\n mov %r10, seq_out+80(%rip)\n mov %r11, seq_out+88(%rip)\n"
    "  mov %r12, seq_out+96(%rip)\n mov %r13, seq_out+104(%rip)\n mov %r14, seq_out+112(%rip)\n mov %r15, seq_out+120(%rip)\n"
    "  mov seq_saved_rsp(%rip), %rsp\n"
    "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "  ret\n");

/* ------------------------------------------------------------------ PRNG */

#include "../xorshift.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ull ^ (SEED * 0xbf58476d1ce4e5b9ull);

static u64 rnd(void) { return xorshift64(&rng); }

static int below(int n) { return (int)(rnd() % (u64)n); }

static u64 rnd_val(void)
{
    u64 r = rnd();
    switch (rnd() & 7) {
    case 0: return r & 0xff;
    case 1: return 0 - (r & 0x1f);
    case 2: return 0x7fffffffull + (r & 3) - 1;
    case 3: return 0x8000000000000000ull + (r & 3) - 1;
    case 4: return r & rnd();
    default: return r;
    }
}

/* ------------------------------------------------------------------ emitter */

#define BASE 15 /* r15: the data base register, never an operand */

static u8 *p;
static int def; /* flags defined now */

static void b(int x) { *p++ = (u8)x; }
static void d32(u32 x) { memcpy(p, &x, 4); p += 4; }

/* A register operand: any GPR but RSP (4) and the base (15). */
static int reg(void)
{
    static const u8 regs[] = { 0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
    return regs[below(sizeof regs)];
}

static int rnd_size(void) { static const u8 s[] = { 8, 16, 32, 64 }; return s[below(4)]; }

/* Prefixes for operand size, then REX (W, R, X, B); force: a REX even if zero (SPL..DIL). */
static void prefix(int size, int r, int x, int bb, int force)
{
    if (size == 16) b(0x66);
    int v = 0x40 | (size == 64 ? 8 : 0) | ((r >> 3) << 2) | ((x >> 3) << 1) | (bb >> 3);
    if (v != 0x40 || force) b(v);
}

/* Memory operand forms: [r15+disp8], [r15+disp32], [r15d+disp8] (addr32), RIP-relative. */
enum { M_D8, M_D32, M_A32, M_RIP };
static int mform;
static u8 *rip_disp;
static u64 rip_target;

static int rnd_mform(void) { return below(4); }

static void mem_prefixes(int size, int r, int force)
{
    if (mform == M_A32) b(0x67);
    if (mform == M_RIP) prefix(size, r, 0, 0, force);
    else prefix(size, r, 0, BASE, force);
}

static int disp_in_data(int lo, int hi) { return lo + below(hi - lo); }

/* ModRM (and displacement) of a memory operand; the address lies in data[]. */
static void modrm_mem(int r)
{
    int rr = (r & 7) << 3;
    switch (mform) {
    case M_D8:
    case M_A32:
        b(0x40 | rr | 7);
        b(disp_in_data(-128, 120)); /* around the page boundary at r15+40 */
        break;
    case M_D32:
        b(0x80 | rr | 7);
        d32((u32)disp_in_data(-3000, 7000));
        break;
    default:
        b(0x05 | rr);
        rip_disp = p;
        rip_target = (u64)(data + 4096 - 40 + disp_in_data(-128, 120));
        d32(0);
        break;
    }
}

/* Call after the instruction's last byte: fixes the RIP-relative displacement. */
static void mem_done(void)
{
    if (mform == M_RIP && rip_disp) {
        u32 d = (u32)(rip_target - (u64)p);
        memcpy(rip_disp, &d, 4);
    }
    rip_disp = 0;
}

static void modrm_rr(int r, int rm) { b(0xc0 | ((r & 7) << 3) | (rm & 7)); }

/* Two register operands at a size; 8-bit: either AL..BH without REX or REX forms. */
static void pick_rr(int size, int *r, int *rm, int *force)
{
    *force = 0;
    if (size == 8 && (rnd() & 1)) { *r = below(8); *rm = below(8); return; } /* AH..BH possible */
    *r = reg();
    *rm = reg();
    if (size == 8) *force = 1;
}

static const int cond_needs[16] = { OF, OF, CF, CF, ZF, ZF, CF | ZF, CF | ZF, SF, SF, PF, PF, SF | OF, SF | OF, ZF | SF | OF, ZF | SF | OF };

/* A condition whose flags are all defined, or -1. */
static int pick_cond(void)
{
    for (int t = 0; t < 16; t++) {
        int c = below(16);
        if ((cond_needs[c] & ~def) == 0) return c;
    }
    return -1;
}

static void emit_cmp_rr(void)
{
    int size = 32 + 32 * (rnd() & 1), r = reg(), rm = reg();
    prefix(size, r, 0, rm, 0);
    b(0x39);
    modrm_rr(r, rm);
    def = ALLF;
}

/* ------------------------------------------------------------------ templates */

static void t_alu(void)
{
    int op = below(8), size = rnd_size(), dir = rnd() & 1, r, rm, force;
    if ((op == 2 || op == 3) && !(def & CF)) op = 0; /* adc/sbb need a defined CF */
    int opc = op * 8 + (size == 8 ? 0 : 1) + (dir ? 2 : 0);
    if (below(3) == 0) {
        mform = rnd_mform();
        r = reg();
        mem_prefixes(size, r, size == 8);
        b(opc);
        modrm_mem(r);
        mem_done();
    } else {
        pick_rr(size, &r, &rm, &force);
        prefix(size, r, 0, rm, force);
        b(opc);
        modrm_rr(r, rm);
    }
    def = (op == 1 || op == 4 || op == 6) ? ALLF & ~AF : ALLF;
}

static void t_alu_imm(void)
{
    int op = below(8), size = rnd_size(), rm = reg();
    if ((op == 2 || op == 3) && !(def & CF)) op = 7;
    int imm8 = size == 8 || (rnd() & 1);
    int mem = below(3) == 0;
    if (mem) { mform = rnd_mform(); mem_prefixes(size, 0, size == 8); }
    else prefix(size, 0, 0, rm, size == 8);
    b(size == 8 ? 0x80 : imm8 ? 0x83 : 0x81);
    if (mem) modrm_mem(op); else modrm_rr(op, rm);
    if (imm8) b((int)rnd_val());
    else if (size == 16) { b((int)rnd()); b((int)rnd()); }
    else d32((u32)rnd_val());
    if (mem) mem_done();
    def = (op == 1 || op == 4 || op == 6) ? ALLF & ~AF : ALLF;
}

static void t_unary(void)
{
    int k = below(4), size = rnd_size(), rm = reg(); /* inc dec not neg */
    int mem = below(3) == 0;
    if (mem) { mform = rnd_mform(); mem_prefixes(size, 0, size == 8); }
    else prefix(size, 0, 0, rm, size == 8);
    int ext = k == 0 ? 0 : k == 1 ? 1 : k == 2 ? 2 : 3;
    b(k < 2 ? (size == 8 ? 0xfe : 0xff) : (size == 8 ? 0xf6 : 0xf7));
    if (mem) { modrm_mem(ext); mem_done(); } else modrm_rr(ext, rm);
    if (k < 2) def = (def & CF) | (ALLF & ~CF);
    else if (k == 3) def = ALLF;
}

static void t_shift(void)
{
    int n = below(7), size = rnd_size(), rm = reg(), form = below(3); /* by 1, imm, CL */
    if (n == 6) n = 7;                                              /* sal is shl: use sar */
    if ((n == 2 || n == 3) && !(def & CF)) n = 4;                    /* rcl/rcr need CF */
    int count = 1;
    if (form == 1) count = 1 + below(size - 1);
    prefix(size, 0, 0, rm, size == 8);
    b(form == 0 ? (size == 8 ? 0xd0 : 0xd1) : form == 1 ? (size == 8 ? 0xc0 : 0xc1) : (size == 8 ? 0xd2 : 0xd3));
    modrm_rr(n, rm);
    if (form == 1) b(count);
    int rot = n < 4;
    if (form == 2) {
        /* Count unknown here (CL): flags either unchanged (count 0) or set; OF/AF undefined for
           counts above 1, CF for 8/16-bit shifts past the width. */
        def &= ~(OF | AF);
        if (!rot && size < 32) def &= ~CF;
        return;
    }
    if (rot) def = (def | CF) & ~(count == 1 ? 0 : OF);
    else def = (ALLF & ~AF) & ~(count == 1 ? 0 : OF);
    if (rot && count == 1) def |= OF;
}

static void t_shld(void)
{
    int size = 32 + 32 * (rnd() & 1), r = reg(), rm = reg(), count = 1 + below(size - 1);
    prefix(size, r, 0, rm, 0);
    b(0x0f);
    b(rnd() & 1 ? 0xa4 : 0xac);
    modrm_rr(r, rm);
    b(count);
    def = (ALLF & ~AF) & ~(count == 1 ? 0 : OF);
}

static void t_imul(void)
{
    int size = 16 << below(3), r = reg(), rm = reg();
    if (below(3) == 0) {
        /* one operand: mul/imul into rDX:rAX */
        size = rnd_size();
        prefix(size, 0, 0, rm, size == 8);
        b(size == 8 ? 0xf6 : 0xf7);
        modrm_rr(4 + (rnd() & 1), rm);
    } else if (rnd() & 1) {
        mform = rnd_mform();
        mem_prefixes(size, r, 0);
        b(0x0f); b(0xaf);
        modrm_mem(r);
        mem_done();
    } else {
        prefix(size, r, 0, rm, 0);
        b(0x0f); b(0xaf);
        modrm_rr(r, rm);
    }
    def = CF | OF;
}

static void t_lea(void)
{
    int size = 16 << below(3), r = reg(), base = reg(), index = below(3) == 0 ? 4 : reg(), scale = below(4);
    if (rnd() & 1) b(0x67);
    prefix(size, r, index, base, 0);
    b(0x8d);
    b(0x80 | ((r & 7) << 3) | 4);
    b((scale << 6) | ((index & 7) << 3) | (base & 7));
    d32((u32)rnd_val());
}

static void t_movx(void)
{
    int k = below(5), r = reg(), rm = reg(), size = k == 4 ? 64 : 16 << below(3);
    static const u8 opc[] = { 0xb6, 0xb7, 0xbe, 0xbf };
    if (size == 16 && (k == 1 || k == 3)) size = 32;
    int mem = rnd() & 1;
    int src8 = k == 0 || k == 2;
    if (mem) { mform = rnd_mform(); mem_prefixes(size, r, src8); }
    else prefix(size, r, 0, rm, src8);
    if (k == 4) b(0x63); else { b(0x0f); b(opc[k]); }
    if (mem) { modrm_mem(r); mem_done(); } else modrm_rr(r, rm);
}

static void t_mov(void)
{
    int size = rnd_size(), r = reg(), k = below(3);
    mform = rnd_mform();
    mem_prefixes(size, r, size == 8);
    if (k == 2) {
        b(size == 8 ? 0xc6 : 0xc7);
        modrm_mem(0);
        if (size == 8) b((int)rnd());
        else if (size == 16) { b((int)rnd()); b((int)rnd()); }
        else d32((u32)rnd_val());
    } else {
        b((size == 8 ? 0x88 : 0x89) + (k ? 2 : 0));
        modrm_mem(r);
    }
    mem_done();
}

static void t_setcc_cmov(void)
{
    int c = pick_cond();
    if (c < 0) { emit_cmp_rr(); return; }
    int r = reg(), rm = reg();
    if (rnd() & 1) {
        prefix(8, 0, 0, rm, 1);
        b(0x0f); b(0x90 + c);
        modrm_rr(0, rm);
    } else {
        int size = 16 << below(3);
        if (rnd() & 1) {
            mform = rnd_mform();
            mem_prefixes(size, r, 0);
            b(0x0f); b(0x40 + c);
            modrm_mem(r);
            mem_done();
        } else {
            prefix(size, r, 0, rm, 0);
            b(0x0f); b(0x40 + c);
            modrm_rr(r, rm);
        }
    }
}

static void t_bt(void)
{
    int k = below(4), size = 16 << below(3), r = reg(), rm = reg();
    if (rnd() & 1) {
        prefix(size, r, 0, rm, 0);
        b(0x0f); b(0xa3 + 8 * k);
        modrm_rr(r, rm);
    } else {
        int mem = rnd() & 1;
        if (mem) { mform = rnd_mform(); mem_prefixes(size, 0, 0); }
        else prefix(size, 0, 0, rm, 0);
        b(0x0f); b(0xba);
        if (mem) modrm_mem(4 + k); else modrm_rr(4 + k, rm);
        b((int)rnd());
        if (mem) mem_done();
    }
    def = CF; /* OF SF AF PF undefined; ZF "unaffected" is not relied on */
}

static void t_xchg(void)
{
    int k = below(4), size = rnd_size(), r, rm, force;
    if (k == 0) { r = reg(); prefix(size == 64 ? 64 : 32, 0, 0, r, 0); b(0x0f); b(0xc8 + (r & 7)); return; } /* bswap (16-bit: undefined) */
    pick_rr(size, &r, &rm, &force);
    int mem = below(3) == 0;
    if (mem) { mform = rnd_mform(); r = reg(); mem_prefixes(size, r, size == 8); }
    else prefix(size, r, 0, rm, force);
    if (k == 1) b(size == 8 ? 0x86 : 0x87);
    else { b(0x0f); b(k == 2 ? (size == 8 ? 0xc0 : 0xc1) : (size == 8 ? 0xb0 : 0xb1)); }
    if (mem) { modrm_mem(r); mem_done(); } else modrm_rr(r, rm);
    if (k > 1) def = ALLF;
}

static void t_cbw(void)
{
    int size = 16 << below(3);
    prefix(size, 0, 0, 0, 0);
    b(0x98 + (rnd() & 1));
}

static void emit_one(void);

/* Forward Jcc / LOOPcc / JrCXZ over the next 1-3 instructions; defined flags after the join. */
static void t_branch(void)
{
    int k = below(3);
    u8 *at, *start = p;
    int def0;
    if (k == 0) {
        int c = pick_cond();
        if (c < 0) { emit_cmp_rr(); return; }
        b(0x70 + c);
    } else if (k == 1) {
        int l = below(3); /* loopne loope loop */
        if (l < 2 && !(def & ZF)) l = 2;
        if (rnd() & 1) b(0x67);
        b(0xe0 + l);
    } else {
        if (rnd() & 1) b(0x67);
        b(0xe3);
    }
    at = p;
    b(0);
    def0 = def;
    int n = 1 + below(3);
    for (int i = 0; i < n; i++) emit_one();
    long dist = p - at - 1;
    if (dist > 127) { p = start; emit_cmp_rr(); return; }
    *at = (u8)dist;
    def &= def0;
}

/* Self-modifying code: a store into the imm8 of the ADD that follows. */
static void t_smc(void)
{
    int r = reg();
    int off = r >= 8 ? 3 : 2;   /* imm8 offset inside "[REX] 83 /0 ib" */
    b(0xc6); b(0x05); d32((u32)off); b((int)rnd()); /* mov byte [rip+off], imm8 */
    prefix(32, 0, 0, r, 0);
    b(0x83); modrm_rr(0, r); b((int)rnd());
    def = ALLF;
}

static void emit_one(void)
{
    switch (below(20)) {
    case 0: case 1: case 2: t_alu(); break;
    case 3: case 4: t_alu_imm(); break;
    case 5: t_unary(); break;
    case 6: case 7: t_shift(); break;
    case 8: t_shld(); break;
    case 9: t_imul(); break;
    case 10: t_lea(); break;
    case 11: t_movx(); break;
    case 12: case 13: t_mov(); break;
    case 14: case 15: t_setcc_cmov(); break;
    case 16: t_bt(); break;
    case 17: t_xchg(); break;
    case 18: t_cbw(); break;
    default: if (below(3) == 0) t_smc(); else t_branch(); break;
    }
}

/* ------------------------------------------------------------------ driver */

static u64 fnv(u64 h, const void *s, unsigned long n)
{
    const u8 *c = s;
    for (unsigned long i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

int main(void)
{
    u64 total = 0xcbf29ce484222325ull;
    for (int chain = 0; chain < NCHAINS; chain++) {
        /* Start just before a code page boundary half the time. */
        u8 *entry = code + 4096 + (rnd() & 1 ? -(int)below(16) - 1 : below(64));
        p = entry;
        def = ALLF;
        int n = 4 + below(21);
        for (int i = 0; i < n; i++) emit_one();
        /* jmp seq_exit */
        b(0xe9);
        d32((u32)((u64)seq_exit - (u64)(p + 4)));

        for (int i = 0; i < 16; i++) seq_in.r[i] = rnd_val();
        seq_in.r[4] = 0;
        seq_in.r[BASE] = (u64)(data + 4096 - 40);
        seq_in.flags = 0x202 | (rnd() & ALLF);
        for (unsigned i = 0; i < sizeof data; i += 8) { u64 v = rnd(); memcpy(data + i, &v, 8); }
        seq_entry = (u64)entry;
        seq_run();

        u64 h = 0xcbf29ce484222325ull;
        for (int i = 0; i < 15; i++) if (i != 4) h = fnv(h, &seq_out.r[i], 8);
        u64 f = seq_out.flags & (u64)def;
        h = fnv(h, &f, 8);
        h = fnv(h, data, sizeof data);
        total = fnv(total, &h, 8);
#ifdef VERBOSE
        printf("chain %d: flags %03lx def %03x", chain, f, def);
        for (int i = 0; i < 15; i++) if (i != 4) printf(" r%d=%lx", i, seq_out.r[i]);
        printf(" mem=%lx\n", fnv(0xcbf29ce484222325ull, data, sizeof data));
#else
        printf("chain %d: %016lx\n", chain, h);
#endif
    }
    printf("seq_diff: %d chains, seed %d, hash %016lx\n", NCHAINS, SEED, total);
    return 0;
}
