namespace Lvd.Hypervisor;

/// <summary>
/// The hypercall ABI of the LVD hypervisor (docs/HYPERCALLS.md). The one table that numbers
/// them; the guest header lvd_abi.h is generated from it.
/// Calling convention: VMCALL with RAX = number, arguments in RDI, RSI, RDX, R10, R8;
/// result status in RAX (0 or a negative <see cref="HypercallStatus"/>), a value in RDX.
/// Late launch is the exception: outside VMX operation VMCALL is #UD, so the kernel asks the
/// platform firmware with CPUID leaf <see cref="LaunchLeaf"/>.
/// </summary>
public enum Hypercall : uint
{
    /// <summary>Returns the ABI version in RDX.</summary>
    Version = 0,
    /// <summary>Leave VMX operation on every vCPU; the kernel continues natively.</summary>
    Devirtualize = 1,
    /// <summary>Enable VM functions and EPTP switching on the calling vCPU; RDX = kernel EPTP index (0).</summary>
    EnableVmfunc = 2,
    /// <summary>Create an empty domain EPT on the calling vCPU; RDX = EPT id.</summary>
    EptCreate = 3,
    /// <summary>Destroy a domain EPT (RDI = id); its list slots become invalid.</summary>
    EptDestroy = 4,
    /// <summary>Map RDI = EPT id, RSI = guest-physical, RDX = host-physical, R10 = bytes, R8 = R|W|X bits.</summary>
    EptMap = 5,
    /// <summary>Unmap RDI = EPT id, RSI = guest-physical, RDX = bytes.</summary>
    EptUnmap = 6,
    /// <summary>Set EPTP-list slot RDI (1..511) of the calling vCPU to EPT id RSI, or invalid if RSI = -1.</summary>
    EptpListSet = 7,
    /// <summary>Remap guest-physical page RDI to host page RSI in the calling vCPU's kernel EPT (RSI = RDI restores).</summary>
    KernelRemap = 8,
    /// <summary>Kill the domain whose EPT id is RDI (policy: its EPT is torn down, list slots invalidated).</summary>
    KillDomain = 9,
    /// <summary>
    /// Register the calling vCPU's domain-abort entry: RDI = kernel RIP. From then on a violation
    /// by a domain (docs/HYPERCALLS.md, "Domain policy") does not stop the machine: the vCPU is
    /// put back on its kernel EPT at that RIP with interrupts off, the kernel's CS/SS of the
    /// moment of this call, and the violation in RDI (exit reason), RSI (qualification),
    /// RDX (guest RIP), R10 (guest-physical address), R8 (EPTP index).
    /// </summary>
    DomainAbortEntry = 10,
    /// <summary>
    /// Configure the calling vCPU's domain watchdog (armed by <see cref="EnableVmfunc"/> with
    /// <see cref="HypercallAbi.WatchdogDefaultMs"/>): RDI = guest-physical address of an 8-byte
    /// progress word in kernel memory (0: none), RSI = period in TSC cycles (0: the default).
    /// At each expiry of the VMX-preemption timer, a vCPU found in a domain EPT with RFLAGS.IF = 0
    /// that was also there at the previous expiry, with neither the progress word nor its count of
    /// kernel exits changed in between, is a violation (the domain is killed).
    /// </summary>
    Watchdog = 11,
    /// <summary>
    /// RDX = FNV-1a (64-bit) of guest-physical memory [RDI, RDI + RSI), read by the hypervisor
    /// through the caller's kernel EPT: a fingerprint of kernel memory that guest code cannot
    /// fake (the LVD self test checks that no attack changed the kernel's code or data).
    /// Page-aligned range, at most 64 MiB.
    /// </summary>
    HashMemory = 12,
    /// <summary>
    /// RDX = a counter of the calling vCPU, read by the hypervisor: RDI = 0 (<see cref="HypercallAbi.CounterVmExits"/>)
    /// its VM exits so far, this call's own included; RDI = 1 (<see cref="HypercallAbi.CounterVmfuncs"/>) its
    /// VMFUNCs so far. Like a performance counter: the kernel brackets a measurement with two reads
    /// (`lvd boot --domain --calls`).
    /// </summary>
    Counter = 13,
    /// <summary>Create an empty IOMMU DMA domain (docs/IOMMU.md); RDX = its id (at least 2; 1 is the kernel's).</summary>
    IommuDomainCreate = 14,
    /// <summary>Destroy IOMMU domain RDI: devices attached to it are detached (their DMA is blocked).</summary>
    IommuDomainDestroy = 15,
    /// <summary>Map RDI = IOMMU domain, RSI = I/O virtual address, RDX = guest-physical RAM, R10 = bytes, R8 = R (1) | W (2).</summary>
    IommuMap = 16,
    /// <summary>Unmap RDI = IOMMU domain, RSI = I/O virtual address, RDX = bytes.</summary>
    IommuUnmap = 17,
    /// <summary>Attach PCI function RDI (bus 0: device &lt;&lt; 3 | function) to IOMMU domain RSI (1 the kernel's; 0 none: blocked).</summary>
    IommuAttach = 18,
    /// <summary>RDX = the oldest unread blocked DMA: IOMMU domain (bits 63:32), source ID (31:16), VT-d fault reason (7:0); 0 if none.</summary>
    IommuFault = 19,
    /// <summary>The IOMMU's fault event interrupt: RDI = vector (32-255), RSI = x2APIC ID, fixed delivery.</summary>
    IommuFaultVector = 20,
}

/// <summary>Hypercall results (RAX).</summary>
public enum HypercallStatus : long
{
    Ok = 0,
    /// <summary>Unknown hypercall number.</summary>
    NoSuchCall = -1,
    /// <summary>Called from an EPT other than the kernel's.</summary>
    NotKernel = -2,
    /// <summary>A bad argument (alignment, range, permissions, unknown id); nothing changed.</summary>
    Invalid = -3,
    /// <summary>The range touches hypervisor memory.</summary>
    Denied = -4,
    /// <summary>Hypervisor memory exhausted.</summary>
    NoMemory = -5,
    /// <summary>VM functions were not enabled on this vCPU first.</summary>
    NotEnabled = -6,
    /// <summary>The machine has no such device (an IOMMU call on a machine without one).</summary>
    NoDevice = -7,
}

public static class HypercallAbi
{
    public const int Version = 1;
    /// <summary>CPUID leaf that asks the platform firmware for late launch (outside VMX operation).</summary>
    public const uint LaunchLeaf = 0x4bf00000;
    /// <summary>CPUID leaf answering "LVD#HV" in EBX:ECX:EDX once under the hypervisor.</summary>
    public const uint InfoLeaf = 0x4bf00001;
    /// <summary>
    /// The scope of a late launch (ECX of CPUID <see cref="LaunchLeaf"/>) and of <see cref="Hypercall.Devirtualize"/> (RDI):
    /// every vCPU at once, wherever each stands (the LVD kernel, programs), or only the calling one (Linux's module,
    /// once on each CPU). Any other value: <see cref="HypercallStatus.Invalid"/>, nothing changes.
    /// </summary>
    public const uint ScopeAllCpus = 0, ScopeThisCpu = 1;
    /// <summary>Default watchdog period (VMX-preemption timer), milliseconds of modeled time at the cost model's clock.</summary>
    public const int WatchdogDefaultMs = 10;
    /// <summary>Shortest watchdog period accepted, in TSC cycles.</summary>
    public const ulong WatchdogMinCycles = 1UL << 16;
    /// <summary>Counters of <see cref="Hypercall.Counter"/> (RDI).</summary>
    public const ulong CounterVmExits = 0, CounterVmfuncs = 1;
    /// <summary>The IOMMU domain every PCI function is attached to at launch: guest RAM, identity (docs/IOMMU.md).</summary>
    public const int IommuKernelDomain = 1;
}
