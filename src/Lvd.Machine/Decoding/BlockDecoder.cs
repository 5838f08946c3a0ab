using Iced.Intel;
using Lvd.Machine.Cost;

namespace Lvd.Machine.Decoding;

/// <summary>
/// Turns Iced's decoded instructions into our compact <see cref="Op"/> form. Iced is the only
/// decoder; this class only maps mnemonic + operand kinds to a handler and resolves registers,
/// immediates and the memory operand once.
/// </summary>
internal sealed partial class BlockDecoder
{
    public const int MaxOpsPerBlock = 64;

    private readonly CostModel _costs;
    private readonly int _maxOps;
    private readonly Op[] _scratch = new Op[MaxOpsPerBlock];
    /// <summary>64 (64-bit mode) or 32 (compatibility and protected mode: BlockDecoder.Mode32.cs).</summary>
    private readonly int _bitness;

    /// <summary>The block model, when the cost model has a timing table (docs/COST-MODEL.md, Block timing).</summary>
    private readonly BlockTiming? _timing;

    /// <param name="maxOps">Instructions per block at most (1 for tracing).</param>
    /// <param name="bitness">64, or 32 for code whose CS has L=0, D=1 (docs/CPU-MODES.md).</param>
    public BlockDecoder(CostModel costs, int maxOps = MaxOpsPerBlock, int bitness = 64)
    {
        _costs = costs;
        if (costs.Timing != null) _timing = new BlockTiming(costs.Timing);
        _maxOps = Math.Clamp(maxOps, 1, MaxOpsPerBlock);
        _bitness = bitness;
    }

    /// <summary>
    /// Decodes a block from <paramref name="code"/> (bytes from the block start to the end of its
    /// page, plus up to 15 bytes of the next page when readable). An instruction that would
    /// cross the page end is decoded only as the first instruction of a block and the block is
    /// then marked so the caller does not cache it.
    /// </summary>
    public Block Decode(ReadOnlySpan<byte> code, int bytesInPage, ulong rip, ulong physAddr, out bool crossesPage, int maxOps = MaxOpsPerBlock)
    {
        maxOps = Math.Min(maxOps, _maxOps);
        var reader = new SpanReader(code.ToArray());
        var decoder = Iced.Intel.Decoder.Create(_bitness, reader, rip, DecoderOptions.None);
        int count = 0, offset = 0;
        crossesPage = false;
        while (count < maxOps)
        {
            decoder.Decode(out var ins);
            if (ins.IsInvalid && decoder.LastError == DecoderError.NoMoreBytes)
            {
                if (count > 0) break;
                // The first instruction needs bytes beyond what could be fetched: the caller
                // raises the #PF of the next page (never caches this block).
                ref var u = ref _scratch[count++];
                u = default; u.H = Handler.Ud; u.Len = 1; u.Imm = -1;
                crossesPage = true;
                offset = 1;
                break;
            }
            if (offset + ins.Length > bytesInPage)
            {
                if (count > 0) break; // let it start its own (uncached) block
                crossesPage = true;
            }
            ref var op = ref _scratch[count++];
            op = default;
            op.Offset = (ushort)offset;
            op.Len = (byte)ins.Length;
            bool ends = Translate(in ins, ref op);
            // System and string instructions keep the cost file's cycles; the model prices the rest.
            _timing?.Note(count - 1, in ins, modeled: op.H < Handler.Movs);
            offset += ins.Length;
            if (ends || offset >= bytesInPage) break;
        }
        Fuse(count);
        int fraction = _timing?.Price(_scratch, count) ?? 0;
        return new Block(_scratch.AsSpan(0, count).ToArray(), physAddr, offset, fraction) { Mode32 = _bitness == 32 };
    }

    /// <summary>
    /// A CMP or TEST of registers (or a register and an immediate) right before the block's
    /// closing Jcc becomes one superinstruction that also takes the branch; the Jcc op stays in
    /// place (it supplies condition and target, and keeps offsets and counts exact).
    /// </summary>
    private void Fuse(int count)
    {
        if (count < 2 || _scratch[count - 1].H != Handler.Jcc) return;
        ref var op = ref _scratch[count - 2];
        if (op.H is Handler.CmpRR32 or Handler.CmpRR64) op.H = Handler.CmpRRJcc;
        else if (op.H is Handler.CmpRI32 or Handler.CmpRI64) op.H = Handler.CmpRIJcc;
        else if (op.H == Handler.Test && op.Form == OpForm.None && op.Size >= 4 && op.R1 < 16 && op.R2 < 16) op.H = Handler.TestRRJcc;
    }

    /// <summary>
    /// Form bits that change only how the effective address is formed or which fault it gives (32-bit addressing, a
    /// stack-segment operand's #SS): the specialized memory handlers compute the address with <c>Ea</c> like the generic
    /// ones, and faults read the op's form, so these bits do not keep an op off them.
    /// </summary>
    private const OpForm AddressBits = OpForm.Addr32 | OpForm.StackSeg;

    /// <summary>
    /// The handler of an ALU op with a full-register destination and a register (form 0) or immediate (form 1) source;
    /// ADC and SBB (which read CF) keep the generic handlers.
    /// </summary>
    private static Handler AluHandler(byte sub, int form, int size)
    {
        var first = sub switch
        {
            AluOp.Add => Handler.AddRR64, AluOp.Or => Handler.OrRR64, AluOp.And => Handler.AndRR64, AluOp.Sub => Handler.SubRR64,
            AluOp.Xor => Handler.XorRR64, AluOp.Cmp => Handler.CmpRR64, _ => Handler.AluRR64,
        };
        return (Handler)((int)first + 2 * form + (size == 8 ? 0 : 1));
    }

    private sealed class SpanReader(byte[] bytes) : CodeReader
    {
        private int _pos;
        public override int ReadByte() => _pos < bytes.Length ? bytes[_pos++] : -1;
    }

    private static byte RegIndex(Register r)
    {
        switch (r)
        {
            case Register.AH: return 16;
            case Register.CH: return 17;
            case Register.DH: return 18;
            case Register.BH: return 19;
            case Register.None: return Op.NoReg;
        }
        var full = r.GetFullRegister();
        if (full >= Register.RAX && full <= Register.R15) return (byte)(full - Register.RAX);
        if (full == Register.RIP) return Op.RipReg;
        return Op.NoReg;
    }

    private static bool IsGpr(Register r) => r.IsGPR();

    private static bool IsStringOperand(OpKind k) => k is OpKind.MemorySegRSI or OpKind.MemorySegESI or OpKind.MemoryESRDI or OpKind.MemoryESEDI;

    /// <summary>A MOVS/CMPS/STOS/LODS/SCAS string form: one of its operands is [rsi]/[esi] or es:[rdi]/[edi].</summary>
    internal static bool IsStringForm(in Instruction ins) =>
        ins.OpCount > 0 && (IsStringOperand(ins.Op0Kind) || (ins.OpCount > 1 && IsStringOperand(ins.Op1Kind)));

    private static bool IsImm(OpKind k) => k is OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate64
        or OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64;

    internal static void SetMem(in Instruction ins, ref Op op)
    {
        op.Base = RegIndex(ins.MemoryBase);
        op.Index = RegIndex(ins.MemoryIndex);
        op.Scale = ins.MemoryIndexScale switch { 1 => 0, 2 => 1, 4 => 2, _ => 3 };
        if (ins.IsIPRelativeMemoryOperand)
        {
            op.Base = Op.RipReg;
            op.Disp = (long)(ins.IPRelativeMemoryAddress - ins.NextIP);
        }
        else op.Disp = (long)ins.MemoryDisplacement64;
        if (ins.MemoryBase.IsGPR32() || ins.MemoryIndex.IsGPR32() || ins.MemoryBase == Register.EIP)
        {
            op.Form |= OpForm.Addr32;
            if (ins.MemoryBase == Register.EIP) op.Disp = (long)(uint)(ins.IPRelativeMemoryAddress - ins.NextIP);
        }
        op.Seg = ins.MemorySegment switch { Register.FS => 1, Register.GS => 2, _ => 0 };
        if (ins.MemorySegment == Register.SS) op.Form |= OpForm.StackSeg;
    }

    /// <summary>Sets destination (operand 0) and source (operand 1) forms generically.</summary>
    private static bool SetDstSrc(in Instruction ins, ref Op op)
    {
        var k0 = ins.Op0Kind;
        if (k0 == OpKind.Register) { op.R1 = RegIndex(ins.Op0Register); op.Size = (byte)ins.Op0Register.GetSize(); }
        else if (k0 == OpKind.Memory) { op.Form |= OpForm.MemDst; SetMem(in ins, ref op); op.Size = (byte)ins.MemorySize.GetSize(); }
        else return false;
        if (ins.OpCount < 2) return true;
        var k1 = ins.Op1Kind;
        if (k1 == OpKind.Register)
        {
            op.R2 = RegIndex(ins.Op1Register);
            if (op.Size == 0) op.Size = (byte)ins.Op1Register.GetSize();
        }
        else if (k1 == OpKind.Memory)
        {
            op.Form |= OpForm.MemSrc;
            SetMem(in ins, ref op);
        }
        else if (IsImm(k1))
        {
            op.Form |= OpForm.ImmSrc;
            op.Imm = (long)ins.GetImmediate(1);
        }
        else return false;
        return true;
    }

    private static byte Cond(ConditionCode cc) => cc switch
    {
        ConditionCode.o => 0, ConditionCode.no => 1, ConditionCode.b => 2, ConditionCode.ae => 3,
        ConditionCode.e => 4, ConditionCode.ne => 5, ConditionCode.be => 6, ConditionCode.a => 7,
        ConditionCode.s => 8, ConditionCode.ns => 9, ConditionCode.p => 10, ConditionCode.np => 11,
        ConditionCode.l => 12, ConditionCode.ge => 13, ConditionCode.le => 14, _ => 15,
    };

    /// <summary>Fills <paramref name="op"/>; returns true when the instruction ends the block.</summary>
    private bool Translate(in Instruction ins, ref Op op)
    {
        op.Cost = _costs.Insn;
        op.R1 = op.R2 = op.Base = op.Index = Op.NoReg;
        bool ends = false;
        bool ok = _bitness == 32 ? Translate32(in ins, ref op, ref ends) : TranslateCore(in ins, ref op, out ends);
        if (!ok)
        {
            // Unimplemented or invalid: #UD at run time, and the report names it.
            op.H = Handler.Ud;
            op.Imm = ins.IsInvalid ? -1 : (long)ins.Code;
            op.Form = OpForm.None;
            return true;
        }
        if (ins.HasLockPrefix) op.Form |= OpForm.Lock;
        // System instructions run outside the block switch and always end the block.
        return ends || op.H >= Handler.Cli;
    }

    private bool TranslateCore(in Instruction ins, ref Op op, out bool ends)
    {
        ends = false;
        var m = ins.Mnemonic;
        switch (m)
        {
            case Mnemonic.Nop:
            case Mnemonic.Endbr64:
            case Mnemonic.Endbr32:
            case Mnemonic.Lfence:
            case Mnemonic.Mfence:
            case Mnemonic.Sfence:
            case Mnemonic.Prefetchnta:
            case Mnemonic.Prefetcht0:
            case Mnemonic.Prefetcht1:
            case Mnemonic.Prefetcht2:
            case Mnemonic.Prefetchw:
            case Mnemonic.Clflush:
            case Mnemonic.Clflushopt:
                op.H = Handler.Nop; return true;
            case Mnemonic.Pause:
                op.H = Handler.Pause; return true;

            case Mnemonic.Movnti: // a non-temporal hint over an ordinary store
            case Mnemonic.Mov:
                // MOV to or from CRn/DRn: Sub is n. A write ends the block (paging, protection or
                // breakpoints may change); MOV to CR charges its cost when it runs (Cpu.System).
                if (ins.Op0Kind == OpKind.Register && (ins.Op0Register.IsCR() || ins.Op0Register.IsDR()))
                {
                    bool cr = ins.Op0Register.IsCR();
                    op.H = cr ? Handler.MovToCr : Handler.MovToDr;
                    op.Sub = (byte)(ins.Op0Register - (cr ? Register.CR0 : Register.DR0));
                    op.R2 = RegIndex(ins.Op1Register);
                    op.Size = (byte)ins.Op1Register.GetSize();
                    if (cr) op.Cost = 0;
                    ends = true;
                    return true;
                }
                if (ins.Op1Kind == OpKind.Register && (ins.Op1Register.IsCR() || ins.Op1Register.IsDR()))
                {
                    bool cr = ins.Op1Register.IsCR();
                    op.H = cr ? Handler.MovFromCr : Handler.MovFromDr;
                    op.Sub = (byte)(ins.Op1Register - (cr ? Register.CR0 : Register.DR0));
                    op.R1 = RegIndex(ins.Op0Register);
                    op.Size = (byte)ins.Op0Register.GetSize();
                    if (cr) op.Cost = _costs.MovCr;
                    return true;
                }
                if (ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister())
                {
                    op.H = Handler.MovToSeg; op.Sub = (byte)(ins.Op0Register - Register.ES);
                    op.Size = 2;
                    if (ins.Op1Kind == OpKind.Register) op.R2 = RegIndex(ins.Op1Register); else { op.Form |= OpForm.MemSrc; SetMem(in ins, ref op); }
                    ends = true; return true;
                }
                if (ins.Op1Kind == OpKind.Register && ins.Op1Register.IsSegmentRegister())
                {
                    op.H = Handler.MovFromSeg; op.Sub = (byte)(ins.Op1Register - Register.ES);
                    if (ins.Op0Kind == OpKind.Register) { op.R1 = RegIndex(ins.Op0Register); op.Size = (byte)ins.Op0Register.GetSize(); }
                    else { op.Form |= OpForm.MemDst; SetMem(in ins, ref op); op.Size = 2; }
                    return true;
                }
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = Handler.Mov;
                if (op.Form == OpForm.None && op.R1 < 16 && op.R2 < 16 && op.Size >= 4) op.H = op.Size == 8 ? Handler.MovRR64 : Handler.MovRR32;
                else if (op.Form == OpForm.ImmSrc && op.R1 < 16 && op.Size >= 4) op.H = Handler.MovRI;
                else if ((op.Form & ~AddressBits) == OpForm.MemSrc && op.R1 < 16 && op.Size >= 4)
                    op.H = op.Size == 8 ? Handler.MovLoad64 : Handler.MovLoad32;
                else if ((op.Form & ~AddressBits) == OpForm.MemDst && op.R2 < 16 && op.Size >= 4)
                    op.H = op.Size == 8 ? Handler.MovStore64 : Handler.MovStore32;
                else if ((op.Form & ~AddressBits) == (OpForm.MemDst | OpForm.ImmSrc) && op.Size >= 4)
                    op.H = op.Size == 8 ? Handler.MovStoreImm64 : Handler.MovStoreImm32;
                else if ((op.Form & ~AddressBits) == OpForm.MemDst && op.R2 < 16 && op.Size == 1) op.H = Handler.MovStore8;
                return true;

            case Mnemonic.Movzx:
            case Mnemonic.Movsx:
            case Mnemonic.Movsxd:
                op.H = m == Mnemonic.Movzx ? Handler.MovZx : Handler.MovSx;
                op.R1 = RegIndex(ins.Op0Register); op.Size = (byte)ins.Op0Register.GetSize();
                if (ins.Op1Kind == OpKind.Register)
                {
                    op.R2 = RegIndex(ins.Op1Register); op.Size2 = (byte)ins.Op1Register.GetSize();
                    if (op.H == Handler.MovZx && op.R1 < 16 && op.R2 < 16 && op.Size >= 4)
                        op.H = op.Size2 == 1 ? Handler.MovZxRR8 : Handler.MovZxRR16;
                }
                else
                {
                    op.Form |= OpForm.MemSrc; SetMem(in ins, ref op); op.Size2 = (byte)ins.MemorySize.GetSize();
                    if (op.R1 < 16 && op.Size >= 4)
                    {
                        if (op.H == Handler.MovZx) op.H = op.Size2 == 1 ? Handler.MovZxLoad8 : Handler.MovZxLoad16;
                        else if (op.Size == 8 && op.Size2 == 4) op.H = Handler.MovSxdLoad;
                    }
                }
                return true;

            case Mnemonic.Lea:
                op.H = Handler.Lea; op.R1 = RegIndex(ins.Op0Register); op.Size = (byte)ins.Op0Register.GetSize();
                SetMem(in ins, ref op); op.Seg = 0; return true;

            case Mnemonic.Xchg:
                op.H = Handler.Xchg;
                if (ins.Op0Kind == OpKind.Memory)
                {
                    op.Form |= OpForm.MemDst;
                    SetMem(in ins, ref op);
                    op.R2 = RegIndex(ins.Op1Register);
                    op.Size = (byte)ins.Op1Register.GetSize();
                }
                else if (ins.Op1Kind == OpKind.Memory)
                {
                    op.Form |= OpForm.MemDst;
                    SetMem(in ins, ref op);
                    op.R2 = RegIndex(ins.Op0Register);
                    op.Size = (byte)ins.Op0Register.GetSize();
                }
                else { op.R1 = RegIndex(ins.Op0Register); op.R2 = RegIndex(ins.Op1Register); op.Size = (byte)ins.Op0Register.GetSize(); }
                return true;

            case Mnemonic.Push:
                op.H = Handler.Push;
                op.Size = (byte)(ins.Code is Code.Push_r16 or Code.Push_rm16 or Code.Pushw_imm8 or Code.Push_imm16 ? 2 : 8);
                if (ins.Op0Kind == OpKind.Register)
                {
                    if (ins.Op0Register.IsSegmentRegister()) return false;
                    op.R2 = RegIndex(ins.Op0Register);
                    if (op.Size == 8) op.H = Handler.PushR64;
                }
                else if (ins.Op0Kind == OpKind.Memory) { op.Form |= OpForm.MemSrc; SetMem(in ins, ref op); }
                else { op.Form |= OpForm.ImmSrc; op.Imm = (long)ins.GetImmediate(0); }
                return true;

            case Mnemonic.Pop:
                op.H = Handler.Pop;
                op.Size = (byte)(ins.Code is Code.Pop_r16 or Code.Pop_rm16 ? 2 : 8);
                if (ins.Op0Kind == OpKind.Register)
                {
                    if (ins.Op0Register.IsSegmentRegister()) return false;
                    op.R1 = RegIndex(ins.Op0Register);
                    if (op.Size == 8) op.H = Handler.PopR64;
                }
                else { op.Form |= OpForm.MemDst; SetMem(in ins, ref op); }
                return true;

            case Mnemonic.Cmovo: case Mnemonic.Cmovno: case Mnemonic.Cmovb: case Mnemonic.Cmovae:
            case Mnemonic.Cmove: case Mnemonic.Cmovne: case Mnemonic.Cmovbe: case Mnemonic.Cmova:
            case Mnemonic.Cmovs: case Mnemonic.Cmovns: case Mnemonic.Cmovp: case Mnemonic.Cmovnp:
            case Mnemonic.Cmovl: case Mnemonic.Cmovge: case Mnemonic.Cmovle: case Mnemonic.Cmovg:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = Handler.Cmov; op.Sub = Cond(ins.ConditionCode); return true;

            case Mnemonic.Seto: case Mnemonic.Setno: case Mnemonic.Setb: case Mnemonic.Setae:
            case Mnemonic.Sete: case Mnemonic.Setne: case Mnemonic.Setbe: case Mnemonic.Seta:
            case Mnemonic.Sets: case Mnemonic.Setns: case Mnemonic.Setp: case Mnemonic.Setnp:
            case Mnemonic.Setl: case Mnemonic.Setge: case Mnemonic.Setle: case Mnemonic.Setg:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = Handler.Setcc; op.Size = 1; op.Sub = Cond(ins.ConditionCode); return true;

            case Mnemonic.Bswap:
                op.H = Handler.Bswap; op.R1 = RegIndex(ins.Op0Register); op.Size = (byte)ins.Op0Register.GetSize(); return true;
            case Mnemonic.Cbw: op.H = Handler.Cbw; op.Size = 2; return true;
            case Mnemonic.Cwde: op.H = Handler.Cbw; op.Size = 4; return true;
            case Mnemonic.Cdqe: op.H = Handler.Cbw; op.Size = 8; return true;
            case Mnemonic.Cwd: op.H = Handler.Cwd; op.Size = 2; return true;
            case Mnemonic.Cdq: op.H = Handler.Cwd; op.Size = 4; return true;
            case Mnemonic.Cqo: op.H = Handler.Cwd; op.Size = 8; return true;
            case Mnemonic.Lahf: op.H = Handler.Lahf; return true;
            case Mnemonic.Sahf: op.H = Handler.Sahf; return true;
            case Mnemonic.Clc: op.H = Handler.FlagBit; op.Sub = 0; return true;
            case Mnemonic.Stc: op.H = Handler.FlagBit; op.Sub = 1; return true;
            case Mnemonic.Cmc: op.H = Handler.FlagBit; op.Sub = 2; return true;
            case Mnemonic.Cld: op.H = Handler.FlagBit; op.Sub = 3; return true;
            case Mnemonic.Std: op.H = Handler.FlagBit; op.Sub = 4; return true;
            case Mnemonic.Enter:
                op.H = Handler.Enter; op.Size = (byte)(ins.Code == Code.Enterw_imm16_imm8 ? 2 : 8);
                op.Imm = (long)ins.GetImmediate(0); op.Disp = (long)ins.GetImmediate(1); return true;
            case Mnemonic.Leave:
                op.H = Handler.Leave; op.Size = (byte)(ins.Code == Code.Leavew ? 2 : 8); return true;

            case Mnemonic.Add: case Mnemonic.Or: case Mnemonic.Adc: case Mnemonic.Sbb:
            case Mnemonic.And: case Mnemonic.Sub: case Mnemonic.Xor: case Mnemonic.Cmp:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = Handler.Alu;
                op.Sub = m switch
                {
                    Mnemonic.Add => AluOp.Add, Mnemonic.Or => AluOp.Or, Mnemonic.Adc => AluOp.Adc, Mnemonic.Sbb => AluOp.Sbb,
                    Mnemonic.And => AluOp.And, Mnemonic.Sub => AluOp.Sub, Mnemonic.Xor => AluOp.Xor, _ => AluOp.Cmp,
                };
                if (op.Form == OpForm.None && op.R1 < 16 && op.R2 < 16 && op.Size >= 4) op.H = AluHandler(op.Sub, 0, op.Size);
                else if (op.Form == OpForm.ImmSrc && op.R1 < 16 && op.Size >= 4) op.H = AluHandler(op.Sub, 1, op.Size);
                else if ((op.Form & ~AddressBits) == OpForm.MemSrc && op.R1 < 16 && op.Size >= 4)
                    op.H = op.Size == 8 ? Handler.AluRM64 : Handler.AluRM32;
                return true;
            case Mnemonic.Test:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = Handler.Test; return true;
            case Mnemonic.Inc: case Mnemonic.Dec: case Mnemonic.Neg: case Mnemonic.Not:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = m switch { Mnemonic.Inc => Handler.Inc, Mnemonic.Dec => Handler.Dec, Mnemonic.Neg => Handler.Neg, _ => Handler.Not };
                return true;

            case Mnemonic.Rol: case Mnemonic.Ror: case Mnemonic.Rcl: case Mnemonic.Rcr:
            case Mnemonic.Shl: case Mnemonic.Shr: case Mnemonic.Sal: case Mnemonic.Sar:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = Handler.Shift;
                op.Sub = m switch
                {
                    Mnemonic.Rol => ShiftOp.Rol, Mnemonic.Ror => ShiftOp.Ror, Mnemonic.Rcl => ShiftOp.Rcl, Mnemonic.Rcr => ShiftOp.Rcr,
                    Mnemonic.Shl => ShiftOp.Shl, Mnemonic.Shr => ShiftOp.Shr, Mnemonic.Sal => ShiftOp.Shl, _ => ShiftOp.Sar,
                };
                if (ins.Op1Kind == OpKind.Register) { op.Form |= OpForm.CountCl; op.R2 = Op.NoReg; }
                else if (op.Form == OpForm.ImmSrc && op.R1 < 16 && op.Size >= 4 && (op.Imm & (op.Size == 8 ? 63 : 31)) != 0
                    && op.Sub is ShiftOp.Shl or ShiftOp.Shr or ShiftOp.Sar)
                {
                    var first = op.Sub == ShiftOp.Shl ? Handler.ShlRI64 : op.Sub == ShiftOp.Shr ? Handler.ShrRI64 : Handler.SarRI64;
                    op.H = op.Size == 8 ? first : first + 1;
                }
                return true;
            case Mnemonic.Shld: case Mnemonic.Shrd:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = m == Mnemonic.Shld ? Handler.Shld : Handler.Shrd;
                if (ins.Op2Kind == OpKind.Register) op.Form |= OpForm.CountCl; else op.Imm = (long)ins.GetImmediate(2);
                return true;

            case Mnemonic.Mul: case Mnemonic.Div: case Mnemonic.Idiv:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = m switch { Mnemonic.Mul => Handler.Mul, Mnemonic.Div => Handler.Div, _ => Handler.Idiv };
                op.Cost = m == Mnemonic.Mul ? _costs.Mul : _costs.Div;
                return true;
            case Mnemonic.Imul:
                if (ins.OpCount == 1) { if (!SetDstSrc(in ins, ref op)) return false; op.H = Handler.Imul1; }
                else if (ins.OpCount == 2) { if (!SetDstSrc(in ins, ref op)) return false; op.H = Handler.Imul2; }
                else
                {
                    if (!SetDstSrc(in ins, ref op)) return false;
                    op.H = Handler.Imul3; op.Imm = (long)ins.GetImmediate(2);
                }
                op.Cost = _costs.Mul;
                return true;

            case Mnemonic.Bt: case Mnemonic.Bts: case Mnemonic.Btr: case Mnemonic.Btc:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = Handler.Bt; op.Sub = m switch { Mnemonic.Bt => 0, Mnemonic.Bts => 1, Mnemonic.Btr => 2, _ => 3 };
                return true;
            case Mnemonic.Bsf: case Mnemonic.Bsr: case Mnemonic.Tzcnt: case Mnemonic.Lzcnt: case Mnemonic.Popcnt:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = m switch { Mnemonic.Bsf => Handler.Bsf, Mnemonic.Bsr => Handler.Bsr, Mnemonic.Tzcnt => Handler.Tzcnt,
                    Mnemonic.Lzcnt => Handler.Lzcnt, _ => Handler.Popcnt };
                return true;
            case Mnemonic.Cmpxchg:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = Handler.Cmpxchg; return true;
            case Mnemonic.Xadd:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = Handler.Xadd; return true;
            case Mnemonic.Cmpxchg16b:
            case Mnemonic.Cmpxchg8b:
                op.H = Handler.Cmpxchg16b; op.Form |= OpForm.MemDst; SetMem(in ins, ref op);
                op.Size = (byte)(m == Mnemonic.Cmpxchg16b ? 16 : 8); return true;
            case Mnemonic.Andn: case Mnemonic.Bextr:
                // VEX three-operand: R1 = dst, R2 = src1 (vvvv for andn / r/m for bextr), memory or Imm-register for the other.
                op.H = m == Mnemonic.Andn ? Handler.Andn : Handler.Bextr;
                op.R1 = RegIndex(ins.Op0Register); op.Size = (byte)ins.Op0Register.GetSize();
                if (m == Mnemonic.Andn)
                {
                    op.R2 = RegIndex(ins.Op1Register);
                    if (ins.Op2Kind == OpKind.Register) op.Imm = RegIndex(ins.Op2Register); else { op.Form |= OpForm.MemSrc; SetMem(in ins, ref op); }
                }
                else
                {
                    op.Imm = RegIndex(ins.Op2Register);
                    if (ins.Op1Kind == OpKind.Register) op.R2 = RegIndex(ins.Op1Register); else { op.Form |= OpForm.MemSrc; SetMem(in ins, ref op); }
                }
                return true;
            case Mnemonic.Blsi: case Mnemonic.Blsmsk: case Mnemonic.Blsr:
                if (!SetDstSrc(in ins, ref op)) return false;
                op.H = m switch { Mnemonic.Blsi => Handler.Blsi, Mnemonic.Blsmsk => Handler.Blsmsk, _ => Handler.Blsr };
                return true;

            case Mnemonic.Jmp:
                ends = true; op.Cost = _costs.Branch;
                if (ins.Op0Kind is OpKind.NearBranch64 or OpKind.NearBranch32 or OpKind.NearBranch16)
                { op.H = Handler.Jmp; op.Imm = (long)(ins.NearBranchTarget - ins.NextIP); return true; }
                if (ins.Op0Kind == OpKind.Register) { op.H = Handler.JmpInd; op.R2 = RegIndex(ins.Op0Register); op.Size = 8; return true; }
                if (TranslateFar(in ins, ref op, Handler.FarJmp)) return true;
                if (ins.Op0Kind == OpKind.Memory && ins.Code is Code.Jmp_rm64 or Code.Call_rm64)
                {
                    op.H = Handler.JmpInd;
                    op.Form |= OpForm.MemSrc;
                    SetMem(in ins, ref op);
                    op.Size = 8;
                    return true;
                }
                return false;
            case Mnemonic.Jo: case Mnemonic.Jno: case Mnemonic.Jb: case Mnemonic.Jae:
            case Mnemonic.Je: case Mnemonic.Jne: case Mnemonic.Jbe: case Mnemonic.Ja:
            case Mnemonic.Js: case Mnemonic.Jns: case Mnemonic.Jp: case Mnemonic.Jnp:
            case Mnemonic.Jl: case Mnemonic.Jge: case Mnemonic.Jle: case Mnemonic.Jg:
                ends = true; op.Cost = _costs.Branch;
                op.H = Handler.Jcc; op.Sub = Cond(ins.ConditionCode); op.Imm = (long)(ins.NearBranchTarget - ins.NextIP); return true;
            case Mnemonic.Jrcxz: case Mnemonic.Jecxz:
                ends = true; op.Cost = _costs.Branch;
                op.H = Handler.Jrcxz; op.Size = (byte)(m == Mnemonic.Jrcxz ? 8 : 4); op.Imm = (long)(ins.NearBranchTarget - ins.NextIP); return true;
            case Mnemonic.Loop: case Mnemonic.Loope: case Mnemonic.Loopne:
                ends = true; op.Cost = _costs.Branch;
                op.H = Handler.Loop; op.Sub = (byte)(m == Mnemonic.Loop ? 0 : m == Mnemonic.Loope ? 1 : 2);
                // The counter is RCX, or ECX with a 0x67 prefix (SDM LOOP: address size).
                op.Size = (byte)(ins.Code is Code.Loop_rel8_64_RCX or Code.Loope_rel8_64_RCX or Code.Loopne_rel8_64_RCX
                    or Code.Loop_rel8_16_RCX or Code.Loope_rel8_16_RCX or Code.Loopne_rel8_16_RCX ? 8 : 4);
                op.Imm = (long)(ins.NearBranchTarget - ins.NextIP); return true;
            case Mnemonic.Call:
                ends = true; op.Cost = _costs.Branch;
                if (ins.Op0Kind is OpKind.NearBranch64) { op.H = Handler.Call; op.Imm = (long)(ins.NearBranchTarget - ins.NextIP); return true; }
                if (ins.Op0Kind == OpKind.Register) { op.H = Handler.CallInd; op.R2 = RegIndex(ins.Op0Register); return true; }
                if (TranslateFar(in ins, ref op, Handler.FarCall)) return true;
                if (ins.Op0Kind == OpKind.Memory && ins.Code is Code.Jmp_rm64 or Code.Call_rm64)
                {
                    op.H = Handler.CallInd;
                    op.Form |= OpForm.MemSrc;
                    SetMem(in ins, ref op);
                    return true;
                }
                return false;
            case Mnemonic.Ret:
                ends = true; op.Cost = _costs.Branch;
                if (ins.Code is not (Code.Retnq or Code.Retnq_imm16)) return false;
                op.H = Handler.Ret; op.Imm = ins.OpCount > 0 ? (long)ins.GetImmediate(0) : 0; return true;

            case Mnemonic.Movsb: case Mnemonic.Movsw: case Mnemonic.Movsd: case Mnemonic.Movsq:
            case Mnemonic.Stosb: case Mnemonic.Stosw: case Mnemonic.Stosd: case Mnemonic.Stosq:
            case Mnemonic.Lodsb: case Mnemonic.Lodsw: case Mnemonic.Lodsd: case Mnemonic.Lodsq:
            case Mnemonic.Cmpsb: case Mnemonic.Cmpsw: case Mnemonic.Cmpsd: case Mnemonic.Cmpsq:
            case Mnemonic.Scasb: case Mnemonic.Scasw: case Mnemonic.Scasd: case Mnemonic.Scasq:
                // SSE2 movsd/cmpsd (F2 0F 10/11, F2 0F C2) share the mnemonic: only the forms with a
                // string operand ([rsi]/[esi], es:[rdi]/[edi]) are string instructions; the SSE forms
                // are vector instructions.
                if (!IsStringForm(in ins)) return VectorDecoder.Translate(in ins, ref op);
                op.H = m switch
                {
                    Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Movsq => Handler.Movs,
                    Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq => Handler.Stos,
                    Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd or Mnemonic.Lodsq => Handler.Lods,
                    Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq => Handler.Cmps,
                    _ => Handler.Scas,
                };
                op.Size = (byte)ins.MemorySize.GetSize();
                op.Size2 = (byte)(ins.Op0Kind is OpKind.MemorySegESI or OpKind.MemoryESEDI
                    || ins.Op1Kind is OpKind.MemorySegESI or OpKind.MemoryESEDI ? 4 : 8);
                op.Seg = ins.MemorySegment switch { Register.FS => 1, Register.GS => 2, _ => 0 };
                op.Sub = ins.HasRepePrefix ? RepKind.Rep : ins.HasRepnePrefix ? RepKind.Repne : RepKind.None;
                if (op.H is Handler.Movs or Handler.Stos or Handler.Lods && op.Sub == RepKind.Repne) op.Sub = RepKind.Rep;
                return true;

            case Mnemonic.Cli: op.H = Handler.Cli; return true;
            case Mnemonic.Sti: op.H = Handler.Sti; ends = true; return true;
            case Mnemonic.Pushfq: op.H = Handler.Pushf; op.Size = 8; return true;
            case Mnemonic.Pushf: op.H = Handler.Pushf; op.Size = 2; return true;
            case Mnemonic.Popfq: op.H = Handler.Popf; op.Size = 8; ends = true; return true;
            case Mnemonic.Popf: op.H = Handler.Popf; op.Size = 2; ends = true; return true;
            case Mnemonic.Hlt: op.H = Handler.Hlt; ends = true; return true;
            case Mnemonic.In:
                op.H = Handler.In; op.Size = (byte)ins.Op0Register.GetSize(); op.Cost = _costs.PortIo;
                if (ins.Op1Kind == OpKind.Register) op.Form |= OpForm.PortDx; else op.Imm = (long)ins.GetImmediate(1);
                ends = true; return true;
            case Mnemonic.Out:
                op.H = Handler.Out; op.Size = (byte)ins.Op1Register.GetSize(); op.Cost = _costs.PortIo;
                if (ins.Op0Kind == OpKind.Register) op.Form |= OpForm.PortDx; else op.Imm = (long)ins.GetImmediate(0);
                ends = true; return true;
            case Mnemonic.Cpuid: op.H = Handler.Cpuid; op.Cost = _costs.Cpuid; ends = true; return true;
            case Mnemonic.Rdtsc: op.H = Handler.Rdtsc; op.Cost = _costs.Rdtsc; ends = true; return true;
            case Mnemonic.Rdtscp: op.H = Handler.Rdtscp; op.Cost = _costs.Rdtsc; ends = true; return true;
            case Mnemonic.Rdmsr: op.H = Handler.Rdmsr; op.Cost = _costs.Msr; ends = true; return true;
            case Mnemonic.Wrmsr: op.H = Handler.Wrmsr; op.Cost = _costs.Msr; ends = true; return true;
            case Mnemonic.Swapgs: op.H = Handler.Swapgs; op.Cost = _costs.Serializing; ends = true; return true;
            case Mnemonic.Rdfsbase: case Mnemonic.Rdgsbase:
                op.H = Handler.RdSegBase;
                op.Sub = (byte)(m == Mnemonic.Rdfsbase ? 1 : 2);
                op.R1 = RegIndex(ins.Op0Register);
                op.Size = (byte)ins.Op0Register.GetSize();
                return true;
            case Mnemonic.Wrfsbase: case Mnemonic.Wrgsbase:
                op.H = Handler.WrSegBase;
                op.Sub = (byte)(m == Mnemonic.Wrfsbase ? 1 : 2);
                op.R2 = RegIndex(ins.Op0Register);
                op.Size = (byte)ins.Op0Register.GetSize();
                ends = true;
                return true;
            case Mnemonic.Lgdt: case Mnemonic.Lidt: case Mnemonic.Sgdt: case Mnemonic.Sidt:
                op.H = m switch { Mnemonic.Lgdt => Handler.Lgdt, Mnemonic.Lidt => Handler.Lidt, Mnemonic.Sgdt => Handler.Sgdt, _ => Handler.Sidt };
                op.Form |= OpForm.MemSrc; SetMem(in ins, ref op); op.Cost = _costs.Serializing; ends = true;
                // The base's width: 64 bits in 64-bit mode, 32 bits, or 24 with a 16-bit operand size (SDM LGDT).
                op.Size = (byte)(_bitness == 64 ? 8 : ins.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16 or Code.Sgdt_m1632_16
                    or Code.Sidt_m1632_16 ? 2 : 4);
                return true;
            case Mnemonic.Ltr: case Mnemonic.Lldt: case Mnemonic.Str: case Mnemonic.Sldt:
                op.H = m switch { Mnemonic.Ltr => Handler.Ltr, Mnemonic.Lldt => Handler.Lldt, Mnemonic.Str => Handler.Str, _ => Handler.Sldt };
                if (ins.Op0Kind == OpKind.Register) { op.R1 = op.R2 = RegIndex(ins.Op0Register); op.Size = (byte)ins.Op0Register.GetSize(); }
                else { op.Form |= OpForm.MemSrc | OpForm.MemDst; SetMem(in ins, ref op); op.Size = 2; }
                op.Cost = _costs.Serializing; ends = true; return true;
            case Mnemonic.Invlpg:
                op.H = Handler.Invlpg; SetMem(in ins, ref op); op.Cost = _costs.Serializing; ends = true; return true;
            case Mnemonic.Iretq: op.H = Handler.Iret; op.Size = 8; op.Cost = _costs.Iretq; ends = true; return true;
            case Mnemonic.Iretd: op.H = Handler.Iret; op.Size = 4; op.Cost = _costs.Iretq; ends = true; return true;
            case Mnemonic.Retf:
                // 64- and 32-bit far returns (lretq, lretl); the 16-bit form is not modeled (#UD).
                if (ins.Code is Code.Retfq or Code.Retfq_imm16) op.Size = 8;
                else if (ins.Code is Code.Retfd or Code.Retfd_imm16) op.Size = 4;
                else return false;
                op.H = Handler.Retf; op.Cost = _costs.Branch; op.Imm = ins.OpCount > 0 ? (long)ins.GetImmediate(0) : 0; ends = true; return true;
            case Mnemonic.Syscall: op.H = Handler.Syscall; op.Cost = _costs.Syscall; ends = true; return true;
            case Mnemonic.Sysretq: op.H = Handler.Sysret; op.Size = 8; op.Cost = _costs.Sysret; ends = true; return true;
            case Mnemonic.Sysret: op.H = Handler.Sysret; op.Size = 4; op.Cost = _costs.Sysret; ends = true; return true;
            case Mnemonic.Int: op.H = Handler.Int; op.Imm = (long)ins.GetImmediate(0); ends = true; return true;
            case Mnemonic.Int3: op.H = Handler.Int3; ends = true; return true;
            case Mnemonic.Int1: op.H = Handler.Int1; ends = true; return true;
            case Mnemonic.Ud2: case Mnemonic.Ud0: case Mnemonic.Ud1:
                op.H = Handler.Ud; op.Imm = (long)ins.Code; ends = true; return true;
            case Mnemonic.Vmcall: op.H = Handler.Vmcall; ends = true; return true;
            case Mnemonic.Vmfunc: op.H = Handler.Vmfunc; op.Cost = _costs.Vmfunc; ends = true; return true;
            case Mnemonic.Xsetbv: op.H = Handler.Xsetbv; op.Cost = _costs.Serializing; ends = true; return true;
            case Mnemonic.Xgetbv: op.H = Handler.Xgetbv; return true;
            case Mnemonic.Wbinvd: case Mnemonic.Invd: op.H = Handler.Wbinvd; op.Cost = _costs.Serializing; ends = true; return true;
            case Mnemonic.Rdpid: op.H = Handler.Rdpid; op.R1 = RegIndex(ins.Op0Register); return true;
            case Mnemonic.Invpcid:
                op.H = Handler.Invpcid;
                op.R1 = RegIndex(ins.Op0Register);
                op.Form |= OpForm.MemSrc;
                SetMem(in ins, ref op);
                op.Cost = _costs.Serializing;
                ends = true;
                return true;
            case Mnemonic.Clts: op.H = Handler.Clts; ends = true; return true;
        }
        return VectorDecoder.Translate(in ins, ref op);
    }
}
