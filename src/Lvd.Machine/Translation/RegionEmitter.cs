using System.Reflection;
using System.Reflection.Emit;
using Lvd.Machine.Decoding;
using Lvd.Machine.Execution;

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
    private static readonly MethodInfo Read8 = M("Read8"), Read16 = M("Read16"), Read32 = M("Read32"), Read64 = M("Read64"),
        Write8 = M("Write8"), Write32 = M("Write32"), Write64 = M("Write64"), Cond = M("Cond"), Target = M("Target"),
        Next = M("RegionNext"), AluToRegister = M("AluToRegister"), ExecAlu = M("ExecAlu"), TestOp = M("Test"), Unary = M("Unary"),
        ShiftOp = M("Shift"), Cold = M("ExecuteCold"), ImulValue = M("ImulValue"), ImulN = M("ImulN"), Mul1 = M("Mul1"), Divide = M("Divide");

    /// <summary>The interpreter's lazy-flags kinds (Cpu.FlagOp), as the byte values its field holds.</summary>
    private static readonly int FlagAdd = FlagValue("Add"), FlagSub = FlagValue("Sub"), FlagLogic = FlagValue("Logic"),
        FlagResultCfOf = FlagValue("ResultCfOf");

    private static int FlagValue(string name) => Convert.ToInt32(Enum.Parse(LfOp.FieldType, name));

    private const int Rsp = 4;

    // ---- what is translated ----

    private static bool RegOk(byte r) => r < 16;

    private static bool MemOk(in Op op) =>
        op.Seg == 0 && (op.Base == Op.NoReg || op.Base == Op.RipReg || op.Base < 16) && (op.Index == Op.NoReg || op.Index < 16);

    private static bool IsBranch(Handler h) => h is Handler.Jmp or Handler.Jcc or Handler.Call or Handler.Ret;

    private static bool IsFused(Handler h) => h is Handler.CmpRRJcc or Handler.CmpRIJcc or Handler.TestRRJcc;

    private static bool IsAlu(Handler h) => h >= Handler.AddRR64 && h <= Handler.CmpRI32;

    private static bool IsShift(Handler h) => h >= Handler.ShlRI64 && h <= Handler.SarRI32;

    /// <summary>Ops that touch no memory, no flags and call nothing.</summary>
    private static bool IsPureRegister(Handler h) => h is Handler.Nop or Handler.MovRR64 or Handler.MovRR32 or Handler.MovRI
        or Handler.MovZxRR8 or Handler.MovZxRR16 or Handler.Lea;

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

    /// <summary>IMUL r, r/imm of 8 or 4 bytes: the product from Cpu.ImulValue, in the region.</summary>
    private static bool ImulInline(in Op op) => op.H is Handler.Imul2 or Handler.Imul3 && (op.Form & OpForm.MemSrc) == 0
        && op.Size is 8 or 4 && RegOk(op.R1) && RegOk(op.R2);

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
        if (n == 0) return false;
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
                if (op.H != Handler.Ret && !Canonical(rip + op.Offset + op.Len + (ulong)op.Imm)) return false;
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
            case Handler.Ret: break;
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

    private sealed class Emitter(ILGenerator il, RegionCode code)
    {
        private readonly LocalBuilder?[] _reg = new LocalBuilder?[16];
        private LocalBuilder[] _block = [];
        private LocalBuilder _regs = null!, _a = null!, _b = null!, _r = null!, _t = null!, _flag = null!;
        private Label[] _head = [];
        private int _dirty;

        public void EmitAll()
        {
            var blocks = code.Blocks;
            var start = il.DefineLabel();
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Brtrue, start);
            il.Emit(OpCodes.Ldnull);
            il.Emit(OpCodes.Ret);
            il.MarkLabel(start);
            _regs = il.DeclareLocal(typeof(ulong[]));
            _a = il.DeclareLocal(typeof(ulong));
            _b = il.DeclareLocal(typeof(ulong));
            _r = il.DeclareLocal(typeof(ulong));
            _t = il.DeclareLocal(typeof(ulong));
            _flag = il.DeclareLocal(typeof(bool));
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, Regs);
            il.Emit(OpCodes.Stloc, _regs);
            int used = 0;
            foreach (var b in blocks) foreach (ref Op op in b.Ops.AsSpan()) used |= Uses(op);
            for (int i = 0; i < 16; i++)
            {
                if ((used & (1 << i)) == 0) continue;
                _reg[i] = il.DeclareLocal(typeof(ulong));
                il.Emit(OpCodes.Ldloc, _regs);
                il.Emit(OpCodes.Ldc_I4, i);
                il.Emit(OpCodes.Ldelem_I8);
                il.Emit(OpCodes.Stloc, _reg[i]!);
            }
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
        }

        private static int Bit(byte r) => r < 16 ? 1 << r : 0;

        private static int Uses(in Op op)
        {
            int m = Bit(op.R1) | Bit(op.R2) | Bit(op.Base) | Bit(op.Index);
            if (op.H is Handler.PushR64 or Handler.PopR64 or Handler.Call or Handler.Ret) m |= 1 << Rsp;
            return m;
        }

        // ---- registers ----

        private void Ld(int r) => il.Emit(OpCodes.Ldloc, _reg[r]!);

        private void St(int r)
        {
            il.Emit(OpCodes.Stloc, _reg[r]!);
            _dirty |= 1 << r;
        }

        /// <summary>Writes the registers changed since the last write-back to Regs; <paramref name="keep"/>: the path goes on.</summary>
        private void Sync(bool keep = false)
        {
            for (int i = 0; i < 16; i++)
            {
                if ((_dirty & (1 << i)) == 0) continue;
                il.Emit(OpCodes.Ldloc, _regs);
                il.Emit(OpCodes.Ldc_I4, i);
                il.Emit(OpCodes.Ldloc, _reg[i]!);
                il.Emit(OpCodes.Stelem_I8);
            }
            if (!keep) _dirty = 0;
        }

        private void Cpu() => il.Emit(OpCodes.Ldarg_1);

        /// <summary>The region's block <paramref name="k"/> (code.Blocks[k], loaded at entry).</summary>
        private void LdBlock(int k) => il.Emit(OpCodes.Ldloc, _block[k]);

        /// <summary>
        /// The registers an op run by an interpreter helper may write: its register destination, RAX and RDX for MUL and
        /// DIV, nothing for TEST, all for the rest.
        /// </summary>
        private static int Writes(in Op op)
        {
            int dst = op.R1 < 16 ? 1 << op.R1 : op.R1 < 20 ? 1 << (op.R1 - 16) : 0xffff;
            return op.H switch
            {
                Handler.AluRR64 or Handler.AluRR32 or Handler.AluRI64 or Handler.AluRI32 or Handler.AluRM64 or Handler.AluRM32
                    or Handler.Imul2 or Handler.Imul3 => dst,
                Handler.Alu or Handler.Inc or Handler.Dec or Handler.Neg or Handler.Not or Handler.Shift
                    => (op.Form & OpForm.MemDst) != 0 ? 0 : dst,
                Handler.Test => 0,
                Handler.Mul or Handler.Imul1 or Handler.Div or Handler.Idiv => 1 << 0 | 1 << 2,
                _ => 0xffff,
            };
        }

        /// <summary>After an interpreter helper: the registers it may have written (<paramref name="mask"/>), back into the locals.</summary>
        private void Reload(int mask)
        {
            for (int i = 0; i < 16; i++)
            {
                if (_reg[i] == null || (mask & (1 << i)) == 0) continue;
                il.Emit(OpCodes.Ldloc, _regs);
                I4(i);
                il.Emit(OpCodes.Ldelem_I8);
                il.Emit(OpCodes.Stloc, _reg[i]!);
            }
        }

        /// <summary>
        /// An op the region does not translate but runs with the interpreter's own code for it (the method the executor's
        /// switch calls, on the block's real op): registers written back first and reloaded after.
        /// </summary>
        private void EmitHelper(int k, Op[] ops, int i, ulong next, Label exit)
        {
            ref Op op = ref ops[i];
            BeforeCall(i);
            Cpu();
            LdBlock(k);
            il.Emit(OpCodes.Ldfld, BlockOps);
            I4(i);
            il.Emit(OpCodes.Ldelema, typeof(Op));
            switch (op.H)
            {
                case Handler.AluRR64: Ld(op.R1); Ld(op.R2); il.Emit(OpCodes.Call, AluToRegister); break;
                case Handler.AluRI64: Ld(op.R1); I8((ulong)op.Imm); il.Emit(OpCodes.Call, AluToRegister); break;
                case Handler.AluRR32: Ld(op.R1); ZeroExtend32(); Ld(op.R2); ZeroExtend32(); il.Emit(OpCodes.Call, AluToRegister); break;
                case Handler.AluRI32: Ld(op.R1); ZeroExtend32(); I8((uint)op.Imm); il.Emit(OpCodes.Call, AluToRegister); break;
                case Handler.AluRM64:
                    Ld(op.R1); Cpu(); Ea(op, next); il.Emit(OpCodes.Call, Read64); il.Emit(OpCodes.Call, AluToRegister);
                    break;
                case Handler.AluRM32:
                    Ld(op.R1); ZeroExtend32(); Cpu(); Ea(op, next); il.Emit(OpCodes.Call, Read32); il.Emit(OpCodes.Conv_U8);
                    il.Emit(OpCodes.Call, AluToRegister);
                    break;
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
            Reload(Writes(op));
            ResyncCheck(k, ops, i, exit);
        }

        private void StoreField(FieldInfo f, Action value)
        {
            Cpu();
            value();
            il.Emit(OpCodes.Stfld, f);
        }

        private void AddField(FieldInfo f, long delta)
        {
            Cpu();
            Cpu();
            il.Emit(OpCodes.Ldfld, f);
            il.Emit(OpCodes.Ldc_I8, delta);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, f);
        }

        private void I8(ulong v) => il.Emit(OpCodes.Ldc_I8, (long)v);

        private void I4(int v) => il.Emit(OpCodes.Ldc_I4, v);

        private void ZeroExtend32()
        {
            il.Emit(OpCodes.Conv_U4);
            il.Emit(OpCodes.Conv_U8);
        }

        /// <summary>Before a call that can fault or exit: registers to Regs, the op's index for the rewind.</summary>
        private void BeforeCall(int i)
        {
            Sync();
            StoreField(OpIndex, () => I4(i));
        }

        /// <summary>Cpu.Ea for the forms <see cref="MemOk"/> accepts (no segment base).</summary>
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
        }

        /// <summary>The interpreter's lazy flags: kind, size, operands, result; the carry when <paramref name="carry"/> is set.</summary>
        private void Lazy(int kind, int size, LocalBuilder a, LocalBuilder b, LocalBuilder r, Action? carry)
        {
            if (carry != null) StoreField(LfCarry, carry);
            StoreField(LfOp, () => I4(kind));
            StoreField(LfSize, () => I4(size));
            StoreField(LfA, () => il.Emit(OpCodes.Ldloc, a));
            StoreField(LfB, () => il.Emit(OpCodes.Ldloc, b));
            StoreField(LfRes, () => il.Emit(OpCodes.Ldloc, r));
        }

        private void EmitCond(int cc)
        {
            Cpu();
            I4(cc);
            il.Emit(OpCodes.Call, Cond);
        }

        /// <summary>
        /// What of the lazy flags op <paramref name="i"/> writes is read later: nothing when the next op that touches flags is
        /// a handler that writes all of the lazy state and only register ops (no call, no flags) come between.
        /// </summary>
        private static FlagsFate Fate(Op[] ops, int i)
        {
            for (int j = i + 1; j < ops.Length; j++)
            {
                var h = ops[j].H;
                if (IsAlu(h) || IsShift(h)) return FlagsFate.Dead;
                // CMP/TEST+Jcc sets all of the lazy state but the carry (SetLazy).
                if (IsFused(h)) return FlagsFate.CarryLive;
                if (!IsPureRegister(h)) return FlagsFate.Live;
            }
            return FlagsFate.Live;
        }

        private enum FlagsFate { Live, CarryLive, Dead }

        /// <summary><see cref="Lazy"/> for what of it <see cref="Fate"/> says is read later.</summary>
        private void LazyLive(Op[] ops, int i, int kind, int size, LocalBuilder a, LocalBuilder b, LocalBuilder r, Action carry)
        {
            switch (Fate(ops, i))
            {
                case FlagsFate.Live: Lazy(kind, size, a, b, r, carry); break;
                case FlagsFate.CarryLive: StoreField(LfCarry, carry); break;
            }
        }

        // ---- blocks ----

        private void EmitBlock(int k, Label body)
        {
            var block = code.Blocks[k];
            ulong rip = code.Rips[k];
            var ops = block.Ops;
            var exit = il.DefineLabel();
            _dirty = 0;
            il.MarkLabel(_head[k]);
            // block.Executions++ (the executor counted the entry block before entering).
            LdBlock(k);
            il.Emit(OpCodes.Dup);
            il.Emit(OpCodes.Ldfld, BlockExecutions);
            il.Emit(OpCodes.Ldc_I8, 1L);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, BlockExecutions);
            il.MarkLabel(body);
            AddField(Cycles, block.Cost);
            // _fraction += Fraction; Cycles += _fraction >> 16; _fraction &= 0xffff; a no-op for a block without a
            // fraction, as _fraction is always below 0x10000 (only this step changes it, masked).
            if (block.Fraction != 0) EmitFraction(block.Fraction);
            int n = ops.Length;
            bool ended = false;
            for (int i = 0; i < n && !ended; i++)
            {
                ref Op op = ref ops[i];
                ulong next = rip + op.Offset + op.Len;
                ended = EmitOp(k, ops, i, next, exit);
            }
            if (!ended) Edge(k, rip + (ulong)block.ByteLength, n, exit);
            il.MarkLabel(exit);
            LdBlock(k);
            il.Emit(OpCodes.Ret);
        }

        private void EmitFraction(int fraction)
        {
            Cpu();
            Cpu();
            il.Emit(OpCodes.Ldfld, Fraction);
            I4(fraction);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, Fraction);
            Cpu();
            Cpu();
            il.Emit(OpCodes.Ldfld, Cycles);
            Cpu();
            il.Emit(OpCodes.Ldfld, Fraction);
            I4(16);
            il.Emit(OpCodes.Shr);
            il.Emit(OpCodes.Conv_I8);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, Cycles);
            Cpu();
            Cpu();
            il.Emit(OpCodes.Ldfld, Fraction);
            I4(0xffff);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Stfld, Fraction);
        }

        /// <summary>
        /// The end of block <paramref name="k"/> with RIP <paramref name="target"/> and <paramref name="count"/> ops retired:
        /// the executor's <c>Chained</c> step, continuing in the region when <c>NextBlock</c> would pick its block.
        /// </summary>
        private void Edge(int k, ulong target, int count, Label exit)
        {
            Sync();
            StoreField(OpIndex, () => I4(code.Blocks[k].Ops.Length - 1));
            StoreField(Rip, () => I8(target));
            AddField(Instructions, count);
            ChainChecks(exit);
            int j = Array.IndexOf(code.Rips, target);
            if (j < 0)
            {
                il.Emit(OpCodes.Br, exit);
                return;
            }
            Cpu();
            LdBlock(k);
            I8(target);
            il.Emit(OpCodes.Call, Next);
            LdBlock(j);
            il.Emit(OpCodes.Bne_Un, exit);
            // A loop to its own start: _currentBlock and _blockRip already hold it (no write barrier).
            if (j != k)
            {
                StoreField(CurrentBlock, () => LdBlock(j));
                StoreField(BlockRip, () => I8(target));
            }
            il.Emit(OpCodes.Br, _head[j]);
        }

        /// <summary>
        /// After a RET (RIP in _t, retired): the chain checks, then the successor probe for the return address; when it
        /// picks a block of the region that follows a CALL (a return point), the region goes on there.
        /// </summary>
        private void ReturnEdges(int k, Label exit)
        {
            ChainChecks(exit);
            bool any = false;
            var s = il.DeclareLocal(typeof(Block));
            for (int j = 0; j < code.Blocks.Length; j++)
            {
                if (!IsReturnPoint(code.Rips[j])) continue;
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
                StoreField(CurrentBlock, () => LdBlock(j));
                StoreField(BlockRip, () => I8(code.Rips[j]));
                il.Emit(OpCodes.Br, _head[j]);
                il.MarkLabel(no);
            }
            il.Emit(OpCodes.Br, exit);
        }

        /// <summary>A region block that starts right after a CALL of the region.</summary>
        private bool IsReturnPoint(ulong rip)
        {
            for (int k = 0; k < code.Blocks.Length; k++)
            {
                ref Op last = ref code.Blocks[k].Ops[^1];
                if (last.H == Handler.Call && code.Rips[k] + last.Offset + last.Len == rip) return true;
            }
            return false;
        }

        /// <summary>The executor's chain checks at a block's end: cycle limit, instruction limit, attention.</summary>
        private void ChainChecks(Label exit)
        {
            Cpu();
            il.Emit(OpCodes.Ldfld, Cycles);
            Cpu();
            il.Emit(OpCodes.Ldfld, CycleLimit);
            il.Emit(OpCodes.Bge, exit);
            Cpu();
            il.Emit(OpCodes.Ldfld, Instructions);
            Cpu();
            il.Emit(OpCodes.Ldfld, InstructionLimit);
            il.Emit(OpCodes.Bge, exit);
            Cpu();
            il.Emit(OpCodes.Ldfld, Attention);
            il.Emit(OpCodes.Brtrue, exit);
        }

        /// <summary>
        /// After a memory access by op <paramref name="i"/> (not the last): if it overwrote this block's code, the next op
        /// became Resync (Cpu.NoteCodeInvalidated) and the block ends there, as in the interpreter.
        /// </summary>
        private void ResyncCheck(int k, Op[] ops, int i, Label exit)
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
            Op r = ops[i + 1];
            Sync(keep: true);
            StoreField(OpIndex, () => I4(i + 1));
            StoreField(Rip, () => I8(code.Rips[k] + r.Offset));
            AddField(Instructions, i + 1);
            AddField(Cycles, -((long)r.Cost + r.CostAfter));
            il.Emit(OpCodes.Br, exit);
            il.MarkLabel(go);
        }

        /// <summary>Emits op <paramref name="i"/>; true if it ended the block (a branch: the edges are emitted).</summary>
        private bool EmitOp(int k, Op[] ops, int i, ulong next, Label exit)
        {
            ref Op op = ref ops[i];
            int n = ops.Length;
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
                    BeforeCall(i);
                    Cpu();
                    Ea(op, next);
                    switch (op.H)
                    {
                        case Handler.MovLoad64: il.Emit(OpCodes.Call, Read64); break;
                        case Handler.MovLoad32: il.Emit(OpCodes.Call, Read32); il.Emit(OpCodes.Conv_U8); break;
                        case Handler.MovZxLoad8: il.Emit(OpCodes.Call, Read8); il.Emit(OpCodes.Conv_U8); break;
                        case Handler.MovZxLoad16: il.Emit(OpCodes.Call, Read16); il.Emit(OpCodes.Conv_U8); break;
                        default: il.Emit(OpCodes.Call, Read32); il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); break;
                    }
                    St(op.R1);
                    ResyncCheck(k, ops, i, exit);
                    return false;
                case Handler.MovStore64:
                case Handler.MovStore32:
                case Handler.MovStore8:
                case Handler.MovStoreImm64:
                case Handler.MovStoreImm32:
                    BeforeCall(i);
                    Cpu();
                    Ea(op, next);
                    switch (op.H)
                    {
                        case Handler.MovStore64: Ld(op.R2); il.Emit(OpCodes.Call, Write64); break;
                        case Handler.MovStore32: Ld(op.R2); il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Call, Write32); break;
                        case Handler.MovStore8: Ld(op.R2); il.Emit(OpCodes.Conv_U1); il.Emit(OpCodes.Call, Write8); break;
                        case Handler.MovStoreImm64: I8((ulong)op.Imm); il.Emit(OpCodes.Call, Write64); break;
                        default: I4((int)(uint)op.Imm); il.Emit(OpCodes.Call, Write32); break;
                    }
                    ResyncCheck(k, ops, i, exit);
                    return false;
                case Handler.PushR64:
                    // Cpu.Push64: the value first (PUSH RSP pushes the old RSP), RSP moves after the write.
                    BeforeCall(i);
                    Ld(op.R2); il.Emit(OpCodes.Stloc, _b);
                    Ld(Rsp); I8(8); il.Emit(OpCodes.Sub); il.Emit(OpCodes.Stloc, _a);
                    Cpu(); il.Emit(OpCodes.Ldloc, _a); il.Emit(OpCodes.Ldloc, _b); il.Emit(OpCodes.Call, Write64);
                    il.Emit(OpCodes.Ldloc, _a); St(Rsp);
                    ResyncCheck(k, ops, i, exit);
                    return false;
                case Handler.PopR64:
                    // Cpu.Pop64, then the destination (POP RSP keeps the value read).
                    BeforeCall(i);
                    Cpu(); Ld(Rsp); il.Emit(OpCodes.Call, Read64); il.Emit(OpCodes.Stloc, _b);
                    Ld(Rsp); I8(8); il.Emit(OpCodes.Add); St(Rsp);
                    il.Emit(OpCodes.Ldloc, _b); St(op.R1);
                    ResyncCheck(k, ops, i, exit);
                    return false;
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
                    Ld(op.R1); I8(m); il.Emit(OpCodes.And); il.Emit(OpCodes.Stloc, _a);
                    if (op.H == Handler.CmpRIJcc) I8((ulong)op.Imm & m);
                    else { Ld(op.R2); I8(m); il.Emit(OpCodes.And); }
                    il.Emit(OpCodes.Stloc, _b);
                    il.Emit(OpCodes.Ldloc, _a); il.Emit(OpCodes.Ldloc, _b);
                    if (op.H == Handler.TestRRJcc) il.Emit(OpCodes.And);
                    else { il.Emit(OpCodes.Sub); I8(m); il.Emit(OpCodes.And); }
                    il.Emit(OpCodes.Stloc, _r);
                    // SetLazy: the carry is left as it was.
                    Lazy(op.H == Handler.TestRRJcc ? FlagLogic : FlagSub, size, _a, _b, _r, null);
                    ref Op jcc = ref ops[i + 1];
                    ulong jnext = next + jcc.Len;
                    CondEdges(k, jcc.Sub, jnext + (ulong)jcc.Imm, jnext, i + 2, exit);
                    return true;
                }
                case Handler.Jmp:
                    Edge(k, next + (ulong)op.Imm, i + 1, exit);
                    return true;
                case Handler.Jcc:
                    CondEdges(k, op.Sub, next + (ulong)op.Imm, next, i + 1, exit);
                    return true;
                case Handler.Call:
                    BeforeCall(i);
                    Ld(Rsp); I8(8); il.Emit(OpCodes.Sub); il.Emit(OpCodes.Stloc, _a);
                    Cpu(); il.Emit(OpCodes.Ldloc, _a); I8(next); il.Emit(OpCodes.Call, Write64);
                    il.Emit(OpCodes.Ldloc, _a); St(Rsp);
                    Edge(k, next + (ulong)op.Imm, i + 1, exit);
                    return true;
                case Handler.Ret:
                    BeforeCall(i);
                    Cpu(); Ld(Rsp); il.Emit(OpCodes.Call, Read64); il.Emit(OpCodes.Call, Target); il.Emit(OpCodes.Stloc, _t);
                    Ld(Rsp); I8(8 + (ulong)op.Imm); il.Emit(OpCodes.Add); St(Rsp);
                    Sync();
                    StoreField(Rip, () => il.Emit(OpCodes.Ldloc, _t));
                    AddField(Instructions, i + 1);
                    ReturnEdges(k, exit);
                    return true;
                case Handler.Imul2 or Handler.Imul3 when ImulInline(op):
                    Imul(ops, i);
                    return false;
                default:
                    if (IsAlu(op.H)) { Alu(ops, i); return false; }
                    if (IsShift(op.H)) { Shift(ops, i); return false; }
                    EmitHelper(k, ops, i, next, exit);
                    return false;
            }
        }

        private void CondEdges(int k, int cc, ulong taken, ulong notTaken, int count, Label exit)
        {
            StoreField(OpIndex, () => I4(code.Blocks[k].Ops.Length - 1));
            Sync();
            var t = il.DefineLabel();
            EmitCond(cc);
            il.Emit(OpCodes.Brtrue, t);
            Edge(k, notTaken, count, exit);
            il.MarkLabel(t);
            Edge(k, taken, count, exit);
        }

        /// <summary>AddRR64 ... CmpRI32: as the executor's handlers (the carry cleared, the kind a constant).</summary>
        private void Alu(Op[] ops, int i)
        {
            ref Op op = ref ops[i];
            int rel = op.H - Handler.AddRR64;
            int sub = rel / 4, form = rel % 4;   // Add, Or, And, Sub, Xor, Cmp; RR64, RR32, RI64, RI32
            bool wide = form is 0 or 2, imm = form >= 2;
            Ld(op.R1); if (!wide) ZeroExtend32(); il.Emit(OpCodes.Stloc, _a);
            if (imm) I8(wide ? (ulong)op.Imm : (uint)op.Imm);
            else { Ld(op.R2); if (!wide) ZeroExtend32(); }
            il.Emit(OpCodes.Stloc, _b);
            il.Emit(OpCodes.Ldloc, _a); il.Emit(OpCodes.Ldloc, _b);
            int kind;
            switch (sub)
            {
                case 0: il.Emit(OpCodes.Add); kind = FlagAdd; break;
                case 1: il.Emit(OpCodes.Or); kind = FlagLogic; break;
                case 2: il.Emit(OpCodes.And); kind = FlagLogic; break;
                case 4: il.Emit(OpCodes.Xor); kind = FlagLogic; break;
                default: il.Emit(OpCodes.Sub); kind = FlagSub; break;
            }
            if (!wide && (sub == 0 || sub == 3 || sub == 5)) ZeroExtend32();
            il.Emit(OpCodes.Stloc, _r);
            if (sub != 5) { il.Emit(OpCodes.Ldloc, _r); St(op.R1); }
            LazyLive(ops, i, kind, wide ? 8 : 4, _a, _b, _r, () => I4(0));
        }

        /// <summary>Cpu.ImulN for register operands: its operands sign-extended, Cpu.ImulValue, the lazy flags it sets.</summary>
        private void Imul(Op[] ops, int i)
        {
            ref Op op = ref ops[i];
            int size = op.Size;
            void Signed(int r)
            {
                Ld(r);
                if (size == 4) { il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); }
            }
            if (op.H == Handler.Imul3)
            {
                Signed(op.R2);
                long imm = size == 4 ? (int)op.Imm : op.Imm;
                il.Emit(OpCodes.Ldc_I8, imm);
            }
            else
            {
                Signed(op.R1);
                Signed(op.R2);
            }
            I4(size);
            il.Emit(OpCodes.Ldloca, _flag);
            il.Emit(OpCodes.Call, ImulValue);
            il.Emit(OpCodes.Stloc, _r);
            il.Emit(OpCodes.Ldloc, _r); St(op.R1);
            il.Emit(OpCodes.Ldc_I8, 0L); il.Emit(OpCodes.Stloc, _a);
            il.Emit(OpCodes.Ldloc, _flag); il.Emit(OpCodes.Conv_U8); il.Emit(OpCodes.Stloc, _b);
            LazyLive(ops, i, FlagResultCfOf, size, _a, _b, _r, () => il.Emit(OpCodes.Ldloc, _flag));
        }

        /// <summary>ShlRI64 ... SarRI32: as the executor's handlers (ResultCfOf; the masked count is not 0).</summary>
        private void Shift(Op[] ops, int i)
        {
            ref Op op = ref ops[i];
            int rel = op.H - Handler.ShlRI64;
            int kind = rel / 2;                   // Shl, Shr, Sar
            bool wide = rel % 2 == 0;
            int bits = wide ? 64 : 32;
            int c = (int)op.Imm & (bits - 1);
            Ld(op.R1); if (!wide) ZeroExtend32(); il.Emit(OpCodes.Stloc, _a);
            // _r: the result; _t: CF (0/1); _b: OF (0/1).
            il.Emit(OpCodes.Ldloc, _a);
            if (kind == 2 && !wide) { il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); }
            I4(c);
            il.Emit(kind == 0 ? OpCodes.Shl : kind == 1 ? OpCodes.Shr_Un : OpCodes.Shr);
            if (!wide) ZeroExtend32();
            il.Emit(OpCodes.Stloc, _r);
            il.Emit(OpCodes.Ldloc, _a);
            if (kind == 2 && !wide) { il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); }
            I4(kind == 0 ? bits - c : c - 1);
            il.Emit(kind == 2 ? OpCodes.Shr : OpCodes.Shr_Un);
            I8(1); il.Emit(OpCodes.And);
            il.Emit(OpCodes.Stloc, _t);
            switch (kind)
            {
                case 0:   // OF = MSB(result) ^ CF
                    il.Emit(OpCodes.Ldloc, _r); I4(bits - 1); il.Emit(OpCodes.Shr_Un);
                    il.Emit(OpCodes.Ldloc, _t); il.Emit(OpCodes.Xor);
                    break;
                case 1:   // OF = MSB(operand)
                    il.Emit(OpCodes.Ldloc, _a); I4(bits - 1); il.Emit(OpCodes.Shr_Un);
                    break;
                default:
                    I8(0);
                    break;
            }
            il.Emit(OpCodes.Stloc, _b);
            il.Emit(OpCodes.Ldloc, _r); St(op.R1);
            LazyLive(ops, i, FlagResultCfOf, bits / 8, _a, _b, _r, () => { il.Emit(OpCodes.Ldloc, _t); il.Emit(OpCodes.Conv_I4); });
        }
    }
}
