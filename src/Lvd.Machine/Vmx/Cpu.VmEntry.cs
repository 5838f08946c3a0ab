using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>
/// VM entry (SDM 26): VMLAUNCH/VMRESUME checks of the VM-execution controls and of the guest
/// state the machine uses, then loading the guest state.
/// </summary>
public sealed partial class Cpu
{

    /// <summary>
    /// VMLAUNCH/VMRESUME: checks the controls and guest state the machine uses (SDM 26.2,
    /// 26.3), loads the guest state, injects a pending event and continues in non-root mode.
    /// Throws <see cref="VmEntryException"/> naming the failed check.
    /// </summary>
    public void VmEnter(Vmcs v, IVmxRoot root)
    {
        CheckControls(v);
        CheckGuestState(v);
        Vmcs = v;
        _root = root;
        LoadGuestState(v);
        NonRoot = true;
        if (!v.VpidEnabled) FlushVpidZero();
        SelectTlbSet();
        _preemptDeadline = (v.PinBased & PinControls.PreemptionTimer) != 0
            ? Cycles + ((long)v.PreemptionTimerValue << PreemptionTimerShift)
            : long.MaxValue;
        State = v.GuestActivityState == 1 ? CpuState.Halted : CpuState.Running;
        if ((v.EntryInterruptionInfo & InterruptionInfo.Valid) != 0) InjectEvent(v);
        _attention = true;
    }

    private static void CheckControls(Vmcs v)
    {
        // Secondary controls are ignored when not activated (SDM 24.6.2): Vmcs.Has2 checks that.
        if (v.Has2(Proc2Controls.EnableVpid) && v.Vpid == 0)
            throw new VmEntryException("VM entry failed: \"enable VPID\" with VPID 0000H (SDM 26.2.1.1)");
        if (v.Cr3TargetCount is < 0 or > 4) throw new VmEntryException("VM entry failed: CR3-target count above 4 (SDM 26.2.1.1)");
        if ((v.ProcBased & ProcControls.UseIoBitmaps) != 0 && ((v.IoBitmapA | v.IoBitmapB) & 0xfff) != 0)
            throw new VmEntryException("VM entry failed: I/O-bitmap addresses must be 4-KByte aligned (SDM 26.2.1.1)");
        if ((v.ProcBased & ProcControls.UseMsrBitmaps) != 0 && (v.MsrBitmap & 0xfff) != 0)
            throw new VmEntryException("VM entry failed: MSR-bitmap address must be 4-KByte aligned (SDM 26.2.1.1)");
        if ((v.PinBased & PinControls.VirtualNmis) != 0 && (v.PinBased & PinControls.NmiExiting) == 0)
            throw new VmEntryException("VM entry failed: \"virtual NMIs\" requires \"NMI exiting\" (SDM 26.2.1.1)");
        if ((v.ProcBased & ProcControls.NmiWindowExiting) != 0 && (v.PinBased & PinControls.VirtualNmis) == 0)
            throw new VmEntryException("VM entry failed: \"NMI-window exiting\" requires \"virtual NMIs\" (SDM 26.2.1.1)");
        if (v.Has2(Proc2Controls.UnrestrictedGuest) && !v.EptEnabled)
            throw new VmEntryException("VM entry failed: \"unrestricted guest\" requires \"enable EPT\" (SDM 26.2.1.1)");
        if (v.EptEnabled && !Ept.IsValidEptp(v.Eptp, MaxPhysAddrBits))
            throw new VmEntryException($"VM entry failed: invalid EPTP 0x{v.Eptp:x} (SDM 26.2.1.1)");
        if (v.Has2(Proc2Controls.EnableVmFunctions))
        {
            if ((v.VmFunctionControls & ~VmFunctionControls.EptpSwitching) != 0)
                throw new VmEntryException("VM entry failed: unsupported VM-function control bits set (SDM 26.2.1.1)");
            if ((v.VmFunctionControls & VmFunctionControls.EptpSwitching) != 0)
            {
                if (!v.EptEnabled) throw new VmEntryException("VM entry failed: EPTP switching requires \"enable EPT\" (SDM 26.2.1.1)");
                if ((v.EptpListAddress & 0xfff) != 0 || (v.EptpListAddress >> MaxPhysAddrBits) != 0)
                    throw new VmEntryException("VM entry failed: EPTP-list address must be 4-KByte aligned within the physical-address width (SDM " +
                        "26.2.1.1)");
            }
        }
    }

    private static void CheckGuestState(Vmcs v)
    {
        // Without "unrestricted guest" CR0.PE and PG are fixed to 1 (IA32_VMX_CR0_FIXED0); with it
        // they may be 0, but PG=1 still needs PE=1 (SDM 26.3.1.1). Real mode is not modeled.
        bool pg = (v.GuestCr0 & Cr0PG) != 0;
        if (!v.Has2(Proc2Controls.UnrestrictedGuest) && (v.GuestCr0 & (Cr0PE | Cr0PG)) != (Cr0PE | Cr0PG))
            throw new VmEntryException("VM entry failed: invalid guest state: CR0.PE and CR0.PG must be 1 (SDM 26.3.1.1)");
        if (pg && (v.GuestCr0 & Cr0PE) == 0)
            throw new VmEntryException("VM entry failed: invalid guest state: CR0.PG=1 with PE=0 (SDM 26.3.1.1)");
        if ((v.GuestCr0 & Cr0PE) == 0)
            throw new VmEntryException("VM entry failed: a real-mode guest (CR0.PE=0) is not modeled by this machine");
        if ((v.GuestCr4 & Cr4VMXE) == 0)
            throw new VmEntryException("VM entry failed: invalid guest state: CR4.VMXE must be 1 in VMX operation (IA32_VMX_CR4_FIXED0, SDM " +
                "26.3.1.1)");
        // The "IA-32e mode guest" entry control is EFER.LMA here (the machine keeps no separate entry controls): with
        // it, PG and PAE must be 1; EFER.LME must equal LMA unless "unrestricted guest" with PG=0 (SDM 26.3.1.1). Paging
        // outside IA-32e mode (PG=1, LME=0) is not modeled, so with paging on LMA=LME=1, with it off LMA=0.
        bool lma = (v.GuestEfer & EferLMA) != 0, lme = (v.GuestEfer & EferLME) != 0;
        if (pg ? (v.GuestCr4 & Cr4PAE) == 0 || !lma || !lme : lma)
            throw new VmEntryException(pg
                ? "VM entry failed: invalid guest state: paging outside IA-32e mode is not modeled (CR4.PAE, EFER.LMA and LME must be 1)"
                : "VM entry failed: invalid guest state: IA-32e mode guest with CR0.PG=0 (SDM 26.3.1.1)");
        // CS.L=0 is compatibility mode (RIP bits 63:32 then 0); L=1 with D=1 is reserved.
        uint csAttr = v.GuestSegs[(int)SegReg.CS].Attributes;
        if ((csAttr & (1u << 13)) != 0 && (csAttr & (1u << 14)) != 0)
            throw new VmEntryException("VM entry failed: invalid guest state: CS.L and CS.D both 1 (SDM 26.3.1.2)");
        if ((csAttr & (1u << 13)) == 0 && (v.GuestRip >> 32) != 0)
            throw new VmEntryException("VM entry failed: invalid guest state: RIP bits 63:32 not 0 in compatibility mode (SDM 26.3.1.4)");
        if (!IsCanonical(v.GuestRip)) throw new VmEntryException("VM entry failed: invalid guest state: RIP not canonical (SDM 26.3.1.4)");
        if ((v.GuestRflags & 2) == 0 || (v.GuestRflags & ~0x3f7fd7UL & ~2UL) != 0)
            throw new VmEntryException("VM entry failed: invalid guest state: RFLAGS reserved bits (SDM 26.3.1.4)");
        if (v.GuestActivityState > 1) throw new VmEntryException("VM entry failed: invalid guest state: unsupported activity state (SDM 26.3.1.5)");
    }

    private void LoadGuestState(Vmcs v)
    {
        Cr0 = v.GuestCr0;
        Cr3 = v.GuestCr3;
        Cr4 = v.GuestCr4;
        Efer = v.GuestEfer;
        Pat = v.GuestPat;
        SysenterCs = v.GuestSysenterCs; SysenterEsp = v.GuestSysenterEsp; SysenterEip = v.GuestSysenterEip;
        Dr[7] = v.GuestDr7;
        for (int i = 0; i < 6; i++) Segs[i] = v.GuestSegs[i];
        Tr = v.GuestTr; Ldtr = v.GuestLdtr; Gdtr = v.GuestGdtr; Idtr = v.GuestIdtr;
        Rip = v.GuestRip;
        R(RSP) = v.GuestRsp;
        SetRflags(v.GuestRflags);
        _interruptShadow = (v.GuestInterruptibility & 3) != 0;
        // Bit 3: blocking by NMI, virtual-NMI blocking when "virtual NMIs" is on (SDM 26.6.1).
        bool nmiBlocking = (v.GuestInterruptibility & 8) != 0;
        if ((v.PinBased & PinControls.VirtualNmis) != 0) _virtualNmiBlocked = nmiBlocking; else _nmiBlocked = nmiBlocking;
        Cpl = Segs[(int)SegReg.CS].Dpl;
    }

    private void SaveGuestState(Vmcs v)
    {
        v.GuestCr0 = Cr0; v.GuestCr3 = Cr3; v.GuestCr4 = Cr4; v.GuestEfer = Efer; v.GuestPat = Pat;
        v.GuestSysenterCs = SysenterCs; v.GuestSysenterEsp = SysenterEsp; v.GuestSysenterEip = SysenterEip;
        v.GuestDr7 = Dr[7];
        for (int i = 0; i < 6; i++) v.GuestSegs[i] = Segs[i];
        v.GuestTr = Tr; v.GuestLdtr = Ldtr; v.GuestGdtr = Gdtr; v.GuestIdtr = Idtr;
        v.GuestRip = Rip;
        v.GuestRsp = R(RSP);
        v.GuestRflags = GetRflags();
        v.GuestInterruptibility = (_interruptShadow ? 1u : 0) | (_nmiBlocked || _virtualNmiBlocked ? 8u : 0);
        v.GuestActivityState = State == CpuState.Halted ? 1u : 0;
        if (_preemptDeadline != long.MaxValue)
            v.PreemptionTimerValue = (uint)Math.Max(0, (_preemptDeadline - Cycles) >> PreemptionTimerShift);
    }
}
