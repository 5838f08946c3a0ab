using Iced.Intel;

namespace Lvd.Machine.Decoding;

/// <summary>
/// Decoding at bitness 32 (compatibility mode and 32-bit protected mode, docs/CPU-MODES.md).
/// Iced decodes with 32-bit default operand and address sizes and no REX; most instructions then
/// map exactly as in 64-bit mode (32-bit registers zero-extend, memory operands carry
/// <see cref="OpForm.Addr32"/>). What differs goes to <see cref="Handler.Legacy"/>: the stack
/// (ESP, 4- or 2-byte slots), branch targets (truncated to the operand size), PUSHA/POPA and the
/// segment-register pushes and pops. What the machine does not model becomes #UD here: 16-bit
/// addressing, FS/GS/CS segment overrides, the BCD instructions, BOUND, ARPL, INTO, LDS/LES and
/// the other far-pointer loads, SYSCALL/SYSRET (#UD outside 64-bit mode on Intel anyway).
/// Segment bases are not added: a 32-bit chain starts only with flat CS/SS/DS/ES
/// (Cpu.Check32Segments).
/// </summary>
internal sealed partial class BlockDecoder
{
    private bool Translate32(in Instruction ins, ref Op op, ref bool ends)
    {
        if (!Supported32(in ins)) return false;
        var m = ins.Mnemonic;
        switch (m)
        {
            case Mnemonic.Push:
            case Mnemonic.Pop:
            {
                bool push = m == Mnemonic.Push;
                op.H = Handler.Legacy;
                op.Size = (byte)(ins.Code is Code.Push_r16 or Code.Push_rm16 or Code.Pushw_imm8 or Code.Push_imm16 or Code.Pop_r16
                    or Code.Pop_rm16 or Code.Pushw_ES or Code.Pushw_CS or Code.Pushw_SS or Code.Pushw_DS or Code.Pushw_FS or Code.Pushw_GS
                    or Code.Popw_ES or Code.Popw_SS or Code.Popw_DS or Code.Popw_FS or Code.Popw_GS ? 2 : 4);
                if (ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister())
                {
                    op.Sub = push ? LegacyOp.PushSeg : LegacyOp.PopSeg;
                    op.R1 = (byte)(ins.Op0Register - Register.ES);
                    // A segment load: back to the run loop, which checks the segments of a 32-bit chain.
                    if (!push) ends = true;
                    return true;
                }
                op.Sub = push ? LegacyOp.Push : LegacyOp.Pop;
                if (ins.Op0Kind == OpKind.Register) { if (push) op.R2 = RegIndex(ins.Op0Register); else op.R1 = RegIndex(ins.Op0Register); }
                else if (ins.Op0Kind == OpKind.Memory) { op.Form |= push ? OpForm.MemSrc : OpForm.MemDst; SetMem(in ins, ref op); }
                else { op.Form |= OpForm.ImmSrc; op.Imm = (long)ins.GetImmediate(0); }
                return true;
            }
            case Mnemonic.Pushad: case Mnemonic.Pusha:
            case Mnemonic.Popad: case Mnemonic.Popa:
                op.H = Handler.Legacy;
                op.Sub = m is Mnemonic.Pushad or Mnemonic.Pusha ? LegacyOp.Pusha : LegacyOp.Popa;
                op.Size = (byte)(m is Mnemonic.Pushad or Mnemonic.Popad ? 4 : 2);
                return true;
            case Mnemonic.Pushfd: op.H = Handler.Pushf; op.Size = 4; op.Size2 = 4; return true;
            case Mnemonic.Pushf: op.H = Handler.Pushf; op.Size = 2; op.Size2 = 4; return true;
            case Mnemonic.Popfd: op.H = Handler.Popf; op.Size = 4; op.Size2 = 4; ends = true; return true;
            case Mnemonic.Popf: op.H = Handler.Popf; op.Size = 2; op.Size2 = 4; ends = true; return true;
            case Mnemonic.Enter:
                if (ins.Code != Code.Enterd_imm16_imm8) return false;
                op.H = Handler.Legacy; op.Sub = LegacyOp.Enter; op.Size = 4;
                op.Imm = (long)ins.GetImmediate(0); op.Disp = (long)ins.GetImmediate(1);
                return true;
            case Mnemonic.Leave:
                if (ins.Code != Code.Leaved) return false;
                op.H = Handler.Legacy; op.Sub = LegacyOp.Leave; op.Size = 4;
                return true;

            case Mnemonic.Jmp:
            case Mnemonic.Call:
            {
                bool call = m == Mnemonic.Call;
                ends = true; op.Cost = _costs.Branch;
                if (TranslateFar(in ins, ref op, call ? Handler.FarCall : Handler.FarJmp)) return true;
                op.H = Handler.Legacy;
                if (ins.Op0Kind is OpKind.NearBranch32 or OpKind.NearBranch16)
                {
                    op.Sub = call ? LegacyOp.Call : LegacyOp.Jmp;
                    op.Size = (byte)(ins.Op0Kind == OpKind.NearBranch16 ? 2 : 4);
                    op.Imm = (long)(ins.NearBranchTarget - ins.NextIP);
                    return true;
                }
                op.Sub = call ? LegacyOp.CallInd : LegacyOp.JmpInd;
                op.Size = (byte)(ins.Code is Code.Jmp_rm16 or Code.Call_rm16 ? 2 : 4);
                if (ins.Op0Kind == OpKind.Register) op.R2 = RegIndex(ins.Op0Register);
                else if (ins.Op0Kind == OpKind.Memory) { op.Form |= OpForm.MemSrc; SetMem(in ins, ref op); }
                else return false;
                return true;
            }
            case Mnemonic.Jo: case Mnemonic.Jno: case Mnemonic.Jb: case Mnemonic.Jae:
            case Mnemonic.Je: case Mnemonic.Jne: case Mnemonic.Jbe: case Mnemonic.Ja:
            case Mnemonic.Js: case Mnemonic.Jns: case Mnemonic.Jp: case Mnemonic.Jnp:
            case Mnemonic.Jl: case Mnemonic.Jge: case Mnemonic.Jle: case Mnemonic.Jg:
                ends = true; op.Cost = _costs.Branch;
                op.H = Handler.Legacy; op.Sub = LegacyOp.Jcc; op.R1 = Cond(ins.ConditionCode);
                op.Size = (byte)(ins.Op0Kind == OpKind.NearBranch16 ? 2 : 4);
                op.Imm = (long)(ins.NearBranchTarget - ins.NextIP);
                return true;
            case Mnemonic.Jecxz: case Mnemonic.Jcxz:
                ends = true; op.Cost = _costs.Branch;
                op.H = Handler.Legacy; op.Sub = LegacyOp.Jcxz; op.Size2 = (byte)(m == Mnemonic.Jecxz ? 4 : 2);
                op.Size = (byte)(ins.Op0Kind == OpKind.NearBranch16 ? 2 : 4);
                op.Imm = (long)(ins.NearBranchTarget - ins.NextIP);
                return true;
            case Mnemonic.Loop: case Mnemonic.Loope: case Mnemonic.Loopne:
                ends = true; op.Cost = _costs.Branch;
                op.H = Handler.Legacy; op.Sub = LegacyOp.Loop; op.R1 = (byte)(m == Mnemonic.Loop ? 0 : m == Mnemonic.Loope ? 1 : 2);
                // The counter is ECX, or CX with a 0x67 prefix (SDM LOOP: address size).
                op.Size2 = (byte)(ins.Code is Code.Loop_rel8_16_CX or Code.Loop_rel8_32_CX or Code.Loope_rel8_16_CX or Code.Loope_rel8_32_CX
                    or Code.Loopne_rel8_16_CX or Code.Loopne_rel8_32_CX ? 2 : 4);
                op.Size = (byte)(ins.Op0Kind == OpKind.NearBranch16 ? 2 : 4);
                op.Imm = (long)(ins.NearBranchTarget - ins.NextIP);
                return true;
            case Mnemonic.Ret:
                ends = true; op.Cost = _costs.Branch;
                if (ins.Code is not (Code.Retnd or Code.Retnd_imm16 or Code.Retnw or Code.Retnw_imm16)) return false;
                op.H = Handler.Legacy; op.Sub = LegacyOp.Ret;
                op.Size = (byte)(ins.Code is Code.Retnw or Code.Retnw_imm16 ? 2 : 4);
                op.Imm = ins.OpCount > 0 ? (long)ins.GetImmediate(0) : 0;
                return true;
            case Mnemonic.Syscall: case Mnemonic.Sysret: case Mnemonic.Sysretq:
                return false; // SDM SYSCALL/SYSRET: #UD outside 64-bit mode (Intel)
        }
        if (!TranslateCore(in ins, ref op, out ends)) return false;
        op.Seg = 0; // flat: every base is 0 (checked at the chain's start)
        if (op.H is Handler.Iret && op.Size == 8) return false; // IRETQ needs REX.W: cannot occur
        return true;
    }

    /// <summary>What 32-bit decoding refuses (#UD): 16-bit addressing, FS/GS/CS overrides, 16-bit string operands.</summary>
    private static bool Supported32(in Instruction ins)
    {
        for (int i = 0; i < ins.OpCount; i++)
        {
            var k = ins.GetOpKind(i);
            if (k is OpKind.MemorySegSI or OpKind.MemorySegDI or OpKind.MemoryESDI) return false;
            if (k != OpKind.Memory) continue;
            if (ins.MemoryBase.IsGPR16() || ins.MemoryIndex.IsGPR16()) return false;
            if (ins.MemoryBase == Register.None && ins.MemoryIndex == Register.None && ins.MemoryDisplSize == 2) return false;
        }
        if (ins.OpCount > 0 && (ins.Op0Kind is OpKind.Memory or OpKind.MemorySegESI || (ins.OpCount > 1 && ins.Op1Kind is OpKind.Memory
            or OpKind.MemorySegESI)) && ins.MemorySegment is Register.FS or Register.GS or Register.CS) return false;
        return ins.Mnemonic is not (Mnemonic.Daa or Mnemonic.Das or Mnemonic.Aaa or Mnemonic.Aas or Mnemonic.Aam or Mnemonic.Aad
            or Mnemonic.Bound or Mnemonic.Arpl or Mnemonic.Into or Mnemonic.Salc or Mnemonic.Lds or Mnemonic.Les or Mnemonic.Lss
            or Mnemonic.Lfs or Mnemonic.Lgs or Mnemonic.Xlatb or Mnemonic.Sysenter or Mnemonic.Sysexit);
    }

    /// <summary>
    /// Far JMP/CALL: ptr16:32 (Imm = offset, Disp = selector; 32-bit mode only) or m16:32 / m16:64
    /// (Size = the offset's bytes). 16-bit far pointers are not modeled.
    /// </summary>
    private bool TranslateFar(in Instruction ins, ref Op op, Handler h)
    {
        switch (ins.Code)
        {
            case Code.Jmp_ptr1632: case Code.Call_ptr1632:
                op.H = h; op.Size = 4; op.Imm = ins.FarBranch32; op.Disp = ins.FarBranchSelector;
                break;
            case Code.Jmp_m1632: case Code.Call_m1632:
                op.H = h; op.Size = 4; op.Form |= OpForm.MemSrc; SetMem(in ins, ref op);
                break;
            case Code.Jmp_m1664: case Code.Call_m1664:
                op.H = h; op.Size = 8; op.Form |= OpForm.MemSrc; SetMem(in ins, ref op);
                break;
            default:
                return false;
        }
        op.Cost = _costs.Branch;
        return true;
    }
}
