using Iced.Intel;

namespace Lvd.Machine.Decoding;

/// <summary>
/// The operation of a <see cref="Handler.Vector"/> op (in <see cref="Op.Sub"/>): x87 control,
/// FXSAVE state, and the SSE/SSE2 instructions (Execution/Instructions/Cpu.Sse.cs).
/// </summary>
internal static class VecOp
{
    // state and x87 control (Execution/Cpu.Fpu.cs); Imm = 1 for the waiting forms (FINIT, FSTSW ...)
    public const byte Fxsave = 1, Fxrstor = 2, Ldmxcsr = 3, Stmxcsr = 4, Fninit = 5, Fnclex = 6, Fnstsw = 7, Fnstcw = 8,
        Fldcw = 9, Fwait = 10;
    // moves
    public const byte Mov128 = 20, MovScalar = 21, MovdTo = 22, MovdFrom = 23, MovqLoad = 24, MovLo = 25, MovHi = 26,
        Movhlps = 27, Movlhps = 28, Movmsk = 29, Pmovmskb = 30, Maskmovdqu = 31;
    // bitwise (ps/pd/p forms alike)
    public const byte And = 40, Andn = 41, Or = 42, Xor = 43;
    // floating point (Size2 holds the lane format)
    public const byte Add = 50, Sub = 51, Mul = 52, Div = 53, Min = 54, Max = 55, Sqrt = 56, Cmp = 57, Comi = 58, Ucomi = 59;
    public const byte CvtSi2F = 60, CvtF2Si = 61, CvttF2Si = 62, CvtF2F = 63, Cvtdq2ps = 64, Cvtdq2pd = 65, Cvtps2dq = 66,
        Cvttps2dq = 67, Cvtpd2dq = 68, Cvttpd2dq = 69, Cvtps2pd = 70, Cvtpd2ps = 71;
    // shuffles
    public const byte Shufps = 80, Shufpd = 81, Unpckl = 82, Unpckh = 83, Pshufd = 84, Pshuflw = 85, Pshufhw = 86;
    // SSE2 integer (Size2 holds the element size in bytes where it varies)
    public const byte Padd = 100, Psub = 101, Padds = 102, Paddus = 103, Psubs = 104, Psubus = 105, Pcmpeq = 106, Pcmpgt = 107,
        Psll = 108, Psrl = 109, Psra = 110, Pslldq = 111, Psrldq = 112, Packsswb = 113, Packssdw = 114, Packuswb = 115,
        Pmaddwd = 116, Pmulhw = 117, Pmulhuw = 118, Pmullw = 119, Pmuludq = 120, Pminub = 121, Pmaxub = 122, Pminsw = 123,
        Pmaxsw = 124, Pavgb = 125, Pavgw = 126, Psadbw = 127, Pinsrw = 128, Pextrw = 129;
    // x87 (Execution/Instructions/Cpu.X87.cs): R1 and R2 the first and second ST(i) operand (0 when
    // absent), Size the memory operand's size, Size2 its type (X87Mem), Imm the variant (X87Bits)
    public const byte X87First = 140, Fld = 140, Fst = 141, Fild = 142, Fist = 143, Fisttp = 144, Fconst = 145, Farith = 146,
        Fcom = 147, Ftst = 148, Fxam = 149, Fchs = 150, Fabs = 151, Fsqrt = 152, Frndint = 153, Fscale = 154, Fxtract = 155,
        Fprem = 156, Fxch = 157, Fcmov = 158, Ffree = 159, Fincstp = 160, Fdecstp = 161, Fnop = 162, Fnstenv = 163, Fldenv = 164,
        Fnsave = 165, Frstor = 166, F2xm1 = 167, Fyl2x = 168, Fyl2xp1 = 169, Fptan = 170, Fpatan = 171, Fsin = 172, Fcos = 173,
        Fsincos = 174, Fbld = 175, Fbstp = 176;
}

/// <summary>The memory operand type of an x87 op (<see cref="Op.Size2"/>).</summary>
internal static class X87Mem
{
    public const byte Float = 0, Int = 1, Bcd = 2;
}

/// <summary>The variant bits of an x87 op (<see cref="Op.Imm"/>); bits 15:8 hold an operation, condition or constant.</summary>
internal static class X87Bits
{
    /// <summary>Pops after the operation: 1 or 2 (bits 1:0).</summary>
    public const int PopMask = 3;
    /// <summary>FSUBR/FDIVR: the operands swapped; FPREM1 (round-to-nearest quotient).</summary>
    public const int Reverse = 4;
    /// <summary>FUCOM*: only an SNaN is invalid.</summary>
    public const int Unordered = 8;
    /// <summary>FCOMI*: the result in ZF/PF/CF.</summary>
    public const int Eflags = 16;
    /// <summary>FSTENV/FSAVE: the waiting forms (a pending exception first).</summary>
    public const int Wait = 32;
}

/// <summary>Lane formats of the floating-point operations (<see cref="Op.Size2"/>, low bits).</summary>
internal static class VecFmt
{
    public const byte Ps = 0, Pd = 1, Ss = 2, Sd = 3;
    /// <summary>Flag in <see cref="Op.Size2"/>: a 16-byte memory operand must be 16-byte aligned (#GP otherwise).</summary>
    public const byte Aligned = 0x80;
}

/// <summary>
/// Maps the x87-control, FXSAVE and SSE/SSE2 forms Iced decodes to a <see cref="Handler.Vector"/>
/// op. XMM registers go in R1/R2 as 0-15 (the op knows which operands are XMM), general
/// registers as usual, the memory operand as for every op, imm8 in Imm; Size is the memory
/// operand size (or the general register size). Anything not mapped stays #UD. MMX forms
/// (which share mnemonics with SSE2) are #UD: the machine does not report MMX.
/// </summary>
internal static class VectorDecoder
{
    private static bool IsXmm(Register r) => r >= Register.XMM0 && r <= Register.XMM15;

    private static bool Operand(in Instruction ins, int i, ref Op op, bool dst)
    {
        var k = ins.GetOpKind(i);
        if (k == OpKind.Register)
        {
            var r = ins.GetOpRegister(i);
            byte idx;
            if (IsXmm(r)) idx = (byte)(r - Register.XMM0);
            else if (r.IsGPR32() || r.IsGPR64()) { idx = (byte)(r.GetFullRegister() - Register.RAX); op.Size = (byte)r.GetSize(); }
            else return false;
            if (dst) op.R1 = idx; else op.R2 = idx;
            return true;
        }
        if (k == OpKind.Memory)
        {
            op.Form |= dst ? OpForm.MemDst : OpForm.MemSrc;
            BlockDecoder.SetMem(in ins, ref op);
            op.Size = (byte)ins.MemorySize.GetSize();
            return true;
        }
        if (k == OpKind.Immediate8) { op.Imm = ins.Immediate8; return true; }
        return false;
    }

    /// <summary>Fills <paramref name="op"/> for a vector instruction; false leaves it #UD.</summary>
    public static bool Translate(in Instruction ins, ref Op op)
    {
        if (ins.Encoding != EncodingKind.Legacy) return false;
        var m = ins.Mnemonic;
        if (TranslateControl(in ins, ref op, m)) return true;
        if (TranslateX87(in ins, ref op, m)) return true;
        var code = ins.Code;
        if (!Map(m, code, out byte sub, out byte fmt)) return false;
        op.H = Handler.Vector;
        op.Sub = sub;
        op.Size2 = fmt;
        for (int i = 0; i < ins.OpCount; i++)
            if (!Operand(in ins, i, ref op, i == 0)) return false;
        if ((op.Form & (OpForm.MemSrc | OpForm.MemDst)) != 0) op.Size = (byte)ins.MemorySize.GetSize();
        // The general register's size: Size for moves and int-to-float (the memory form's size
        // is the same), Imm for float-to-int, whose Size is that of the XMM source.
        int gpr = code is Code.Movq_xmm_rm64 or Code.Movq_rm64_xmm or Code.Cvtsi2ss_xmm_rm64 or Code.Cvtsi2sd_xmm_rm64
            or Code.Cvtss2si_r64_xmmm32 or Code.Cvtsd2si_r64_xmmm64 or Code.Cvttss2si_r64_xmmm32 or Code.Cvttsd2si_r64_xmmm64 ? 8 : 4;
        if (sub is VecOp.MovdTo or VecOp.MovdFrom or VecOp.CvtSi2F) op.Size = (byte)gpr;
        else if (sub is VecOp.CvtF2Si or VecOp.CvttF2Si) op.Imm = gpr;
        if ((op.Form & (OpForm.MemSrc | OpForm.MemDst)) != 0 && op.Size == 16 && m is not (Mnemonic.Movups or Mnemonic.Movupd or Mnemonic.Movdqu))
            op.Size2 |= VecFmt.Aligned;
        return true;
    }

    private static bool TranslateControl(in Instruction ins, ref Op op, Mnemonic m)
    {
        byte sub;
        bool wait = false;
        switch (m)
        {
            case Mnemonic.Fxsave: case Mnemonic.Fxsave64: sub = VecOp.Fxsave; break;
            case Mnemonic.Fxrstor: case Mnemonic.Fxrstor64: sub = VecOp.Fxrstor; break;
            case Mnemonic.Ldmxcsr: sub = VecOp.Ldmxcsr; break;
            case Mnemonic.Stmxcsr: sub = VecOp.Stmxcsr; break;
            case Mnemonic.Fninit: sub = VecOp.Fninit; break;
            case Mnemonic.Finit: sub = VecOp.Fninit; wait = true; break;
            case Mnemonic.Fnclex: sub = VecOp.Fnclex; break;
            case Mnemonic.Fclex: sub = VecOp.Fnclex; wait = true; break;
            case Mnemonic.Fnstsw: sub = VecOp.Fnstsw; break;
            case Mnemonic.Fstsw: sub = VecOp.Fnstsw; wait = true; break;
            case Mnemonic.Fnstcw: sub = VecOp.Fnstcw; break;
            case Mnemonic.Fstcw: sub = VecOp.Fnstcw; wait = true; break;
            case Mnemonic.Fldcw: sub = VecOp.Fldcw; break;
            case Mnemonic.Wait: sub = VecOp.Fwait; break;
            default: return false;
        }
        op.H = Handler.Vector;
        op.Sub = sub;
        op.Imm = wait ? 1 : 0;
        if (ins.OpCount > 0 && ins.Op0Kind == OpKind.Memory)
        {
            op.Form |= m is Mnemonic.Fxrstor or Mnemonic.Fxrstor64 or Mnemonic.Ldmxcsr or Mnemonic.Fldcw ? OpForm.MemSrc : OpForm.MemDst;
            BlockDecoder.SetMem(in ins, ref op);
        }
        else if (ins.OpCount > 0 && ins.Op0Register != Register.AX) return false;
        op.Size = (byte)(m is Mnemonic.Fxsave64 or Mnemonic.Fxrstor64 ? 8 : 4);
        return true;
    }

    /// <summary>The x87 computational and stack instructions (a form not mapped stays #UD: the 16-bit FLDENV/FRSTOR images).</summary>
    private static bool TranslateX87(in Instruction ins, ref Op op, Mnemonic m)
    {
        int imm = 0;
        byte sub;
        switch (m)
        {
            case Mnemonic.Fld: sub = VecOp.Fld; break;
            case Mnemonic.Fst: sub = VecOp.Fst; break;
            case Mnemonic.Fstp: sub = VecOp.Fst; imm = 1; break;
            case Mnemonic.Fild: sub = VecOp.Fild; break;
            case Mnemonic.Fist: sub = VecOp.Fist; break;
            case Mnemonic.Fistp: sub = VecOp.Fist; imm = 1; break;
            case Mnemonic.Fisttp: sub = VecOp.Fisttp; imm = 1; break;
            case Mnemonic.Fbld: sub = VecOp.Fbld; break;
            case Mnemonic.Fbstp: sub = VecOp.Fbstp; imm = 1; break;
            case Mnemonic.Fld1: sub = VecOp.Fconst; imm = 5 << 8; break;
            case Mnemonic.Fldz: sub = VecOp.Fconst; imm = 6 << 8; break;
            case Mnemonic.Fldpi: sub = VecOp.Fconst; imm = 0 << 8; break;
            case Mnemonic.Fldl2t: sub = VecOp.Fconst; imm = 1 << 8; break;
            case Mnemonic.Fldl2e: sub = VecOp.Fconst; imm = 2 << 8; break;
            case Mnemonic.Fldlg2: sub = VecOp.Fconst; imm = 3 << 8; break;
            case Mnemonic.Fldln2: sub = VecOp.Fconst; imm = 4 << 8; break;
            case Mnemonic.Fadd: case Mnemonic.Fiadd: sub = VecOp.Farith; imm = VecOp.Add << 8; break;
            case Mnemonic.Faddp: sub = VecOp.Farith; imm = VecOp.Add << 8 | 1; break;
            case Mnemonic.Fmul: case Mnemonic.Fimul: sub = VecOp.Farith; imm = VecOp.Mul << 8; break;
            case Mnemonic.Fmulp: sub = VecOp.Farith; imm = VecOp.Mul << 8 | 1; break;
            case Mnemonic.Fsub: case Mnemonic.Fisub: sub = VecOp.Farith; imm = VecOp.Sub << 8; break;
            case Mnemonic.Fsubp: sub = VecOp.Farith; imm = VecOp.Sub << 8 | 1; break;
            case Mnemonic.Fsubr: case Mnemonic.Fisubr: sub = VecOp.Farith; imm = VecOp.Sub << 8 | X87Bits.Reverse; break;
            case Mnemonic.Fsubrp: sub = VecOp.Farith; imm = VecOp.Sub << 8 | X87Bits.Reverse | 1; break;
            case Mnemonic.Fdiv: case Mnemonic.Fidiv: sub = VecOp.Farith; imm = VecOp.Div << 8; break;
            case Mnemonic.Fdivp: sub = VecOp.Farith; imm = VecOp.Div << 8 | 1; break;
            case Mnemonic.Fdivr: case Mnemonic.Fidivr: sub = VecOp.Farith; imm = VecOp.Div << 8 | X87Bits.Reverse; break;
            case Mnemonic.Fdivrp: sub = VecOp.Farith; imm = VecOp.Div << 8 | X87Bits.Reverse | 1; break;
            case Mnemonic.Fcom: case Mnemonic.Ficom: sub = VecOp.Fcom; break;
            case Mnemonic.Fcomp: case Mnemonic.Ficomp: sub = VecOp.Fcom; imm = 1; break;
            case Mnemonic.Fcompp: sub = VecOp.Fcom; imm = 2; break;
            case Mnemonic.Fucom: sub = VecOp.Fcom; imm = X87Bits.Unordered; break;
            case Mnemonic.Fucomp: sub = VecOp.Fcom; imm = X87Bits.Unordered | 1; break;
            case Mnemonic.Fucompp: sub = VecOp.Fcom; imm = X87Bits.Unordered | 2; break;
            case Mnemonic.Fcomi: sub = VecOp.Fcom; imm = X87Bits.Eflags; break;
            case Mnemonic.Fcomip: sub = VecOp.Fcom; imm = X87Bits.Eflags | 1; break;
            case Mnemonic.Fucomi: sub = VecOp.Fcom; imm = X87Bits.Eflags | X87Bits.Unordered; break;
            case Mnemonic.Fucomip: sub = VecOp.Fcom; imm = X87Bits.Eflags | X87Bits.Unordered | 1; break;
            case Mnemonic.Ftst: sub = VecOp.Ftst; break;
            case Mnemonic.Fxam: sub = VecOp.Fxam; break;
            case Mnemonic.Fchs: sub = VecOp.Fchs; break;
            case Mnemonic.Fabs: sub = VecOp.Fabs; break;
            case Mnemonic.Fsqrt: sub = VecOp.Fsqrt; break;
            case Mnemonic.Frndint: sub = VecOp.Frndint; break;
            case Mnemonic.Fscale: sub = VecOp.Fscale; break;
            case Mnemonic.Fxtract: sub = VecOp.Fxtract; break;
            case Mnemonic.Fprem: sub = VecOp.Fprem; break;
            case Mnemonic.Fprem1: sub = VecOp.Fprem; imm = X87Bits.Reverse; break;
            case Mnemonic.Fxch: sub = VecOp.Fxch; break;
            case Mnemonic.Fcmovb: sub = VecOp.Fcmov; imm = 2 << 8; break;
            case Mnemonic.Fcmovnb: sub = VecOp.Fcmov; imm = 3 << 8; break;
            case Mnemonic.Fcmove: sub = VecOp.Fcmov; imm = 4 << 8; break;
            case Mnemonic.Fcmovne: sub = VecOp.Fcmov; imm = 5 << 8; break;
            case Mnemonic.Fcmovbe: sub = VecOp.Fcmov; imm = 6 << 8; break;
            case Mnemonic.Fcmovnbe: sub = VecOp.Fcmov; imm = 7 << 8; break;
            case Mnemonic.Fcmovu: sub = VecOp.Fcmov; imm = 10 << 8; break;
            case Mnemonic.Fcmovnu: sub = VecOp.Fcmov; imm = 11 << 8; break;
            case Mnemonic.Ffree: sub = VecOp.Ffree; break;
            case Mnemonic.Ffreep: sub = VecOp.Ffree; imm = 1; break;
            case Mnemonic.Fincstp: sub = VecOp.Fincstp; break;
            case Mnemonic.Fdecstp: sub = VecOp.Fdecstp; break;
            case Mnemonic.Fnop: sub = VecOp.Fnop; break;
            case Mnemonic.Fnstenv: sub = VecOp.Fnstenv; break;
            case Mnemonic.Fstenv: sub = VecOp.Fnstenv; imm = X87Bits.Wait; break;
            case Mnemonic.Fldenv: sub = VecOp.Fldenv; break;
            case Mnemonic.Fnsave: sub = VecOp.Fnsave; break;
            case Mnemonic.Fsave: sub = VecOp.Fnsave; imm = X87Bits.Wait; break;
            case Mnemonic.Frstor: sub = VecOp.Frstor; break;
            case Mnemonic.F2xm1: sub = VecOp.F2xm1; break;
            case Mnemonic.Fyl2x: sub = VecOp.Fyl2x; imm = 1; break;
            case Mnemonic.Fyl2xp1: sub = VecOp.Fyl2xp1; imm = 1; break;
            case Mnemonic.Fptan: sub = VecOp.Fptan; break;
            case Mnemonic.Fpatan: sub = VecOp.Fpatan; imm = 1; break;
            case Mnemonic.Fsin: sub = VecOp.Fsin; break;
            case Mnemonic.Fcos: sub = VecOp.Fcos; break;
            case Mnemonic.Fsincos: sub = VecOp.Fsincos; break;
            default: return false;
        }
        op.H = Handler.Vector;
        op.Sub = sub;
        op.R1 = op.R2 = 0;
        int st = 0;
        for (int i = 0; i < ins.OpCount; i++)
        {
            var k = ins.GetOpKind(i);
            if (k == OpKind.Register)
            {
                var r = ins.GetOpRegister(i);
                if (r < Register.ST0 || r > Register.ST7) return false;
                if (st++ == 0) op.R1 = (byte)(r - Register.ST0); else op.R2 = (byte)(r - Register.ST0);
            }
            else if (k == OpKind.Memory)
            {
                op.Form |= sub is VecOp.Fst or VecOp.Fist or VecOp.Fisttp or VecOp.Fbstp or VecOp.Fnstenv or VecOp.Fnsave
                    ? OpForm.MemDst : OpForm.MemSrc;
                BlockDecoder.SetMem(in ins, ref op);
                op.Size = (byte)ins.MemorySize.GetSize();
                op.Size2 = ins.MemorySize switch
                {
                    MemorySize.Int16 or MemorySize.Int32 or MemorySize.Int64 => X87Mem.Int,
                    MemorySize.Bcd => X87Mem.Bcd,
                    _ => X87Mem.Float,
                };
            }
            else return false;
        }
        // The 16-bit environment images (FLDENV/FNSTENV m14, FRSTOR/FNSAVE m94) need an operand-size prefix: #UD here.
        if (sub is VecOp.Fnstenv or VecOp.Fldenv && op.Size != 28 || sub is VecOp.Fnsave or VecOp.Frstor && op.Size != 108) return false;
        op.Imm = imm;
        return true;
    }

    private static bool Map(Mnemonic m, Code code, out byte sub, out byte fmt)
    {
        fmt = 0;
        sub = m switch
        {
            Mnemonic.Movaps or Mnemonic.Movups or Mnemonic.Movapd or Mnemonic.Movupd or Mnemonic.Movdqa or Mnemonic.Movdqu
                or Mnemonic.Movntps or Mnemonic.Movntpd or Mnemonic.Movntdq => VecOp.Mov128,
            Mnemonic.Movss or Mnemonic.Movsd => VecOp.MovScalar,
            Mnemonic.Movd => code switch { Code.Movd_xmm_rm32 => VecOp.MovdTo, Code.Movd_rm32_xmm => VecOp.MovdFrom, _ => 0 },
            Mnemonic.Movq => code switch
            {
                Code.Movq_xmm_rm64 => VecOp.MovdTo,
                Code.Movq_rm64_xmm => VecOp.MovdFrom,
                Code.Movq_xmm_xmmm64 => VecOp.MovqLoad,
                Code.Movq_xmmm64_xmm => VecOp.MovqLoad,
                _ => 0,
            },
            Mnemonic.Movlps or Mnemonic.Movlpd => VecOp.MovLo,
            Mnemonic.Movhps or Mnemonic.Movhpd => VecOp.MovHi,
            Mnemonic.Movhlps => VecOp.Movhlps,
            Mnemonic.Movlhps => VecOp.Movlhps,
            Mnemonic.Movmskps or Mnemonic.Movmskpd => VecOp.Movmsk,
            Mnemonic.Pmovmskb => VecOp.Pmovmskb,
            Mnemonic.Maskmovdqu => VecOp.Maskmovdqu,
            Mnemonic.Andps or Mnemonic.Andpd or Mnemonic.Pand => VecOp.And,
            Mnemonic.Andnps or Mnemonic.Andnpd or Mnemonic.Pandn => VecOp.Andn,
            Mnemonic.Orps or Mnemonic.Orpd or Mnemonic.Por => VecOp.Or,
            Mnemonic.Xorps or Mnemonic.Xorpd or Mnemonic.Pxor => VecOp.Xor,
            Mnemonic.Shufps => VecOp.Shufps,
            Mnemonic.Shufpd => VecOp.Shufpd,
            Mnemonic.Unpcklps => VecOp.Unpckl, Mnemonic.Unpckhps => VecOp.Unpckh,
            Mnemonic.Unpcklpd => VecOp.Unpckl, Mnemonic.Unpckhpd => VecOp.Unpckh,
            Mnemonic.Punpcklbw or Mnemonic.Punpcklwd or Mnemonic.Punpckldq or Mnemonic.Punpcklqdq => VecOp.Unpckl,
            Mnemonic.Punpckhbw or Mnemonic.Punpckhwd or Mnemonic.Punpckhdq or Mnemonic.Punpckhqdq => VecOp.Unpckh,
            Mnemonic.Pshufd => VecOp.Pshufd, Mnemonic.Pshuflw => VecOp.Pshuflw, Mnemonic.Pshufhw => VecOp.Pshufhw,
            Mnemonic.Paddb or Mnemonic.Paddw or Mnemonic.Paddd or Mnemonic.Paddq => VecOp.Padd,
            Mnemonic.Psubb or Mnemonic.Psubw or Mnemonic.Psubd or Mnemonic.Psubq => VecOp.Psub,
            Mnemonic.Paddsb or Mnemonic.Paddsw => VecOp.Padds,
            Mnemonic.Paddusb or Mnemonic.Paddusw => VecOp.Paddus,
            Mnemonic.Psubsb or Mnemonic.Psubsw => VecOp.Psubs,
            Mnemonic.Psubusb or Mnemonic.Psubusw => VecOp.Psubus,
            Mnemonic.Pcmpeqb or Mnemonic.Pcmpeqw or Mnemonic.Pcmpeqd => VecOp.Pcmpeq,
            Mnemonic.Pcmpgtb or Mnemonic.Pcmpgtw or Mnemonic.Pcmpgtd => VecOp.Pcmpgt,
            Mnemonic.Psllw or Mnemonic.Pslld or Mnemonic.Psllq => VecOp.Psll,
            Mnemonic.Psrlw or Mnemonic.Psrld or Mnemonic.Psrlq => VecOp.Psrl,
            Mnemonic.Psraw or Mnemonic.Psrad => VecOp.Psra,
            Mnemonic.Pslldq => VecOp.Pslldq, Mnemonic.Psrldq => VecOp.Psrldq,
            Mnemonic.Packsswb => VecOp.Packsswb, Mnemonic.Packssdw => VecOp.Packssdw, Mnemonic.Packuswb => VecOp.Packuswb,
            Mnemonic.Pmaddwd => VecOp.Pmaddwd, Mnemonic.Pmulhw => VecOp.Pmulhw, Mnemonic.Pmulhuw => VecOp.Pmulhuw,
            Mnemonic.Pmullw => VecOp.Pmullw, Mnemonic.Pmuludq => VecOp.Pmuludq,
            Mnemonic.Pminub => VecOp.Pminub, Mnemonic.Pmaxub => VecOp.Pmaxub, Mnemonic.Pminsw => VecOp.Pminsw, Mnemonic.Pmaxsw => VecOp.Pmaxsw,
            Mnemonic.Pavgb => VecOp.Pavgb, Mnemonic.Pavgw => VecOp.Pavgw, Mnemonic.Psadbw => VecOp.Psadbw,
            Mnemonic.Pinsrw => VecOp.Pinsrw,
            Mnemonic.Pextrw => code == Code.Pextrw_r32_xmm_imm8 ? VecOp.Pextrw : (byte)0,
            _ => 0,
        };
        if (sub == 0) sub = MapFloat(m, out fmt);
        if (sub == 0) return false;
        if (sub is VecOp.MovScalar or VecOp.Movmsk or VecOp.MovLo or VecOp.MovHi or VecOp.Unpckl or VecOp.Unpckh)
            fmt = ElementOrFormat(m);
        else if (sub is VecOp.Padd or VecOp.Psub or VecOp.Padds or VecOp.Paddus or VecOp.Psubs or VecOp.Psubus or VecOp.Pcmpeq
            or VecOp.Pcmpgt or VecOp.Psll or VecOp.Psrl or VecOp.Psra)
            fmt = ElementOrFormat(m);
        return true;
    }

    /// <summary>The lane format (ps/pd/ss/sd) or integer element size (1, 2, 4, 8, 16 bytes) a mnemonic names.</summary>
    private static byte ElementOrFormat(Mnemonic m)
    {
        string s = m.ToString();
        if (s is "Movss") return VecFmt.Ss;
        if (s is "Movsd") return VecFmt.Sd;
        if (s.EndsWith("qdq")) return 8;
        if (s.EndsWith("ps")) return 4;
        if (s.EndsWith("pd")) return 8;
        if (s.StartsWith("Punpck")) return s.EndsWith("bw") ? (byte)1 : s.EndsWith("wd") ? (byte)2 : (byte)4;
        return s[^1] switch { 'b' => 1, 'w' => 2, 'd' => 4, _ => 8 };
    }

    private static byte MapFloat(Mnemonic m, out byte fmt)
    {
        string s = m.ToString();
        fmt = 0;
        byte sub = s switch
        {
            "Addps" or "Addpd" or "Addss" or "Addsd" => VecOp.Add,
            "Subps" or "Subpd" or "Subss" or "Subsd" => VecOp.Sub,
            "Mulps" or "Mulpd" or "Mulss" or "Mulsd" => VecOp.Mul,
            "Divps" or "Divpd" or "Divss" or "Divsd" => VecOp.Div,
            "Minps" or "Minpd" or "Minss" or "Minsd" => VecOp.Min,
            "Maxps" or "Maxpd" or "Maxss" or "Maxsd" => VecOp.Max,
            "Sqrtps" or "Sqrtpd" or "Sqrtss" or "Sqrtsd" => VecOp.Sqrt,
            "Cmpps" or "Cmppd" or "Cmpss" or "Cmpsd" => VecOp.Cmp,
            "Comiss" or "Comisd" => VecOp.Comi,
            "Ucomiss" or "Ucomisd" => VecOp.Ucomi,
            "Cvtsi2ss" or "Cvtsi2sd" => VecOp.CvtSi2F,
            "Cvtss2si" or "Cvtsd2si" => VecOp.CvtF2Si,
            "Cvttss2si" or "Cvttsd2si" => VecOp.CvttF2Si,
            "Cvtss2sd" or "Cvtsd2ss" => VecOp.CvtF2F,
            "Cvtdq2ps" => VecOp.Cvtdq2ps, "Cvtdq2pd" => VecOp.Cvtdq2pd, "Cvtps2dq" => VecOp.Cvtps2dq,
            "Cvttps2dq" => VecOp.Cvttps2dq, "Cvtpd2dq" => VecOp.Cvtpd2dq, "Cvttpd2dq" => VecOp.Cvttpd2dq,
            "Cvtps2pd" => VecOp.Cvtps2pd, "Cvtpd2ps" => VecOp.Cvtpd2ps,
            _ => 0,
        };
        if (sub == 0) return 0;
        // The format of the source operand: ps/ss single, pd/sd double (cvtsi2ss/sd: the destination's).
        if (s.StartsWith("Cvtss") || s.StartsWith("Cvttss")) fmt = VecFmt.Ss;
        else if (s.StartsWith("Cvtsd") || s.StartsWith("Cvttsd")) fmt = VecFmt.Sd;
        else if (s.EndsWith("ss")) fmt = VecFmt.Ss;
        else if (s.EndsWith("sd")) fmt = VecFmt.Sd;
        else if (s.EndsWith("pd")) fmt = VecFmt.Pd;
        return sub;
    }
}
