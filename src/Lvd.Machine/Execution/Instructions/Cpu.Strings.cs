using Lvd.Machine.Decoding;

namespace Lvd.Machine.Execution;

/// <summary>
/// MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE. Registers are updated after every element,
/// so a fault in the middle leaves a restartable state, as on hardware.
/// </summary>
public sealed partial class Cpu
{
    /// <summary>
    /// A REP instruction runs at most this many iterations at a time, then resumes from its RIP
    /// (precise RCX/RSI/RDI), so the run loop keeps control over any range.
    /// </summary>
    public const long MaxRepChunk = 1 << 20;

    /// <summary>Runs a string instruction; false if a REP chunk ended with iterations left (RIP stays).</summary>
    private bool StringOp(ref Op op, int opIndex)
    {
        int size = op.Size;
        bool rep = op.Sub != RepKind.None;
        ulong amask = op.Size2 == 4 ? 0xffffffffUL : ulong.MaxValue;
        ulong segBase = op.Seg == 0 ? 0 : Segs[op.Seg == 1 ? (int)SegReg.FS : (int)SegReg.GS].Base;
        long step = (_rflags & FlagDF) != 0 ? -size : size;
        int cost = Costs.StringIteration;
        // Iterations of this chunk: up to the instruction limit (they count as instructions when
        // the chunk ends early), at least one.
        long chunk = Math.Clamp(_instructionLimit - Instructions - opIndex, 1, MaxRepChunk);
        long done = 0;
        while (true)
        {
            if (rep && (R(RCX) & amask) == 0) return true;
            if (rep && done == chunk) { Instructions += done; return false; }
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
            if (!rep) return true;
            done++;
            AdvanceIndex(RCX, -1, amask);
            Cycles += cost;
            if (op.H is Handler.Cmps or Handler.Scas)
            {
                bool zf = Cond(4);
                if (op.Sub == RepKind.Rep && !zf) return true;
                if (op.Sub == RepKind.Repne && zf) return true;
            }
        }
    }

    private void AdvanceIndex(int reg, long delta, ulong amask)
    {
        if (amask == ulong.MaxValue) R(reg) += (ulong)delta;
        else R(reg) = (uint)(R(reg) + (ulong)delta);
    }
}
