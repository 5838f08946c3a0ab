using Lvd.Machine.Decoding;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Execution;

/// <summary>
/// The debugger's side of the run loop (<see cref="DebugControl"/>). Nothing here runs unless
/// <see cref="_debugArmed"/> is set: the run loop tests it once per block chain. Armed, a chain
/// runs its blocks as usual, except those that hold a breakpoint (or all of them while this
/// vCPU single-steps or watchpoints are set): those run one instruction at a time, with the
/// same fetch, the same costs and the same chain boundaries as the block would have had, so
/// the modeled run is the same cycle for cycle. A stop calls the debugger on this thread and
/// returns when it resumes: no cycle is charged while stopped.
/// </summary>
public sealed partial class Cpu
{
    private DebugControl? _debug;
    /// <summary>Set by <see cref="DebugControl"/> while it has breakpoints, watchpoints, a step or a break request.</summary>
    private bool _debugArmed;

    internal void AttachDebugger(DebugControl debug) => _debug = debug;

    /// <summary>The event recorder (timelines); null when off: each event point tests it.</summary>
    private IMachineEvents? _events;

    internal void AttachEvents(IMachineEvents events) => _events = events;

    internal bool DebugArmed
    {
        get => _debugArmed;
        set { Volatile.Write(ref _debugArmed, value); if (value) _attention = true; }
    }

    /// <summary>The chain of <see cref="RunChain"/> under a debugger.</summary>
    private void RunDebugChain()
    {
        var d = _debug!;
        bool mode32 = !In64BitMode;
        if (mode32) Check32Segments();
        do
        {
            var block = mode32 ? GetBlock32() : GetBlock();
            bool chain = d.NeedsStepwise(this, Rip, block.ByteLength, block.Ops.Length) ? RunBlockStepwise(block, d) : RunBlock(block);
            if (!chain) break;
        }
        while (Cycles < _cycleLimit && Instructions < _instructionLimit && !_attention);
    }

    /// <summary>
    /// Runs <paramref name="block"/> one instruction at a time: each as a one-instruction block of
    /// the same op cost, the next one's physical address taken from the block's (no new fetch), and
    /// the chain checks (cycle and instruction limits, attention) only where the block ends.
    /// </summary>
    private bool RunBlockStepwise(Block block, DebugControl d)
    {
        ulong start = Rip;
        var ops = block.Ops;
        for (int i = 0; ; i++)
        {
            ulong expected = start + ops[i].Offset;
            d.BeforeInstruction(this);
            // The debugger moved RIP: the block is over.
            if (Rip != expected) return true;
            ulong pa = block.PhysAddr + (Rip - start);
            var single = (block.Mode32 ? _code.LookupSingle32(pa) : _code.LookupSingle(pa)) ?? DecodeBlock(Rip, pa, single: true, block.Mode32);
            d.NoteOperands(this, single);
            bool chain = RunBlock(single);
            _blockRip = start;
            d.AfterInstruction(this);
            if (!chain) return false;
            if (!block.Valid || i + 1 >= ops.Length || Rip != start + ops[i + 1].Offset || ops[i + 1].H == Handler.Resync) return true;
        }
    }

    /// <summary>The explicit memory operand of a one-instruction block at RIP: address, size, read, written.</summary>
    internal bool DebugOperand(Block b, out ulong address, out int size, out bool read, out bool write)
    {
        ref Op op = ref b.Ops[0];
        address = 0; size = 0; read = write = false;
        if ((op.Form & (OpForm.MemSrc | OpForm.MemDst)) == 0 || op.H == Handler.Lea) return false;
        address = Ea(ref op, Rip + op.Len);
        size = Math.Max(1, op.H is Handler.MovZx or Handler.MovSx ? (int)op.Size2 : op.Size);
        write = (op.Form & OpForm.MemDst) != 0;
        read = (op.Form & OpForm.MemSrc) != 0 || (write && op.H is not (Handler.Mov or Handler.MovStore32 or Handler.MovStore64 or Handler.Setcc));
        return true;
    }

    /// <summary>
    /// Reads guest-linear memory as this vCPU sees it now (its page tables, then its EPT) without
    /// faults, A/D bits or cycles; returns how many bytes could be read (it stops at the first
    /// address that does not translate to RAM).
    /// </summary>
    public int DebugRead(ulong la, Span<byte> dest)
    {
        int done = 0;
        for (int n; (n = DebugChunk(la, done, dest.Length, out ulong pa)) > 0; done += n)
            Memory.PeekBytes(pa, dest.Slice(done, n));
        return done;
    }

    /// <summary>Writes guest-linear memory as <see cref="DebugRead"/> reads it (decoded code on those pages is dropped); bytes written.</summary>
    public int DebugWrite(ulong la, ReadOnlySpan<byte> src)
    {
        int done = 0;
        for (int n; (n = DebugChunk(la, done, src.Length, out ulong pa)) > 0; done += n)
            Memory.WriteBytes(pa, src.Slice(done, n));
        return done;
    }

    /// <summary>
    /// The next piece of a debugger access of <paramref name="length"/> bytes at <paramref name="la"/>, <paramref name="done"/>
    /// of them done: its RAM address and length, up to the end of its page; 0 when finished or at an address that does not
    /// translate to RAM.
    /// </summary>
    private int DebugChunk(ulong la, int done, int length, out ulong pa)
    {
        ulong a = la + (ulong)done;
        if (done >= length || !TryTranslateGuest(a, out pa) || !Memory.IsRam(pa))
        {
            pa = 0;
            return 0;
        }
        return Math.Min(length - done, PhysicalMemory.PageSize - (int)(a & PhysicalMemory.PageMask));
    }
}
