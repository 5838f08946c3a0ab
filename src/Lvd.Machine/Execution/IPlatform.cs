using Lvd.Machine.Memory;

namespace Lvd.Machine.Execution;

/// <summary>
/// What a vCPU needs from the rest of the machine: the I/O-port bus, platform MSRs (x2APIC,
/// TSC deadline) and the shared code cache. The machine implements it; the CPU knows no device.
/// </summary>
public interface IPlatform
{
    ulong PortIn(Cpu cpu, ushort port, int size);
    void PortOut(Cpu cpu, ushort port, int size, ulong value);
    /// <summary>Platform MSR read; false if the platform does not implement the MSR.</summary>
    bool TryReadMsr(Cpu cpu, uint msr, out ulong value);
    /// <summary>Platform MSR write; false if the platform does not implement the MSR.</summary>
    bool TryWriteMsr(Cpu cpu, uint msr, ulong value);
    CodeCache Code { get; }
    /// <summary>The machine's vCPUs: the cores of its one package (CPUID leaf 0BH), x2APIC IDs 0 to N-1.</summary>
    int CpuCount { get; }
    /// <summary>Highest-priority deliverable external interrupt vector for this CPU, or -1.</summary>
    int PendingInterrupt(Cpu cpu);
    /// <summary>The CPU accepted the vector (moves it from IRR to ISR in an APIC).</summary>
    void AcknowledgeInterrupt(Cpu cpu, int vector);
    /// <summary>
    /// CPUID leaves served by platform firmware outside VMX operation (the late-launch request
    /// of an installed hypervisor); false = the CPU answers itself.
    /// </summary>
    bool TryFirmwareCpuid(Cpu cpu, uint leaf, uint subleaf, out (uint a, uint b, uint c, uint d) result);
}
