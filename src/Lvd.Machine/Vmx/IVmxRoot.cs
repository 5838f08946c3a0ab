using CpuCore = Lvd.Machine.Cpu.Cpu;

namespace Lvd.Machine.Vmx;

/// <summary>
/// The software in VMX root operation (the hypervisor). The machine calls it on every VM exit,
/// after the guest state was saved into the VMCS and the exit information recorded. It
/// decides, edits the VMCS and the guest's registers, and either resumes the guest (the
/// machine performs VM entry) or leaves it in root mode.
/// </summary>
public interface IVmxRoot
{
    /// <summary>Handles the exit of <paramref name="cpu"/>; true = VMRESUME, false = stay in root (stop this vCPU).</summary>
    bool HandleExit(CpuCore cpu, Vmcs vmcs);
}
