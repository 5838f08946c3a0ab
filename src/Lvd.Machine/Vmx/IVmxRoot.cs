using Lvd.Machine.Execution;

namespace Lvd.Machine.Vmx;

/// <summary>
/// The software in VMX root operation (the hypervisor). The machine calls it on every VM exit,
/// after the guest state was saved into the VMCS and the exit information recorded. It
/// decides, edits the VMCS and the guest's registers, and either resumes the guest (the
/// machine performs VM entry) or leaves it in root mode.
/// </summary>
public interface IVmxRoot
{
    /// <summary>Handles the exit of <paramref name="cpu"/> and says how the vCPU continues.</summary>
    ExitAction HandleExit(Cpu cpu, Vmcs vmcs);
}

/// <summary>What the hypervisor does after handling an exit.</summary>
public enum ExitAction
{
    /// <summary>VMRESUME: enter the guest with the (edited) VMCS.</summary>
    Resume,
    /// <summary>Leave VMX operation: the guest state of the VMCS continues natively (devirtualize).</summary>
    LeaveVmx,
    /// <summary>Stay in root mode: this vCPU stops (the hypervisor recorded why).</summary>
    Stop,
    /// <summary>
    /// The vCPU enters the shutdown state, as VM entry with activity state "shutdown" would
    /// (SDM 24.4.2): the machine reports the guest's crash (e.g. after a triple-fault exit).
    /// </summary>
    Shutdown,
}
