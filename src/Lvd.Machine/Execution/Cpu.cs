using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lvd.Machine.Cost;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Execution;

/// <summary>Why <see cref="Cpu.Run"/> returned.</summary>
public enum CpuState { Running, Halted, Shutdown, Stopped, WaitForSipi }

/// <summary>
/// One x86-64 vCPU: architectural state, the software TLBs and the block executor. It runs in
/// 64-bit long mode only (the loader or the start protocol puts it there). Everything outside
/// the core (ports, platform MSRs such as the x2APIC, the code cache) is reached through
/// <see cref="IPlatform"/>, so the CPU carries no device or hypervisor policy.
/// The class is one partial type so the JIT can inline across its parts; the parts live with
/// the feature they model: Execution/ (state, run loop, flags, exceptions, instruction
/// families), Paging/ (TLB, page walks, EPT), Vmx/ (entry, exit, exit conditions, VMFUNC,
/// event injection, preemption timer).
/// </summary>
public sealed partial class Cpu
{
    public const int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
    public const int R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;

    public const ulong FlagCF = 1, FlagPF = 1 << 2, FlagAF = 1 << 4, FlagZF = 1 << 6, FlagSF = 1 << 7,
        FlagTF = 1 << 8, FlagIF = 1 << 9, FlagDF = 1 << 10, FlagOF = 1 << 11, FlagIOPL = 3 << 12, FlagNT = 1 << 14,
        FlagRF = 1 << 16, FlagVM = 1 << 17, FlagAC = 1 << 18, FlagVIF = 1 << 19, FlagVIP = 1 << 20, FlagID = 1 << 21;
    public const ulong ArithFlags = FlagCF | FlagPF | FlagAF | FlagZF | FlagSF | FlagOF;

    public const ulong Cr0PE = 1, Cr0MP = 2, Cr0EM = 4, Cr0TS = 8, Cr0ET = 16, Cr0NE = 32, Cr0WP = 1 << 16, Cr0AM = 1 << 18,
        Cr0NW = 1UL << 29, Cr0CD = 1UL << 30, Cr0PG = 1UL << 31;
    public const ulong Cr4PAE = 1 << 5, Cr4PGE = 1 << 7, Cr4TSD = 1 << 2, Cr4OSFXSR = 1 << 9, Cr4OSXMMEXCPT = 1 << 10, Cr4VMXE = 1 << 13,
        Cr4FSGSBASE = 1 << 16, Cr4PCIDE = 1 << 17, Cr4OSXSAVE = 1 << 18;
    /// <summary>
    /// The CR4 bits this CPU implements (SDM 2.5: bits of features CPUID does not report are
    /// reserved): VME..OSXMMEXCPT (0-10) and FSGSBASE (16); VMXE only in VMX operation.
    /// </summary>
    public const ulong Cr4Implemented = 0x7ffUL | Cr4FSGSBASE;
    public const ulong EferSCE = 1, EferLME = 1 << 8, EferLMA = 1 << 10, EferNXE = 1 << 11;

    /// <summary>Physical-address width reported by CPUID 0x80000008 (Haswell-EP: 46).</summary>
    public const int MaxPhysAddrBits = 46;

    public int Id { get; }
    public CostModel Costs { get; }
    internal readonly PhysicalMemory Memory;
    internal readonly IPlatform Platform;

    internal readonly ulong[] Regs = new ulong[16];
    public ulong Rip;
    /// <summary>RFLAGS bits not tracked lazily; arithmetic bits are valid only when <see cref="_lfOp"/> is None.</summary>
    private ulong _rflags = 2;

    public ulong Cr0 { get; private set; }
    public ulong Cr2;
    public ulong Cr3 { get; private set; }
    public ulong Cr4 { get; private set; }
    public ulong Cr8;
    public ulong Efer { get; private set; }
    public ulong Xcr0 = 1;
    public readonly Segment[] Segs = new Segment[6];
    public Segment Tr;
    public Segment Ldtr;
    public DescriptorTable Gdtr;
    public DescriptorTable Idtr;

    public ulong Star, Lstar, Cstar, Fmask, KernelGsBase, TscAux, Pat = 0x0007040600070406UL;
    public ulong SysenterCs, SysenterEsp, SysenterEip, TscOffset, MiscEnable = 1;
    public readonly ulong[] Dr = new ulong[8];

    /// <summary>Modeled cycles this vCPU has consumed: its clock and its TSC.</summary>
    public long Cycles;
    /// <summary>Cycles below one the block model has charged so far, in 1/65,536 cycles.</summary>
    private int _fraction;
    /// <summary>Retired instructions.</summary>
    public long Instructions;
    public CpuState State { get; internal set; } = CpuState.Running;
    public int Cpl { get; private set; }

    /// <summary>The crash that shut this CPU down (triple fault), for the report.</summary>
    public CrashInfo? Crash { get; private set; }

    public Cpu(int id, PhysicalMemory memory, CostModel costs, IPlatform platform)
    {
        _code = platform.Code;
        Id = id;
        Memory = memory;
        Costs = costs;
        Platform = platform;
        var native = TlbSetFor(0, 0);
        _tlbSup = native.Sup;
        _tlbUser = native.User;
        _tlb = _tlbSup.Entries;
        _decoder = new Decoding.BlockDecoder(costs);
        for (int i = 0; i < Segs.Length; i++) Segs[i].Attributes = Segment.Unusable;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref ulong R(int index) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Regs), index);

    public ulong GetRegister(int index) => Regs[index];
    public void SetRegister(int index, ulong value) => Regs[index] = value;

    public ulong FsBase { get => Segs[(int)SegReg.FS].Base; set => Segs[(int)SegReg.FS].Base = value; }
    public ulong GsBase { get => Segs[(int)SegReg.GS].Base; set => Segs[(int)SegReg.GS].Base = value; }

    public ulong Rflags
    {
        get => GetRflags();
        set => SetRflags(value);
    }

    public bool InterruptsEnabled => (_rflags & FlagIF) != 0;

    /// <summary>
    /// Puts the CPU directly into 64-bit long mode, as a boot loader leaves it. Used by the
    /// loader and by the SMP start protocol; the caller provides valid GDT/paging structures.
    /// </summary>
    public void EnterLongMode(ulong cr3, ulong gdtBase, ushort gdtLimit, ushort codeSel, ushort dataSel, ulong rip, ulong rsp)
    {
        Cr0 = Cr0PE | Cr0MP | Cr0ET | Cr0NE | Cr0WP | Cr0PG;
        Cr4 = Cr4PAE | Cr4PGE | Cr4OSFXSR | Cr4FSGSBASE;
        Efer = EferSCE | EferLME | EferLMA | EferNXE;
        Cr3 = cr3;
        Gdtr = new DescriptorTable { Base = gdtBase, Limit = gdtLimit };
        Idtr = default;
        Segs[(int)SegReg.CS] = new Segment { Selector = codeSel, Attributes = 0xa09b }; // present, DPL0, code, L=1, G
        var data = new Segment { Selector = dataSel, Attributes = 0xc093, Limit = 0xffffffff };
        Segs[(int)SegReg.SS] = data;
        Segs[(int)SegReg.DS] = data;
        Segs[(int)SegReg.ES] = data;
        Segs[(int)SegReg.FS] = data;
        Segs[(int)SegReg.GS] = data;
        Tr = new Segment { Attributes = 0x8b, Limit = 0x67 };
        Ldtr = new Segment { Attributes = Segment.Unusable };
        _lfOp = FlagOp.None;
        _rflags = 2;
        Rip = rip;
        Regs[RSP] = rsp;
        SetCpl(0);
        FlushTlb(true);
        State = CpuState.Running;
    }

    private void SetCpl(int cpl)
    {
        Cpl = cpl;
        SelectTlb();
    }

    /// <summary>
    /// Points the fast path at the TLB of the current privilege level. While alignment checking
    /// is active (CPL 3, CR0.AM, RFLAGS.AC: SDM 6.15 #AC) it points at an always-empty TLB, so
    /// every access takes the slow path, which checks alignment; otherwise #AC costs nothing.
    /// </summary>
    private void SelectTlb()
    {
        _alignCheck = Cpl == 3 && (Cr0 & Cr0AM) != 0 && (_rflags & FlagAC) != 0;
        _tlb = _alignCheck || Caches != null ? _tlbNone.Entries : Cpl == 3 ? _tlbUser.Entries : _tlbSup.Entries;
    }

    /// <summary>`--timing detailed`: this vCPU's data caches (every data access then takes the slow path, where they are), or null.</summary>
    public Cost.DataCaches? Caches { get; private set; }

    /// <summary>`--timing detailed`: this vCPU's branch predictor, or null.</summary>
    public Cost.BranchPredictor? Branches { get; private set; }

    internal void EnableDetailedTiming(Cost.DataCaches caches, Cost.BranchPredictor branches)
    {
        Caches = caches;
        Branches = branches;
        SelectTlb();
    }

    internal void SetCr0(ulong v) { Cr0 = v; FlushTlb(true); SelectTlb(); }
    internal void SetCr3(ulong v) { Cr3 = v; FlushTlb(false); }
    internal void SetCr4(ulong v) { Cr4 = v; FlushTlb(true); }
    internal void SetEfer(ulong v) { Efer = v; FlushTlb(true); }
}

/// <summary>A record of what killed a CPU, for the crash report.</summary>
public sealed record CrashInfo(string Reason, int FirstVector, uint FirstErrorCode, ulong Rip, ulong Cr2);
