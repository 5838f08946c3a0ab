using Lvd.Machine.Execution;
using Lvd.Machine.Vmx;

namespace Lvd.Hypervisor;

/// <summary>What the hypervisor keeps per vCPU: its VMCS, its kernel EPT, EPTP list and domain EPTs.</summary>
internal sealed class VcpuContext(Cpu cpu, EptTable kernelEpt, ulong eptpList, ulong vmcsRegion)
{
    public readonly Cpu Cpu = cpu;
    public readonly Vmcs Vmcs = new();
    /// <summary>EPT_K of this vCPU: identity over guest RAM and MMIO, minus hypervisor memory, plus per-CPU remaps.</summary>
    public readonly EptTable KernelEpt = kernelEpt;
    public readonly ulong EptpList = eptpList;
    /// <summary>The 4 KiB VMCS region (SDM 24.2) reserved for this vCPU; the fields live in <see cref="Vmcs"/>.</summary>
    public readonly ulong VmcsRegion = vmcsRegion;
    public readonly Dictionary<int, EptTable> DomainEpts = new();
    public int NextEptId = 1;
    /// <summary>CR3 values in the CR3-target list, most recently used first.</summary>
    public readonly List<ulong> Cr3Lru = new();
    public bool VmfuncEnabled;
    /// <summary>Kernel RIP that takes domain violations (0: none registered, a violation stops the run).</summary>
    public ulong AbortEntry;
    public Lvd.Machine.Execution.Segment AbortCs, AbortSs;
    /// <summary>An external interrupt a domain's violation interrupted, injected at the next interrupt window (-1: none).</summary>
    public int ReinjectVector = -1;
    /// <summary>Interrupts re-injected after a domain broke their delivery.</summary>
    public long Reinjected;
    /// <summary>Violations redirected to <see cref="AbortEntry"/> on this vCPU.</summary>
    public long DomainAborts;

    // The domain watchdog (VMX-preemption timer, docs/HYPERCALLS.md "Watchdog").
    /// <summary>Period in preemption-timer ticks (2^5 TSC cycles each); 0: no watchdog.</summary>
    public uint WatchdogTicks;
    /// <summary>Guest-physical address of the kernel's progress word (0: none).</summary>
    public ulong ProgressGpa;
    /// <summary>Exits taken from the kernel EPT (other than the timer): progress the domain cannot forge.</summary>
    public long KernelExits;
    /// <summary>The previous expiry found a domain running with interrupts off; what progress looked like then.</summary>
    public bool WatchdogSuspect;
    public ulong SuspectProgress;
    public long SuspectKernelExits;
    /// <summary>Domains this vCPU's watchdog found stuck.</summary>
    public long WatchdogKills;
}
