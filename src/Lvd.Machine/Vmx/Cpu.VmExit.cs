using Lvd.Machine.Diagnostics;
using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>
/// VMX non-root operation is a mode of this CPU (SDM Vol. 3C chapters 24-28). This file: the VM
/// exit (SDM 27) and VMXOFF. The machine raises exits with SDM reasons and qualifications; what
/// happens next is the business of the <see cref="IVmxRoot"/> (the hypervisor).
/// </summary>
public sealed partial class Cpu
{
    private IVmxRoot? _root;
    /// <summary>The current VMCS (null before the first VM entry).</summary>
    public Vmcs? Vmcs { get; private set; }
    /// <summary>True while the vCPU runs as a guest in VMX non-root operation.</summary>
    public bool NonRoot { get; private set; }

    public long VmExits { get; private set; }
    public readonly long[] ExitsByReason = new long[64];


    /// <summary>
    /// Performs a VM exit (SDM 27): records the exit information, saves the guest state, leaves
    /// non-root mode, charges the exit round trip, and hands control to the hypervisor. If the
    /// hypervisor resumes, VM entry happens here too.
    /// </summary>
    private void PerformVmExit(VmExit x, uint instructionLength, uint instructionInfo = 0)
    {
        var v = Vmcs!;
        long exitStart = Cycles;
        ulong exitRip = Rip;
        int exitIndex = v.EptpIndex;
        // Cycles up to here belong to the guest code that exited (or to idle time in HLT).
        ProfileCheck(State == CpuState.Halted ? SampleKind.Idle : SampleKind.Code, Rip, (byte)Cpl, true);
        v.ExitReason = x.Reason;
        v.EntryFailure = false;
        v.ExitQualification = x.Qualification;
        v.GuestLinearAddress = x.GuestLinear;
        v.GuestPhysicalAddress = x.GuestPhysical;
        v.ExitInterruptionInfo = x.InterruptionInfo;
        v.ExitInterruptionErrorCode = x.InterruptionErrorCode;
        v.ExitInstructionLength = instructionLength;
        v.ExitInstructionInfo = x.InstructionInfo != 0 ? x.InstructionInfo : instructionInfo;
        // SDM 27.2.4: an exit during event delivery records the event that was being delivered.
        v.IdtVectoringInfo = _deliveringInfo;
        v.IdtVectoringErrorCode = _deliveringError;
        _deliveringInfo = 0;
        VmExits++;
        ExitsByReason[(int)x.Reason & 63]++;
        Cycles += Costs.VmExit;
        SaveGuestState(v);
        NonRoot = false;
        _preemptDeadline = long.MaxValue;
        if (!v.VpidEnabled) FlushVpidZero();
        SelectTlbSet();
        _attention = true;
        switch (_root!.HandleExit(this, v))
        {
            case ExitAction.Resume: VmEnter(v, _root); break;
            case ExitAction.LeaveVmx: LeaveVmx(v); break;
            case ExitAction.Shutdown:
                Crash ??= new CrashInfo("shutdown (VMX root)", -1, 0, Rip, Cr2);
                State = CpuState.Shutdown;
                break;
            default: State = CpuState.Stopped; break;
        }
        _events?.VmExit(this, x.Reason, x.Qualification, exitRip, exitIndex, exitStart);
        ProfileCheck(SampleKind.VmExit, (ulong)x.Reason, 0, false);
    }

    /// <summary>
    /// VMXOFF for a devirtualizing hypervisor: the vCPU continues natively from the VMCS's guest
    /// state (CR4.VMXE cleared), with no VMCS. Valid after an exit, or for a vCPU that is not
    /// running (its live state is then saved first).
    /// </summary>
    public void LeaveVmx(Vmcs v)
    {
        if (NonRoot) SaveGuestState(v);
        v.GuestCr4 &= ~Cr4VMXE;
        LoadGuestState(v);
        State = v.GuestActivityState == 1 ? CpuState.Halted : CpuState.Running;
        NonRoot = false;
        Vmcs = null;
        _root = null;
        _preemptDeadline = long.MaxValue;
        SelectTlbSet();
        FlushTlb(true);
        _attention = true;
    }
}
