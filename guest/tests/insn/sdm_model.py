#!/usr/bin/env python3
"""Independent SDM reference model for insn_diff output (optional tool).

Reads the output of insn_diff (from a file or stdin), recomputes every line it
understands from the printed inputs using the Intel SDM pseudocode, and
reports lines whose printed results differ from the model.

Use it to tell apart
  * a harness bug (wrong operand order, wrong mask),
  * a host CPU that deviates from the SDM in a *defined* result (the emulator
    follows the SDM, the reference run follows the host), and
  * an emulator bug (run it on the emulator's output too).

Lines it does not model (cmps/scas, push/pop, bt with a memory bit offset:
their results depend on buffer contents that are only printed as hashes) are
counted as skipped; for movs/stos/lods and enter/leave only the register
results are checked.

    python3 sdm_model.py insn_native.txt
"""
import re
import sys

CF, PF, AF, ZF, SF, DF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x400, 0x800
ALL = CF | PF | AF | ZF | SF | OF


def M(w):
    return (1 << w) - 1


def sx(v, w):
    v &= M(w)
    return v - (1 << w) if v >> (w - 1) else v


def parity(v):
    return 0 if bin(v & 0xff).count("1") & 1 else PF


def szp(r, w):
    r &= M(w)
    f = parity(r)
    if r == 0:
        f |= ZF
    if r >> (w - 1) & 1:
        f |= SF
    return f


def wreg(old, v, w):
    """write a w-bit value to a 64-bit register"""
    if w == 32:
        return v & M(32)
    if w == 64:
        return v & M(64)
    return (old & ~M(w) & M(64)) | (v & M(w))


def wmem(old, v, w):
    """write a w-bit value to the low bytes of a 64-bit memory word"""
    return (old & ~M(w) & M(64)) | (v & M(w))


# ------------------------------------------------------------------ ALU

def alu(op, w, a, b, fin):
    """returns (result, flags, mask, writes)"""
    a &= M(w)
    b &= M(w)
    cin = fin & CF
    if op in ("add", "adc"):
        c = cin if op == "adc" else 0
        r = a + b + c
        f = szp(r, w) | ((r >> w) & 1)
        f |= AF if (a ^ b ^ r) & 0x10 else 0
        f |= OF if ((a ^ r) & (b ^ r)) >> (w - 1) & 1 else 0
        return r & M(w), f, ALL, True
    if op in ("sub", "sbb", "cmp"):
        c = cin if op == "sbb" else 0
        r = (a - b - c) & M(w)
        f = szp(r, w) | (CF if a < b + c else 0)
        f |= AF if (a ^ b ^ r) & 0x10 else 0
        f |= OF if ((a ^ b) & (a ^ r)) >> (w - 1) & 1 else 0
        return r, f, ALL, op != "cmp"
    if op in ("and", "or", "xor", "test"):
        r = {"and": a & b, "test": a & b, "or": a | b, "xor": a ^ b}[op]
        return r, szp(r, w), ALL & ~AF, op != "test"
    raise KeyError(op)


# ------------------------------------------------------------------ shifts

def shift(op, w, a, b, cnt, fin):
    """returns (result or None if undefined, flags, mask)"""
    a &= M(w)
    b &= M(w)
    c = cnt & (63 if w == 64 else 31)
    if c == 0:
        return a, fin, ALL
    msb = lambda v: (v >> (w - 1)) & 1
    f = fin & ~ALL
    mask = ALL
    if op in ("shl", "shr", "sar"):
        mask &= ~AF
        if c != 1:
            mask &= ~OF
        if op != "sar" and c >= w:
            mask &= ~CF
        if op == "shl":
            r = (a << c) & M(w)
            cf = (a >> (w - c)) & 1 if c <= w else 0
            of = msb(r) ^ cf
        elif op == "shr":
            r = a >> c
            cf = (a >> (c - 1)) & 1
            of = msb(a)
        else:
            s = sx(a, w)
            r = (s >> c) & M(w)
            cf = (s >> (c - 1)) & 1
            of = 0
        f |= szp(r, w) | (CF if cf else 0) | (OF if of else 0)
        return r, f, mask
    if op in ("rol", "ror", "rcl", "rcr"):
        if c != 1:
            mask &= ~OF
        f = fin & ~(CF | OF)
        if op == "rol":
            t = c % w
            r = ((a << t) | (a >> (w - t))) & M(w) if t else a
            cf = r & 1
            of = msb(r) ^ cf
        elif op == "ror":
            t = c % w
            r = ((a >> t) | (a << (w - t))) & M(w) if t else a
            cf = msb(r)
            of = msb(r) ^ ((r >> (w - 2)) & 1)
        else:
            t = c % (w + 1)
            v = a | ((fin & CF) << w)  # w+1 bit value CF:a
            if op == "rcl":
                v = ((v << t) | (v >> (w + 1 - t))) & M(w + 1) if t else v
                r, cf = v & M(w), v >> w
                of = msb(r) ^ cf
            else:
                of = msb(a) ^ (fin & CF)
                v = ((v >> t) | (v << (w + 1 - t))) & M(w + 1) if t else v
                r, cf = v & M(w), v >> w
        f |= (CF if cf else 0) | (OF if of else 0)
        return r, f, mask
    if op in ("shld", "shrd"):
        if c > w:
            return None, 0, 0
        mask &= ~AF
        if c != 1:
            mask &= ~OF
        if op == "shld":
            r = ((a << c) | (b >> (w - c))) & M(w)
            cf = (a >> (w - c)) & 1
        else:
            r = ((a >> c) | (b << (w - c))) & M(w)
            cf = (a >> (c - 1)) & 1
        of = msb(r) ^ msb(a)
        f |= szp(r, w) | (CF if cf else 0) | (OF if of else 0)
        return r, f, mask
    raise KeyError(op)


# ------------------------------------------------------------------ helpers

COND = {
    "o": lambda f: f & OF, "no": lambda f: not f & OF,
    "b": lambda f: f & CF, "ae": lambda f: not f & CF,
    "e": lambda f: f & ZF, "ne": lambda f: not f & ZF,
    "be": lambda f: f & (CF | ZF), "a": lambda f: not f & (CF | ZF),
    "s": lambda f: f & SF, "ns": lambda f: not f & SF,
    "p": lambda f: f & PF, "np": lambda f: not f & PF,
    "l": lambda f: bool(f & SF) != bool(f & OF),
    "ge": lambda f: bool(f & SF) == bool(f & OF),
    "le": lambda f: f & ZF or bool(f & SF) != bool(f & OF),
    "g": lambda f: not f & ZF and bool(f & SF) == bool(f & OF),
}


class Skip(Exception):
    pass


def parse(line):
    toks = line.split()
    name = toks[0]
    i = toks.index(">")
    ins, outs = toks[1:i], toks[i + 1:]

    def val(t):
        if t == "u":
            return None
        if t in ("df0", "df1"):
            return ("D", int(t[2]))
        if t.startswith("F"):
            return ("F", int(t[1:], 16))
        return int(t, 16)

    return name, [val(t) for t in ins], [val(t) for t in outs]


def split_flags(vals):
    flags = [v[1] for v in vals if isinstance(v, tuple) and v[0] == "F"]
    return [v for v in vals if not isinstance(v, tuple)], flags[0] if flags else None


def model(name, ins, fin):
    """returns (list of expected output values (None = don't care),
    expected flags, mask)"""
    m = re.fullmatch(r"(add|adc|sub|sbb|and|or|xor|cmp|test)(8|16|32|64)(rr|mr|rm|i8|i)", name)
    if m:
        op, w, k = m.group(1), int(m.group(2)), m.group(3)
        a, b = ins
        r, f, mask, wr = alu(op, w, a, b, fin)
        out = a
        if wr:
            out = wmem(a, r, w) if k == "mr" else wreg(a, r, w)
        return [out], f | (fin & ~ALL), mask
    m = re.fullmatch(r"(add|sub|sbb|xor|cmp|and)8(hh|lh|hl)", name)
    if m:
        op = m.group(1)
        a, b = ins
        dsh = 8 if m.group(2)[0] == "h" else 0
        ssh = 8 if m.group(2)[1] == "h" else 0
        r, f, mask, wr = alu(op, 8, a >> dsh, b >> ssh, fin)
        out = (a & ~(0xff << dsh)) | (r << dsh) if wr else a
        return [out], f, mask
    m = re.fullmatch(r"(inc|dec|neg|not)(8|16|32|64)(r|m)", name) or \
        re.fullmatch(r"(inc|neg)(8)(h)", name)
    if m:
        op, w, k = m.group(1), int(m.group(2)), m.group(3)
        (a,) = ins
        sh = 8 if k == "h" else 0
        x = (a >> sh) & M(w)
        if op == "inc":
            r, f, _, _ = alu("add", w, x, 1, 0)
            f = (f & ~CF) | (fin & CF)
        elif op == "dec":
            r, f, _, _ = alu("sub", w, x, 1, 0)
            f = (f & ~CF) | (fin & CF)
        elif op == "neg":
            r, f, _, _ = alu("sub", w, 0, x, 0)
        else:
            r, f = ~x & M(w), fin
        if k == "h":
            out = (a & ~(0xff << sh)) | (r << sh)
        else:
            out = wmem(a, r, w) if k == "m" else wreg(a, r, w)
        return [out], f, ALL
    m = re.fullmatch(r"(shl|shr|sar|rol|ror|rcl|rcr)(8|16|32|64)(cl|mcl|_1|i\d+)", name)
    if m:
        op, w, k = m.group(1), int(m.group(2)), m.group(3)
        a, cnt = ins
        r, f, mask = shift(op, w, a, 0, cnt, fin)
        out = wmem(a, r, w) if k == "mcl" else wreg(a, r, w)
        return [out], f, mask
    m = re.fullmatch(r"(shld|shrd)(16|32|64)(cl|mcl|i\d+)", name)
    if m:
        op, w, k = m.group(1), int(m.group(2)), m.group(3)
        a, b, cnt = ins
        r, f, mask = shift(op, w, a, b, cnt, fin)
        if r is None:
            return [None], 0, 0
        out = wmem(a, r, w) if k == "mcl" else wreg(a, r, w)
        return [out], f, mask
    m = re.fullmatch(r"(mul|imul|div|idiv)(8|16|32|64)(r|m)", name)
    if m:
        op, w = m.group(1), int(m.group(2))
        ax, dx, s = ins
        if w == 8:
            lo, hi = ax & 0xff, (ax >> 8) & 0xff
        else:
            lo, hi = ax & M(w), dx & M(w)
        if op in ("mul", "imul"):
            if op == "mul":
                p = lo * s
                of = (p >> w) != 0
            else:
                p = sx(lo, w) * sx(s, w)
                of = p != sx(p, w)
            p &= M(2 * w)
            rl, rh = p & M(w), p >> w
            f, mask = (CF | OF) if of else 0, CF | OF
        else:
            n = (hi << w) | lo
            if op == "div":
                q, rr = divmod(n, s)
            else:
                n, d = sx(n, 2 * w), sx(s, w)
                q = abs(n) // abs(d)
                if (n < 0) != (d < 0):
                    q = -q
                rr = n - q * d
            rl, rh = q & M(w), rr & M(w)
            f, mask = 0, 0
        if w == 8:
            return [(ax & ~0xffff) | (rh << 8) | rl, dx], f, mask
        return [wreg(ax, rl, w), wreg(dx, rh, w)], f, mask
    m = re.fullmatch(r"imul(16|32|64)(rr|rm|rri8|rri|rmi)", name)
    if m:
        w = int(m.group(1))
        if m.group(2) in ("rr", "rm"):
            a, b = ins
            x, y = a, b
        else:
            a, x, y = ins
        p = sx(x, w) * sx(y, w)
        of = p != sx(p, w)
        return [wreg(a, p, w)], (CF | OF) if of else 0, CF | OF
    if name in ("cbw", "cwde", "cdqe", "cwd", "cdq", "cqo"):
        ax, dx = ins
        if name == "cbw":
            return [wreg(ax, sx(ax, 8), 16), dx], fin, ALL
        if name == "cwde":
            return [wreg(ax, sx(ax, 16), 32), dx], fin, ALL
        if name == "cdqe":
            return [sx(ax, 32) & M(64), dx], fin, ALL
        w = {"cwd": 16, "cdq": 32, "cqo": 64}[name]
        return [ax, wreg(dx, M(w) if ax >> (w - 1) & 1 else 0, w)], fin, ALL
    m = re.fullmatch(r"mov([zs])([bwl])([wlq])(_m)?|movl|movw|movb|bswap(32|64)", name)
    if m:
        d, s = ins
        if name.startswith("bswap"):
            w = int(m.group(5))
            v = int.from_bytes((d & M(w)).to_bytes(w // 8, "little"), "big")
            return [wreg(d, v, w)], fin, ALL
        if name in ("movl", "movw", "movb"):
            w = {"movl": 32, "movw": 16, "movb": 8}[name]
            return [wreg(d, s, w)], fin, ALL
        sw = {"b": 8, "w": 16, "l": 32}[m.group(2)]
        dw = {"w": 16, "l": 32, "q": 64}[m.group(3)]
        v = s & M(sw) if m.group(1) == "z" else sx(s, sw)
        return [wreg(d, v, dw)], fin, ALL
    m = re.fullmatch(r"mov([zs])b([wl])_ah|movb_(ah|al)_(cl|ch)", name)
    if m:
        d, s = ins
        if name.startswith("movb"):
            v = (s >> (8 if m.group(3) == "ah" else 0)) & 0xff
            sh = 8 if m.group(4) == "ch" else 0
            return [(d & ~(0xff << sh)) | (v << sh)], fin, ALL
        v = (s >> 8) & 0xff
        if m.group(1) == "s":
            v = sx(v, 8)
        return [wreg(d, v, 16 if m.group(2) == "w" else 32)], fin, ALL
    m = re.fullmatch(r"(bt|bts|btr|btc)(16|32|64)(rr|ri\d+|mi\d+)", name)
    if m:
        op, w, k = m.group(1), int(m.group(2)), m.group(3)
        d, i = ins
        bit = i % w
        old = (d >> bit) & 1
        f = (fin & ~CF) | (CF if old else 0)
        v = d & M(w)
        if op == "bts":
            v |= 1 << bit
        elif op == "btr":
            v &= ~(1 << bit)
        elif op == "btc":
            v ^= 1 << bit
        if op == "bt":
            out = d
        else:
            out = wmem(d, v, w) if k.startswith("m") else wreg(d, v, w)
        return [out], f, CF | ZF
    m = re.fullmatch(r"(bsf|bsr|tzcnt|lzcnt|popcnt)(16|32|64)", name)
    if m:
        op, w = m.group(1), int(m.group(2))
        d, s = ins
        if op in ("bsf", "bsr"):
            if s == 0:
                return [None], ZF, ZF
            r = (s & -s).bit_length() - 1 if op == "bsf" else s.bit_length() - 1
            return [wreg(d, r, w)], 0, ZF
        if op == "popcnt":
            r = bin(s).count("1")
            return [wreg(d, r, w)], ZF if s == 0 else 0, ALL
        if op == "tzcnt":
            r = (s & -s).bit_length() - 1 if s else w
        else:
            r = w - s.bit_length()
        return [wreg(d, r, w)], (CF if s == 0 else 0) | (ZF if r == 0 else 0), CF | ZF
    m = re.fullmatch(r"set([a-z]+)", name)
    if m and m.group(1) in COND:
        (d,) = ins
        return [wreg(d, 1 if COND[m.group(1)](fin) else 0, 8)], fin, ALL
    m = re.fullmatch(r"cmov([a-z]+)(16|32|64)", name)
    if m:
        w = int(m.group(2))
        d, s = ins
        if COND[m.group(1)](fin):
            return [wreg(d, s, w)], fin, ALL
        return [wreg(d, d, w)], fin, ALL
    if name in ("lahf", "sahf", "cmc", "clc", "stc"):
        (a,) = ins
        if name == "lahf":
            return [(a & ~0xff00) | (((fin & 0xd5) | 2) << 8)], fin, ALL
        if name == "sahf":
            return [a], (fin & ~0xd5) | ((a >> 8) & 0xd5), ALL
        f = {"cmc": fin ^ CF, "clc": fin & ~CF, "stc": fin | CF}[name]
        return [a], f, ALL
    m = re.fullmatch(r"(xchg|xadd|lock_xadd)(8|16|32|64)(rr|mr|ax)", name)
    if m:
        op, w, k = m.group(1), int(m.group(2)), m.group(3)
        d, s = ins
        wd = wmem if k == "mr" else wreg
        if op == "xchg":
            return [wd(d, s, w), wreg(s, d, w)], fin, ALL
        r, f, _, _ = alu("add", w, d, s, 0)
        return [wd(d, r, w), wreg(s, d, w)], f, ALL
    m = re.fullmatch(r"(lock_)?cmpxchg(8|16|32|64)(rr|mr)", name)
    if m:
        w, k = int(m.group(2)), m.group(3)
        ax, d, s = ins
        _, f, _, _ = alu("cmp", w, ax, d, 0)
        if (ax & M(w)) == (d & M(w)):
            d = wmem(d, s, w) if k == "mr" else wreg(d, s, w)
        else:
            ax = wreg(ax, d, w)
        return [ax, d], f, ALL
    m = re.fullmatch(r"(lock_)?cmpxchg(8|16)b", name)
    if m:
        if m.group(2) == "16":
            mh, ml, dx, ax, cx, bx = ins
            if mh == dx and ml == ax:
                return [cx, bx, dx, ax], fin | ZF, ALL
            return [mh, ml, mh, ml], fin & ~ZF, ALL
        mm, dx, ax, cx, bx = ins
        if mm == ((dx & M(32)) << 32) | (ax & M(32)):
            return [((cx & M(32)) << 32) | (bx & M(32)), dx, ax], fin | ZF, ALL
        return [mm, mm >> 32, mm & M(32)], fin & ~ZF, ALL
    m = re.fullmatch(r"(rep_)?(movs|stos|lods)([bwlq])", name)
    if m:
        # inputs: df0|df1 count pattern; outputs: rsi rdi rcx rax hash
        # (rsi/rdi/rcx and the flags are modelled; rax/hash are not)
        df = fin & DF
        cnt = ins[0]
        sz = {"b": 1, "w": 2, "l": 4, "q": 8}[m.group(3)]
        n = cnt if m.group(1) else 1
        step = -sz if df else sz
        s0 = 64 + (512 - sz if df else 0)
        si = s0 + (n * step if m.group(2) != "stos" else 0)
        di = s0 + (n * step if m.group(2) != "lods" else 0)
        return [si, di, 0 if m.group(1) else cnt, None, None], fin, ALL | DF
    m = re.fullmatch(r"enter_([0-9a-f]+)_(\d+)", name)
    if m:
        size, lv = int(m.group(1), 16), int(m.group(2)) % 32
        top = 0x1800
        sp = top - 8 - (8 * (lv - 1) + 8 if lv else 0) - size
        return [sp, top - 8, top, 0x1c20, None], fin, ALL
    m = re.fullmatch(r"lea_\w+", name)
    if m:
        b, i, d = ins
        m64, m32 = M(64), M(32)
        forms = {
            "lea_bis1": lambda: (b + i + 0x12) & m64,
            "lea_bis2": lambda: (b + 2 * i - 0x80) & m64,
            "lea_bis4": lambda: (b + 4 * i + 0x7fffffff) & m64,
            "lea_bis8": lambda: (b + 8 * i - 0x80000000) & m64,
            "lea_is8": lambda: (8 * i) & m64,
            "lea_is2d": lambda: (2 * i - 0x1234) & m64,
            "lea_bd": lambda: (b + 0x1234) & m64,
            "lea_bb9": lambda: (9 * b + 0x7f) & m64,
            "lea_o32": lambda: (b + 8 * i + 0x10) & m32,
            "lea_a32": lambda: (b + 4 * i - 1) & m32,
            "lea_a32q": lambda: (b + 2 * i + 5) & m32,
            "lea_a32d": lambda: (b + 0x80000000) & m32,
            "lea_o16": lambda: (d & ~0xffff) | ((b + 2 * i - 1) & 0xffff),
            "lea_o16a32": lambda: (d & ~0xffff) | ((b + i + 0x7fff) & 0xffff),
            "lea_r13": lambda: b,
            "lea_r13i": lambda: (b + i) & m64,
            "lea_r12": lambda: (b - 8) & m64,
            "lea_r12i": lambda: (b + 4 * i + 0x100) & m64,
        }
        return [forms[name]()], fin, ALL
    raise Skip()


def main():
    f = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    checked = skipped = bad = 0
    per = {}
    for line in f:
        line = line.rstrip("\n")
        if line.startswith("insn_diff:") or ">" not in line:
            continue
        name, ins, outs = parse(line)
        ivals, fin = split_flags(ins)
        ovals, fout = split_flags(outs)
        try:
            exp, ef, mask = model(name, ivals, fin)
        except Skip:
            skipped += 1
            continue
        checked += 1
        ok = (ef & mask) == fout
        for e, o in zip(exp, ovals):
            if e is not None and e != o:
                ok = False
        if not ok:
            bad += 1
            key = re.sub(r"\d+.*", "", name)
            per[key] = per.get(key, 0) + 1
            if per[key] <= 5:
                print("MISMATCH:", line)
                print("   model:", " ".join("u" if e is None else "%x" % e for e in exp),
                      "F%x" % (ef & mask))
    print("checked %d, skipped %d, mismatches %d %s" % (checked, skipped, bad, per))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
