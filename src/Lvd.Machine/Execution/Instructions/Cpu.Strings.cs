using Lvd.Machine.Decoding;

namespace Lvd.Machine.Execution;

/// <summary>
/// MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE. Registers are updated after every element,
/// so a fault in the middle leaves a restartable state, as on hardware.
/// </summary>
public sealed partial class Cpu
{
    private void StringOp(ref Op op)
    {
        int size = op.Size;
        bool rep = op.Sub != RepKind.None;
        ulong amask = op.Size2 == 4 ? 0xffffffffUL : ulong.MaxValue;
        ulong segBase = op.Seg == 0 ? 0 : Segs[op.Seg == 1 ? (int)SegReg.FS : (int)SegReg.GS].Base;
        long step = (_rflags & FlagDF) != 0 ? -size : size;
        int cost = Costs.StringIteration;
        while (true)
        {
            if (rep && (R(RCX) & amask) == 0) return;
            ulong rsi = R(RSI) & amask, rdi = R(RDI) & amask;
            switch (op.H)
            {
                case Handler.Movs:
                    WriteMem(rdi, size, ReadMem(segBase + rsi, size));
                    AdvanceIndex(RSI, step, amask);
                    AdvanceIndex(RDI, step, amask);
                    break;
                case Handler.Stos:
                    WriteMem(rdi, size, GetReg(RAX, size));
                    AdvanceIndex(RDI, step, amask);
                    break;
                case Handler.Lods:
                    SetReg(RAX, size, ReadMem(segBase + rsi, size));
                    AdvanceIndex(RSI, step, amask);
                    break;
                case Handler.Cmps:
                {
                    ulong a = ReadMem(segBase + rsi, size), b = ReadMem(rdi, size);
                    SetLazy(FlagOp.Sub, size, a, b, (a - b) & Mask(size));
                    AdvanceIndex(RSI, step, amask);
                    AdvanceIndex(RDI, step, amask);
                    break;
                }
                default: // Scas
                {
                    ulong a = GetReg(RAX, size), b = ReadMem(rdi, size);
                    SetLazy(FlagOp.Sub, size, a, b, (a - b) & Mask(size));
                    AdvanceIndex(RDI, step, amask);
                    break;
                }
            }
            if (!rep) return;
            AdvanceIndex(RCX, -1, amask);
            Cycles += cost;
            if (op.H is Handler.Cmps or Handler.Scas)
            {
                bool zf = Cond(4);
                if (op.Sub == RepKind.Rep && !zf) return;
                if (op.Sub == RepKind.Repne && zf) return;
            }
        }
    }

    private void AdvanceIndex(int reg, long delta, ulong amask)
    {
        if (amask == ulong.MaxValue) R(reg) += (ulong)delta;
        else R(reg) = (uint)(R(reg) + (ulong)delta);
    }
}
