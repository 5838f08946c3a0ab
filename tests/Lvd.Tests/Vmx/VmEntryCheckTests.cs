namespace Lvd.Tests.Vmx;

/// <summary>VM-entry checks on controls (SDM 26.2.1) and guest state (SDM 26.3.1): a failed entry throws and leaves the vCPU in root mode.</summary>
public sealed class VmEntryCheckTests
{
    /// <summary>Control: the harness's VMCS enters and runs.</summary>
    [Fact]
    public void BaselineEnters()
    {
        var h = new VmxHarness(vpid: true);
        h.Guest(VmxHarness.EmitDone);
        h.Enter();
        Assert.Equal(ExitReason.Vmcall, h.Single().Reason);
    }

    public static IEnumerable<object[]> Cases() =>
    [
        ["EPTP switching without enable EPT"],
        ["EPTP-list address not 4 KiB aligned"],
        ["EPTP-list address beyond MAXPHYADDR"],
        ["EPTP memory type 1"],
        ["EPTP walk length 3"],
        ["EPTP reserved bit 8"],
        ["EPTP bit 46"],
        ["VPID 0 with enable VPID"],
        ["CR3-target count 5"],
        ["guest CR4.VMXE = 0"],
        ["guest RIP non-canonical"],
        ["unsupported VM function 1"],
        ["guest CR0.PG = 0 without unrestricted guest"],
        ["unrestricted guest without enable EPT"],
        ["unrestricted guest: CR0.PG = 1 with PE = 0"],
        ["unrestricted guest: CR0.PG = 0 with EFER.LMA = 1"],
        ["unrestricted guest: CR0.PE = 0 (real mode, not modeled)"],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void EntryFails(string name)
    {
        var h = new VmxHarness(vpid: true);
        h.Guest(VmxHarness.EmitDone);
        var v = h.V;
        ulong list = h.NewPage();
        void Switching() { v.ProcBased2 |= Proc2Controls.EnableVmFunctions; v.VmFunctionControls =
            VmFunctionControls.EptpSwitching; v.EptpListAddress = list; }
        switch (name)
        {
            case "EPTP switching without enable EPT": Switching(); v.ProcBased2 &= ~Proc2Controls.EnableEpt; break; // SDM 26.2.1.1
            case "EPTP-list address not 4 KiB aligned": Switching(); v.EptpListAddress = list + 8; break;         // SDM 26.2.1.1
            case "EPTP-list address beyond MAXPHYADDR": Switching(); v.EptpListAddress = 1UL << 46; break;       // SDM 26.2.1.1
            case "EPTP memory type 1": v.Eptp = (v.Eptp & ~7UL) | 1; break;                                       // SDM 26.2.1.1 / 24.6.11
            case "EPTP walk length 3": v.Eptp = (v.Eptp & ~0x38UL) | (2UL << 3); break;
            case "EPTP reserved bit 8": v.Eptp |= 1UL << 8; break;
            case "EPTP bit 46": v.Eptp |= 1UL << 46; break;
            case "VPID 0 with enable VPID": v.Vpid = 0; break;                                                     // SDM 26.2.1.1
            case "CR3-target count 5": v.Cr3TargetCount = 5; break;                                               // SDM 26.2.1.1
            case "guest CR4.VMXE = 0": v.GuestCr4 &= ~Cpu.Cr4VMXE; break;                                     // SDM 26.3.1.1 (CR4 fixed bits)
            case "guest RIP non-canonical": v.GuestRip = 0x0000_8000_0000_0000UL; break;                          // SDM 26.3.1.4
            case "unsupported VM function 1": Switching(); v.VmFunctionControls |= 2; break;                       // SDM 26.2.1.1
            case "guest CR0.PG = 0 without unrestricted guest": Unpaged(v); break;                                // SDM 26.3.1.1 (CR0 fixed bits)
            case "unrestricted guest without enable EPT":                                                          // SDM 26.2.1.1
                v.ProcBased2 = (v.ProcBased2 | Proc2Controls.UnrestrictedGuest) & ~Proc2Controls.EnableEpt; break;
            case "unrestricted guest: CR0.PG = 1 with PE = 0": v.ProcBased2 |= Proc2Controls.UnrestrictedGuest; v.GuestCr0 &= ~Cpu.Cr0PE; break;
            case "unrestricted guest: CR0.PG = 0 with EFER.LMA = 1":                                               // SDM 26.3.1.1 (IA-32e mode guest)
                v.ProcBased2 |= Proc2Controls.UnrestrictedGuest; v.GuestCr0 &= ~Cpu.Cr0PG; break;
            case "unrestricted guest: CR0.PE = 0 (real mode, not modeled)":
                v.ProcBased2 |= Proc2Controls.UnrestrictedGuest; Unpaged(v); v.GuestCr0 &= ~Cpu.Cr0PE; break;
            default: throw new ArgumentException(name);
        }
        Assert.Throws<VmEntryException>(() => h.Cpu.VmEnter(v, h));
        Assert.False(h.Cpu.NonRoot);
        Assert.Empty(h.Exits);
    }

    /// <summary>32-bit protected mode without paging: CR0.PG=0, EFER.LMA=0 (LME stays 1, as in Linux's trampoline), a flat 32-bit CS.</summary>
    private static void Unpaged(Vmcs v)
    {
        v.GuestCr0 &= ~Cpu.Cr0PG;
        v.GuestEfer &= ~Cpu.EferLMA;
        v.GuestSegs[(int)SegReg.CS] = new Segment
        {
            Selector = Code32, Base = 0, Limit = 0xffffffff, Attributes = Segment.AttributesFromDescriptor(Code32Descriptor),
        };
    }

    private const ushort Code32 = 0x40;
    private const ulong Code32Descriptor = 0x00cf9b000000ffffUL; // flat 32-bit code, DPL 0 (Linux's __KERNEL32_CS)

    /// <summary>
    /// SDM 26.3.1.1 with "unrestricted guest" (secondary control bit 7): a guest in 32-bit protected mode with paging off
    /// enters; its linear addresses are guest-physical and go through EPT (an unmapped page is an EPT violation at that
    /// address); the exit saves the state it ran in (CR0.PG=0, EFER.LMA=0, the 32-bit CS).
    /// </summary>
    [Fact]
    public void UnrestrictedGuestRunsUnpagedProtectedModeThroughEpt()
    {
        var h = new VmxHarness(vpid: true);
        h.Mem.Write64(VmxHarness.Gdt + Code32, Code32Descriptor);
        h.Mem.Write64(VmxHarness.Data, 0x1234_5678);
        var a = new Iced.Intel.Assembler(32);
        a.mov(Iced.Intel.AssemblerRegisters.eax, Iced.Intel.AssemblerRegisters.__dword_ptr[(uint)VmxHarness.Data]);
        a.add(Iced.Intel.AssemblerRegisters.eax, 1);
        a.vmcall();
        a.mov(Iced.Intel.AssemblerRegisters.ecx, Iced.Intel.AssemblerRegisters.__dword_ptr[0x3000_0000u]); // beyond guest RAM: no EPT entry
        h.WriteCode(VmxHarness.Code, a);
        h.V.ProcBased2 |= Proc2Controls.UnrestrictedGuest;
        Unpaged(h.V);
        h.V.GuestRip = VmxHarness.Code;
        h.OnExit = r => r.Reason == ExitReason.Vmcall ? h.SkipAndResume() : ExitAction.Stop;
        h.Enter();
        Assert.Equal(ExitReason.Vmcall, h.Exits[0].Reason);
        Assert.Equal(0x1234_5679UL, h.Exits[0].Rax & 0xffffffff);
        Assert.Equal(0UL, h.Exits[0].GuestCr0 & Cpu.Cr0PG);
        Assert.Equal(ExitReason.EptViolation, h.Exits[1].Reason);
        Assert.Equal(0x3000_0000UL, h.Exits[1].GuestPhysical);
        Assert.Equal(0UL, h.V.GuestEfer & Cpu.EferLMA);
        Assert.Equal(Code32, h.V.GuestSegs[(int)SegReg.CS].Selector);
    }

    /// <summary>SDM 26.2.1.1: VPID and EPT checks apply only when the secondary controls are activated.</summary>
    [Fact]
    public void SecondaryControlsIgnoredWhenNotActivated()
    {
        var h = new VmxHarness(vpid: true);
        h.Guest(VmxHarness.EmitDone);
        h.V.Vpid = 0;
        h.V.Eptp = 1; // invalid, but EPT is off
        h.V.ProcBased &= ~ProcControls.ActivateSecondary;
        h.Enter();
        Assert.Equal(ExitReason.Vmcall, h.Single().Reason);
    }
}
