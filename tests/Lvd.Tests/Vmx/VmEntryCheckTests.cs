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
            default: throw new ArgumentException(name);
        }
        Assert.Throws<VmEntryException>(() => h.Cpu.VmEnter(v, h));
        Assert.False(h.Cpu.NonRoot);
        Assert.Empty(h.Exits);
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
