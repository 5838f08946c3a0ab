using Lvd.Machine.Execution;

namespace Lvd.Machine.Vmx;

/// <summary>
/// One virtual-machine control structure (SDM Vol. 3C chapter 24), as typed fields rather
/// than VMREAD/VMWRITE encodings: the hypervisor is host code and reads and writes it
/// directly. The guest-state area is written by VM exit and read by VM entry; while the
/// guest runs, the vCPU itself holds that state. General-purpose registers other than RSP
/// are not part of a VMCS (as in hardware): the hypervisor reads them from the vCPU.
/// </summary>
public sealed class Vmcs
{
    // ---- guest-state area (SDM 24.4) ----
    public ulong GuestRip, GuestRsp, GuestRflags;
    public ulong GuestCr0, GuestCr3, GuestCr4, GuestDr7;
    public readonly Segment[] GuestSegs = new Segment[6];
    public Segment GuestTr, GuestLdtr;
    public DescriptorTable GuestGdtr, GuestIdtr;
    public ulong GuestEfer, GuestPat, GuestSysenterCs, GuestSysenterEsp, GuestSysenterEip;
    /// <summary>Interruptibility state: bit 0 blocking by STI, 1 by MOV SS, 3 by NMI.</summary>
    public uint GuestInterruptibility;
    /// <summary>0 active, 1 HLT.</summary>
    public uint GuestActivityState;
    public uint PreemptionTimerValue;

    // ---- VM-execution controls (SDM 24.6) ----
    public uint PinBased;
    public uint ProcBased;
    public uint ProcBased2;
    public uint ExceptionBitmap;
    public ulong IoBitmapA, IoBitmapB;
    public ulong MsrBitmap;
    public ulong Cr0GuestHostMask, Cr0ReadShadow, Cr4GuestHostMask, Cr4ReadShadow;
    public int Cr3TargetCount;
    public readonly ulong[] Cr3Targets = new ulong[4];
    public ulong Eptp;
    public ushort Vpid;
    public ulong VmFunctionControls;
    public ulong EptpListAddress;
    public ushort EptpIndex;

    // ---- VM-entry controls: event injection (SDM 24.8.3) ----
    public uint EntryInterruptionInfo;
    public uint EntryExceptionErrorCode;
    public uint EntryInstructionLength;

    // ---- VM-exit information (SDM 24.9) ----
    public ExitReason ExitReason;
    /// <summary>Bit 31 of the full exit-reason field: VM-entry failure.</summary>
    public bool EntryFailure;
    public ulong ExitQualification;
    public ulong GuestLinearAddress;
    public ulong GuestPhysicalAddress;
    public uint ExitInterruptionInfo;
    public uint ExitInterruptionErrorCode;
    public uint IdtVectoringInfo;
    public uint IdtVectoringErrorCode;
    public uint ExitInstructionLength;
    public uint ExitInstructionInfo;

    public bool Has2(uint control) => (ProcBased & ProcControls.ActivateSecondary) != 0 && (ProcBased2 & control) != 0;
    public bool EptEnabled => Has2(Proc2Controls.EnableEpt);
    public bool VpidEnabled => Has2(Proc2Controls.EnableVpid);
}
