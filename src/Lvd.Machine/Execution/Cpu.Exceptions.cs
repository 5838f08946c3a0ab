using Lvd.Machine.Diagnostics;
using Lvd.Machine.Decoding;
using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>
/// Event delivery through the 64-bit IDT (SDM 6.14; outside IA-32e mode Cpu.Mode32.cs DeliverLegacy): interrupt and trap gates, IST stacks
/// from the TSS, privilege changes through TSS.RSPn, error codes, the double-fault rules of
/// SDM Table 6-5 and shutdown on a triple fault.
/// </summary>
public sealed partial class Cpu
{
    private enum EventKind { Exception, External, Software }

    private bool _interruptShadow;
    /// <summary>The event being delivered right now, in interruption-information format (0 = none), for IDT-vectoring information.</summary>
    private uint _deliveringInfo, _deliveringError;
    private int _firstVector = -1;
    private uint _firstError;
    private ulong _firstRip, _firstCr2;

    public long InterruptsDelivered;
    public long ExceptionsDelivered;

    /// <summary>Delivers a pending external interrupt if RFLAGS.IF allows; true if one was.</summary>
    private bool InterruptWindowCheck()
    {
        // External-interrupt exiting takes the interrupt regardless of RFLAGS.IF (SDM 25.2).
        if (NonRoot && (Vmcs!.PinBased & PinControls.ExternalInterruptExiting) != 0)
        {
            if (Platform.PendingInterrupt(this) < 0) return false;
            PerformVmExit(new VmExit(ExitReason.ExternalInterrupt), 0);
            return true;
        }
        if (_interruptShadow) return false; // cleared once the next instruction has run
        if ((_rflags & FlagIF) == 0) return false;
        int v = Platform.PendingInterrupt(this);
        if (v < 0) return false;
        Platform.AcknowledgeInterrupt(this, v);
        InterruptsDelivered++;
        Deliver(v, false, 0, EventKind.External, Rip);
        return true;
    }

    /// <summary>Wakes a halted CPU for an interrupt (called by the machine's scheduler).</summary>
    /// <summary>A maskable interrupt can end HLT: IF is set, or it would cause a VM exit (external-interrupt exiting).</summary>
    public bool AcceptsInterruptsWhileHalted =>
        (_rflags & FlagIF) != 0 || (NonRoot && (Vmcs!.PinBased & PinControls.ExternalInterruptExiting) != 0);

    public bool TryWake()
    {
        if (State != CpuState.Halted) return false;
        // An NMI always wakes; a maskable interrupt when IF allows it, or (external-interrupt
        // exiting) to cause its VM exit.
        bool exiting = NonRoot && (Vmcs!.PinBased & PinControls.ExternalInterruptExiting) != 0;
        // An open interrupt window exits from the HLT state too (SDM 25.2).
        bool window = NonRoot && (Vmcs!.ProcBased & ProcControls.InterruptWindowExiting) != 0 && (_rflags & FlagIF) != 0;
        if (!_nmiPending && !window && (((_rflags & FlagIF) == 0 && !exiting) || Platform.PendingInterrupt(this) < 0)) return false;
        State = CpuState.Running;
        return true;
    }

    /// <summary>Delivers an exception raised by an instruction; RIP points at that instruction.</summary>
    internal void RaiseException(GuestFault f)
    {
        ExceptionsDelivered++;
        // Exception bitmap (SDM 25.2): the exception becomes a VM exit before delivery; for a
        // #PF the address goes to the exit qualification and CR2 is left alone.
        if (NonRoot && (Vmcs!.ExceptionBitmap & (1u << f.Vector)) != 0)
            throw new VmExit(ExitReason.ExceptionOrNmi, f.Vector == Vectors.PF ? f.Address : 0)
            {
                InterruptionInfo = InterruptionInfo.Make(f.Vector, InterruptionInfo.TypeHardwareException, f.HasErrorCode),
                InterruptionErrorCode = f.ErrorCode,
            };
        if (f.Vector == Vectors.PF) Cr2 = f.Address;
        if (_firstVector < 0)
        {
            _firstVector = f.Vector; _firstError = f.ErrorCode; _firstRip = Rip; _firstCr2 = f.Vector == Vectors.PF ? f.Address : Cr2;
        }
        DeliverException(f.Vector, f.HasErrorCode, f.ErrorCode, Rip);
        _firstVector = -1;
    }

    private void DeliverException(int vector, bool hasError, uint error, ulong returnRip)
    {
        try
        {
            Deliver(vector, hasError, error, EventKind.Exception, returnRip);
        }
        catch (GuestFault second)
        {
            // SDM Table 6-5: a fault while delivering a fault.
            if (second.Vector == Vectors.PF) Cr2 = second.Address;
            if (vector == Vectors.DF) { Shutdown("triple fault (a fault while delivering #DF)"); return; }
            bool firstContrib = Vectors.IsContributory(vector), firstPf = vector == Vectors.PF;
            bool secondContrib = Vectors.IsContributory(second.Vector), secondPf = second.Vector == Vectors.PF;
            if ((firstContrib && secondContrib) || (firstPf && (secondContrib || secondPf)))
                DeliverException(Vectors.DF, true, 0, returnRip);
            else
                DeliverException(second.Vector, second.HasErrorCode, second.ErrorCode, returnRip);
        }
    }

    private void Shutdown(string reason)
    {
        // Recorded in a guest too: a root that leaves the vCPU in shutdown (ExitAction.Shutdown) reports it.
        Crash = new CrashInfo(reason, _firstVector, _firstError, _firstRip, _firstCr2);
        if (NonRoot) throw new VmExit(ExitReason.TripleFault);
        State = CpuState.Shutdown;
    }

    /// <summary>Software interrupt (INT n, INT3): the return address is the next instruction.</summary>
    private void SoftwareInterrupt(int vector, ulong next)
    {
        // INT3 is a software exception: subject to the exception bitmap (INT n is not).
        if (vector == Vectors.BP && NonRoot && (Vmcs!.ExceptionBitmap & (1u << Vectors.BP)) != 0)
            throw new VmExit(ExitReason.ExceptionOrNmi) { InterruptionInfo = InterruptionInfo.Make(Vectors.BP,
                InterruptionInfo.TypeSoftwareException, false) };
        Deliver(vector, false, 0, EventKind.Software, next);
    }

    private void Deliver(int vector, bool hasError, uint error, EventKind kind, ulong returnRip)
    {
        uint type = kind switch
        {
            EventKind.External => vector == Vectors.NMI && _nmiBlocked ? InterruptionInfo.TypeNmi : InterruptionInfo.TypeExternal,
            EventKind.Software => vector is Vectors.BP or Vectors.OF ? InterruptionInfo.TypeSoftwareException
                : InterruptionInfo.TypeSoftwareInterrupt,
            _ => InterruptionInfo.TypeHardwareException,
        };
        _deliveringInfo = InterruptionInfo.Make(vector, type, hasError);
        _deliveringError = error;
        _events?.Delivered(this, kind switch { EventKind.External => DeliveredEvent.Interrupt, EventKind.Software => DeliveredEvent.Software,
            _ => DeliveredEvent.Exception }, vector, error);
        DeliverThroughIdt(vector, hasError, error, kind, returnRip);
        _deliveringInfo = 0;
    }

    private void DeliverThroughIdt(int vector, bool hasError, uint error, EventKind kind, ulong returnRip)
    {
        // SDM 6.13: EXT is set for events external to the program: interrupts and exceptions,
        // not INT n / INT3 / INTO.
        if ((Efer & EferLMA) == 0) { DeliverLegacy(vector, hasError, error, kind, returnRip); return; }
        uint ext = kind == EventKind.Software ? 0u : 1u;
        if ((ulong)vector * 16 + 15 > Idtr.Limit) throw GuestFault.Gp((uint)(vector * 8 + 2) | ext);
        ulong gateAddr = Idtr.Base + (ulong)vector * 16;
        ulong lo = ReadSupervisor(gateAddr, 8), hi = ReadSupervisor(gateAddr + 8, 8);
        int type = (int)(lo >> 40) & 0xf;
        if (type != 0xe && type != 0xf) throw GuestFault.Gp((uint)(vector * 8 + 2) | ext);
        int gateDpl = (int)(lo >> 45) & 3;
        if (kind == EventKind.Software && Cpl > gateDpl) throw GuestFault.Gp((uint)(vector * 8 + 2));
        if ((lo & (1UL << 47)) == 0) throw new GuestFault(Vectors.NP, (uint)(vector * 8 + 2) | ext, true);
        ushort selector = (ushort)(lo >> 16);
        ulong target = (lo & 0xffff) | (((lo >> 48) & 0xffff) << 16) | ((hi & 0xffffffff) << 32);
        int ist = (int)(lo >> 32) & 7;

        ulong csDesc = ReadDescriptor(selector, (uint)ext);
        uint csAttr = Segment.AttributesFromDescriptor(csDesc);
        if ((csAttr & 0x18) != 0x18 || (csAttr & (1u << 13)) == 0) throw GuestFault.Gp((uint)(selector & ~3) | ext);
        if ((csAttr & 0x80) == 0) throw new GuestFault(Vectors.NP, (uint)(selector & ~3) | ext, true);
        int newCpl = (int)(csAttr >> 5) & 3;
        if (newCpl > Cpl) throw GuestFault.Gp((uint)(selector & ~3) | ext);

        ulong oldRsp = R(RSP);
        ulong oldSs = Segs[(int)SegReg.SS].Selector;
        ulong oldCs = Segs[(int)SegReg.CS].Selector;
        ulong rflags = GetRflags();
        // SDM 17.3.1.1: a fault-class exception pushes RF=1, so IRET does not re-trigger an
        // instruction breakpoint at the restarted instruction.
        if (kind == EventKind.Exception && Vectors.IsFault(vector)) rflags |= FlagRF;
        ulong newRsp;
        if (ist != 0) { newRsp = ReadSupervisor(Tr.Base + 36 + (ulong)(ist - 1) * 8, 8); Cycles += Costs.IstSwitch; }
        else if (newCpl < Cpl) newRsp = ReadSupervisor(Tr.Base + 4 + (ulong)newCpl * 8, 8);
        else newRsp = oldRsp;
        newRsp &= ~15UL;
        if (!IsCanonical(newRsp)) throw new GuestFault(Vectors.SS, ext, true);

        // Push the frame with supervisor privilege; all writes are probed before any lands.
        int frame = hasError ? 6 : 5;
        ulong sp = newRsp - (ulong)frame * 8;
        for (int i = 0; i < frame; i++) TranslateCached(sp + (ulong)i * 8, Access.Write, false);
        WriteSupervisor(newRsp - 8, 8, oldSs);
        WriteSupervisor(newRsp - 16, 8, oldRsp);
        WriteSupervisor(newRsp - 24, 8, rflags);
        WriteSupervisor(newRsp - 32, 8, oldCs);
        WriteSupervisor(newRsp - 40, 8, returnRip);
        if (hasError) WriteSupervisor(newRsp - 48, 8, error);

        if (newCpl != Cpl)
        {
            Segs[(int)SegReg.SS] = new Segment { Selector = (ushort)newCpl, Attributes = Segment.Unusable | ((uint)newCpl << 5) };
        }
        Segs[(int)SegReg.CS] = new Segment { Selector = (ushort)((selector & ~3) | newCpl), Attributes = csAttr, Limit = 0xffffffff };
        SetCpl(newCpl);
        R(RSP) = sp;
        ulong clear = FlagTF | FlagNT | FlagRF | FlagVM;
        if (type == 0xe) clear |= FlagIF;
        SetRflags(rflags & ~clear);
        Rip = target;
        Cycles += Costs.Interrupt;
        if (State == CpuState.Halted) State = CpuState.Running;
    }

    /// <summary>Reads a GDT/LDT descriptor (8 bytes) for a selector (TI=1: the LDT); #GP(selector) if out of bounds or no LDT.</summary>
    private ulong ReadDescriptor(ushort selector, uint ext = 0)
    {
        if ((selector & ~3) == 0) throw GuestFault.Gp(ext);
        ulong index = (ulong)(selector & ~7);
        if ((selector & 4) != 0)
        {
            if ((Ldtr.Attributes & Segment.Unusable) != 0 || index + 7 > Ldtr.Limit) throw GuestFault.Gp((uint)(selector & ~3) | ext);
            return ReadSupervisor(Ldtr.Base + index, 8);
        }
        if (index + 7 > Gdtr.Limit) throw GuestFault.Gp((uint)(selector & ~3) | ext);
        return ReadSupervisor(Gdtr.Base + index, 8);
    }
}
