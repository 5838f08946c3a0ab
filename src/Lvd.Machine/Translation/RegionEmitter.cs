using System.Reflection;
using System.Reflection.Emit;
using Lvd.Machine.Decoding;
using Lvd.Machine.Execution;
using Lvd.Machine.Paging;

namespace Lvd.Machine.Translation;

/// <summary>
/// Translates a region's blocks to IL. Each block does what <c>Cpu.ExecuteBlock</c> does for it, in the same order:
/// its Executions counted, its cost and fraction charged up front, its ops, RIP and the instruction count at its end,
/// then the chain checks (cycle limit, instruction limit, attention) and the successor probe of <c>NextBlock</c>
/// (<see cref="Cpu.RegionNext"/>). Anything else leaves the region at that block's end, where the interpreter takes
/// over (it repeats the checks and makes the real fetch). Guest registers live in IL locals, written back to
/// <c>Regs</c> before every call that can fault, exit or look at them (memory accesses), and at every block end;
/// <c>_opIndex</c> is set to the op's index before such a call, so faults and VM exits rewind as in the interpreter.
/// Only the handlers below are translated; a block with any other op stays interpreted.
/// </summary>
internal static class RegionEmitter
{
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
    private static FieldInfo F(string name) => typeof(Cpu).GetField(name, Any) ?? throw new MissingFieldException("Cpu", name);
    private static MethodInfo M(string name) => typeof(Cpu).GetMethod(name, Any) ?? throw new MissingMethodException("Cpu", name);

    private static readonly FieldInfo Regs = F("Regs"), Cycles = F("Cycles"), Instructions = F("Instructions"), Fraction = F("_fraction"),
        Rip = F("Rip"), CycleLimit = F("_cycleLimit"), InstructionLimit = F("_instructionLimit"), Attention = F("_attention"),
        CurrentBlock = F("_currentBlock"), BlockRip = F("_blockRip"), OpIndex = F("_opIndex"),
        LfOp = F("_lfOp"), LfSize = F("_lfSize"), LfCarry = F("_lfCarry"), LfA = F("_lfA"), LfB = F("_lfB"), LfRes = F("_lfRes");
    private static readonly FieldInfo CodeBlocks = typeof(RegionCode).GetField(nameof(RegionCode.Blocks))!;
    private static readonly FieldInfo BlockExecutions = typeof(Block).GetField(nameof(Block.Executions))!;
    private static readonly FieldInfo BlockOps = typeof(Block).GetField(nameof(Block.Ops))!;
    private static readonly FieldInfo OpH = typeof(Op).GetField(nameof(Op.H))!;
    private static readonly MethodInfo Cond = M("Cond"), Target = M("Target"), Next = M("RegionNext"), ExecAlu = M("ExecAlu"),
        TestOp = M("Test"), Unary = M("Unary"), SetFlagBits = M("SetFlagBits"), ShiftOp = M("Shift"), Cold = M("ExecuteCold"),
        ImulValue = M("ImulValue"),
        ImulN = M("ImulN"), Mul1 = M("Mul1"), Divide = M("Divide"), DivideValue = M("DivideValue"),
        BigMulU = typeof(Math).GetMethod(nameof(Math.BigMul), [typeof(ulong), typeof(ulong), typeof(ulong).MakeByRefType()])!,
        BigMulS = typeof(Math).GetMethod(nameof(Math.BigMul), [typeof(long), typeof(long), typeof(long).MakeByRefType()])!;

    /// <summary>The interpreter's lazy-flags kinds (Cpu.FlagOp), as the byte values its field holds.</summary>
    private static readonly int FlagAdd = FlagValue("Add"), FlagAdc = FlagValue("Adc"), FlagSub = FlagValue("Sub"), FlagSbb = FlagValue("Sbb"),
        FlagLogic = FlagValue("Logic"), FlagInc = FlagValue("Inc"), FlagDec = FlagValue("Dec"), FlagResultCfOf = FlagValue("ResultCfOf");

    private static int FlagValue(string name) => Convert.ToInt32(Enum.Parse(LfOp.FieldType, name));

    private const int Rax = 0, Rcx = 1, Rdx = 2, Rsp = 4;

    // ---- what is translated ----

    private static bool RegOk(byte r) => r < 16;

    private static bool MemOk(in Op op) =>
        op.Seg <= 2 && (op.Base == Op.NoReg || op.Base == Op.RipReg || op.Base < 16) && (op.Index == Op.NoReg || op.Index < 16);

    private static bool IsBranch(Handler h) => h is Handler.Jmp or Handler.Jcc or Handler.Call or Handler.Ret or Handler.JmpInd or Handler.CallInd;

    private static bool IsFused(Handler h) => h is Handler.CmpRRJcc or Handler.CmpRIJcc or Handler.TestRRJcc;

    private static bool IsAlu(Handler h) => h >= Handler.AddRR64 && h <= Handler.CmpRI32;

    private static bool IsShift(Handler h) => h >= Handler.ShlRI64 && h <= Handler.SarRI32;

    /// <summary>Ops run through the interpreter's own method for them (<see cref="Emitter.EmitHelper"/>).</summary>
    private static bool HelperOk(in Op op) => op.H switch
    {
        Handler.AluRR64 or Handler.AluRR32 => RegOk(op.R1) && RegOk(op.R2),
        Handler.AluRI64 or Handler.AluRI32 => RegOk(op.R1),
        Handler.AluRM64 or Handler.AluRM32 => RegOk(op.R1) && MemOk(op),
        Handler.Alu or Handler.Test or Handler.Inc or Handler.Dec or Handler.Neg or Handler.Not or Handler.Shift => true,
        // ExecuteCold returns -1 (the block goes on) for all of these.
        Handler.Mov or Handler.MovZx or Handler.MovSx or Handler.Xchg or Handler.Push or Handler.Pop or Handler.Bswap
            or Handler.Cbw or Handler.Cwd or Handler.Lahf or Handler.Sahf or Handler.FlagBit or Handler.Enter or Handler.Leave
            or Handler.Shld or Handler.Shrd or Handler.Mul or Handler.Imul1 or Handler.Imul2 or Handler.Imul3 or Handler.Div
            or Handler.Idiv or Handler.Bt or Handler.Bsf or Handler.Bsr or Handler.Tzcnt or Handler.Lzcnt or Handler.Popcnt
            or Handler.Andn or Handler.Bextr or Handler.Blsi or Handler.Blsmsk or Handler.Blsr or Handler.Cmpxchg
            or Handler.Xadd or Handler.Cmpxchg16b or Handler.Vector => true,
        _ => false,
    };

    /// <summary>IMUL r, r/m(, imm) of 8 or 4 bytes: the product from Cpu.ImulValue, in the region.</summary>
    private static bool ImulInline(in Op op) => op.H is Handler.Imul2 or Handler.Imul3 && op.Size is 8 or 4 && RegOk(op.R1)
        && ((op.Form & OpForm.MemSrc) != 0 ? PlainOperands(op) : RegOk(op.R2));

    private static bool OpOk(in Op op) => HelperOk(op) || op.H switch
    {
        Handler.Nop => true,
        Handler.MovRR64 or Handler.MovRR32 or Handler.MovZxRR16 or Handler.MovZxRR8 => RegOk(op.R1) && RegOk(op.R2),
        Handler.MovRI => RegOk(op.R1) && op.Size is 8 or 4,
        Handler.MovLoad64 or Handler.MovLoad32 or Handler.MovZxLoad8 or Handler.MovZxLoad16 or Handler.MovSxdLoad
            => RegOk(op.R1) && MemOk(op),
        Handler.MovStore64 or Handler.MovStore32 or Handler.MovStore8 => RegOk(op.R2) && MemOk(op),
        Handler.MovStoreImm64 or Handler.MovStoreImm32 => MemOk(op),
        Handler.Lea => RegOk(op.R1) && MemOk(op) && op.Size is 8 or 4,
        Handler.PushR64 => RegOk(op.R2),
        Handler.PopR64 => RegOk(op.R1),
        Handler.Cmov => (op.Form & OpForm.MemSrc) == 0 && RegOk(op.R1) && RegOk(op.R2) && op.Size is 8 or 4,
        Handler.Setcc => (op.Form & OpForm.MemDst) == 0 && RegOk(op.R1),
        Handler.CmpRRJcc or Handler.TestRRJcc => RegOk(op.R1) && RegOk(op.R2) && op.Size is 1 or 2 or 4 or 8,
        Handler.CmpRIJcc => RegOk(op.R1) && op.Size is 1 or 2 or 4 or 8,
        Handler.Jmp or Handler.Jcc or Handler.Call or Handler.Ret => true,
        // An indirect JMP/CALL through a register or a 64-bit memory operand.
        Handler.JmpInd or Handler.CallInd => (op.Form & OpForm.MemSrc) != 0 ? MemOk(op) : RegOk(op.R2),
        _ when ImulInline(op) => true,
        _ => IsAlu(op.H) ? RegOk(op.R1) && ((op.H - Handler.AddRR64) % 4 >= 2 || RegOk(op.R2))
            : IsShift(op.H) && RegOk(op.R1),
    };

    /// <summary>
    /// Every op of <paramref name="b"/> is translated, branches only at its end (a fused CMP/TEST+Jcc as its last two
    /// ops), and every direct branch target from <paramref name="rip"/> is canonical (else the branch faults: left to
    /// the interpreter).
    /// </summary>
    public static bool CanTranslate(Block b, ulong rip)
    {
        var ops = b.Ops;
        int n = ops.Length;
        // A straddling block's next page is translated at each fetch (Cpu.DecodeBlock): only the executor runs it.
        if (n == 0 || b.Straddles) return false;
        for (int i = 0; i < n; i++)
        {
            ref Op op = ref ops[i];
            if (!OpOk(op)) return false;
            if (IsFused(op.H))
            {
                if (i != n - 2 || ops[n - 1].H != Handler.Jcc) return false;
                i++;
                ref Op jcc = ref ops[i];
                if (!Canonical(rip + jcc.Offset + jcc.Len + (ulong)jcc.Imm)) return false;
                continue;
            }
            if (IsBranch(op.H))
            {
                if (i != n - 1) return false;
                if (op.H is Handler.Jmp or Handler.Jcc or Handler.Call && !Canonical(rip + op.Offset + op.Len + (ulong)op.Imm)) return false;
            }
        }
        return true;
    }

    private static bool Canonical(ulong a) => (ulong)(((long)a << 16) >> 16) == a;

    /// <summary>The linear addresses control can go to from the end of <paramref name="b"/> at <paramref name="rip"/> (direct only).</summary>
    public static void Successors(Block b, ulong rip, List<ulong> targets)
    {
        ref Op last = ref b.Ops[^1];
        ulong next = rip + last.Offset + last.Len;
        switch (last.H)
        {
            case Handler.Jmp: targets.Add(next + (ulong)last.Imm); break;
            // The return point too: a RET in the region goes back to it through the same probe.
            case Handler.Call: targets.Add(next + (ulong)last.Imm); targets.Add(next); break;
            case Handler.Jcc: targets.Add(next + (ulong)last.Imm); targets.Add(next); break;
            case Handler.Ret or Handler.JmpInd: break;
            case Handler.CallInd: targets.Add(next); break;
            default: targets.Add(rip + (ulong)b.ByteLength); break;
        }
    }

    // ---- emission ----

    public static Func<Cpu, int, Block?>? Emit(RegionCode code)
    {
        var blocks = code.Blocks;
        // A block overwritten since it was chosen (its ops may have become Resync) is not compiled.
        foreach (var b in blocks) if (!b.Valid) return null;
        for (int k = 0; k < blocks.Length; k++) if (!CanTranslate(blocks[k], code.Rips[k])) return null;
        var dm = new DynamicMethod($"region_{code.EntryRip:x}", typeof(Block), [typeof(RegionCode), typeof(Cpu), typeof(int)], typeof(Cpu),
            true);
        new Emitter(dm.GetILGenerator(), code).EmitAll();
        return (Func<Cpu, int, Block?>)dm.CreateDelegate(typeof(Func<Cpu, int, Block?>), code);
    }

    /// <summary>MemoryMarshal.GetArrayDataReference&lt;T&gt;: the first element of an array by reference, no bounds check.</summary>
    private static MethodInfo ArrayDataRef(Type element) => typeof(System.Runtime.InteropServices.MemoryMarshal).GetMethods()
        .Single(m => m.Name == "GetArrayDataReference" && m.IsGenericMethodDefinition).MakeGenericMethod(element);
    private static readonly MethodInfo RegsRef = ArrayDataRef(typeof(ulong));
    private static readonly FieldInfo TlbField = F("_tlb"), TlbReadTag = typeof(TlbEntry).GetField(nameof(TlbEntry.ReadTag))!,
        TlbWriteTag = typeof(TlbEntry).GetField(nameof(TlbEntry.WriteTag))!, TlbAddend = typeof(TlbEntry).GetField(nameof(TlbEntry.Addend))!;
    private static readonly MethodInfo TlbRef = ArrayDataRef(typeof(TlbEntry));
    /// <summary>
    /// <see cref="Tlb.OffsetOf"/> of the address in <paramref name="la"/> as IL (a native unsigned int on the stack): the same
    /// fold from the same constants; <see cref="TlbOffsetFunction"/> compiles it alone so that a test compares the two.
    /// </summary>
    private static void EmitTlbOffset(ILGenerator il, LocalBuilder la)
    {
        const int fold = Memory.PhysicalMemory.PageShift - Tlb.EntryShift;
        for (int g = 0; g < 3; g++)
        {
            il.Emit(OpCodes.Ldloc, la);
            il.Emit(OpCodes.Ldc_I4, fold + g * Tlb.Bits);
            il.Emit(OpCodes.Shr_Un);
            if (g > 0) il.Emit(OpCodes.Xor);
        }
        il.Emit(OpCodes.Ldc_I8, (long)((ulong)Tlb.IndexMask << Tlb.EntryShift));
        il.Emit(OpCodes.And);
        il.Emit(OpCodes.Conv_U);
    }

    /// <summary><see cref="EmitTlbOffset"/> compiled as a function of the address (for tests).</summary>
    internal static Func<ulong, nuint> TlbOffsetFunction()
    {
        var dm = new DynamicMethod("tlb_offset", typeof(nuint), [typeof(ulong)], typeof(Cpu), true);
        var il = dm.GetILGenerator();
        var la = il.DeclareLocal(typeof(ulong));
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Stloc, la);
        EmitTlbOffset(il, la);
        il.Emit(OpCodes.Ret);
        return (Func<ulong, nuint>)dm.CreateDelegate(typeof(Func<ulong, nuint>));
    }
    private static readonly MethodInfo ReadSlow = M("ReadSlow"),
        WriteSlow = M("WriteSlow"), IsCanonical = M("IsCanonical"), SegBase = M("SegBase");

    /// <summary>The ALU sub-op (<see cref="AluOp"/>) of the handlers AddRR64 ... CmpRI32, in their order.</summary>
    private static readonly int[] AluOfHandler = [AluOp.Add, AluOp.Or, AluOp.And, AluOp.Sub, AluOp.Xor, AluOp.Cmp];

    /// <summary>
    /// Register (below 16), memory and immediate operands and nothing else: no LOCK, no CL count, no AH..BH. A source
    /// register R2 only with <paramref name="source"/> (one-operand ops have none).
    /// </summary>
    private static bool PlainOperands(in Op op, bool source = true)
    {
        var f = op.Form;
        bool mem = (f & (OpForm.MemSrc | OpForm.MemDst)) != 0;
        if (mem && !MemOk(op)) return false;
        if ((f & OpForm.MemDst) == 0 && op.R1 >= 16) return false;
        if (source && (f & (OpForm.ImmSrc | OpForm.MemSrc)) == 0 && op.R2 >= 16) return false;
        return (f & ~(OpForm.MemSrc | OpForm.MemDst | OpForm.ImmSrc | OpForm.StackSeg | OpForm.Addr32)) == 0;
    }

    /// <summary>
    /// The generic MOV, MOVZX, MOVSX, ALU (ADC and SBB included) and TEST forms of any size that the region computes
    /// itself: register operands below 16 (no AH..BH), memory operands <see cref="MemOk"/>.
    /// </summary>
    private static bool GenericOk(in Op op)
    {
        if (op.H is not (Handler.Mov or Handler.MovZx or Handler.MovSx or Handler.Alu or Handler.Test)) return false;
        if (op.Size is not (1 or 2 or 4 or 8)) return false;
        if (op.H is Handler.MovZx or Handler.MovSx && op.Size2 is not (1 or 2 or 4)) return false;
        return PlainOperands(op);
    }

    /// <summary>INC, DEC, NEG and NOT of a register below 16 or memory, of any size (Cpu.Unary).</summary>
    private static bool UnaryOk(in Op op) =>
        op.H is Handler.Inc or Handler.Dec or Handler.Neg or Handler.Not && op.Size is 1 or 2 or 4 or 8 && PlainOperands(op, false);

    /// <summary>SHL/SAL, SHR and SAR by an immediate count that is not 0 once masked, of a register or memory (Cpu.Shift).</summary>
    private static bool ShiftOk(in Op op) =>
        op.H == Handler.Shift && ShlShrSar(op.Sub) && op.Size is 1 or 2 or 4 or 8 && ((int)op.Imm & (op.Size == 8 ? 63 : 31)) != 0
        && PlainOperands(op, false);

    /// <summary>SHL/SAL, SHR and SAR of a 4- or 8-byte register by CL (Cpu.Shift: a masked count of 0 changes no flag).</summary>
    private static bool ShiftClOk(in Op op) =>
        op.H == Handler.Shift && ShlShrSar(op.Sub) && op.Size is 4 or 8 && op.Form == OpForm.CountCl && RegOk(op.R1);

    /// <summary>The shifts <see cref="Emitter.ShiftGeneric"/> computes (not the rotates).</summary>
    private static bool ShlShrSar(int sub) =>
        sub is Decoding.ShiftOp.Shl or Decoding.ShiftOp.Sal or Decoding.ShiftOp.Shr or Decoding.ShiftOp.Sar;

    /// <summary>BT, BTS, BTR and BTC of a 4- or 8-byte register, the bit offset an immediate or a register (Cpu.BitTest).</summary>
    private static bool BitOk(in Op op) =>
        op.H == Handler.Bt && op.Size is 4 or 8 && RegOk(op.R1)
        && (op.Form == OpForm.ImmSrc || op.Form == OpForm.None && RegOk(op.R2));

    /// <summary>CBW/CWDE/CDQE and CWD/CDQ/CQO.</summary>
    private static bool ExtendOk(in Op op) => op.H is Handler.Cbw or Handler.Cwd && op.Size is 2 or 4 or 8;

    /// <summary>One-operand MUL and IMUL, DIV and IDIV of 4 or 8 bytes (Cpu.Mul1, Cpu.Divide: a division the fast test
    /// does not take is made by Cpu.DivideValue on a slow path, #DE included).</summary>
    private static bool MulDivOk(in Op op) =>
        op.H is Handler.Mul or Handler.Imul1 or Handler.Div or Handler.Idiv && op.Size is 4 or 8 && PlainOperands(op, false);

    /// <summary>AluRR/AluRI/AluRM of 8 or 4 bytes, whatever the sub-op (ADC and SBB take CF from the flags' producer).</summary>
    private static bool AluInline(in Op op) =>
        op.H is Handler.AluRR64 or Handler.AluRR32 or Handler.AluRI64 or Handler.AluRI32 or Handler.AluRM64 or Handler.AluRM32;

    /// <summary>An op <see cref="Emitter.EmitHelper"/> runs: a <see cref="HelperOk"/> one the region does not compute itself.</summary>
    private static bool RunsAsHelper(in Op op) => HelperOk(op) && !ImulInline(op) && !AluInline(op) && !GenericOk(op) && !UnaryOk(op)
        && !ShiftOk(op) && !ShiftClOk(op) && !BitOk(op) && !ExtendOk(op) && !MulDivOk(op);

    /// <summary>
    /// The IL of one region. The guest registers, the clock (Cycles, Instructions, the fraction) and whether each edge's
    /// successor probe has succeeded live in IL locals; the Cpu's fields are brought up to date only where something may
    /// look at them: on the slow path of a memory access (a TLB miss, MMIO, a code page, a page-crossing access), before an
    /// interpreter helper, and where the region is left. So the hot path of a loop is its ops, the block counts, the chain
    /// checks and one test per edge; the slow paths are emitted after all blocks (<see cref="_cold"/>).
    /// </summary>
    private sealed class Emitter(ILGenerator il, RegionCode code)
    {
        private readonly LocalBuilder?[] _reg = new LocalBuilder?[16];
        private LocalBuilder[] _block = [];
        private LocalBuilder _regs = null!, _la = null!, _h = null!, _v = null!, _t = null!, _s = null!, _u = null!, _w = null!,
            _flag = null!, _fa = null!, _fb = null!, _fr = null!, _fc = null!, _c = null!, _lo = null!, _slo = null!, _cyc = null!,
            _ins = null!, _frac = null!, _verified = null!, _tlb = null!, _e = null!, _n = null!;
        private Label[] _head = [];
        private readonly List<Action> _cold = [];
        /// <summary>Registers whose locals are newer than Regs on the path being emitted.</summary>
        private int _dirty;
        /// <summary>Registers some op of the region writes: what may be dirty where a block starts.</summary>
        private int _written;
        /// <summary>_currentBlock, _blockRip and Rip hold the block being emitted (set before a helper).</summary>
        private bool _stateSet;
        /// <summary>The last flag producer of the block, its operands and result in _fa, _fb, _fr; null when unknown.</summary>
        private (int Kind, int Size)? _flags;

        public void EmitAll()
        {
            var blocks = code.Blocks;
            var start = il.DefineLabel();
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Brtrue, start);
            il.Emit(OpCodes.Ldnull);
            il.Emit(OpCodes.Ret);
            il.MarkLabel(start);
            _regs = il.DeclareLocal(typeof(ulong).MakeByRefType());
            _la = il.DeclareLocal(typeof(ulong));
            _h = il.DeclareLocal(typeof(nint));
            _v = il.DeclareLocal(typeof(ulong));
            _t = il.DeclareLocal(typeof(ulong));
            _s = il.DeclareLocal(typeof(ulong));
            _u = il.DeclareLocal(typeof(ulong));
            _w = il.DeclareLocal(typeof(ulong));
            _fa = il.DeclareLocal(typeof(ulong));
            _fb = il.DeclareLocal(typeof(ulong));
            _fr = il.DeclareLocal(typeof(ulong));
            _flag = il.DeclareLocal(typeof(bool));
            _fc = il.DeclareLocal(typeof(int));
            _lo = il.DeclareLocal(typeof(ulong));
            _slo = il.DeclareLocal(typeof(long));
            _c = il.DeclareLocal(typeof(int));
            _cyc = il.DeclareLocal(typeof(long));
            _ins = il.DeclareLocal(typeof(long));
            _frac = il.DeclareLocal(typeof(int));
            _verified = il.DeclareLocal(typeof(long));
            _tlb = il.DeclareLocal(typeof(TlbEntry).MakeByRefType());
            _e = il.DeclareLocal(typeof(TlbEntry).MakeByRefType());
            _n = il.DeclareLocal(typeof(int));
            LoadTlb();
            Cpu();
            il.Emit(OpCodes.Ldfld, Regs);
            il.Emit(OpCodes.Call, RegsRef);
            il.Emit(OpCodes.Stloc, _regs);
            int used = 0;
            foreach (var b in blocks)
                foreach (ref Op op in b.Ops.AsSpan())
                {
                    used |= Uses(op);
                    _written |= Defs(op);
                }
            _written &= used;
            for (int i = 0; i < 16; i++)
            {
                if ((used & (1 << i)) == 0) continue;
                _reg[i] = il.DeclareLocal(typeof(ulong));
                LoadReg(i);
            }
            LoadClock();
            _head = new Label[blocks.Length];
            _block = new LocalBuilder[blocks.Length];
            for (int k = 0; k < blocks.Length; k++)
            {
                _head[k] = il.DefineLabel();
                _block[k] = il.DeclareLocal(typeof(Block));
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldfld, CodeBlocks);
                I4(k);
                il.Emit(OpCodes.Ldelem_Ref);
                il.Emit(OpCodes.Stloc, _block[k]);
            }
            // Entered at block j (argument 2): its body, after the Executions count the executor made.
            var bodies = new Label[blocks.Length];
            for (int k = 0; k < blocks.Length; k++) bodies[k] = il.DefineLabel();
            il.Emit(OpCodes.Ldarg_2);
            il.Emit(OpCodes.Switch, bodies);
            il.Emit(OpCodes.Br, bodies[0]);
            for (int k = 0; k < blocks.Length; k++) EmitBlock(k, bodies[k]);
            // The slow paths and exits, out of the loops' way (each ends in a branch back or a return).
            for (int c = 0; c < _cold.Count; c++) _cold[c]();
        }

        private static int Bit(byte r) => r < 16 ? 1 << r : 0;

        private static int Uses(in Op op)
        {
            int m = Bit(op.R1) | Bit(op.R2) | Bit(op.Base) | Bit(op.Index);
            if (op.H is Handler.PushR64 or Handler.PopR64 or Handler.Call or Handler.Ret or Handler.CallInd) m |= 1 << Rsp;
            if (op.H is Handler.Cbw or Handler.Cwd or Handler.Mul or Handler.Imul1 or Handler.Div or Handler.Idiv) m |= 1 << Rax | 1 << Rdx;
            if ((op.Form & OpForm.CountCl) != 0) m |= 1 << Rcx;
            return m;
        }

        /// <summary>
        /// The registers op may make newer in their locals than in Regs. A helper's writes are none of them: it writes Regs
        /// and the region reloads what it wrote.
        /// </summary>
        private static int Defs(in Op op)
        {
            if (RunsAsHelper(op)) return 0;
            if (GenericOk(op) || UnaryOk(op) || ShiftOk(op) || ShiftClOk(op))
                return (op.Form & OpForm.MemDst) != 0 || op.H == Handler.Test ? 0 : Bit(op.R1);
            if (MulDivOk(op)) return 1 << Rax | 1 << Rdx;
            if (ExtendOk(op)) return op.H == Handler.Cbw ? 1 << Rax : 1 << Rdx;
            return op.H switch
            {
                Handler.PushR64 or Handler.Call or Handler.Ret or Handler.CallInd => 1 << Rsp,
                Handler.JmpInd => 0,
                Handler.PopR64 => 1 << Rsp | Bit(op.R1),
                Handler.Nop or Handler.Jmp or Handler.Jcc or Handler.CmpRRJcc or Handler.CmpRIJcc or Handler.TestRRJcc
                    or Handler.MovStore64 or Handler.MovStore32 or Handler.MovStore8 or Handler.MovStoreImm64 or Handler.MovStoreImm32 => 0,
                _ => Bit(op.R1),
            };
        }

        // ---- registers and the clock ----

        private void Ld(int r) => il.Emit(OpCodes.Ldloc, _reg[r]!);

        private void St(int r)
        {
            il.Emit(OpCodes.Stloc, _reg[r]!);
            _dirty |= 1 << r;
        }

        /// <summary>The address of Regs[i] (no bounds check: Regs has 16 elements).</summary>
        private void RegAddress(int i)
        {
            il.Emit(OpCodes.Ldloc, _regs);
            if (i == 0) return;
            I4(i * 8);
            il.Emit(OpCodes.Add);
        }

        private void LoadReg(int i)
        {
            RegAddress(i);
            il.Emit(OpCodes.Ldind_I8);
            il.Emit(OpCodes.Stloc, _reg[i]!);
        }

        /// <summary>Writes the registers of <paramref name="mask"/> from their locals to Regs.</summary>
        private void SyncMask(int mask)
        {
            for (int i = 0; i < 16; i++)
            {
                if ((mask & (1 << i)) == 0 || _reg[i] == null) continue;
                RegAddress(i);
                il.Emit(OpCodes.Ldloc, _reg[i]!);
                il.Emit(OpCodes.Stind_I8);
            }
        }

        /// <summary>After an interpreter helper or a slow path: the registers it may have written (<paramref name="mask"/>).</summary>
        private void Reload(int mask)
        {
            for (int i = 0; i < 16; i++) if (_reg[i] != null && (mask & (1 << i)) != 0) LoadReg(i);
        }

        /// <summary>The TLB the fast paths use (Cpu._tlb: it changes with CPL and alignment checking, only in calls).</summary>
        private void LoadTlb()
        {
            Cpu(); il.Emit(OpCodes.Ldfld, TlbField); il.Emit(OpCodes.Call, TlbRef); il.Emit(OpCodes.Stloc, _tlb);
        }

        private void LoadClock()
        {
            Cpu(); il.Emit(OpCodes.Ldfld, Cycles); il.Emit(OpCodes.Stloc, _cyc);
            Cpu(); il.Emit(OpCodes.Ldfld, Instructions); il.Emit(OpCodes.Stloc, _ins);
            Cpu(); il.Emit(OpCodes.Ldfld, Fraction); il.Emit(OpCodes.Stloc, _frac);
        }

        private void StoreClock()
        {
            StoreField(Cycles, () => il.Emit(OpCodes.Ldloc, _cyc));
            StoreField(Instructions, () => il.Emit(OpCodes.Ldloc, _ins));
            StoreField(Fraction, () => il.Emit(OpCodes.Ldloc, _frac));
        }

        private void AddLocal(LocalBuilder l, long delta)
        {
            il.Emit(OpCodes.Ldloc, l);
            il.Emit(OpCodes.Ldc_I8, delta);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, l);
        }

        private void Cpu() => il.Emit(OpCodes.Ldarg_1);

        /// <summary>The region's block <paramref name="k"/> (code.Blocks[k], loaded at entry).</summary>
        private void LdBlock(int k) => il.Emit(OpCodes.Ldloc, _block[k]);

        /// <summary>
        /// Everything a call that can fault, exit or look at the machine needs, as the interpreter has it in the middle of
        /// block <paramref name="k"/> at op <paramref name="i"/>: the registers of <paramref name="dirty"/>, the block being
        /// run and its RIP (unless <paramref name="stateSet"/>), the op's index (the rewind), the clock.
        /// </summary>
        private void Spill(int k, int i, int dirty, bool stateSet, Pending? pending)
        {
            SyncMask(dirty);
            EmitPending(pending);
            if (!stateSet)
            {
                StoreField(CurrentBlock, () => LdBlock(k));
                StoreField(BlockRip, () => I8(code.Rips[k]));
                StoreField(Rip, () => I8(code.Rips[k]));
            }
            StoreField(OpIndex, () => I4(i));
            StoreClock();
        }

        /// <summary>After such a call: the registers it may have written, the clock; the probes are made again.</summary>
        private void Unspill(int reload)
        {
            Reload(reload);
            LoadClock();
            LoadTlb();
            il.Emit(OpCodes.Ldc_I8, 0L);
            il.Emit(OpCodes.Stloc, _verified);
        }

        /// <summary>
        /// The registers an op run by an interpreter helper may write: its register destination, RAX and RDX for MUL and
        /// DIV, nothing for TEST, all for the rest.
        /// </summary>
        private static int Writes(in Op op)
        {
            int dst = op.R1 < 16 ? 1 << op.R1 : op.R1 < 20 ? 1 << (op.R1 - 16) : 0xffff;
            return op.H switch
            {
                Handler.Imul2 or Handler.Imul3 => dst,
                Handler.Alu or Handler.Inc or Handler.Dec or Handler.Neg or Handler.Not or Handler.Shift
                    => (op.Form & OpForm.MemDst) != 0 ? 0 : dst,
                Handler.Test => 0,
                Handler.Mul or Handler.Imul1 or Handler.Div or Handler.Idiv => 1 << 0 | 1 << 2,
                _ => 0xffff,
            };
        }

        /// <summary>
        /// An op the region does not translate but runs with the interpreter's own code for it (the method the executor's
        /// switch calls, on the block's real op): everything spilled first, the registers it writes reloaded after.
        /// </summary>
        private void EmitHelper(int k, Op[] ops, int i, ulong next)
        {
            ref Op op = ref ops[i];
            Spill(k, i, _dirty, _stateSet, _pending);
            _dirty = 0;
            _stateSet = true;
            _pending = null;
            Cpu();
            LdBlock(k);
            il.Emit(OpCodes.Ldfld, BlockOps);
            I4(i);
            il.Emit(OpCodes.Ldelema, typeof(Op));
            switch (op.H)
            {
                case Handler.Alu: I8(next); il.Emit(OpCodes.Call, ExecAlu); break;
                case Handler.Test: I8(next); il.Emit(OpCodes.Call, TestOp); break;
                case Handler.Inc or Handler.Dec or Handler.Neg or Handler.Not: I8(next); il.Emit(OpCodes.Call, Unary); break;
                case Handler.Shift: I8(next); il.Emit(OpCodes.Call, ShiftOp); break;
                case Handler.Imul2 or Handler.Imul3: I8(next); il.Emit(OpCodes.Call, ImulN); break;
                case Handler.Mul or Handler.Imul1:
                    I8(next); I4(op.H == Handler.Imul1 ? 1 : 0); il.Emit(OpCodes.Call, Mul1);
                    break;
                case Handler.Div or Handler.Idiv:
                    I8(next); I4(op.H == Handler.Idiv ? 1 : 0); il.Emit(OpCodes.Call, Divide);
                    break;
                default:
                    // ExecuteCold's ops that never end a block (it returns -1 for them).
                    I8(next); I4(i); I8(code.Rips[k]); il.Emit(OpCodes.Call, Cold); il.Emit(OpCodes.Pop);
                    break;
            }
            Unspill(Writes(op));
            _flags = null;
            ResyncCheck(k, ops, i, _dirty, null);
        }

        private void StoreField(FieldInfo f, Action value)
        {
            Cpu();
            value();
            il.Emit(OpCodes.Stfld, f);
        }

        private void I8(ulong v) => il.Emit(OpCodes.Ldc_I8, (long)v);

        private void I4(int v) => il.Emit(OpCodes.Ldc_I4, v);

        private void ZeroExtend32()
        {
            il.Emit(OpCodes.Conv_U4);
            il.Emit(OpCodes.Conv_U8);
        }

        /// <summary>Cpu.Ea for the forms <see cref="MemOk"/> accepts.</summary>
        private void Ea(in Op op, ulong next)
        {
            I8((ulong)op.Disp);
            if (op.Base == Op.RipReg) { I8(next); il.Emit(OpCodes.Add); }
            else if (op.Base != Op.NoReg) { Ld(op.Base); il.Emit(OpCodes.Add); }
            if (op.Index != Op.NoReg)
            {
                Ld(op.Index);
                I4(op.Scale);
                il.Emit(OpCodes.Shl);
                il.Emit(OpCodes.Add);
            }
            if ((op.Form & OpForm.Addr32) != 0) ZeroExtend32();
            // An FS or GS override: the base read at each access (only instructions a region leaves to the interpreter change it).
            if (op.Seg != 0) { Cpu(); I4(op.Seg); il.Emit(OpCodes.Call, SegBase); il.Emit(OpCodes.Add); }
        }

        // ---- memory: the TLB hit inline, the rest on a slow path ----

        /// <summary>
        /// Reads <paramref name="size"/> bytes at the address in _la into _v (zero- or, with <paramref name="signed"/>,
        /// sign-extended): the TLB hit inline (<see cref="Access"/>), else Cpu.ReadSlow after a spill. <paramref name="tail"/> completes
        /// the op from _v (for a read-modify-write with its write); it is emitted again on the slow path's self-modifying-code exit.
        /// </summary>
        private void Load(int k, Op[] ops, int i, int size, bool signed, Action tail) => Access(k, ops, i, size, TlbReadTag, () =>
        {
            il.Emit(OpCodes.Ldloc, _h);
            switch (size)
            {
                case 8: il.Emit(OpCodes.Ldind_I8); break;
                case 4: il.Emit(signed ? OpCodes.Ldind_I4 : OpCodes.Ldind_U4); break;
                case 2: il.Emit(OpCodes.Ldind_U2); break;
                default: il.Emit(OpCodes.Ldind_U1); break;
            }
            il.Emit(signed ? OpCodes.Conv_I8 : OpCodes.Conv_U8);
            il.Emit(OpCodes.Stloc, _v);
        }, () =>
        {
            Cpu(); il.Emit(OpCodes.Ldloc, _la); I4(size); il.Emit(OpCodes.Call, ReadSlow);
            switch (size)
            {
                case 8: break;
                case 4: il.Emit(signed ? OpCodes.Conv_I4 : OpCodes.Conv_U4); il.Emit(signed ? OpCodes.Conv_I8 : OpCodes.Conv_U8); break;
                case 2: il.Emit(OpCodes.Conv_U2); il.Emit(OpCodes.Conv_U8); break;
                default: il.Emit(OpCodes.Conv_U1); il.Emit(OpCodes.Conv_U8); break;
            }
            il.Emit(OpCodes.Stloc, _v);
        }, tail);

        /// <summary>Writes <paramref name="size"/> bytes of _v at the address in _la, as <see cref="Load"/> reads.</summary>
        private void Store(int k, Op[] ops, int i, int size, Action? tail) => Access(k, ops, i, size, TlbWriteTag, () =>
        {
            il.Emit(OpCodes.Ldloc, _h);
            il.Emit(OpCodes.Ldloc, _v);
            switch (size)
            {
                case 8: il.Emit(OpCodes.Stind_I8); break;
                case 4: il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Stind_I4); break;
                case 2: il.Emit(OpCodes.Conv_U2); il.Emit(OpCodes.Stind_I2); break;
                default: il.Emit(OpCodes.Conv_U1); il.Emit(OpCodes.Stind_I1); break;
            }
        }, () =>
        {
            Cpu(); il.Emit(OpCodes.Ldloc, _la); I4(size); il.Emit(OpCodes.Ldloc, _v);
            if (size < 8) { I8(Execution.Cpu.Mask(size)); il.Emit(OpCodes.And); }
            il.Emit(OpCodes.Call, WriteSlow);
        }, tail);

        /// <summary>
        /// One memory access of op <paramref name="i"/> at _la, the interpreter's hit test (Cpu.Hits) in IL: the TLB entry
        /// of the address's slot (<see cref="EmitTlbOffset"/>) in _e, the one compare of its <paramref name="tag"/> (ReadTag or
        /// WriteTag) with the address's page and low bits below the size (an aligned access inside the page), and on the cold
        /// path the second test (an unaligned access inside the tag's page). A hit puts the host address (the address plus the
        /// entry's addend) in _h and <paramref name="hit"/> makes the access there; otherwise, on a slow path emitted after
        /// all blocks, the path's state is spilled, <paramref name="miss"/> calls Cpu.ReadSlow or WriteSlow, and the region
        /// goes on after the op's <paramref name="tail"/> checks (Resync) are made. Emitted here, not a call to a C# helper:
        /// RyuJIT stops inlining helpers in big methods, and the inlined ones' temporaries went to the stack.
        /// </summary>
        private void Access(int k, Op[] ops, int i, int size, FieldInfo tag, Action hit, Action miss, Action? tail)
        {
            var slow = il.DefineLabel();
            var hitAt = il.DefineLabel();
            var back = il.DefineLabel();
            il.Emit(OpCodes.Ldloc, _tlb);
            EmitTlbOffset(il, _la);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, _e);
            il.Emit(OpCodes.Ldloc, _e); il.Emit(OpCodes.Ldfld, tag);
            il.Emit(OpCodes.Ldloc, _la); I8(~Memory.PhysicalMemory.PageMask | (ulong)(size - 1)); il.Emit(OpCodes.And);
            il.Emit(OpCodes.Bne_Un, slow);
            il.MarkLabel(hitAt);
            il.Emit(OpCodes.Ldloc, _la); il.Emit(OpCodes.Conv_I); il.Emit(OpCodes.Ldloc, _e); il.Emit(OpCodes.Ldfld, TlbAddend); il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, _h);
            hit();
            il.MarkLabel(back);
            int dirty = _dirty;
            bool stateSet = _stateSet;
            var pending = _pending;
            tail?.Invoke();
            _cold.Add(() =>
            {
                il.MarkLabel(slow);
                if (size > 1)
                {
                    // An unaligned access inside the tag's page hits too.
                    var miss2 = il.DefineLabel();
                    il.Emit(OpCodes.Ldloc, _e); il.Emit(OpCodes.Ldfld, tag);
                    il.Emit(OpCodes.Ldloc, _la); I8(~Memory.PhysicalMemory.PageMask); il.Emit(OpCodes.And);
                    il.Emit(OpCodes.Bne_Un, miss2);
                    il.Emit(OpCodes.Ldloc, _la); I8(Memory.PhysicalMemory.PageMask); il.Emit(OpCodes.And);
                    I8(Memory.PhysicalMemory.PageSize - (ulong)size);
                    il.Emit(OpCodes.Ble_Un, hitAt);
                    il.MarkLabel(miss2);
                }
                Spill(k, i, dirty, stateSet, pending);
                miss();
                Unspill(0);
                // The spill stored the pending flags: the fields are current there.
                ResyncCheck(k, ops, i, dirty, tail);
                il.Emit(OpCodes.Br, back);
            });
        }

        /// <summary>
        /// After a call by op <paramref name="i"/> (not the last) that may have written memory: if it overwrote this block's
        /// code, the next op became Resync (Cpu.NoteCodeInvalidated) and the block ends after op i, as in the interpreter.
        /// <paramref name="tail"/>: the op's register writes still to be made (from a slow path; null when they are done).
        /// </summary>
        private void ResyncCheck(int k, Op[] ops, int i, int dirty, Action? tail)
        {
            if (i + 1 >= ops.Length) return;
            var go = il.DefineLabel();
            LdBlock(k);
            il.Emit(OpCodes.Ldfld, BlockOps);
            I4(i + 1);
            il.Emit(OpCodes.Ldelema, typeof(Op));
            il.Emit(OpCodes.Ldfld, OpH);
            I4((int)Handler.Resync);
            il.Emit(OpCodes.Bne_Un, go);
            int saved = _dirty;
            bool savedState = _stateSet;
            var savedPending = _pending;
            _pending = null;
            _dirty = dirty;
            // Reached after a spill (a helper's or a slow path's): the state fields hold this block.
            _stateSet = true;
            tail?.Invoke();
            Op r = ops[i + 1];
            AddLocal(_ins, i + 1);
            AddLocal(_cyc, -((long)r.Cost + r.CostAfter));
            Leave(k, i + 1, () => I8(code.Rips[k] + r.Offset), _dirty, _pending);
            _dirty = saved;
            _stateSet = savedState;
            _pending = savedPending;
            il.MarkLabel(go);
        }

        /// <summary>
        /// Leaves the region at the end of block <paramref name="k"/> (or at a Resync op): the registers of
        /// <paramref name="dirty"/>, the clock, the op index, RIP and the block's RIP as the interpreter has them there.
        /// </summary>
        private void Leave(int k, int opIndex, Action rip, int dirty, Pending? pending)
        {
            SyncMask(dirty);
            EmitPending(pending);
            StoreClock();
            StoreField(OpIndex, () => I4(opIndex));
            StoreField(Rip, rip);
            StoreField(BlockRip, () => I8(code.Rips[k]));
            LdBlock(k);
            il.Emit(OpCodes.Ret);
        }

        // ---- flags ----

        /// <summary>A flag producer's lazy state (operands and result in _fa, _fb, _fr), not yet in the Cpu's fields.</summary>
        private readonly record struct Pending(int Kind, int Size, Action? Carry);

        /// <summary>
        /// The lazy flags the path being emitted has computed but not stored: they are stored where something may read the
        /// fields (a slow path, a helper, Cpu.Cond, a block's end) and dropped when a later producer overwrites all of them.
        /// </summary>
        private Pending? _pending;

        /// <summary>Stores <paramref name="p"/> into the lazy-flags fields (the carry only if the producer writes it).</summary>
        private void EmitPending(Pending? p)
        {
            if (p is not { } x) return;
            if (x.Carry != null) StoreField(LfCarry, x.Carry);
            StoreField(LfOp, () => I4(x.Kind));
            StoreField(LfSize, () => I4(x.Size));
            StoreField(LfA, () => il.Emit(OpCodes.Ldloc, _fa));
            StoreField(LfB, () => il.Emit(OpCodes.Ldloc, _fb));
            StoreField(LfRes, () => il.Emit(OpCodes.Ldloc, _fr));
        }

        private void Materialize()
        {
            EmitPending(_pending);
            _pending = null;
        }

        /// <summary>
        /// A producer has put its operands and result in _fa, _fb, _fr: it becomes the pending state. It writes all of the
        /// lazy state but the carry when <paramref name="carry"/> is null (CMP/TEST: SetLazy), so a pending producer's carry
        /// is stored first then; otherwise that producer is overwritten whole and nothing of it is stored. Every producer
        /// writes _fa, _fb, _fr only after its last possible slow path, so a pending state's locals hold until it is replaced.
        /// </summary>
        private void SetPending(int kind, int size, Action? carry)
        {
            if (carry == null && _pending is { Carry: { } old }) StoreField(LfCarry, old);
            _pending = new Pending(kind, size, carry);
        }

        /// <summary>Pushes condition <paramref name="cc"/> (0/1): from the block's producer in the locals where it can, else Cpu.Cond.</summary>
        private void EmitCond(int cc)
        {
            if (_flags is { } f && InlineCond(f.Kind, f.Size, cc)) return;
            Materialize();
            Cpu();
            I4(cc);
            il.Emit(OpCodes.Call, Cond);
        }

        /// <summary>
        /// Condition <paramref name="cc"/> from the producer's locals (_fa, _fb, _fr, and _fc: the carry of ADC, SBB, INC,
        /// DEC and ResultCfOf): Cpu.Cond's Sub and Logic cases, and for the other kinds what ComputeArith gives for CF, ZF
        /// and SF (B, E, BE, S and their negations); false for the rest (OF, PF: Cpu.Cond).
        /// </summary>
        private bool InlineCond(int kind, int size, int cc)
        {
            int bits = size * 8;
            void Signed(LocalBuilder l)
            {
                il.Emit(OpCodes.Ldloc, l);
                switch (size)
                {
                    case 4: il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); break;
                    case 2: il.Emit(OpCodes.Conv_I2); il.Emit(OpCodes.Conv_I8); break;
                    case 1: il.Emit(OpCodes.Conv_I1); il.Emit(OpCodes.Conv_I8); break;
                }
            }
            void Not() { I4(0); il.Emit(OpCodes.Ceq); }
            void Neg() { il.Emit(OpCodes.Ldloc, _fr); I4(bits - 1); il.Emit(OpCodes.Shr_Un); il.Emit(OpCodes.Conv_I4); I4(1); il.Emit(OpCodes.And); }
            void Zero() { il.Emit(OpCodes.Ldloc, _fr); I8(0); il.Emit(OpCodes.Ceq); }
            if (kind == FlagSub)
            {
                switch (cc)
                {
                    case 2 or 3: il.Emit(OpCodes.Ldloc, _fa); il.Emit(OpCodes.Ldloc, _fb); il.Emit(OpCodes.Clt_Un); break;
                    case 4 or 5: il.Emit(OpCodes.Ldloc, _fa); il.Emit(OpCodes.Ldloc, _fb); il.Emit(OpCodes.Ceq); break;
                    case 6 or 7: il.Emit(OpCodes.Ldloc, _fa); il.Emit(OpCodes.Ldloc, _fb); il.Emit(OpCodes.Cgt_Un); break;
                    case 8 or 9: Neg(); break;
                    case 12 or 13: Signed(_fa); Signed(_fb); il.Emit(OpCodes.Clt); break;
                    case 14 or 15: Signed(_fa); Signed(_fb); il.Emit(OpCodes.Cgt); break;
                    default: return false;
                }
                // Computed: B, E, S, L for their pairs, but A and G for (BE, A) and (LE, G); the other code is the negation.
                if (((cc & 1) == 1) ^ (cc is 6 or 7 or 14 or 15)) Not();
                return true;
            }
            if (kind == FlagLogic)
            {
                switch (cc)
                {
                    case 2: I4(0); break;
                    case 3: I4(1); break;
                    case 4 or 6: Zero(); break;
                    case 5 or 7: Zero(); Not(); break;
                    case 8 or 12: Neg(); break;
                    case 9 or 13: Neg(); Not(); break;
                    case 14: Zero(); Neg(); il.Emit(OpCodes.Or); break;
                    case 15: Zero(); Neg(); il.Emit(OpCodes.Or); Not(); break;
                    default: return false;
                }
                return true;
            }
            if (kind != FlagAdd && kind != FlagAdc && kind != FlagSbb && kind != FlagInc && kind != FlagDec && kind != FlagResultCfOf) return false;
            switch (cc)
            {
                case 2 or 3: Carry(kind); break;
                case 4 or 5: Zero(); break;
                case 6 or 7: Carry(kind); Zero(); il.Emit(OpCodes.Or); break;
                case 8 or 9: Neg(); break;
                default: return false;
            }
            if ((cc & 1) == 1) Not();
            return true;
        }

        /// <summary>ComputeArith's CF of an Add, Adc, Sbb, Inc, Dec or ResultCfOf producer in the locals (0/1).</summary>
        private void Carry(int kind)
        {
            if (kind == FlagAdd) { il.Emit(OpCodes.Ldloc, _fr); il.Emit(OpCodes.Ldloc, _fa); il.Emit(OpCodes.Clt_Un); return; }
            if (kind != FlagAdc && kind != FlagSbb) { il.Emit(OpCodes.Ldloc, _fc); return; }
            // Adc: carry-in ? res <= a : res < a; Sbb: carry-in ? a <= b : a < b. As (x < y) | (carry-in & x == y).
            var (x, y) = kind == FlagAdc ? (_fr, _fa) : (_fa, _fb);
            il.Emit(OpCodes.Ldloc, x); il.Emit(OpCodes.Ldloc, y); il.Emit(OpCodes.Clt_Un);
            il.Emit(OpCodes.Ldloc, x); il.Emit(OpCodes.Ldloc, y); il.Emit(OpCodes.Ceq);
            il.Emit(OpCodes.Ldloc, _fc); il.Emit(OpCodes.And);
            il.Emit(OpCodes.Or);
        }

        /// <summary>CF as it is before the op being emitted, into _c (0/1): ADC's and SBB's carry-in, INC's and DEC's kept CF.</summary>
        private void CarryIn()
        {
            EmitCond(2);
            il.Emit(OpCodes.Stloc, _c);
        }

        /// <summary>
        /// Makes a producer with a carry the pending state: _c (computed by <see cref="CarryIn"/> or the op) becomes _fc
        /// (only now: a slow path before this point stores the previous producer's carry from _fc).
        /// </summary>
        private void SetPendingWithCarry(int kind, int size)
        {
            il.Emit(OpCodes.Ldloc, _c); il.Emit(OpCodes.Stloc, _fc);
            SetPending(kind, size, () => il.Emit(OpCodes.Ldloc, _fc));
            _flags = (kind, size);
        }

        // ---- blocks ----

        private void EmitBlock(int k, Label body)
        {
            var block = code.Blocks[k];
            ulong rip = code.Rips[k];
            var ops = block.Ops;
            il.MarkLabel(_head[k]);
            // block.Executions++ (the executor counted the entry block before entering).
            LdBlock(k);
            il.Emit(OpCodes.Dup);
            il.Emit(OpCodes.Ldfld, BlockExecutions);
            il.Emit(OpCodes.Ldc_I8, 1L);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, BlockExecutions);
            il.MarkLabel(body);
            // Where a block starts, any register the region writes may be newer in its local; the state fields are not set.
            _dirty = _written;
            _stateSet = false;
            _flags = null;
            _pending = null;
            AddLocal(_cyc, block.Cost);
            // _fraction += Fraction; Cycles += _fraction >> 16; _fraction &= 0xffff; a no-op for a block without a
            // fraction, as _fraction is always below 0x10000 (only this step changes it, masked).
            if (block.Fraction != 0)
            {
                il.Emit(OpCodes.Ldloc, _frac); I4(block.Fraction); il.Emit(OpCodes.Add); il.Emit(OpCodes.Stloc, _frac);
                il.Emit(OpCodes.Ldloc, _cyc); il.Emit(OpCodes.Ldloc, _frac); I4(16); il.Emit(OpCodes.Shr); il.Emit(OpCodes.Conv_I8);
                il.Emit(OpCodes.Add); il.Emit(OpCodes.Stloc, _cyc);
                il.Emit(OpCodes.Ldloc, _frac); I4(0xffff); il.Emit(OpCodes.And); il.Emit(OpCodes.Stloc, _frac);
            }
            int n = ops.Length;
            bool ended = false;
            for (int i = 0; i < n && !ended; i++)
            {
                ref Op op = ref ops[i];
                ulong next = rip + op.Offset + op.Len;
                ended = EmitOp(k, ops, i, next);
            }
            if (!ended) Edge(k, 0, rip + (ulong)block.ByteLength, n);
        }

        /// <summary>
        /// The end of block <paramref name="k"/> with RIP <paramref name="target"/> and <paramref name="count"/> ops retired:
        /// the executor's <c>Chained</c> step, continuing in the region when <c>NextBlock</c> would pick its block. The
        /// successor probe (<see cref="Cpu.RegionNext"/>) is made once per edge (bit <paramref name="slot"/> of the block
        /// in _verified) until a call: without one neither the TLB, nor the successor slots, nor a block's validity change.
        /// </summary>
        private void Edge(int k, int slot, ulong target, int count)
        {
            // Where a block ends the lazy flags go to the fields (the next block, the interpreter or an exit reads them),
            // unless the region goes on to a block that overwrites them all before anything could look (FlagsDeadAt):
            // then only the exits store them. The caller's state is kept for its other edge (CondEdges).
            int j = Array.IndexOf(code.Rips, target);
            var pending = _pending;
            bool keep = j >= 0 && FlagsDeadAt(j);
            if (!keep) Materialize();
            var stored = keep ? pending : null;
            AddLocal(_ins, count);
            var leave = il.DefineLabel();
            int dirty = _dirty;
            _cold.Add(() =>
            {
                il.MarkLabel(leave);
                Leave(k, code.Blocks[k].Ops.Length - 1, () => I8(target), dirty, stored);
            });
            ChainChecks(leave);
            _pending = pending;
            if (j < 0)
            {
                il.Emit(OpCodes.Br, leave);
                return;
            }
            long bit = 1L << (2 * k + slot);
            var go = il.DefineLabel();
            il.Emit(OpCodes.Ldloc, _verified); il.Emit(OpCodes.Ldc_I8, bit); il.Emit(OpCodes.And); il.Emit(OpCodes.Brtrue, go);
            Cpu();
            LdBlock(k);
            I8(target);
            il.Emit(OpCodes.Call, Next);
            LdBlock(j);
            il.Emit(OpCodes.Bne_Un, leave);
            il.Emit(OpCodes.Ldloc, _verified); il.Emit(OpCodes.Ldc_I8, bit); il.Emit(OpCodes.Or); il.Emit(OpCodes.Stloc, _verified);
            il.MarkLabel(go);
            il.Emit(OpCodes.Br, _head[j]);
        }

        /// <summary>
        /// The lazy flags are dead where block <paramref name="j"/> starts: before anything could read them or call out,
        /// one of the executor's per-sub-op ALU handlers (ADD ... CMP of registers and immediates: <see cref="AluCore"/>)
        /// overwrites them all, the carry included; only register moves and LEA come before it.
        /// </summary>
        private bool FlagsDeadAt(int j)
        {
            foreach (ref Op op in code.Blocks[j].Ops.AsSpan())
            {
                if (IsAlu(op.H)) return true;
                if (op.H is Handler.MovRR64 or Handler.MovRR32 or Handler.MovRI or Handler.MovZxRR8 or Handler.MovZxRR16
                    or Handler.Nop || op.H == Handler.Lea && op.Seg == 0) continue;
                return false;
            }
            return false;
        }

        /// <summary>Cpu.Target on the branch target in _v: a non-canonical one is #GP (a call that throws, after a spill).</summary>
        private void CheckTarget(int k, int i)
        {
            var ok = il.DefineLabel();
            var bad = il.DefineLabel();
            il.Emit(OpCodes.Ldloc, _v); il.Emit(OpCodes.Call, IsCanonical); il.Emit(OpCodes.Brfalse, bad);
            il.MarkLabel(ok);
            int dirty = _dirty;
            bool stateSet = _stateSet;
            var pending = _pending;
            _cold.Add(() =>
            {
                il.MarkLabel(bad);
                Spill(k, i, dirty, stateSet, pending);
                il.Emit(OpCodes.Ldloc, _v); il.Emit(OpCodes.Call, Target); il.Emit(OpCodes.Pop);
                il.Emit(OpCodes.Br, ok);
            });
        }

        /// <summary>
        /// After a RET or an indirect JMP/CALL (RIP in _t, retired): the chain checks, then the successor probe for the
        /// target; when it picks a block of the region (for RET one that follows a CALL, a return point; for a JMP any, a
        /// jump table's case), the region goes on there.
        /// </summary>
        private void ReturnEdges(int k, bool ret)
        {
            Materialize();
            var leave = il.DefineLabel();
            int dirty = _dirty;
            _cold.Add(() =>
            {
                il.MarkLabel(leave);
                Leave(k, code.Blocks[k].Ops.Length - 1, () => il.Emit(OpCodes.Ldloc, _t), dirty, null);
            });
            ChainChecks(leave);
            bool any = false;
            var s = il.DeclareLocal(typeof(Block));
            for (int j = 0; j < code.Blocks.Length; j++)
            {
                if (ret ? !IsReturnPoint(code.Rips[j]) : code.Blocks[k].Ops[^1].H != Handler.JmpInd) continue;
                if (!any)
                {
                    Cpu();
                    LdBlock(k);
                    il.Emit(OpCodes.Ldloc, _t);
                    il.Emit(OpCodes.Call, Next);
                    il.Emit(OpCodes.Stloc, s);
                    any = true;
                }
                var no = il.DefineLabel();
                il.Emit(OpCodes.Ldloc, s);
                LdBlock(j);
                il.Emit(OpCodes.Bne_Un, no);
                // The probe matched the block at Rips[j]'s physical address, and RIP is its linear one (the TLB hit).
                il.Emit(OpCodes.Ldloc, _t);
                I8(code.Rips[j]);
                il.Emit(OpCodes.Bne_Un, no);
                il.Emit(OpCodes.Br, _head[j]);
                il.MarkLabel(no);
            }
            il.Emit(OpCodes.Br, leave);
        }

        /// <summary>A region block that starts right after a CALL of the region.</summary>
        private bool IsReturnPoint(ulong rip)
        {
            for (int k = 0; k < code.Blocks.Length; k++)
            {
                ref Op last = ref code.Blocks[k].Ops[^1];
                if (last.H is Handler.Call or Handler.CallInd && code.Rips[k] + last.Offset + last.Len == rip) return true;
            }
            return false;
        }

        /// <summary>The executor's chain checks at a block's end: cycle limit, instruction limit, attention.</summary>
        private void ChainChecks(Label exit)
        {
            il.Emit(OpCodes.Ldloc, _cyc);
            Cpu();
            il.Emit(OpCodes.Ldfld, CycleLimit);
            il.Emit(OpCodes.Bge, exit);
            il.Emit(OpCodes.Ldloc, _ins);
            Cpu();
            il.Emit(OpCodes.Ldfld, InstructionLimit);
            il.Emit(OpCodes.Bge, exit);
            Cpu();
            il.Emit(OpCodes.Ldfld, Attention);
            il.Emit(OpCodes.Brtrue, exit);
        }

        /// <summary>Emits op <paramref name="i"/>; true if it ended the block (a branch: the edges are emitted).</summary>
        private bool EmitOp(int k, Op[] ops, int i, ulong next)
        {
            ref Op op = ref ops[i];
            switch (op.H)
            {
                case Handler.Nop:
                    return false;
                case Handler.MovRR64:
                    Ld(op.R2); St(op.R1);
                    return false;
                case Handler.MovRR32:
                    Ld(op.R2); ZeroExtend32(); St(op.R1);
                    return false;
                case Handler.MovZxRR8:
                    Ld(op.R2); il.Emit(OpCodes.Conv_U1); il.Emit(OpCodes.Conv_U8); St(op.R1);
                    return false;
                case Handler.MovZxRR16:
                    Ld(op.R2); il.Emit(OpCodes.Conv_U2); il.Emit(OpCodes.Conv_U8); St(op.R1);
                    return false;
                case Handler.MovRI:
                    I8(op.Size == 8 ? (ulong)op.Imm : (uint)op.Imm); St(op.R1);
                    return false;
                case Handler.Lea:
                    Ea(op, next);
                    if (op.Size == 4) ZeroExtend32();
                    St(op.R1);
                    return false;
                case Handler.MovLoad64:
                case Handler.MovLoad32:
                case Handler.MovZxLoad8:
                case Handler.MovZxLoad16:
                case Handler.MovSxdLoad:
                {
                    int r1 = op.R1;
                    Ea(op, next);
                    il.Emit(OpCodes.Stloc, _la);
                    int size = op.H switch { Handler.MovLoad64 => 8, Handler.MovZxLoad8 => 1, Handler.MovZxLoad16 => 2, _ => 4 };
                    Load(k, ops, i, size, op.H == Handler.MovSxdLoad, () => { il.Emit(OpCodes.Ldloc, _v); St(r1); });
                    return false;
                }
                case Handler.MovStore64:
                case Handler.MovStore32:
                case Handler.MovStore8:
                case Handler.MovStoreImm64:
                case Handler.MovStoreImm32:
                {
                    Ea(op, next);
                    il.Emit(OpCodes.Stloc, _la);
                    switch (op.H)
                    {
                        case Handler.MovStoreImm64: I8((ulong)op.Imm); break;
                        case Handler.MovStoreImm32: I8((uint)op.Imm); break;
                        default: Ld(op.R2); break;
                    }
                    il.Emit(OpCodes.Stloc, _v);
                    Store(k, ops, i, op.H is Handler.MovStore64 or Handler.MovStoreImm64 ? 8 : op.H == Handler.MovStore8 ? 1 : 4, null);
                    return false;
                }
                case Handler.PushR64:
                    // Cpu.Push64: the value first (PUSH RSP pushes the old RSP), RSP moves after the write.
                    Ld(op.R2); il.Emit(OpCodes.Stloc, _v);
                    Ld(Rsp); I8(8); il.Emit(OpCodes.Sub); il.Emit(OpCodes.Stloc, _la);
                    Store(k, ops, i, 8, () => { il.Emit(OpCodes.Ldloc, _la); St(Rsp); });
                    return false;
                case Handler.PopR64:
                {
                    // Cpu.Pop64, then the destination (POP RSP keeps the value read).
                    int r1 = op.R1;
                    Ld(Rsp); il.Emit(OpCodes.Stloc, _la);
                    Load(k, ops, i, 8, false, () =>
                    {
                        il.Emit(OpCodes.Ldloc, _la); I8(8); il.Emit(OpCodes.Add); St(Rsp);
                        il.Emit(OpCodes.Ldloc, _v); St(r1);
                    });
                    return false;
                }
                case Handler.Cmov:
                {
                    // SetReg(R1, size, Cond ? GetReg(R2) : GetReg(R1)): a 32-bit CMOV zero-extends even when false.
                    var no = il.DefineLabel();
                    var done = il.DefineLabel();
                    EmitCond(op.Sub);
                    il.Emit(OpCodes.Brfalse, no);
                    Ld(op.R2);
                    il.Emit(OpCodes.Br, done);
                    il.MarkLabel(no);
                    Ld(op.R1);
                    il.MarkLabel(done);
                    if (op.Size == 4) ZeroExtend32();
                    St(op.R1);
                    return false;
                }
                case Handler.Setcc:
                    // SetReg(R1, 1, Cond ? 1 : 0) of a low byte register.
                    Ld(op.R1); I8(~0xffUL); il.Emit(OpCodes.And);
                    EmitCond(op.Sub); il.Emit(OpCodes.Conv_U8);
                    il.Emit(OpCodes.Or);
                    St(op.R1);
                    return false;
                case Handler.CmpRRJcc:
                case Handler.CmpRIJcc:
                case Handler.TestRRJcc:
                {
                    int size = op.Size;
                    ulong m = Execution.Cpu.Mask(size);
                    Ld(op.R1); I8(m); il.Emit(OpCodes.And); il.Emit(OpCodes.Stloc, _fa);
                    if (op.H == Handler.CmpRIJcc) I8((ulong)op.Imm & m);
                    else { Ld(op.R2); I8(m); il.Emit(OpCodes.And); }
                    il.Emit(OpCodes.Stloc, _fb);
                    il.Emit(OpCodes.Ldloc, _fa); il.Emit(OpCodes.Ldloc, _fb);
                    if (op.H == Handler.TestRRJcc) il.Emit(OpCodes.And);
                    else { il.Emit(OpCodes.Sub); I8(m); il.Emit(OpCodes.And); }
                    il.Emit(OpCodes.Stloc, _fr);
                    int kind = op.H == Handler.TestRRJcc ? FlagLogic : FlagSub;
                    // SetLazy: the carry is left as it was.
                    SetPending(kind, size, null);
                    _flags = (kind, size);
                    ref Op jcc = ref ops[i + 1];
                    ulong jnext = next + jcc.Len;
                    CondEdges(k, jcc.Sub, jnext + (ulong)jcc.Imm, jnext, i + 2);
                    return true;
                }
                case Handler.Jmp:
                    Edge(k, 0, next + (ulong)op.Imm, i + 1);
                    return true;
                case Handler.Jcc:
                    CondEdges(k, op.Sub, next + (ulong)op.Imm, next, i + 1);
                    return true;
                case Handler.Call:
                {
                    ulong target = next + (ulong)op.Imm;
                    Ld(Rsp); I8(8); il.Emit(OpCodes.Sub); il.Emit(OpCodes.Stloc, _la);
                    I8(next); il.Emit(OpCodes.Stloc, _v);
                    Store(k, ops, i, 8, () => { il.Emit(OpCodes.Ldloc, _la); St(Rsp); });
                    Edge(k, 0, target, i + 1);
                    return true;
                }
                case Handler.Ret:
                {
                    // The block ends here: its flags are stored first (the target check's exit and the edges need them).
                    Materialize();
                    Ld(Rsp); il.Emit(OpCodes.Stloc, _la);
                    Load(k, ops, i, 8, false, () => { });
                    // Cpu.Target: a non-canonical return address is #GP with RSP unchanged.
                    CheckTarget(k, i);
                    il.Emit(OpCodes.Ldloc, _v); il.Emit(OpCodes.Stloc, _t);
                    Ld(Rsp); I8(8 + (ulong)op.Imm); il.Emit(OpCodes.Add); St(Rsp);
                    AddLocal(_ins, i + 1);
                    ReturnEdges(k, ret: true);
                    return true;
                }
                case Handler.JmpInd:
                case Handler.CallInd:
                {
                    // Cpu.Target of the register or the memory operand (#GP before anything moves), then CALL's push.
                    Materialize();
                    if ((op.Form & OpForm.MemSrc) != 0)
                    {
                        Ea(op, next);
                        il.Emit(OpCodes.Stloc, _la);
                        Load(k, ops, i, 8, false, () => { });
                    }
                    else { Ld(op.R2); il.Emit(OpCodes.Stloc, _v); }
                    CheckTarget(k, i);
                    il.Emit(OpCodes.Ldloc, _v); il.Emit(OpCodes.Stloc, _t);
                    if (op.H == Handler.CallInd)
                    {
                        Ld(Rsp); I8(8); il.Emit(OpCodes.Sub); il.Emit(OpCodes.Stloc, _la);
                        I8(next); il.Emit(OpCodes.Stloc, _v);
                        Store(k, ops, i, 8, () => { il.Emit(OpCodes.Ldloc, _la); St(Rsp); });
                    }
                    AddLocal(_ins, i + 1);
                    ReturnEdges(k, ret: false);
                    return true;
                }
                case Handler.Imul2 or Handler.Imul3 when ImulInline(op):
                    if ((op.Form & OpForm.MemSrc) != 0)
                    {
                        Ea(op, next);
                        il.Emit(OpCodes.Stloc, _la);
                        Load(k, ops, i, op.Size, true, () => Imul(ops, i));
                    }
                    else Imul(ops, i);
                    return false;
                case Handler.AluRM64 or Handler.AluRM32 when AluInline(op):
                {
                    bool wide = op.H == Handler.AluRM64;
                    Ea(op, next);
                    il.Emit(OpCodes.Stloc, _la);
                    int size = wide ? 8 : 4, r1 = op.R1, sub = op.Sub;
                    if (sub is AluOp.Adc or AluOp.Sbb) CarryIn();
                    Load(k, ops, i, size, false, () => AluCore(ops, i, sub, wide, r1, () => il.Emit(OpCodes.Ldloc, _v)));
                    return false;
                }
                case Handler.Mov or Handler.MovZx or Handler.MovSx or Handler.Alu or Handler.Test when GenericOk(op):
                    Generic(k, ops, i, next);
                    return false;
                case Handler.AluRR64 or Handler.AluRR32 or Handler.AluRI64 or Handler.AluRI32:
                {
                    bool wide = op.H is Handler.AluRR64 or Handler.AluRI64;
                    ulong imm = wide ? (ulong)op.Imm : (uint)op.Imm;
                    byte r2 = op.R2;
                    if (op.Sub is AluOp.Adc or AluOp.Sbb) CarryIn();
                    AluCore(ops, i, op.Sub, wide, op.R1, op.H is Handler.AluRI64 or Handler.AluRI32 ? () => I8(imm) : () =>
                    {
                        Ld(r2);
                        if (!wide) ZeroExtend32();
                    });
                    return false;
                }
                case Handler.Inc or Handler.Dec or Handler.Neg or Handler.Not when UnaryOk(op):
                    UnaryOp(k, ops, i, next);
                    return false;
                case Handler.Shift when ShiftOk(op):
                    ShiftGeneric(k, ops, i, next);
                    return false;
                case Handler.Shift when ShiftClOk(op):
                    ShiftCl(k, ops, i, next);
                    return false;
                case Handler.Bt when BitOk(op):
                    BitTest(op);
                    return false;
                case Handler.Cbw or Handler.Cwd when ExtendOk(op):
                    Extend(op);
                    return false;
                case Handler.Mul or Handler.Imul1 when MulDivOk(op):
                {
                    int size = op.Size;
                    bool signed = op.H == Handler.Imul1;
                    Operand(k, ops, i, next, () => MulCore(size, signed));
                    return false;
                }
                case Handler.Div or Handler.Idiv when MulDivOk(op):
                {
                    int size = op.Size;
                    bool signed = op.H == Handler.Idiv;
                    Operand(k, ops, i, next, () => DivCore(k, i, size, signed));
                    return false;
                }
                default:
                    if (IsAlu(op.H))
                    {
                        int rel = op.H - Handler.AddRR64, form = rel % 4;
                        bool wide = form is 0 or 2;
                        ulong imm = wide ? (ulong)op.Imm : (uint)op.Imm;
                        byte r2 = op.R2;
                        AluCore(ops, i, AluOfHandler[rel / 4], wide, op.R1, form >= 2 ? () => I8(imm) : () =>
                        {
                            Ld(r2);
                            if (!wide) ZeroExtend32();
                        });
                        return false;
                    }
                    if (IsShift(op.H)) { ShiftGeneric(k, ops, i, next); return false; }
                    EmitHelper(k, ops, i, next);
                    return false;
            }
        }

        private void Move(LocalBuilder from, LocalBuilder to)
        {
            il.Emit(OpCodes.Ldloc, from);
            il.Emit(OpCodes.Stloc, to);
        }

        /// <summary>Cpu.GetReg of a register below 16: its low <paramref name="size"/> bytes.</summary>
        private void GetReg(int r, int size)
        {
            Ld(r);
            if (size < 8) { I8(Execution.Cpu.Mask(size)); il.Emit(OpCodes.And); }
        }

        /// <summary>Cpu.SetReg of a register below 16: 32-bit writes zero-extend, 8- and 16-bit ones merge.</summary>
        private void SetReg(int r, int size, Action value)
        {
            if (size < 4)
            {
                ulong m = Execution.Cpu.Mask(size);
                Ld(r); I8(~m); il.Emit(OpCodes.And);
                value(); I8(m); il.Emit(OpCodes.And);
                il.Emit(OpCodes.Or);
            }
            else
            {
                value();
                if (size == 4) ZeroExtend32();
            }
            St(r);
        }

        /// <summary>
        /// The generic MOV, MOVZX, MOVSX, ALU and TEST forms (<see cref="GenericOk"/>), as Cpu.ExecuteCold, Cpu.ExecAlu and
        /// Cpu.Test do them: memory through <see cref="Load"/> and <see cref="Store"/>, flags set after a read-modify-write's
        /// write succeeded.
        /// </summary>
        private void Generic(int k, Op[] ops, int i, ulong next)
        {
            ref Op op = ref ops[i];
            int size = op.Size, size2 = op.Size2, r1 = op.R1, r2 = op.R2, sub = op.Sub;
            ulong m = Execution.Cpu.Mask(size), imm = (ulong)op.Imm & m;
            bool memDst = (op.Form & OpForm.MemDst) != 0, memSrc = (op.Form & OpForm.MemSrc) != 0, immSrc = (op.Form & OpForm.ImmSrc) != 0;
            Action src = immSrc ? () => I8(imm) : () => GetReg(r2, size);
            // ADC's and SBB's carry-in before anything (the flags' locals hold the previous producer until this one's are set).
            if (op.H == Handler.Alu && sub is AluOp.Adc or AluOp.Sbb) CarryIn();
            if (memDst || memSrc) { Ea(op, next); il.Emit(OpCodes.Stloc, _la); }
            switch (op.H)
            {
                case Handler.Mov:
                    if (memDst) { src(); il.Emit(OpCodes.Stloc, _v); Store(k, ops, i, size, null); }
                    else if (memSrc) Load(k, ops, i, size, false, () => SetReg(r1, size, () => il.Emit(OpCodes.Ldloc, _v)));
                    else SetReg(r1, size, src);
                    return;
                case Handler.MovZx or Handler.MovSx:
                {
                    bool sx = op.H == Handler.MovSx;
                    void Extend()
                    {
                        if (!sx) return;
                        il.Emit(size2 == 1 ? OpCodes.Conv_I1 : size2 == 2 ? OpCodes.Conv_I2 : OpCodes.Conv_I4);
                        il.Emit(OpCodes.Conv_I8);
                    }
                    if (memSrc) Load(k, ops, i, size2, false, () => SetReg(r1, size, () => { il.Emit(OpCodes.Ldloc, _v); Extend(); }));
                    else SetReg(r1, size, () => { GetReg(r2, size2); Extend(); });
                    return;
                }
                case Handler.Test:
                {
                    // SetLazy(Logic, size, a, b, a & b): the carry is left as it was.
                    void Flags()
                    {
                        il.Emit(OpCodes.Ldloc, _fa); il.Emit(OpCodes.Ldloc, _fb); il.Emit(OpCodes.And); il.Emit(OpCodes.Stloc, _fr);
                        SetPending(FlagLogic, size, null);
                        _flags = (FlagLogic, size);
                    }
                    // The register operand waits in _s while the load may take its slow path (a pending producer's _fa.._fr).
                    if (memDst)
                    {
                        src(); il.Emit(OpCodes.Stloc, _s);
                        Load(k, ops, i, size, false, () => { Move(_v, _fa); Move(_s, _fb); Flags(); });
                    }
                    else if (memSrc)
                    {
                        GetReg(r1, size); il.Emit(OpCodes.Stloc, _s);
                        Load(k, ops, i, size, false, () => { Move(_s, _fa); Move(_v, _fb); Flags(); });
                    }
                    else
                    {
                        GetReg(r1, size); il.Emit(OpCodes.Stloc, _fa);
                        src(); il.Emit(OpCodes.Stloc, _fb);
                        Flags();
                    }
                    return;
                }
                default:
                {
                    int kind = AluKind(sub);
                    bool withCarry = sub is AluOp.Adc or AluOp.Sbb;
                    void Compute(LocalBuilder a, LocalBuilder b, LocalBuilder r)
                    {
                        il.Emit(OpCodes.Ldloc, a); il.Emit(OpCodes.Ldloc, b);
                        AluCompute(sub);
                        if (size < 8) { I8(m); il.Emit(OpCodes.And); }
                        il.Emit(OpCodes.Stloc, r);
                    }
                    void Flags()
                    {
                        if (withCarry) { SetPendingWithCarry(kind, size); return; }
                        SetPending(kind, size, () => I4(0));
                        _flags = (kind, size);
                    }
                    if (memDst)
                    {
                        // a in _v, b in _s, the result in _u until the write succeeded; then they become the flags' operands.
                        src(); il.Emit(OpCodes.Stloc, _s);
                        Load(k, ops, i, size, false, () =>
                        {
                            Compute(_v, _s, _u);
                            if (sub == AluOp.Cmp) { Move(_v, _fa); Move(_s, _fb); Move(_u, _fr); Flags(); return; }
                            Move(_v, _w); Move(_u, _v);
                            Store(k, ops, i, size, () => { Move(_w, _fa); Move(_s, _fb); Move(_v, _fr); Flags(); });
                        });
                        return;
                    }
                    void Finish()
                    {
                        Compute(_fa, _fb, _fr);
                        if (sub != AluOp.Cmp) SetReg(r1, size, () => il.Emit(OpCodes.Ldloc, _fr));
                        Flags();
                    }
                    if (memSrc)
                    {
                        GetReg(r1, size); il.Emit(OpCodes.Stloc, _s);
                        Load(k, ops, i, size, false, () => { Move(_s, _fa); Move(_v, _fb); Finish(); });
                    }
                    else { GetReg(r1, size); il.Emit(OpCodes.Stloc, _fa); src(); il.Emit(OpCodes.Stloc, _fb); Finish(); }
                    return;
                }
            }
        }

        private void CondEdges(int k, int cc, ulong taken, ulong notTaken, int count)
        {
            var t = il.DefineLabel();
            EmitCond(cc);
            // Each edge stores the flags on its own path, or leaves them to the exits (Edge).
            il.Emit(OpCodes.Brtrue, t);
            int ins = count;
            Edge(k, 1, notTaken, ins);
            il.MarkLabel(t);
            Edge(k, 0, taken, ins);
        }

        /// <summary>
        /// An ALU op of a full register <paramref name="r1"/> with <paramref name="source"/> (zero-extended 32-bit operands
        /// and results when not <paramref name="wide"/>), as the executor's handlers and Cpu.AluToRegister; operands and
        /// result in _fa, _fb, _fr (the block's flag producer). ADC's and SBB's carry-in is in _c already (<see cref="CarryIn"/>
        /// before the op's memory access: this may be the tail a slow path emits again); the others clear the carry.
        /// </summary>
        private void AluCore(Op[] ops, int i, int sub, bool wide, int r1, Action source)
        {
            bool withCarry = sub is AluOp.Adc or AluOp.Sbb;
            Ld(r1); if (!wide) ZeroExtend32(); il.Emit(OpCodes.Stloc, _fa);
            source();
            il.Emit(OpCodes.Stloc, _fb);
            il.Emit(OpCodes.Ldloc, _fa); il.Emit(OpCodes.Ldloc, _fb);
            int kind = AluKind(sub);
            AluCompute(sub);
            if (!wide && sub is not (AluOp.Or or AluOp.And or AluOp.Xor)) ZeroExtend32();
            il.Emit(OpCodes.Stloc, _fr);
            if (sub != AluOp.Cmp) { il.Emit(OpCodes.Ldloc, _fr); St(r1); }
            if (withCarry) SetPendingWithCarry(kind, wide ? 8 : 4);
            else
            {
                SetPending(kind, wide ? 8 : 4, () => I4(0));
                _flags = (kind, wide ? 8 : 4);
            }
        }

        /// <summary>Cpu.AluFlagOps: the lazy-flags kind of an ALU sub-op.</summary>
        private static int AluKind(int sub) => sub switch
        {
            AluOp.Add => FlagAdd, AluOp.Adc => FlagAdc, AluOp.Sbb => FlagSbb, AluOp.Sub or AluOp.Cmp => FlagSub, _ => FlagLogic,
        };

        /// <summary>Cpu.AluValue of the two values on the stack (ADC's and SBB's carry-in in _c), unmasked.</summary>
        private void AluCompute(int sub)
        {
            switch (sub)
            {
                case AluOp.Add: il.Emit(OpCodes.Add); break;
                case AluOp.Or: il.Emit(OpCodes.Or); break;
                case AluOp.And: il.Emit(OpCodes.And); break;
                case AluOp.Xor: il.Emit(OpCodes.Xor); break;
                case AluOp.Adc: il.Emit(OpCodes.Add); il.Emit(OpCodes.Ldloc, _c); il.Emit(OpCodes.Conv_U8); il.Emit(OpCodes.Add); break;
                case AluOp.Sbb: il.Emit(OpCodes.Sub); il.Emit(OpCodes.Ldloc, _c); il.Emit(OpCodes.Conv_U8); il.Emit(OpCodes.Sub); break;
                default: il.Emit(OpCodes.Sub); break;
            }
        }

        /// <summary>
        /// Cpu.ImulN: its operands sign-extended, Cpu.ImulValue, the lazy flags it sets; a memory source already read into
        /// _v, sign-extended (<see cref="Load"/>).
        /// </summary>
        private void Imul(Op[] ops, int i)
        {
            Op op = ops[i];
            int size = op.Size;
            bool mem = (op.Form & OpForm.MemSrc) != 0;
            void Signed(int r)
            {
                Ld(r);
                if (size == 4) { il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); }
            }
            void Source()
            {
                if (mem) il.Emit(OpCodes.Ldloc, _v);
                else Signed(op.R2);
            }
            if (op.H == Handler.Imul3)
            {
                Source();
                long imm = size == 4 ? (int)op.Imm : op.Imm;
                il.Emit(OpCodes.Ldc_I8, imm);
            }
            else
            {
                Signed(op.R1);
                Source();
            }
            I4(size);
            il.Emit(OpCodes.Ldloca, _flag);
            il.Emit(OpCodes.Call, ImulValue);
            il.Emit(OpCodes.Stloc, _fr);
            il.Emit(OpCodes.Ldloc, _fr); St(op.R1);
            il.Emit(OpCodes.Ldc_I8, 0L); il.Emit(OpCodes.Stloc, _fa);
            il.Emit(OpCodes.Ldloc, _flag); il.Emit(OpCodes.Conv_U8); il.Emit(OpCodes.Stloc, _fb);
            il.Emit(OpCodes.Ldloc, _flag); il.Emit(OpCodes.Stloc, _c);
            SetPendingWithCarry(FlagResultCfOf, size);
        }

        /// <summary>
        /// The operand of a one-operand op (MUL, DIV: a register below 16 or memory, at the op's size) into _s, then
        /// <paramref name="body"/> (after the load: the tail a slow path emits again).
        /// </summary>
        private void Operand(int k, Op[] ops, int i, ulong next, Action body)
        {
            ref Op op = ref ops[i];
            if ((op.Form & OpForm.MemDst) != 0)
            {
                Ea(op, next);
                il.Emit(OpCodes.Stloc, _la);
                Load(k, ops, i, op.Size, false, () => { Move(_v, _s); body(); });
                return;
            }
            GetReg(op.R1, op.Size); il.Emit(OpCodes.Stloc, _s);
            body();
        }

        /// <summary>Cpu.Mul1 of 4 or 8 bytes by _s: RDX:RAX, and ResultCfOf flags (CF = OF = the high half is needed).</summary>
        private void MulCore(int size, bool signed)
        {
            if (size == 8)
            {
                // _fr = the low half, _t = the high half; overflow into _c.
                Ld(Rax); il.Emit(OpCodes.Ldloc, _s);
                if (signed)
                {
                    il.Emit(OpCodes.Ldloca, _slo); il.Emit(OpCodes.Call, BigMulS); il.Emit(OpCodes.Stloc, _t);
                    il.Emit(OpCodes.Ldloc, _slo); il.Emit(OpCodes.Stloc, _fr);
                    // h != (l >> 63)
                    il.Emit(OpCodes.Ldloc, _t); il.Emit(OpCodes.Ldloc, _fr); I4(63); il.Emit(OpCodes.Shr);
                }
                else
                {
                    il.Emit(OpCodes.Ldloca, _lo); il.Emit(OpCodes.Call, BigMulU); il.Emit(OpCodes.Stloc, _t);
                    il.Emit(OpCodes.Ldloc, _lo); il.Emit(OpCodes.Stloc, _fr);
                    il.Emit(OpCodes.Ldloc, _t); I8(0);
                }
                il.Emit(OpCodes.Ceq); Not32(); il.Emit(OpCodes.Stloc, _c);
                il.Emit(OpCodes.Ldloc, _fr); St(Rax);
                il.Emit(OpCodes.Ldloc, _t); St(Rdx);
            }
            else
            {
                // p = the 64-bit product in _t.
                if (signed)
                {
                    Ld(Rax); il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8);
                    il.Emit(OpCodes.Ldloc, _s); il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8);
                }
                else
                {
                    Ld(Rax); ZeroExtend32();
                    il.Emit(OpCodes.Ldloc, _s);
                }
                il.Emit(OpCodes.Mul); il.Emit(OpCodes.Stloc, _t);
                il.Emit(OpCodes.Ldloc, _t); ZeroExtend32(); il.Emit(OpCodes.Stloc, _fr);
                // signed: (long)p != (int)p; unsigned: p >> 32 != 0.
                il.Emit(OpCodes.Ldloc, _t);
                if (signed) { il.Emit(OpCodes.Ldloc, _t); il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); }
                else { I4(32); il.Emit(OpCodes.Shr_Un); I8(0); }
                il.Emit(OpCodes.Ceq); Not32(); il.Emit(OpCodes.Stloc, _c);
                il.Emit(OpCodes.Ldloc, _fr); St(Rax);
                il.Emit(OpCodes.Ldloc, _t); I4(32); il.Emit(OpCodes.Shr_Un); St(Rdx);
            }
            I8(0); il.Emit(OpCodes.Stloc, _fa);
            il.Emit(OpCodes.Ldloc, _c); il.Emit(OpCodes.Conv_U8); il.Emit(OpCodes.Stloc, _fb);
            SetPendingWithCarry(FlagResultCfOf, size);
        }

        private void Not32() { I4(0); il.Emit(OpCodes.Ceq); }

        /// <summary>
        /// Cpu.DivideValue of RDX:RAX by _s for the divisions that cannot fault and need no 128-bit dividend (the high half
        /// RDX is 0, or for IDIV the sign of RAX, and the divisor is neither 0 nor -1); any other on a slow path that calls
        /// Cpu.DivideValue itself (#DE there). The flags are left as they are.
        /// </summary>
        private void DivCore(int k, int i, int size, bool signed)
        {
            var slow = il.DefineLabel();
            var back = il.DefineLabel();
            il.Emit(OpCodes.Ldloc, _s); il.Emit(OpCodes.Brfalse, slow);
            if (signed)
            {
                il.Emit(OpCodes.Ldloc, _s); I8(Execution.Cpu.Mask(size)); il.Emit(OpCodes.Beq, slow);
                // RDX (at the size) is the sign of RAX.
                Ld(Rdx); if (size == 4) ZeroExtend32();
                Ld(Rax);
                if (size == 4) { il.Emit(OpCodes.Conv_I4); I4(31); il.Emit(OpCodes.Shr); il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Conv_U8); }
                else { I4(63); il.Emit(OpCodes.Shr); }
                il.Emit(OpCodes.Bne_Un, slow);
            }
            else
            {
                Ld(Rdx); if (size == 4) ZeroExtend32();
                il.Emit(OpCodes.Brtrue, slow);
            }
            int dirty = _dirty;
            bool stateSet = _stateSet;
            var pending = _pending;
            void Dividend()
            {
                Ld(Rax);
                if (size == 4) { if (signed) { il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); } else ZeroExtend32(); }
            }
            void Divisor()
            {
                il.Emit(OpCodes.Ldloc, _s);
                if (size == 4 && signed) { il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); }
            }
            Dividend(); Divisor(); il.Emit(signed ? OpCodes.Div : OpCodes.Div_Un); il.Emit(OpCodes.Stloc, _t);
            Dividend(); Divisor(); il.Emit(signed ? OpCodes.Rem : OpCodes.Rem_Un);
            if (size == 4) ZeroExtend32();
            St(Rdx);
            il.Emit(OpCodes.Ldloc, _t); if (size == 4) ZeroExtend32();
            St(Rax);
            il.MarkLabel(back);
            _cold.Add(() =>
            {
                il.MarkLabel(slow);
                Spill(k, i, dirty, stateSet, pending);
                Cpu(); il.Emit(OpCodes.Ldloc, _s); I4(size); I4(signed ? 1 : 0); il.Emit(OpCodes.Call, DivideValue);
                Unspill(1 << Rax | 1 << Rdx);
                il.Emit(OpCodes.Br, back);
            });
        }

        /// <summary>CBW/CWDE/CDQE (RAX from its low half, sign-extended) and CWD/CDQ/CQO (RDX from the sign of RAX).</summary>
        private void Extend(in Op op)
        {
            int size = op.Size;
            void SignedHalf(int bytes)
            {
                Ld(Rax);
                il.Emit(bytes == 1 ? OpCodes.Conv_I1 : bytes == 2 ? OpCodes.Conv_I2 : bytes == 4 ? OpCodes.Conv_I4 : OpCodes.Nop);
                il.Emit(OpCodes.Conv_I8);
            }
            if (op.H == Handler.Cbw) SetReg(Rax, size, () => SignedHalf(size / 2));
            else SetReg(Rdx, size, () => { SignedHalf(size); I4(63); il.Emit(OpCodes.Shr); });
        }

        /// <summary>
        /// A one-operand read-modify-write of a register below 16 or memory at the op's size: the operand into _v,
        /// <paramref name="compute"/> puts the result in _u, which is written back; then <paramref name="flags"/> gets the
        /// operand and the result (after the last possible slow path: the flags are set only once the write succeeded).
        /// </summary>
        private void ReadModifyWrite(int k, Op[] ops, int i, ulong next, Action compute, Action<LocalBuilder, LocalBuilder> flags)
        {
            ref Op op = ref ops[i];
            int size = op.Size, r1 = op.R1;
            if ((op.Form & OpForm.MemDst) != 0)
            {
                Ea(op, next);
                il.Emit(OpCodes.Stloc, _la);
                Load(k, ops, i, size, false, () =>
                {
                    compute();
                    Move(_v, _w); Move(_u, _v);
                    Store(k, ops, i, size, () => flags(_w, _v));
                });
                return;
            }
            GetReg(r1, size); il.Emit(OpCodes.Stloc, _v);
            compute();
            SetReg(r1, size, () => il.Emit(OpCodes.Ldloc, _u));
            flags(_v, _u);
        }

        /// <summary>Cpu.Unary: INC, DEC (CF kept), NEG (SUB flags from 0, CF left as it is: SetLazy) and NOT (no flags).</summary>
        private void UnaryOp(int k, Op[] ops, int i, ulong next)
        {
            ref Op op = ref ops[i];
            var h = op.H;
            int size = op.Size;
            ulong m = Execution.Cpu.Mask(size);
            if (h is Handler.Inc or Handler.Dec) CarryIn();
            // The operand in _v, the result into _u.
            void Compute()
            {
                il.Emit(OpCodes.Ldloc, _v);
                switch (h)
                {
                    case Handler.Inc: I8(1); il.Emit(OpCodes.Add); break;
                    case Handler.Dec: I8(1); il.Emit(OpCodes.Sub); break;
                    case Handler.Neg: il.Emit(OpCodes.Neg); break;
                    default: il.Emit(OpCodes.Not); break;
                }
                if (size < 8) { I8(m); il.Emit(OpCodes.And); }
                il.Emit(OpCodes.Stloc, _u);
            }
            void Flags(LocalBuilder a, LocalBuilder r)
            {
                switch (h)
                {
                    case Handler.Inc or Handler.Dec:
                        Move(a, _fa); I8(1); il.Emit(OpCodes.Stloc, _fb); Move(r, _fr);
                        SetPendingWithCarry(h == Handler.Inc ? FlagInc : FlagDec, size);
                        break;
                    case Handler.Neg:
                        I8(0); il.Emit(OpCodes.Stloc, _fa); Move(a, _fb); Move(r, _fr);
                        SetPending(FlagSub, size, null);
                        _flags = (FlagSub, size);
                        break;
                }
            }
            ReadModifyWrite(k, ops, i, next, Compute, Flags);
        }

        /// <summary>
        /// Cpu.Shift's SHL/SAL, SHR and SAR (the generic op, or the executor's ShlRI64 ... SarRI32) by an immediate count
        /// (not 0 once masked) of any size, register or memory, or with <paramref name="countInN"/> by the count in _n (1 to
        /// the width less one: <see cref="ShiftCl"/>): the result into _u, CF into _c, OF into _s (0/1), then ResultCfOf
        /// flags after the write.
        /// </summary>
        private void ShiftGeneric(int k, Op[] ops, int i, ulong next, bool countInN = false)
        {
            ref Op op = ref ops[i];
            int size = op.Size, bits = size * 8, sub = op.Sub;
            int count = countInN ? -1 : (int)op.Imm & (size == 8 ? 63 : 31);
            ulong m = Execution.Cpu.Mask(size);
            void SignedV()
            {
                il.Emit(OpCodes.Ldloc, _v);
                switch (size)
                {
                    case 4: il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); break;
                    case 2: il.Emit(OpCodes.Conv_I2); il.Emit(OpCodes.Conv_I8); break;
                    case 1: il.Emit(OpCodes.Conv_I1); il.Emit(OpCodes.Conv_I8); break;
                }
            }
            // The count less minus (an immediate's capped at 63: SAR of a 1- or 2-byte operand by up to 31).
            void Count(int minus)
            {
                if (count >= 0) { I4(Math.Min(count - minus, 63)); return; }
                il.Emit(OpCodes.Ldloc, _n);
                if (minus != 0) { I4(minus); il.Emit(OpCodes.Sub); }
            }
            void Compute()
            {
                switch (sub)
                {
                    case Decoding.ShiftOp.Shl or Decoding.ShiftOp.Sal:
                        il.Emit(OpCodes.Ldloc, _v); Count(0); il.Emit(OpCodes.Shl);
                        if (size < 8) { I8(m); il.Emit(OpCodes.And); }
                        il.Emit(OpCodes.Stloc, _u);
                        // CF = bit (width - count) of the operand; none beyond the width (1- and 2-byte operands).
                        if (count < 0) { il.Emit(OpCodes.Ldloc, _v); I4(bits); Count(0); il.Emit(OpCodes.Sub); }
                        else if (count <= bits) { il.Emit(OpCodes.Ldloc, _v); I4(bits - count); }
                        if (count <= bits) { il.Emit(OpCodes.Shr_Un); I8(1); il.Emit(OpCodes.And); }
                        else I8(0);
                        il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Stloc, _c);
                        // OF = MSB(result) ^ CF
                        il.Emit(OpCodes.Ldloc, _u); I4(bits - 1); il.Emit(OpCodes.Shr_Un);
                        il.Emit(OpCodes.Ldloc, _c); il.Emit(OpCodes.Conv_U8); il.Emit(OpCodes.Xor);
                        break;
                    case Decoding.ShiftOp.Shr:
                        il.Emit(OpCodes.Ldloc, _v); Count(0); il.Emit(OpCodes.Shr_Un); il.Emit(OpCodes.Stloc, _u);
                        il.Emit(OpCodes.Ldloc, _v); Count(1); il.Emit(OpCodes.Shr_Un); I8(1); il.Emit(OpCodes.And);
                        il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Stloc, _c);
                        // OF = MSB(operand)
                        il.Emit(OpCodes.Ldloc, _v); I4(bits - 1); il.Emit(OpCodes.Shr_Un);
                        break;
                    default:
                        SignedV(); Count(0); il.Emit(OpCodes.Shr);
                        if (size < 8) { I8(m); il.Emit(OpCodes.And); }
                        il.Emit(OpCodes.Stloc, _u);
                        SignedV(); Count(1); il.Emit(OpCodes.Shr); I8(1); il.Emit(OpCodes.And);
                        il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Stloc, _c);
                        I8(0);
                        break;
                }
                il.Emit(OpCodes.Stloc, _s);
            }
            void Flags(LocalBuilder a, LocalBuilder r)
            {
                Move(a, _fa); Move(_s, _fb); Move(r, _fr);
                SetPendingWithCarry(FlagResultCfOf, size);
            }
            ReadModifyWrite(k, ops, i, next, Compute, Flags);
        }

        /// <summary>
        /// Cpu.Shift's SHL/SAL, SHR and SAR of a register by CL (<see cref="ShiftClOk"/>): the count masked into _n; 0 leaves
        /// the flags (stored before the op, so both paths join with the fields current) and the value, a 32-bit register
        /// still zero-extended; otherwise the result, CF and OF as <see cref="ShiftGeneric"/> computes them for an immediate.
        /// </summary>
        private void ShiftCl(int k, Op[] ops, int i, ulong next)
        {
            Op op = ops[i];
            Materialize();
            _flags = null;
            var shift = il.DefineLabel();
            var join = il.DefineLabel();
            Ld(Rcx); il.Emit(OpCodes.Conv_I4); I4(op.Size * 8 - 1); il.Emit(OpCodes.And); il.Emit(OpCodes.Stloc, _n);
            il.Emit(OpCodes.Ldloc, _n); il.Emit(OpCodes.Brtrue, shift);
            if (op.Size == 4) SetReg(op.R1, 4, () => GetReg(op.R1, 4));
            il.Emit(OpCodes.Br, join);
            il.MarkLabel(shift);
            ShiftGeneric(k, ops, i, next, countInN: true);
            Materialize();
            _flags = null;
            il.MarkLabel(join);
        }

        /// <summary>
        /// Cpu.BitTest of a register: CF the selected bit (Cpu.SetFlagBits, after the pending flags are stored: the other
        /// flags stay as their producer left them), BTS/BTR/BTC write the register with the bit set, cleared or flipped.
        /// </summary>
        private void BitTest(Op op)
        {
            int size = op.Size, bits = size * 8;
            Materialize();
            _flags = null;
            GetReg(op.R1, size); il.Emit(OpCodes.Stloc, _v);
            if (op.Form == OpForm.ImmSrc) I4((int)((ulong)op.Imm & (ulong)(bits - 1)));
            else { Ld(op.R2); il.Emit(OpCodes.Conv_I4); I4(bits - 1); il.Emit(OpCodes.And); }
            il.Emit(OpCodes.Stloc, _n);
            il.Emit(OpCodes.Ldloc, _v); il.Emit(OpCodes.Ldloc, _n); il.Emit(OpCodes.Shr_Un); I8(1); il.Emit(OpCodes.And);
            il.Emit(OpCodes.Stloc, _u);
            if (op.Sub != 0)
                SetReg(op.R1, size, () =>
                {
                    il.Emit(OpCodes.Ldloc, _v);
                    I8(1); il.Emit(OpCodes.Ldloc, _n); il.Emit(OpCodes.Shl);
                    switch (op.Sub)
                    {
                        case 1: il.Emit(OpCodes.Or); break;
                        case 2: il.Emit(OpCodes.Not); il.Emit(OpCodes.And); break;
                        default: il.Emit(OpCodes.Xor); break;
                    }
                });
            Cpu(); I8(Execution.Cpu.FlagCF); il.Emit(OpCodes.Ldloc, _u); il.Emit(OpCodes.Call, SetFlagBits);
        }
    }
}
