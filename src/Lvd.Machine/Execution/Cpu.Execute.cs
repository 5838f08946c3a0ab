using System.Buffers.Binary;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvd.Machine.Decoding;
using Lvd.Machine.Diagnostics;
using Lvd.Machine.Memory;
using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>
/// The block executor: fetch a decoded block for RIP (by physical address, from the shared
/// code cache), run its ops through one switch, deliver faults and interrupts at block
/// boundaries. Nothing here allocates per instruction.
/// </summary>
public sealed partial class Cpu
{
    private readonly BlockDecoder _decoder;
    private readonly byte[] _fetchBuffer = new byte[PhysicalMemory.PageSize + 16];
    private int _opIndex;
    private Block? _currentBlock;
    private readonly CodeCache _code;

    private bool _stopRequested;
    /// <summary>PAUSE ended the slice (<see cref="PauseYieldCycle"/>).</summary>
    private bool _yieldSlice;

    /// <summary>
    /// A PAUSE at or after this modeled cycle ends the slice (set by the scheduler: just past the
    /// other vCPUs' clocks). A spinning vCPU cannot see the lock it waits for released until
    /// the holder runs; without this it would spin out a whole quantum for every hand-over.
    /// </summary>
    public long PauseYieldCycle = long.MaxValue;

    /// <summary>
    /// With <see cref="MachineConfig.SynchronizedTsc"/>: the other running vCPUs' earliest clock (set by the scheduler;
    /// long.MaxValue with one vCPU or without it). A vCPU reads its TSC
    /// (RDTSC, RDTSCP, RDMSR of IA32_TSC) only when its clock at the instruction is not past it, else its slice ends
    /// before the instruction and it reads when it runs again. So TSC reads across vCPUs come out in the order they
    /// happen, as a synchronized invariant TSC does on hardware (Linux checks it: check_tsc_warp). Without it the vCPUs,
    /// which run a slice each, could see another's TSC go backwards by up to a slice.
    /// </summary>
    public long TscSyncCycle = long.MaxValue;
    /// <summary>Something outside the block chain needs the run loop (stop, interrupt): leave the chain.</summary>
    private bool _attention;
    private long _cycleLimit, _instructionLimit;
    /// <summary>
    /// The end of this slice: the scheduler's limit, lowered when the vCPU arms a timer that fires earlier (<see
    /// cref="LimitSlice"/>).
    /// </summary>
    private long _sliceLimit;
    private ulong _blockRip;

    /// <summary>Set by the platform to end the running slice (exit device, debugger).</summary>
    public bool StopRequested
    {
        get => _stopRequested;
        set { _stopRequested = value; if (value) _attention = true; }
    }

    /// <summary>Makes the CPU leave its block chain at the next block boundary (e.g. an interrupt became pending).</summary>
    public void RequestAttention() => _attention = true;

    /// <summary>
    /// Ends the running slice by modeled cycle <paramref name="cycle"/> at the latest: the vCPU
    /// armed a timed event (its APIC timer) that the scheduler did not know when it set the
    /// slice, so the event is taken at its programmed time, not at the slice's end.
    /// </summary>
    public void LimitSlice(long cycle)
    {
        if (cycle >= _sliceLimit) return;
        _sliceLimit = cycle;
        _attention = true;
    }

    /// <summary>
    /// A code page was written. If it holds the block being executed, the ops after the current
    /// one become Resync, so the next instruction is fetched (and decoded) afresh: x86 executes
    /// modified code from the next instruction on. Invalid blocks are never run again.
    /// </summary>
    internal void NoteCodeInvalidated(ulong ppn)
    {
        var b = _currentBlock;
        if (b == null || (b.PhysAddr >> PhysicalMemory.PageShift) != ppn) return;
        var ops = b.Ops;
        for (int i = _opIndex + 1; i < ops.Length; i++) ops[i].H = Handler.Resync;
    }

    /// <summary>
    /// Runs until this vCPU's clock reaches <paramref name="cycleLimit"/> (or its retired
    /// instructions <paramref name="instructionLimit"/>), it halts or shuts down, or
    /// <see cref="StopRequested"/> is set. Interrupts are accepted between block chains.
    /// </summary>
    public void Run(long cycleLimit, long instructionLimit = long.MaxValue)
    {
        _instructionLimit = instructionLimit;
        _sliceLimit = cycleLimit;
        _yieldSlice = false;
        // The clock moved outside Run only while this vCPU was halted or waiting for SIPI.
        ProfileCheck(SampleKind.Idle, 0, (byte)Cpl, NonRoot);
        while (State == CpuState.Running && Cycles < _sliceLimit && Instructions < instructionLimit && !_stopRequested && !_yieldSlice)
        {
            _attention = false;
            _cycleLimit = Math.Min(Math.Min(_sliceLimit, _preemptDeadline), _nextSample);
            try
            {
                if (EventsAtBoundary())
                {
                    ProfileCheck(SampleKind.Interrupt, 0, (byte)Cpl, NonRoot);
                    if (_debugArmed) _debug!.AfterEvent(this);
                    continue;
                }
                _chainCpl = (byte)Cpl;
                _chainNonRoot = NonRoot;
                try
                {
                    // Two states last exactly one instruction, so that instruction runs alone:
                    // RFLAGS.RF after a fault's IRET (SDM 17.3.1.1), cleared unless the
                    // instruction reloaded it; and the STI/POPF interrupt shadow, after which
                    // pending interrupts are taken (SDM 6.8.3). And RFLAGS.TF: each instruction
                    // that starts with TF set is followed by a single-step trap (SDM 17.3.1.4).
                    if ((_rflags & (FlagRF | FlagTF)) != 0 || _interruptShadow)
                    {
                        bool shadow = _interruptShadow;
                        bool step = (_rflags & FlagTF) != 0;
                        if (_debugArmed) _debug!.BeforeInstruction(this);
                        var single = GetSingleBlock();
                        if (_debugArmed) _debug!.NoteOperands(this, single);
                        RunBlock(single);
                        if (_debugArmed) _debug!.AfterInstruction(this);
                        var h = single.Ops[0].H;
                        if (h is not (Handler.Iret or Handler.Popf)) _rflags &= ~FlagRF;
                        if (shadow && h != Handler.Sti) _interruptShadow = false;
                        if (step) SingleStepTrap(h);
                    }
                    else if (_debugArmed) RunDebugChain();
                    else if ((Efer & EferLMA) == 0 || (Segs[(int)SegReg.CS].Attributes & AttrL) == 0) RunChain32();
                    else RunChain();
                    ProfileCheck(SampleKind.Code, _blockRip, _chainCpl, _chainNonRoot);
                }
                catch (GuestFault f)
                {
                    RewindToFaultingInstruction();
                    ProfileCheck(SampleKind.Code, Rip, _chainCpl, _chainNonRoot);
                    RaiseException(f);
                    ProfileCheck(SampleKind.Exception, (ulong)f.Vector, (byte)Cpl, NonRoot);
                }
            }
            catch (VmExit x)
            {
                uint length = RewindToFaultingInstruction();
                PerformVmExits(x, length);
            }
        }
    }

    /// <summary>
    /// Performs a VM exit; if the root resumes and the VM entry itself exits (e.g. the event it
    /// injects cannot be delivered: a triple fault, SDM 26.6.1), that exit is performed too.
    /// </summary>
    private void PerformVmExits(VmExit x, uint length)
    {
        while (true)
        {
            try { PerformVmExit(x, length); return; }
            catch (VmExit nested) { x = nested; length = 0; }
        }
    }

    /// <summary>
    /// The single-step trap after an instruction that started with RFLAGS.TF set (SDM 17.3.1.4):
    /// #DB with DR6.BS, RIP at the next instruction. Not after an instruction that faulted or
    /// delivered its own interrupt (INT n, INT3, INT1: delivery cleared TF), nor into HLT.
    /// </summary>
    private void SingleStepTrap(Handler h)
    {
        if (State != CpuState.Running || h is Handler.Int or Handler.Int3 or Handler.Int1) return;
        Dr[6] |= 1UL << 14;
        RaiseException(new GuestFault(Vectors.DB, 0, false));
    }

    /// <summary>Puts RIP back on the instruction that faulted or exited (it did not retire); returns its length.</summary>
    private uint RewindToFaultingInstruction()
    {
        var b = _currentBlock;
        _currentBlock = null;
        if (b == null) return 0;
        ref Op op = ref b.Ops[_opIndex];
        Rip = _blockRip + op.Offset;
        Instructions += _opIndex;
        Cycles -= op.CostAfter;
        return op.Len;
    }

    /// <summary>VMX timers and windows, NMIs, then maskable interrupts; true if one was taken.</summary>
    private bool EventsAtBoundary()
    {
        if (NonRoot && VmxBoundaryEvents()) return true;
        if (NmiWindowCheck()) return true;
        return InterruptWindowCheck();
    }

    /// <summary>
    /// Runs blocks back to back while they end in ordinary control transfers and nothing needs
    /// the run loop. The chain runs inside <see cref="ExecuteBlock"/> (no call per block); the
    /// per-block cost is a TLB probe and the previous block's successor cache.
    /// </summary>
    private void RunChain()
    {
        var block = GetBlock();
        _currentBlock = block;
        _blockRip = Rip;
        ExecuteBlock(block, Rip, chain: true);
        _currentBlock = null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool RunBlock(Block block)
    {
        _currentBlock = block;
        _blockRip = Rip;
        bool chain = ExecuteBlock(block, Rip, chain: false);
        _currentBlock = null;
        return chain;
    }

    /// <summary>
    /// The block at RIP after <paramref name="prev"/>: the fetch goes through the TLB as in
    /// <see cref="GetBlock"/> (same hits, walks and faults), then the previous block's two
    /// successor slots are tried before the code cache. Only blocks of the same physical page
    /// are linked, so a page's invalidation drops the links with the blocks (QEMU links only
    /// within a page too); a linked block is also checked valid.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Block NextBlock(Block prev)
    {
        ulong rip = Rip;
        ulong pa = FetchPhys(rip);
        var s = prev.Next0;
        if (s != null && s.PhysAddr == pa && s.Valid) return s;
        s = prev.Next1;
        if (s != null && s.PhysAddr == pa && s.Valid) return s;
        return LinkBlock(prev, rip, pa);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private Block LinkBlock(Block prev, ulong rip, ulong pa)
    {
        var block = _code.Lookup(pa);
        if (block == null) return DecodeBlock(rip, pa);
        // A cached block (never one that straddles a page: Lookup does not return those, DecodeBlock does after its fetch).
        if ((pa ^ prev.PhysAddr) <= PhysicalMemory.PageMask)
        {
            if (prev.Next0 == null || !prev.Next0.Valid) prev.Next0 = block;
            else { prev.Next1 = prev.Next0; prev.Next0 = block; }
        }
        return block;
    }

    /// <summary>A one-instruction block for RIP (cached apart from the normal blocks).</summary>
    private Block GetSingleBlock()
    {
        if (!In64BitMode)
        {
            Check32Segments();
            Rip = (uint)Rip;
            ulong pa32 = FetchPhys(Rip);
            return _code.LookupSingle32(pa32) ?? DecodeBlock(Rip, pa32, single: true, mode32: true);
        }
        ulong pa = FetchPhys(Rip);
        return _code.LookupSingle(pa) ?? DecodeBlock(Rip, pa, single: true);
    }

    private Block GetBlock()
    {
        ulong rip = Rip;
        ulong pa = FetchPhys(rip);
        var block = _code.Lookup(pa);
        if (block != null) return block;
        return DecodeBlock(rip, pa);
    }

    private Block DecodeBlock(ulong rip, ulong pa, bool single = false, bool mode32 = false)
    {
        // A block decoded before whose last instruction crosses the page: its fetch from the next page is made for real
        // (#PF, EPT violation, a walk's cycles, as below), and it is the same block while that page is the same physical
        // page (a write to either page would have dropped it).
        if (!single && !mode32 && _code.LookupStraddling(pa) is { } cached
            && (TranslateCached((rip | PhysicalMemory.PageMask) + 1, Access.Exec, Cpl == 3) & ~PhysicalMemory.PageMask) == cached.Page2)
            return cached;
        var page = Memory.RamPage(pa) ?? throw new MachineCheck($"instruction fetch from non-RAM physical address 0x{pa:x} (RIP 0x{rip:x})");
        int off = (int)(pa & PhysicalMemory.PageMask);
        int inPage = PhysicalMemory.PageSize - off;
        page.AsSpan(off, inPage).CopyTo(_fetchBuffer);
        int total = inPage;
        // Bytes of the next page, only if it is mapped executable: an instruction that
        // straddles the boundary is decoded from both pages.
        ulong nextLa = (rip | PhysicalMemory.PageMask) + 1;
        if (mode32) nextLa = (uint)nextLa;
        // The look-ahead is the emulator's, not the guest's: it walks without side effects or
        // cycles. Only an instruction that really straddles translates the next page for real
        // (below), raising its #PF or EPT violation (SDM 28.3.3.2: only accesses made).
        if (TryTranslateGuest(nextLa, out ulong pa2) && Memory.RamPage(pa2) is { } page2)
        {
            page2.AsSpan(0, 15).CopyTo(_fetchBuffer.AsSpan(total));
            total += 15;
        }
        var block = (mode32 ? Decoder32 : _decoder).Decode(_fetchBuffer.AsSpan(0, total), inPage, rip, pa, out bool crossesPage,
            single ? 1 : BlockDecoder.MaxOpsPerBlock);
        if (crossesPage)
        {
            // The instruction really fetches from the next page: translate it for execution,
            // with every permission check (#PF, EPT violation on that page); a TLB hit is free.
            ulong fetched = TranslateCached(nextLa, Access.Exec, Cpl == 3) & ~PhysicalMemory.PageMask;
            // Cached when its bytes came from the page the fetch translates to (the look-ahead walked the tables, the
            // fetch may hit an older TLB entry).
            if (!single && !mode32 && fetched == (pa2 & ~PhysicalMemory.PageMask))
            {
                block.Straddles = true;
                block.Page2 = fetched;
                _code.AddStraddling(block);
            }
        }
        else if (single) _code.AddSingle(block);
        else _code.Add(block);
        return block;
    }

    /// <summary>
    /// Compiles the executor's hot methods now: those marked AggressiveOptimization (<see cref="ExecuteBlock"/> and what it
    /// calls on the paths kernel code takes: successor links, the cold switch, region entry, the ALU and shift helpers,
    /// the flags, the memory slow paths), which ReadyToRun leaves out. From their ReadyToRun code the tiering moved the
    /// helpers up only late in a run (a kernel profile had 6% of its samples there), and without this call a process's
    /// first run would wait ~25 ms for the JIT at its first block. A front end calls it on a background thread at
    /// start-up, while it parses its arguments and loads the guest (docs/HOST-SPEED.md, Start-up). Returns their names.
    /// </summary>
    public static List<string> PrepareExecutor()
    {
        var names = new List<string>();
        foreach (var m in typeof(Cpu).GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
        {
            if ((m.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) == 0 || m.ContainsGenericParameters) continue;
            RuntimeHelpers.PrepareMethod(m.MethodHandle);
            names.Add(m.Name);
        }
        return names;
    }

    /// <summary>
    /// Runs one block, and with <paramref name="chain"/> the blocks after it while they end in
    /// ordinary control transfers and the cycle and instruction limits and the attention word allow
    /// (checked at every block boundary, as the run loop would). False when a block ended in a
    /// system instruction (the run loop must look).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool ExecuteBlock(Block block, ulong blockRip, bool chain)
    {
        // The registers by reference (an intrinsic, not an inlined call: the hot switch keeps the JIT's inlining room).
        ref ulong regs = ref MemoryMarshal.GetArrayDataReference(Regs);
        var branches = Branches;
    NextInChain:
        block.Executions++;
        // Tier 1: a compiled region runs from here (one reference load when there is none); a block turning hot is noted
        // (at each power of two of its runs from the threshold on, until it is part of a region).
        if (chain && (block.Region != null || (block.Executions & (block.Executions - 1)) == 0 && block.Executions >= _hotThreshold)
            && EnterRegion(block, blockRip) is { } last)
        {
            block = last;
            goto Chained;
        }
        Cycles += block.Cost;
        // The block model's fractions of a cycle add up per vCPU (docs/COST-MODEL.md, Block timing).
        // Branch-free: the carry is unpredictable, a mispredicted branch per few blocks cost the host ~10%.
        _fraction += block.Fraction;
        Cycles += _fraction >> 16;
        _fraction &= 0xffff;
        var ops = block.Ops;
        for (int i = 0; i < ops.Length; i++)
        {
            ref Op op = ref ops[i];
            _opIndex = i;
            ulong next = blockRip + op.Offset + op.Len;
            switch (op.H)
            {
                case Handler.Nop:
                    break;
                case Handler.MovRR64:
                    Unsafe.Add(ref regs, op.R1) = Unsafe.Add(ref regs, op.R2);
                    break;
                case Handler.MovRR32:
                    Unsafe.Add(ref regs, op.R1) = (uint)Unsafe.Add(ref regs, op.R2);
                    break;
                case Handler.MovLoad32:
                    Unsafe.Add(ref regs, op.R1) = Read32(Ea(ref op, next));
                    break;
                case Handler.MovStore32:
                    Write32(Ea(ref op, next), (uint)Unsafe.Add(ref regs, op.R2));
                    break;
                case Handler.MovRI:
                    SetReg(op.R1, op.Size, (ulong)op.Imm);
                    break;
                case Handler.MovLoad64:
                    Unsafe.Add(ref regs, op.R1) = Read64(Ea(ref op, next));
                    break;
                case Handler.MovStore64:
                    Write64(Ea(ref op, next), Unsafe.Add(ref regs, op.R2));
                    break;
                case Handler.MovStoreImm64:
                    Write64(Ea(ref op, next), (ulong)op.Imm);
                    break;
                case Handler.MovStoreImm32:
                    Write32(Ea(ref op, next), (uint)op.Imm);
                    break;
                case Handler.MovZxLoad8:
                    Unsafe.Add(ref regs, op.R1) = Read8(Ea(ref op, next));
                    break;
                case Handler.MovZxLoad16:
                    Unsafe.Add(ref regs, op.R1) = Read16(Ea(ref op, next));
                    break;
                case Handler.MovStore8:
                    Write8(Ea(ref op, next), (byte)Unsafe.Add(ref regs, op.R2));
                    break;
                case Handler.MovZxRR8:
                    Unsafe.Add(ref regs, op.R1) = (byte)Unsafe.Add(ref regs, op.R2);
                    break;
                case Handler.MovZxRR16:
                    Unsafe.Add(ref regs, op.R1) = (ushort)Unsafe.Add(ref regs, op.R2);
                    break;
                case Handler.MovSxdLoad:
                    Unsafe.Add(ref regs, op.R1) = (ulong)(int)Read32(Ea(ref op, next));
                    break;
                case Handler.Lea:
                    SetReg(op.R1, op.Size, Ea(ref op, next));
                    break;
                case Handler.PushR64:
                    Push64(Unsafe.Add(ref regs, op.R2));
                    break;
                case Handler.PopR64:
                {
                    ulong v = Pop64();
                    Unsafe.Add(ref regs, op.R1) = v;
                    break;
                }
                case Handler.Cmov:
                {
                    ulong v = (op.Form & OpForm.MemSrc) != 0 ? ReadSized(Ea(ref op, next), op.Size) : GetReg(op.R2, op.Size);
                    // A 32-bit CMOV writes (zero-extends) its destination even when false.
                    SetReg(op.R1, op.Size, Cond(op.Sub) ? v : GetReg(op.R1, op.Size));
                    break;
                }
                case Handler.Setcc:
                {
                    ulong v = CondCall(op.Sub) ? 1UL : 0;
                    if ((op.Form & OpForm.MemDst) != 0) Write8(Ea(ref op, next), (byte)v);
                    else SetReg(op.R1, 1, v);
                    break;
                }
                case Handler.AluRR64:
                    AluToRegister(ref op, Unsafe.Add(ref regs, op.R1), Unsafe.Add(ref regs, op.R2));
                    break;
                case Handler.AluRI64:
                    AluToRegister(ref op, Unsafe.Add(ref regs, op.R1), (ulong)op.Imm);
                    break;
                case Handler.AluRR32:
                    AluToRegister(ref op, (uint)Unsafe.Add(ref regs, op.R1), (uint)Unsafe.Add(ref regs, op.R2));
                    break;
                case Handler.AluRI32:
                    AluToRegister(ref op, (uint)Unsafe.Add(ref regs, op.R1), (uint)op.Imm);
                    break;
                case Handler.AluRM64:
                    AluToRegister(ref op, Unsafe.Add(ref regs, op.R1), Read64(Ea(ref op, next)));
                    break;
                case Handler.AluRM32:
                    AluToRegister(ref op, (uint)Unsafe.Add(ref regs, op.R1), Read32(Ea(ref op, next)));
                    break;
                case Handler.AddRR64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = Unsafe.Add(ref regs, op.R2), r = a + b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Add; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.AddRR32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)Unsafe.Add(ref regs, op.R2), r = (uint)(a + b);
                    Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Add; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.AddRI64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = (ulong)op.Imm, r = a + b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Add; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.AddRI32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)op.Imm, r = (uint)(a + b); Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Add; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.OrRR64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = Unsafe.Add(ref regs, op.R2), r = a | b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.OrRR32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)Unsafe.Add(ref regs, op.R2), r = a | b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.OrRI64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = (ulong)op.Imm, r = a | b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.OrRI32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)op.Imm, r = a | b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.AndRR64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = Unsafe.Add(ref regs, op.R2), r = a & b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.AndRR32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)Unsafe.Add(ref regs, op.R2), r = a & b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.AndRI64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = (ulong)op.Imm, r = a & b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.AndRI32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)op.Imm, r = a & b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.SubRR64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = Unsafe.Add(ref regs, op.R2), r = a - b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Sub; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.SubRR32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)Unsafe.Add(ref regs, op.R2), r = (uint)(a - b);
                    Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Sub; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.SubRI64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = (ulong)op.Imm, r = a - b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Sub; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.SubRI32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)op.Imm, r = (uint)(a - b); Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Sub; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.XorRR64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = Unsafe.Add(ref regs, op.R2), r = a ^ b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.XorRR32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)Unsafe.Add(ref regs, op.R2), r = a ^ b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.XorRI64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = (ulong)op.Imm, r = a ^ b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.XorRI32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)op.Imm, r = a ^ b; Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = false; _lfOp = FlagOp.Logic; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.CmpRR64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = Unsafe.Add(ref regs, op.R2), r = a - b;
                    _lfCarry = false; _lfOp = FlagOp.Sub; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.CmpRR32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)Unsafe.Add(ref regs, op.R2), r = (uint)(a - b);
                    _lfCarry = false; _lfOp = FlagOp.Sub; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.CmpRI64:
                {
                    ulong a = Unsafe.Add(ref regs, op.R1), b = (ulong)op.Imm, r = a - b;
                    _lfCarry = false; _lfOp = FlagOp.Sub; _lfSize = 8; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.CmpRI32:
                {
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1), b = (uint)op.Imm, r = (uint)(a - b);
                    _lfCarry = false; _lfOp = FlagOp.Sub; _lfSize = 4; _lfA = a; _lfB = b; _lfRes = r;
                    break;
                }
                case Handler.ShlRI64:
                {
                    // As Shift: the decoder checked that the masked count is not 0.
                    int c = (int)op.Imm & 63;
                    ulong a = Unsafe.Add(ref regs, op.R1);
                    ulong r = a << c;
                    bool cf = ((a >> (64 - c)) & 1) != 0;
                    bool of = ((r >> 63) != 0) ^ cf;
                    Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = cf; _lfOp = FlagOp.ResultCfOf; _lfSize = 8; _lfA = a; _lfB = of ? 1UL : 0; _lfRes = r;
                    break;
                }
                case Handler.ShlRI32:
                {
                    // As Shift: the decoder checked that the masked count is not 0.
                    int c = (int)op.Imm & 31;
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1);
                    ulong r = (uint)(a << c);
                    bool cf = ((a >> (32 - c)) & 1) != 0;
                    bool of = ((r >> 31) != 0) ^ cf;
                    Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = cf; _lfOp = FlagOp.ResultCfOf; _lfSize = 4; _lfA = a; _lfB = of ? 1UL : 0; _lfRes = r;
                    break;
                }
                case Handler.ShrRI64:
                {
                    // As Shift: the decoder checked that the masked count is not 0.
                    int c = (int)op.Imm & 63;
                    ulong a = Unsafe.Add(ref regs, op.R1);
                    ulong r = a >> c;
                    bool cf = ((a >> (c - 1)) & 1) != 0;
                    bool of = (a >> 63) != 0;
                    Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = cf; _lfOp = FlagOp.ResultCfOf; _lfSize = 8; _lfA = a; _lfB = of ? 1UL : 0; _lfRes = r;
                    break;
                }
                case Handler.ShrRI32:
                {
                    // As Shift: the decoder checked that the masked count is not 0.
                    int c = (int)op.Imm & 31;
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1);
                    ulong r = a >> c;
                    bool cf = ((a >> (c - 1)) & 1) != 0;
                    bool of = (a >> 31) != 0;
                    Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = cf; _lfOp = FlagOp.ResultCfOf; _lfSize = 4; _lfA = a; _lfB = of ? 1UL : 0; _lfRes = r;
                    break;
                }
                case Handler.SarRI64:
                {
                    // As Shift: the decoder checked that the masked count is not 0.
                    int c = (int)op.Imm & 63;
                    ulong a = Unsafe.Add(ref regs, op.R1);
                    long sa = (long)a;
                    ulong r = (ulong)(sa >> c);
                    bool cf = ((sa >> (c - 1)) & 1) != 0;
                    const bool of = false;
                    Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = cf; _lfOp = FlagOp.ResultCfOf; _lfSize = 8; _lfA = a; _lfB = of ? 1UL : 0; _lfRes = r;
                    break;
                }
                case Handler.SarRI32:
                {
                    // As Shift: the decoder checked that the masked count is not 0.
                    int c = (int)op.Imm & 31;
                    ulong a = (uint)Unsafe.Add(ref regs, op.R1);
                    long sa = (int)a;
                    ulong r = (uint)(sa >> c);
                    bool cf = ((sa >> (c - 1)) & 1) != 0;
                    const bool of = false;
                    Unsafe.Add(ref regs, op.R1) = r;
                    _lfCarry = cf; _lfOp = FlagOp.ResultCfOf; _lfSize = 4; _lfA = a; _lfB = of ? 1UL : 0; _lfRes = r;
                    break;
                }
                case Handler.CmpRRJcc:
                case Handler.CmpRIJcc:
                case Handler.TestRRJcc:
                {
                    int size = op.Size;
                    ulong m = Mask(size);
                    ulong a = Unsafe.Add(ref regs, op.R1) & m;
                    ulong b = op.H == Handler.CmpRIJcc ? (ulong)op.Imm & m : Unsafe.Add(ref regs, op.R2) & m;
                    if (op.H == Handler.TestRRJcc) SetLazy(FlagOp.Logic, size, a, b, a & b);
                    else SetLazy(FlagOp.Sub, size, a, b, (a - b) & m);
                    ref Op jcc = ref ops[i + 1];
                    _opIndex = i + 1;
                    ulong jnext = next + jcc.Len;
                    bool taken = Cond(jcc.Sub);
                    Rip = taken ? Target(jnext + (ulong)jcc.Imm) : jnext;
                    if (branches != null) Cycles += branches.Conditional(next, taken);
                    Instructions += i + 2;
                    goto Chained;
                }
                case Handler.Alu:
                    ExecAlu(ref op, next);
                    break;
                case Handler.Test:
                    Test(ref op, next);
                    break;
                case Handler.Inc:
                case Handler.Dec:
                case Handler.Neg:
                case Handler.Not:
                    Unary(ref op, next);
                    break;
                case Handler.Shift:
                    Shift(ref op, next);
                    break;
                case Handler.Jmp:
                    Rip = Target(next + (ulong)op.Imm);
                    Instructions += i + 1;
                    goto Chained;
                case Handler.Jcc:
                {
                    bool taken = Cond(op.Sub);
                    Rip = taken ? Target(next + (ulong)op.Imm) : next;
                    if (branches != null) Cycles += branches.Conditional(next - op.Len, taken);
                    Instructions += i + 1;
                    goto Chained;
                }
                case Handler.JmpInd:
                    Rip = Target((op.Form & OpForm.MemSrc) != 0 ? Read64(Ea(ref op, next)) : Unsafe.Add(ref regs, op.R2));
                    if (branches != null) Cycles += branches.Indirect(next - op.Len, Rip);
                    Instructions += i + 1;
                    goto Chained;
                case Handler.Call:
                {
                    ulong target = Target(next + (ulong)op.Imm);
                    Push64(next);
                    Rip = target;
                    branches?.Call(next);
                    Instructions += i + 1;
                    goto Chained;
                }
                case Handler.CallInd:
                {
                    ulong target = Target((op.Form & OpForm.MemSrc) != 0 ? Read64(Ea(ref op, next)) : Unsafe.Add(ref regs, op.R2));
                    Push64(next);
                    Rip = target;
                    if (branches != null) { Cycles += branches.Indirect(next - op.Len, target); branches.Call(next); }
                    Instructions += i + 1;
                    goto Chained;
                }
                case Handler.Ret:
                {
                    ulong sp = Unsafe.Add(ref regs, RSP);
                    ulong target = Target(Read64(sp));
                    Unsafe.Add(ref regs, RSP) = sp + 8 + (ulong)op.Imm;
                    Rip = target;
                    if (branches != null) Cycles += branches.Return(target);
                    Instructions += i + 1;
                    goto Chained;
                }
                case Handler.Resync:
                    // The block's code was overwritten by an earlier op: refetch from here.
                    Rip = blockRip + op.Offset;
                    Instructions += i;
                    Cycles -= op.Cost + op.CostAfter;
                    goto Chained;

                default:
                {
                    int r = ExecuteCold(ref op, next, i, blockRip);
                    if (r < 0) break;
                    if (r != 0) return false;
                    goto Chained;
                }
            }
        }
        Rip = blockRip + (ulong)block.ByteLength;
        Instructions += ops.Length;
    Chained:
        if (!chain || Cycles >= _cycleLimit || Instructions >= _instructionLimit || _attention) return true;
        // A fetch fault of the next block belongs to no block (RIP is already its address).
        _currentBlock = null;
        block = NextBlock(block);
        _currentBlock = block;
        _blockRip = blockRip = Rip;
        goto NextInChain;
    }

    /// <summary>A 32/64-bit ALU op whose destination is a full register (32-bit results zero-extend).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AluToRegister(ref Op op, ulong a, ulong b)
    {
        int sub = op.Sub, size = op.Size;
        bool carry = (sub == AluOp.Adc || sub == AluOp.Sbb) && GetCF();
        ulong r = AluValue(sub, a, b, carry);
        if (size == 4) r = (uint)r;
        if (sub != AluOp.Cmp) R(op.R1) = r;
        AluFlags(sub, size, a, b, r, carry);
    }

    /// <summary><see cref="Cond"/> as a call, for SETcc in the executor: the hot switch keeps its inlining room for Jcc and CMOVcc.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool CondCall(int cc) => Cond(cc);

    /// <summary>
    /// The less frequent instructions, out of the hot switch so the JIT can inline the helpers
    /// of the hot one. Returns -1 to continue the block, 0 if the block ended with a control
    /// transfer (chainable), 1 if it ended with a system instruction (back to the run loop).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int ExecuteCold(ref Op op, ulong next, int i, ulong blockRip)
    {
        switch (op.H)
        {
            // The generic MOV forms (8- and 16-bit, register to register of any size): their common
            // 32- and 64-bit memory forms have handlers of their own in the hot switch.
            case Handler.Mov:
            {
                ulong v = ReadSrc(ref op, next);
                if ((op.Form & OpForm.MemDst) != 0) WriteMem(Ea(ref op, next), op.Size, v);
                else SetReg(op.R1, op.Size, v);
                return -1;
            }
            case Handler.MovZx:
            {
                ulong v = (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), op.Size2) : GetReg(op.R2, op.Size2);
                SetReg(op.R1, op.Size, v);
                return -1;
            }
            case Handler.MovSx:
            {
                ulong v = (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), op.Size2) : GetReg(op.R2, op.Size2);
                SetReg(op.R1, op.Size, (ulong)SignExtend(v, op.Size2));
                return -1;
            }
            case Handler.Xchg:
            {
                if ((op.Form & OpForm.MemDst) != 0)
                {
                    ulong ea = Ea(ref op, next);
                    ulong m = ReadMem(ea, op.Size);
                    WriteMem(ea, op.Size, GetReg(op.R2, op.Size));
                    SetReg(op.R2, op.Size, m);
                }
                else
                {
                    ulong a = GetReg(op.R1, op.Size), b = GetReg(op.R2, op.Size);
                    SetReg(op.R1, op.Size, b);
                    SetReg(op.R2, op.Size, a);
                }
                return -1;
            }
            case Handler.Push:
            {
                ulong v = (op.Form & OpForm.ImmSrc) != 0 ? (ulong)op.Imm
                    : (op.Form & OpForm.MemSrc) != 0 ? ReadMem(Ea(ref op, next), op.Size)
                    : GetReg(op.R2, op.Size);
                if (op.Size == 8) Push64(v);
                else { ulong sp = R(RSP) - 2; Write16(sp, (ushort)v); R(RSP) = sp; }
                return -1;
            }
            case Handler.Pop:
            {
                ulong sp = R(RSP);
                ulong v = ReadMem(sp, op.Size);
                R(RSP) = sp + op.Size;
                try
                {
                    // SDM POP: an RSP-based destination address is computed after the increment.
                    if ((op.Form & OpForm.MemDst) != 0) WriteMem(Ea(ref op, next), op.Size, v);
                    else SetReg(op.R1, op.Size, v);
                }
                catch (GuestFault) { R(RSP) = sp; throw; }
                return -1;
            }
            case Handler.Bswap:
                if (op.Size == 8) R(op.R1) = BinaryPrimitives.ReverseEndianness(R(op.R1));
                else if (op.Size == 4) R(op.R1) = BinaryPrimitives.ReverseEndianness((uint)R(op.R1));
                else SetReg(op.R1, 2, 0); // SDM: BSWAP of a 16-bit register is undefined; hardware gives 0
                return -1;
            case Handler.Cbw:
                if (op.Size == 2) SetReg(RAX, 2, (ulong)(sbyte)R(RAX));
                else if (op.Size == 4) R(RAX) = (uint)(short)R(RAX);
                else R(RAX) = (ulong)(int)R(RAX);
                return -1;
            case Handler.Cwd:
            {
                bool neg = (GetReg(RAX, op.Size) & SignBit(op.Size)) != 0;
                SetReg(RDX, op.Size, neg ? ulong.MaxValue : 0);
                return -1;
            }
            case Handler.Lahf:
                SetReg(16, 1, (GetRflags() & (FlagSF | FlagZF | FlagAF | FlagPF | FlagCF)) | 2);
                return -1;
            case Handler.Sahf:
                SetFlagBits(FlagSF | FlagZF | FlagAF | FlagPF | FlagCF, GetReg(16, 1));
                return -1;
            case Handler.FlagBit:
                switch (op.Sub)
                {
                    case 0: SetFlagBits(FlagCF, 0); break;
                    case 1: SetFlagBits(FlagCF, FlagCF); break;
                    case 2: SetFlagBits(FlagCF, GetCF() ? 0 : FlagCF); break;
                    case 3: _rflags &= ~FlagDF; break;
                    default: _rflags |= FlagDF; break;
                }
                return -1;
            case Handler.Enter:
                Enter(ref op);
                return -1;
            case Handler.Leave:
            {
                ulong bp = R(RBP);
                if (op.Size == 8) { ulong v = Read64(bp); R(RSP) = bp + 8; R(RBP) = v; }
                else { ulong v = Read16(bp); R(RSP) = bp + 2; SetReg(RBP, 2, v); }
                return -1;
            }

            case Handler.Shld:
            case Handler.Shrd:
                DoubleShift(ref op, next);
                return -1;
            case Handler.Mul:
                Mul1(ref op, next, false);
                return -1;
            case Handler.Imul1:
                Mul1(ref op, next, true);
                return -1;
            case Handler.Imul2:
            case Handler.Imul3:
                ImulN(ref op, next);
                return -1;
            case Handler.Div:
                Divide(ref op, next, false);
                return -1;
            case Handler.Idiv:
                Divide(ref op, next, true);
                return -1;
            case Handler.Bt:
                BitTest(ref op, next);
                return -1;
            case Handler.Bsf:
            case Handler.Bsr:
            case Handler.Tzcnt:
            case Handler.Lzcnt:
            case Handler.Popcnt:
                BitScan(ref op, next);
                return -1;
            case Handler.Andn:
            case Handler.Bextr:
            case Handler.Blsi:
            case Handler.Blsmsk:
            case Handler.Blsr:
                Bmi(ref op, next);
                return -1;
            case Handler.Cmpxchg:
                Cmpxchg(ref op, next);
                return -1;
            case Handler.Xadd:
                Xadd(ref op, next);
                return -1;
            case Handler.Cmpxchg16b:
                Cmpxchg16b(ref op, next);
                return -1;
            case Handler.Vector:
                ExecuteVector(ref op, next);
                return -1;
            case Handler.Legacy:
                return ExecuteLegacy(ref op, next, i);

            case Handler.Jrcxz:
                Rip = (R(RCX) & Mask(op.Size)) == 0 ? Target(next + (ulong)op.Imm) : next;
                Instructions += i + 1;
                return 0;
            case Handler.Loop:
            {
                ulong c = (R(RCX) - 1) & Mask(op.Size);
                SetReg(RCX, op.Size, c);
                bool take = c != 0 && (op.Sub == 0 || (op.Sub == 1 ? Cond(4) : !Cond(4)));
                Rip = take ? Target(next + (ulong)op.Imm) : next;
                Instructions += i + 1;
                return 0;
            }

            case Handler.Movs:
            case Handler.Stos:
            case Handler.Lods:
            case Handler.Cmps:
            case Handler.Scas:
                if (StringOp(ref op, i)) return -1;
                // A REP chunk ended with RCX left: the instruction resumes from its RIP (as after an
                // interrupt between iterations), its first cost is charged again then, and the
                // iterations done count toward the instruction limit.
                Rip = blockRip + op.Offset;
                Cycles -= op.Cost + op.CostAfter;
                Instructions += i;
                return 0;

            default:
                if ((op.H is Handler.Rdtsc or Handler.Rdtscp || op.H == Handler.Rdmsr && (uint)R(RCX) == Msr.Tsc)
                    && Cycles - op.Cost - op.CostAfter > TscSyncCycle)
                {
                    // Ahead of another vCPU: read the TSC when it is this vCPU's turn (TscSyncCycle).
                    Rip = blockRip + op.Offset;
                    Cycles -= op.Cost + op.CostAfter;
                    Instructions += i;
                    _yieldSlice = true;
                    _attention = true;
                    return 1;
                }
                // System instructions: rare, may change mode, always end the block.
                Rip = next;
                ExecSystem(ref op, next, blockRip + op.Offset);
                Instructions += i + 1;
                return 1;
        }
    }

    /// <summary>A branch target must be canonical; the branch itself faults (#GP), before any side effect.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Target(ulong t) => IsCanonical(t) ? t : throw GuestFault.Gp();

    private void Enter(ref Op op)
    {
        int level = (int)(op.Disp & 31);
        ulong frameSize = (ulong)op.Imm & 0xffff;
        if (op.Size != 8) throw GuestFault.Ud();
        ulong rsp = R(RSP), rbp = R(RBP);
        ulong sp = rsp - 8;
        Write64(sp, rbp);
        ulong frameTemp = sp;
        for (int l = 1; l < level; l++)
        {
            rbp -= 8;
            sp -= 8;
            Write64(sp, Read64(rbp));
        }
        if (level > 0) { sp -= 8; Write64(sp, frameTemp); }
        R(RBP) = frameTemp;
        R(RSP) = sp - frameSize;
    }
}

/// <summary>A condition of the emulated machine that no guest can handle (e.g. executing MMIO).</summary>
public sealed class MachineCheck(string message) : Exception(message);
