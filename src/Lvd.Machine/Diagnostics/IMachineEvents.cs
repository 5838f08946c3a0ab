using Lvd.Machine.Execution;
using Lvd.Machine.Vmx;

namespace Lvd.Machine.Diagnostics;

/// <summary>What an event delivered through the IDT was (SDM 6.3): an external interrupt or NMI, an exception, INT n / INT3.</summary>
public enum DeliveredEvent { Interrupt, Exception, Software }

/// <summary>
/// A recorder of a run's rare events (timelines): EPTP switches by VMFUNC, VM exits (with the
/// cycles the exit took until the guest ran again), events delivered through the IDT, and
/// markers of VMX-root software (e.g. a hypervisor killing a domain). Called on the machine's
/// thread at the moment of the event; off (<see cref="Machine.Events"/> null) each point costs a
/// null test, and none of them is on a per-instruction path.
/// </summary>
[NotMachineState]
public interface IMachineEvents
{
    /// <summary>VMFUNC leaf 0 switched the vCPU from EPTP-list index <paramref name="from"/> to <paramref name="to"/>.</summary>
    void Vmfunc(Cpu cpu, int from, int to, ulong eptp);

    /// <summary>
    /// A VM exit, reported when the exit is over (the hypervisor resumed the guest, left VMX, or
    /// stopped): it started at modeled cycle <paramref name="startCycle"/> with the guest at
    /// <paramref name="rip"/> in EPTP-list index <paramref name="eptpIndex"/>.
    /// </summary>
    void VmExit(Cpu cpu, ExitReason reason, ulong qualification, ulong rip, int eptpIndex, long startCycle);

    /// <summary>An event is being delivered through the IDT (before the delivery's accesses).</summary>
    void Delivered(Cpu cpu, DeliveredEvent kind, int vector, uint errorCode);

    /// <summary>A marker from VMX-root software (a kind such as "domain kill", and what happened).</summary>
    void Note(Cpu cpu, string kind, string detail);
}

/// <summary>Two recorders of the same events, in the order they were attached.</summary>
internal sealed class MachineEventsPair(IMachineEvents first, IMachineEvents second) : IMachineEvents
{
    public void Vmfunc(Cpu cpu, int from, int to, ulong eptp) { first.Vmfunc(cpu, from, to, eptp); second.Vmfunc(cpu, from, to, eptp); }

    public void VmExit(Cpu cpu, ExitReason reason, ulong qualification, ulong rip, int eptpIndex, long startCycle)
    {
        first.VmExit(cpu, reason, qualification, rip, eptpIndex, startCycle);
        second.VmExit(cpu, reason, qualification, rip, eptpIndex, startCycle);
    }

    public void Delivered(Cpu cpu, DeliveredEvent kind, int vector, uint errorCode)
    {
        first.Delivered(cpu, kind, vector, errorCode);
        second.Delivered(cpu, kind, vector, errorCode);
    }

    public void Note(Cpu cpu, string kind, string detail) { first.Note(cpu, kind, detail); second.Note(cpu, kind, detail); }
}
