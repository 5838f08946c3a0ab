namespace Lvd.Machine.Decoding;

/// <summary>
/// What the executor does for one pre-decoded instruction. Operand forms (register, memory,
/// immediate) travel in <see cref="Op.Form"/>; sub-operations (ALU op, condition code, shift
/// kind, rep kind) in <see cref="Op.Sub"/>.
/// </summary>
internal enum Handler : ushort
{
    Invalid,
    Nop,
    // data movement
    Mov, MovRR64, MovRR32, MovRI, MovLoad64, MovLoad32, MovStore64, MovStore32,
    /// <summary>
    /// MOV of an immediate to 8 or 4 bytes of memory; MOVZX of a byte or word and MOVSXD of a dword from memory to a full
    /// register.
    /// </summary>
    MovStoreImm64, MovStoreImm32, MovZxLoad8, MovZxLoad16, MovSxdLoad,
    /// <summary>MOV of a low byte register (AL ... R15B) to memory; MOVZX of a low byte or word register into a full register.</summary>
    MovStore8, MovZxRR8, MovZxRR16,
    MovZx, MovSx, Lea, Xchg, Push, PushR64, Pop, PopR64, Cmov, Setcc,
        Bswap,
    Cbw, Cwd, Lahf, Sahf, FlagBit, Enter, Leave, MovFromSeg, MovToSeg,
    // integer arithmetic
    /// <summary>ALU ops with a full-register destination: AluRR64 ... AluRM32 keep ADC and SBB (the sub-op in Sub).</summary>
    Alu, AluRR64, AluRR32, AluRI64, AluRI32, AluRM64, AluRM32,
    /// <summary>
    /// The register and immediate forms with one handler per sub-op (tier 0: no sub-op switch, the flags kind a constant),
    /// in the order RR64, RR32, RI64, RI32 of the forms above (BlockDecoder.AluHandler); memory sources stay on AluRM64/32.
    /// </summary>
    AddRR64, AddRR32, AddRI64, AddRI32,
        OrRR64, OrRR32, OrRI64, OrRI32,
        AndRR64, AndRR32, AndRI64, AndRI32,
        SubRR64, SubRR32, SubRI64, SubRI32,
        XorRR64, XorRR32, XorRI64, XorRI32,
        CmpRR64, CmpRR32, CmpRI64, CmpRI32,
    /// <summary>SHL, SHR, SAR of a 64- or 32-bit register by an immediate count that is not 0 once masked.</summary>
    ShlRI64, ShlRI32, ShrRI64, ShrRI32, SarRI64, SarRI32,
    /// <summary>Superinstructions: CMP/TEST on registers fused with the Jcc that follows (one dispatch for both).</summary>
    CmpRRJcc, CmpRIJcc, TestRRJcc, Test, Inc, Dec, Neg, Not, Shift, Shld, Shrd, Mul, Imul1, Imul2, Imul3, Div, Idiv,
    Bt, Bsf, Bsr, Tzcnt, Lzcnt, Popcnt, Cmpxchg, Xadd, Cmpxchg16b, Andn, Bextr, Blsi, Blsmsk, Blsr,
    /// <summary>x87, FXSAVE and SSE/SSE2: one cold handler, the operation in Sub (<see cref="VecOp"/>; Execution/Cpu.Fpu.cs).</summary>
    Vector,
    /// <summary>
    /// 32-bit-mode stack and branch forms (ESP, EIP wrap): one cold handler, the operation in Sub
    /// (<see cref="LegacyOp"/>; Execution/Cpu.Mode32.cs).
    /// </summary>
    Legacy,
    // control flow
    Jmp, JmpInd, Jcc, Call, CallInd, Ret, Jrcxz, Loop,
    // strings
    Movs, Stos, Lods, Cmps, Scas,
    /// <summary>Placed over the rest of a block whose code was just overwritten: leave the block here.</summary>
    Resync,
    // system
    Cli, Sti, Pushf, Popf, Hlt, In, Out, Cpuid, Rdtsc, Rdtscp, Rdmsr, Wrmsr, Swapgs, RdSegBase, WrSegBase,
    MovToCr, MovFromCr, Lgdt, Lidt, Sgdt, Sidt, Ltr, Str, Lldt, Sldt, Invlpg, Iret, Retf, Syscall, Sysret,
    Int, Int3, Int1, Ud, Vmcall, Vmfunc, Xsetbv, Xgetbv, MovToDr, MovFromDr, Pause, Wbinvd, Rdpid, Invpcid, Clts,
    /// <summary>Far JMP/CALL (ptr16:32, m16:32, m16:64): a new CS from the GDT/LDT, possibly another mode.</summary>
    FarJmp, FarCall,
}

/// <summary>Sub-operation codes stored in <see cref="Op.Sub"/>.</summary>
internal static class AluOp
{
    // Same order as the x86 /digit encoding of the 0x80 group.
    public const byte Add = 0, Or = 1, Adc = 2, Sbb = 3, And = 4, Sub = 5, Xor = 6, Cmp = 7;
}

internal static class ShiftOp
{
    // Same order as the x86 /digit encoding of the 0xC0/0xD0 group.
    public const byte Rol = 0, Ror = 1, Rcl = 2, Rcr = 3, Shl = 4, Shr = 5, Sal = 6, Sar = 7;
}

/// <summary>
/// Sub-operations of <see cref="Handler.Legacy"/>: the forms whose 32-bit-mode meaning differs from
/// the 64-bit handlers (stack through ESP, branch targets truncated to the operand size).
/// Size is the operand size (2 or 4); for Jcc R1 is the condition, for LOOP R1 the kind and
/// Size2 the counter size (CX/ECX), for JCXZ Size2 the counter size; PUSH/POP Sreg name the segment in R1.
/// </summary>
internal static class LegacyOp
{
    public const byte Push = 0, Pop = 1, PushSeg = 2, PopSeg = 3, Pusha = 4, Popa = 5, Jmp = 6, Jcc = 7, JmpInd = 8, Call = 9,
        CallInd = 10, Ret = 11, Loop = 12, Jcxz = 13, Enter = 14, Leave = 15;
}

internal static class RepKind
{
    public const byte None = 0, Rep = 1, Repne = 2;
}
