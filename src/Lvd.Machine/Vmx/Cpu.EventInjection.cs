using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>
/// Event injection on VM entry (SDM 26.6) and NMIs: blocking by NMI, virtual-NMI blocking,
/// NMI exiting (SDM 24.6.1, 25.3).
/// </summary>
public sealed partial class Cpu
{
    private bool _virtualNmiBlocked;
    private bool _nmiPending, _nmiBlocked;

    private void InjectEvent(Vmcs v)
    {
        uint info = v.EntryInterruptionInfo;
        v.EntryInterruptionInfo &= ~InterruptionInfo.Valid;
        int vector = (int)(info & 0xff);
        uint type = (info >> 8) & 7;
        bool hasError = (info & InterruptionInfo.ErrorCodeValid) != 0;
        if (type == InterruptionInfo.TypeNmi && (v.PinBased & PinControls.VirtualNmis) != 0) _virtualNmiBlocked = true;
        else if (type == InterruptionInfo.TypeNmi) _nmiBlocked = true;
        State = CpuState.Running;
        var kind = type switch
        {
            InterruptionInfo.TypeSoftwareInterrupt or InterruptionInfo.TypeSoftwareException or InterruptionInfo.TypePrivilegedSoftwareException =>
                EventKind.Software,
            InterruptionInfo.TypeExternal => EventKind.External,
            _ => EventKind.Exception,
        };
        ulong returnRip = kind == EventKind.Software ? Rip + v.EntryInstructionLength : Rip;
        // The injected event is the first exception of a crash report if its delivery fails.
        _firstVector = vector; _firstError = v.EntryExceptionErrorCode; _firstRip = Rip; _firstCr2 = Cr2;
        try
        {
            if (kind == EventKind.Exception) DeliverException(vector, hasError, v.EntryExceptionErrorCode, returnRip);
            else Deliver(vector, hasError, v.EntryExceptionErrorCode, kind, returnRip);
        }
        catch (GuestFault f)
        {
            // A fault while delivering an injected interrupt is delivered like any exception (SDM 26.6.1.1).
            if (f.Vector == Vectors.PF) Cr2 = f.Address;
            DeliverException(f.Vector, f.HasErrorCode, f.ErrorCode, Rip);
        }
        finally { _firstVector = -1; }
    }


    /// <summary>Signals an NMI to this vCPU (from an IPI or a device).</summary>
    public void RaiseNmi()
    {
        _nmiPending = true;
        _attention = true;
        if (State == CpuState.Halted) State = CpuState.Running;
    }

    /// <summary>Delivers a pending NMI (or exits for it); true if something happened.</summary>
    private bool NmiWindowCheck()
    {
        if (!_nmiPending) return false;
        if (NonRoot && (Vmcs!.PinBased & PinControls.NmiExiting) != 0)
        {
            _nmiPending = false;
            PerformVmExit(new VmExit(ExitReason.ExceptionOrNmi) { InterruptionInfo = InterruptionInfo.Make(Vectors.NMI, InterruptionInfo.TypeNmi,
                false) }, 0);
            return true;
        }
        if (_nmiBlocked) return false;
        _nmiPending = false;
        _nmiBlocked = true;
        Deliver(Vectors.NMI, false, 0, EventKind.External, Rip);
        return true;
    }

    /// <summary>IRET ends NMI blocking (and virtual-NMI blocking in a guest).</summary>
    private void NoteIret()
    {
        _nmiBlocked = false;
        _virtualNmiBlocked = false;
    }
}
