using Iced.Intel;
using Lvd.Machine.Memory;
using MachineT = Lvd.Machine.Machine;
using EptBits = Lvd.Machine.Vmx.Ept;

namespace Lvd.Tests.Vmx;

/// <summary>Everything the test root saw at one VM exit.</summary>
public sealed record ExitRecord(
    ExitReason Reason,
    ulong Qualification,
    ulong GuestPhysical,
    ulong GuestLinear,
    uint InstructionLength,
    uint InstructionInfo,
    uint InterruptionInfo,
    uint InterruptionErrorCode,
    ulong GuestRip,
    ulong GuestRsp,
    ulong Rax,
    ulong Rcx,
    ulong R15,
    uint Interruptibility,
    ulong Cr2,
    ulong GuestCr0,
    ulong GuestCr3,
    long Cycles,
    ulong Eptp,
    ushort EptpIndex);

/// <summary>
/// A tiny VMX root for conformance tests: one vCPU in 64-bit mode, guest identity paging
/// (first 2 MiB in 4 KiB pages, the rest of the first 2 GiB in 2 MiB pages, every entry U/S=1),
/// a GDT/TSS/IDT with one stub per vector (<c>mov r15d, vector; vmcall</c>), an identity EPT of
/// guest RAM (RWX, write-back), and a root that records every exit and (by default) stops.
/// </summary>
public sealed class VmxHarness : IVmxRoot
{
    public const ulong RamBytes = 64UL << 20, ReservedBytes = 16UL << 20;

    // Guest-physical layout (identity to host-physical in the base EPT).
    public const ulong Gdt = 0x1000, Idt = 0x2000, Tss = 0x3000;
    public const ulong Pml4 = 0x10000, Pdpt = 0x11000, Pd0 = 0x12000, Pt0 = 0x13000, Pd1 = 0x14000;
    /// <summary>Spare 4 KiB pages the tests may turn into guest page tables.</summary>
    public const ulong SparePt = 0x18000, SparePt2 = 0x19000;
    public const ulong Code = 0x100000, Stubs = 0x180000, Data = 0x200000, StackTop = 0x300000, IstStack = 0x3f0000;
    public const ushort KernelCode = 0x08, KernelData = 0x10, UserData = 0x20, UserCode = 0x28, TssSel = 0x30;
    /// <summary>Marker R15 of the main code's VMCALLs (stubs put the vector there).</summary>
    public const ulong Done = 0xD0E;
    /// <summary>Two values the tests store behind two translations of one address, to tell which one a load used.</summary>
    public const ulong ValueA = 0xAAAA_0000_AAAA_0001UL, ValueB = 0xBBBB_0000_BBBB_0002UL;

    public MachineT Machine { get; }
    public Cpu Cpu { get; }
    public PhysicalMemory Mem { get; }
    public HypervisorMemory Hv { get; }
    public EptTable Ept { get; }
    public Vmcs V { get; } = new();
    public List<ExitRecord> Exits { get; } = new();

    /// <summary>Decides how the vCPU continues after an exit; default: stop.</summary>
    public Func<ExitRecord, ExitAction>? OnExit { get; set; }

    public VmxHarness(bool vpid = false, bool ept = true)
    {
        Machine = new MachineT(new MachineConfig { MemoryBytes = RamBytes, VmxRootReservedBytes = ReservedBytes });
        Cpu = Machine.Cpus[0];
        Mem = Machine.Memory;
        Hv = new HypervisorMemory(Mem, Machine.GuestRamTop, RamBytes);
        Ept = EptTable.Create(Hv, Mem)!;
        Assert.True(Ept.Map(0, 0, Machine.GuestRamTop, EptBits.Read | EptBits.Write | EptBits.Exec));
        BuildGuestTables();
        WriteStubs();
        Cpu.EnterLongMode(Pml4, Gdt, 0x3f, KernelCode, KernelData, Code, StackTop);
        Cpu.Tr = new Segment { Selector = TssSel, Base = Tss, Limit = 0x67, Attributes = 0x8b };
        Cpu.Idtr = new DescriptorTable { Base = Idt, Limit = 0xfff };
        SetupVmcs(vpid, ept);
    }

    private void BuildGuestTables()
    {
        // GDT as the boot loader builds it: null, code64, data, user code32, user data, user code64, TSS.
        Mem.Write64(Gdt + 0x08, 0x00af9a000000ffffUL);
        Mem.Write64(Gdt + 0x10, 0x00cf92000000ffffUL);
        Mem.Write64(Gdt + 0x18, 0x00cffa000000ffffUL);
        Mem.Write64(Gdt + 0x20, 0x00cff2000000ffffUL);
        Mem.Write64(Gdt + 0x28, 0x00affa000000ffffUL);
        Mem.Write64(Gdt + 0x30, 0x67UL | ((Tss & 0xffffff) << 16) | (0x8bUL << 40));
        Mem.Write64(Gdt + 0x38, 0);
        Mem.Write64(Tss + 4, StackTop);       // RSP0
        Mem.Write64(Tss + 36, IstStack);      // IST1
        const ulong P = 1, RW = 2, US = 4, PS = 0x80;
        Mem.Write64(Pml4, Pdpt | P | RW | US);
        Mem.Write64(Pdpt, Pd0 | P | RW | US);
        Mem.Write64(Pdpt + 8, Pd1 | P | RW | US);
        Mem.Write64(Pd0, Pt0 | P | RW | US);
        for (ulong i = 0; i < 512; i++) Mem.Write64(Pt0 + i * 8, (i << 12) | P | RW | US);
        for (ulong i = 1; i < 512; i++) Mem.Write64(Pd0 + i * 8, (i << 21) | P | RW | US | PS);
        for (ulong i = 0; i < 512; i++) Mem.Write64(Pd1 + i * 8, ((1UL << 30) + (i << 21)) | P | RW | US | PS);
    }

    /// <summary>Stub i: <c>mov r15d, i; vmcall; [add rsp, 8 if an error code]; iretq</c>; interrupt gates, DPL 3.</summary>
    private void WriteStubs()
    {
        for (int v = 0; v < 32; v++)
        {
            ulong at = Stubs + (ulong)v * 32;
            var a = new Assembler(64);
            a.mov(AssemblerRegisters.r15d, v);
            a.vmcall();
            if (Vectors.HasErrorCode(v)) a.add(AssemblerRegisters.rsp, 8);
            a.iretq();
            WriteCode(at, a);
            SetGate(v, at);
        }
    }

    public void SetGate(int vector, ulong target, int ist = 0)
    {
        ulong lo = (target & 0xffff) | ((ulong)KernelCode << 16) | ((ulong)ist << 32) | (0xeeUL << 40) | (((target >> 16) & 0xffff) << 48);
        Mem.Write64(Idt + (ulong)vector * 16, lo);
        Mem.Write64(Idt + (ulong)vector * 16 + 8, target >> 32);
    }

    private void SetupVmcs(bool vpid, bool ept)
    {
        var v = V;
        v.PinBased = 0;
        v.ProcBased = ProcControls.ActivateSecondary;
        v.ProcBased2 = (ept ? Proc2Controls.EnableEpt : 0) | (vpid ? Proc2Controls.EnableVpid : 0);
        v.Vpid = 1;
        v.Eptp = Ept.Eptp;
        v.Cr4GuestHostMask = Cpu.Cr4VMXE;
        v.Cr4ReadShadow = Cpu.Cr4;
        v.GuestRip = Code;
        v.GuestRsp = StackTop;
        v.GuestRflags = 2;
        v.GuestCr0 = Cpu.Cr0;
        v.GuestCr3 = Cpu.Cr3;
        v.GuestCr4 = Cpu.Cr4 | Cpu.Cr4VMXE;
        v.GuestDr7 = 0x400;
        for (int i = 0; i < 6; i++) v.GuestSegs[i] = Cpu.Segs[i];
        v.GuestTr = Cpu.Tr;
        v.GuestLdtr = Cpu.Ldtr;
        v.GuestGdtr = Cpu.Gdtr;
        v.GuestIdtr = new DescriptorTable { Base = Idt, Limit = 0xfff };
        v.GuestEfer = Cpu.Efer;
        v.GuestPat = Cpu.Pat;
    }

    /// <summary>Puts the guest at CPL 3 (user code/data selectors, DPL 3).</summary>
    public void GuestAtCpl3()
    {
        V.GuestSegs[(int)SegReg.CS] = new Segment { Selector = UserCode | 3, Attributes = 0xa0fb, Limit = 0xffffffff };
        var d = new Segment { Selector = UserData | 3, Attributes = 0xc0f3, Limit = 0xffffffff };
        V.GuestSegs[(int)SegReg.SS] = d;
        V.GuestSegs[(int)SegReg.DS] = d;
        V.GuestSegs[(int)SegReg.ES] = d;
    }

    // ---------------- code ----------------

    public static Assembler Asm() => new(64);

    public AssemblerResult WriteCode(ulong at, Assembler a)
    {
        var ms = new MemoryStream();
        var r = a.Assemble(new StreamCodeWriter(ms), at, BlockEncoderOptions.ReturnNewInstructionOffsets);
        Mem.WriteBytes(at, ms.ToArray());
        return r;
    }

    /// <summary>Assembles the main guest code at <see cref="Code"/>; the result gives label addresses.</summary>
    public AssemblerResult Guest(Action<Assembler> build)
    {
        var a = Asm();
        build(a);
        return WriteCode(Code, a);
    }

    /// <summary>Appends the "done" VMCALL (R15 = <see cref="Done"/>).</summary>
    public static void EmitDone(Assembler a)
    {
        a.mov(AssemblerRegisters.r15d, (int)Done);
        a.vmcall();
    }

    // ---------------- running ----------------

    public RunResult Enter(long maxInstructions = 200_000)
    {
        Cpu.VmEnter(V, this);
        return Machine.Run(maxInstructions);
    }

    public ExitRecord Single()
    {
        Assert.Single(Exits);
        return Exits[0];
    }

    public ExitRecord Last => Exits[^1];

    public ExitAction HandleExit(Cpu cpu, Vmcs v)
    {
        var r = new ExitRecord(v.ExitReason, v.ExitQualification, v.GuestPhysicalAddress, v.GuestLinearAddress,
            v.ExitInstructionLength, v.ExitInstructionInfo, v.ExitInterruptionInfo, v.ExitInterruptionErrorCode,
            v.GuestRip, v.GuestRsp, cpu.GetRegister(Cpu.RAX), cpu.GetRegister(Cpu.RCX), cpu.GetRegister(Cpu.R15),
            v.GuestInterruptibility, cpu.Cr2, v.GuestCr0, v.GuestCr3, cpu.Cycles, v.Eptp, v.EptpIndex);
        Exits.Add(r);
        if (Exits.Count > 1000) return ExitAction.Stop;
        return OnExit?.Invoke(r) ?? ExitAction.Stop;
    }

    /// <summary>Skips the exiting instruction (VMRESUME after emulating it).</summary>
    public ExitAction SkipAndResume()
    {
        V.GuestRip += V.ExitInstructionLength;
        return ExitAction.Resume;
    }

    /// <summary>Resumes past every exit except the final "done" VMCALL.</summary>
    public void ResumeUntilDone(Func<ExitRecord, bool>? extra = null)
    {
        OnExit = r =>
        {
            if (r.Reason == ExitReason.Vmcall && r.R15 == Done) return ExitAction.Stop;
            extra?.Invoke(r);
            return SkipAndResume();
        };
    }

    // ---------------- EPT helpers ----------------

    /// <summary>Host-physical address of the EPT PDPT that covers guest-physical 0..512 GiB.</summary>
    public ulong EptPdpt => Mem.Read64(Ept.Root) & 0x000f_ffff_ffff_f000UL;

    public ulong NewPage() => Hv.AllocPage()!.Value;

    public const ulong Rwx = EptBits.Read | EptBits.Write | EptBits.Exec;
    public const ulong Wb = EptBits.WriteBack;
}
