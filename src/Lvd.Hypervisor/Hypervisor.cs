using Lvd.Machine;
using Lvd.Machine.Execution;
using Lvd.Machine.Vmx;

// The hypervisor's objects are part of what a machine snapshot saves (docs/DEBUGGING.md, Snapshots).
[assembly: Lvd.Machine.Diagnostics.MachineStateAssembly]

namespace Lvd.Hypervisor;

/// <summary>
/// The minimal LVD hypervisor, host code in VMX root operation. It late-launches the running
/// kernel into non-root mode (copying each vCPU's live state into its VMCS), keeps it there
/// under an identity EPT that excludes its own memory, emulates the sensitive instructions it
/// intercepts (LVD Invariant 4) and serves the hypercall ABI of the kernel's LVD runtime.
/// Split by concern: launch and policy here, exit handlers and hypercalls in Exits/.
/// </summary>
public sealed partial class Hypervisor : IVmxRoot, IFirmwareService
{
    /// <summary>Default RAM reserved for the hypervisor at the top of guest-physical memory.</summary>
    public const ulong DefaultReservedBytes = 16UL << 20;

    private readonly Lvd.Machine.Machine _machine;
    private readonly HypervisorMemory _memory;
    private readonly VcpuContext?[] _vcpus;
    private ulong _msrBitmap;

    /// <summary>True while at least one vCPU runs in VMX non-root operation under this hypervisor.</summary>
    public bool Launched
    {
        get { foreach (var c in _vcpus) if (c != null) return true; return false; }
    }

    /// <summary>True while this vCPU runs under the hypervisor (launched and not devirtualized).</summary>
    public bool IsLaunched(int cpu) => _vcpus[cpu] != null;

    /// <summary>Launches on a vCPU so far (a vCPU launched, devirtualized and launched again counts twice).</summary>
    public long Launches { get; private set; }
    public long Hypercalls { get; private set; }
    public int PagesInUse => _memory.PagesInUse;
    public ulong MemoryBase => _memory.Base;

    public Hypervisor(Lvd.Machine.Machine machine)
    {
        if (machine.Config.VmxRootReservedBytes == 0)
            throw new InvalidOperationException("the machine reserves no memory for a hypervisor (MachineConfig.VmxRootReservedBytes)");
        _machine = machine;
        _memory = new HypervisorMemory(machine.Memory, machine.GuestRamTop, machine.Memory.RamSize);
        _vcpus = new VcpuContext?[machine.Cpus.Length];
        machine.Firmware = this;
    }

    /// <summary>The EPTP of a vCPU's kernel EPT (after launch).</summary>
    public ulong KernelEptp(int cpu) => _vcpus[cpu]?.KernelEpt.Eptp ?? 0;

    /// <summary>The domain EPTs a vCPU holds (hypercall EPT_CREATE): id and EPTP (debuggers, reports).</summary>
    public IEnumerable<(int Id, ulong Eptp)> DomainEptps(int cpu)
    {
        if (_vcpus[cpu] is not { } ctx) yield break;
        foreach (var (id, ept) in ctx.DomainEpts) yield return (id, ept.Eptp);
    }

    // ---------------- late launch ----------------

    /// <summary>
    /// Firmware CPUID: the late-launch request of a kernel running natively. ECX is the scope
    /// (docs/HYPERCALLS.md, Late launch): <see cref="HypercallAbi.ScopeAllCpus"/> launches every
    /// vCPU wherever each stands (the LVD kernel asks once, on its boot CPU);
    /// <see cref="HypercallAbi.ScopeThisCpu"/> only the calling one, at the point its kernel chose:
    /// VMX operation belongs to one logical processor (SDM 24.1: each executes VMXON and VMLAUNCH
    /// itself), and Linux's module asks on each CPU (on_each_cpu) while the others run natively.
    /// </summary>
    public bool TryCpuid(Cpu cpu, uint leaf, uint subleaf, out (uint a, uint b, uint c, uint d) result)
    {
        result = default;
        if (leaf != HypercallAbi.LaunchLeaf) return false;
        var status = subleaf switch
        {
            HypercallAbi.ScopeAllCpus => Launch() ? HypercallStatus.Ok : HypercallStatus.NoMemory,
            HypercallAbi.ScopeThisCpu => LaunchCpu(cpu) ? HypercallStatus.Ok : HypercallStatus.NoMemory,
            _ => HypercallStatus.Invalid,
        };
        result = ((uint)(long)status, 0, 0, 0);
        return true;
    }

    /// <summary>
    /// Deprivileges every vCPU (lvd exec/boot --hypervisor, before the first instruction): each
    /// one's VMCS from its live state, then non-root mode. False if out of memory.
    /// </summary>
    public bool Launch()
    {
        var ready = new List<VcpuContext>();
        _launchStartedProcessors = true;
        foreach (var cpu in _machine.Cpus)
        {
            // A vCPU the firmware has not started yet (waiting for a SIPI or on the wakeup mailbox) has no state a
            // VMCS could hold: it is launched when the firmware starts it (ProcessorStarted).
            if (_vcpus[cpu.Id] != null || cpu.State == CpuState.WaitForSipi) continue;
            if (Prepare(cpu) is not { } ctx) return false;
            ready.Add(ctx);
        }
        if (!_sharedReady && !LaunchShared()) return false;
        foreach (var ctx in ready) Enter(ctx);
        return true;
    }

    /// <summary>
    /// Deprivileges one vCPU: builds its VMCS from its live state and enters non-root mode; the
    /// guest continues exactly where it was, now under EPT. Already launched: nothing to do.
    /// False if out of memory (the vCPU then stays native).
    /// </summary>
    public bool LaunchCpu(Cpu cpu)
    {
        if (_vcpus[cpu.Id] != null) return true;
        if (Prepare(cpu) is not { } ctx) return false;
        if (!_sharedReady && !LaunchShared())
        {
            Release(ctx);
            return false;
        }
        Enter(ctx);
        return true;
    }

    private bool _sharedReady;
    /// <summary>Set by a launch of every vCPU: the vCPUs the firmware starts later are launched as they start.</summary>
    private bool _launchStartedProcessors;

    /// <summary>
    /// The firmware started an application processor (the ACPI wakeup mailbox woke it into 64-bit mode at its OS's
    /// vector): after a launch of every vCPU (lvd linux --hypervisor --cpus N) it is launched there, before its first
    /// instruction, as the boot CPU was at power-on. Out of hypervisor memory: the run stops with a report.
    /// </summary>
    public void ProcessorStarted(Cpu cpu)
    {
        if (!_launchStartedProcessors || _vcpus[cpu.Id] != null) return;
        if (!LaunchCpu(cpu)) _machine.StopFromVmxRoot($"hypervisor: out of memory launching vCPU {cpu.Id} as the firmware started it");
    }

    /// <summary>A vCPU's VMCS, kernel EPT, EPTP list and VMCS region, from its live state (the MSR bitmap first, once).</summary>
    private VcpuContext? Prepare(Cpu cpu)
    {
        if (_msrBitmap == 0)
        {
            if (_memory.AllocPage() is not ulong msrBitmap) return null;
            _msrBitmap = msrBitmap;
            _machine.Memory.Fill(msrBitmap, 4096, 0xff); // trap every RDMSR/WRMSR (LVD Invariant 4) ...
            // ... except writes to the x2APIC EOI register: every interrupt handler writes it, and an
            // exit there would put ~1,400 cycles on every interrupt (the paper's virtualized delivery
            // costs 620 against 607 natively, so its EOI did not exit either). An early EOI is the
            // worst a domain can do with it: it cannot send IPIs (ICR still exits) or change
            // priorities. SDM 24.6.9: write bitmap for MSRs 0-0x1fff at offset 2048.
            PassThroughMsr(msrBitmap + 2048, X2ApicEoi);
            // ... and reads of the x2APIC in-service register (ISR, 8 MSRs): the kernel reads the bit
            // of an interrupt taken inside a domain to tell a real interrupt from a domain's `int $n`
            // (docs/THREAT-MODEL.md). Reading it tells a domain only which interrupts are in service.
            // SDM 24.6.9: read bitmap for MSRs 0-0x1fff at offset 0.
            for (uint msr = X2ApicIsr0; msr < X2ApicIsr0 + 8; msr++) PassThroughMsr(msrBitmap, msr);
        }
        var kernelEpt = EptTable.Create(_memory, _machine.Memory);
        if (kernelEpt == null) return null;
        if (!MapKernelIdentity(kernelEpt) || _memory.AllocPage() is not ulong list)
        {
            kernelEpt.Destroy();
            return null;
        }
        if (_memory.AllocPage() is not ulong region)
        {
            kernelEpt.Destroy();
            _memory.FreePage(list);
            return null;
        }
        _machine.Memory.Write64(list, kernelEpt.Eptp);
        var ctx = new VcpuContext(cpu, kernelEpt, list, region);
        SetupVmcs(ctx);
        return ctx;
    }

    /// <summary>What the vCPUs share besides the MSR bitmap, made at the first launch: the IOMMU's kernel DMA domain.</summary>
    private bool LaunchShared()
    {
        if (!LaunchIommu()) return false;
        _sharedReady = true;
        return true;
    }

    private void Enter(VcpuContext ctx)
    {
        _vcpus[ctx.Cpu.Id] = ctx;
        Launches++;
        ctx.Cpu.VmEnter(ctx.Vmcs, this);
    }

    /// <summary>Frees what <see cref="Prepare"/> or a session on the vCPU allocated (its domain EPTs too).</summary>
    private void Release(VcpuContext ctx)
    {
        foreach (var ept in ctx.DomainEpts.Values) ept.Destroy();
        ctx.DomainEpts.Clear();
        ctx.KernelEpt.Destroy();
        _memory.FreePage(ctx.EptpList);
        _memory.FreePage(ctx.VmcsRegion);
    }

    private const uint X2ApicEoi = 0x80b, X2ApicIsr0 = 0x810;

    private void PassThroughMsr(ulong bitmap, uint msr)
    {
        ulong at = bitmap + msr / 8;
        _machine.Memory.Write(at, 1, _machine.Memory.Read(at, 1) & ~(1UL << (int)(msr % 8)));
    }

    /// <summary>Identity map of guest RAM and MMIO; hypervisor memory and the IOMMU's registers are simply never mapped.</summary>
    private bool MapKernelIdentity(EptTable ept)
    {
        const ulong Rwx = Ept.Read | Ept.Write | Ept.Exec;
        if (!ept.Map(0, 0, _machine.GuestRamTop, Rwx)) return false;
        foreach (var (b, s) in _machine.Memory.MmioRanges)
            if (!IommuRegisters(b) && !ept.Map(b, b, s, Ept.Read | Ept.Write, uncached: true)) return false;
        return true;
    }

    private void SetupVmcs(VcpuContext ctx)
    {
        var cpu = ctx.Cpu;
        var v = ctx.Vmcs;
        // Controls: LVD Invariant 4 exits; external interrupts and exceptions go straight to the
        // guest's IDT (exitless interrupt delivery).
        v.PinBased = PinControls.NmiExiting | PinControls.VirtualNmis;
        // CR8 (the TPR) exits both ways: the kernel sets priorities through the x2APIC TPR MSR,
        // which exits too, so a domain can neither raise nor read the priority behind its back.
        v.ProcBased = ProcControls.HltExiting | ProcControls.Cr3LoadExiting | ProcControls.MovDrExiting
            | ProcControls.Cr8LoadExiting | ProcControls.Cr8StoreExiting
            | ProcControls.UnconditionalIoExiting | ProcControls.UseMsrBitmaps | ProcControls.ActivateSecondary;
        // Unrestricted guest: Linux's AP trampoline clears CR0.PG on its way from the firmware's 64-bit hand-off
        // through 32-bit protected mode back to long mode (docs/CPU-MODES.md); every CR0 write still exits.
        v.ProcBased2 = Proc2Controls.EnableEpt | Proc2Controls.EnableVpid | Proc2Controls.DescriptorTableExiting | Proc2Controls.EnableRdtscp
            | Proc2Controls.UnrestrictedGuest;
        v.Vpid = (ushort)(cpu.Id + 1);
        v.Eptp = ctx.KernelEpt.Eptp;
        v.MsrBitmap = _msrBitmap;
        v.ExceptionBitmap = 0;
        // CR0 and CR4 belong to the hypervisor, every bit (LVD Invariant 4): any MOV that would
        // change one exits, so a domain cannot clear CR0.WP or set CR4.TSD without being caught;
        // the kernel reads its own values from the shadows. CR4.VMXE is set but hidden.
        v.Cr0GuestHostMask = ~0UL;
        v.Cr0ReadShadow = cpu.Cr0;
        v.Cr4GuestHostMask = ~0UL;
        v.Cr4ReadShadow = cpu.Cr4;
        ctx.Cr3Lru.Add(cpu.Cr3);
        SyncCr3Targets(ctx);
        // Guest state: the live state of the running kernel.
        v.GuestRip = cpu.Rip;
        v.GuestRsp = cpu.GetRegister(Cpu.RSP);
        v.GuestRflags = cpu.Rflags;
        v.GuestCr0 = cpu.Cr0 | Cpu.Cr0NE;
        v.GuestCr3 = cpu.Cr3;
        v.GuestCr4 = cpu.Cr4 | Cpu.Cr4VMXE;
        v.GuestDr7 = cpu.Dr[7];
        for (int i = 0; i < 6; i++) v.GuestSegs[i] = cpu.Segs[i];
        v.GuestTr = cpu.Tr;
        v.GuestLdtr = cpu.Ldtr;
        v.GuestGdtr = cpu.Gdtr;
        v.GuestIdtr = cpu.Idtr;
        v.GuestEfer = cpu.Efer;
        v.GuestPat = cpu.Pat;
        v.GuestSysenterCs = cpu.SysenterCs;
        v.GuestSysenterEsp = cpu.SysenterEsp;
        v.GuestSysenterEip = cpu.SysenterEip;
        v.GuestActivityState = cpu.State == CpuState.Halted ? 1u : 0;
        v.GuestInterruptibility = 0;
    }

    private static void SyncCr3Targets(VcpuContext ctx)
    {
        var v = ctx.Vmcs;
        v.Cr3TargetCount = ctx.Cr3Lru.Count;
        for (int i = 0; i < ctx.Cr3Lru.Count; i++) v.Cr3Targets[i] = ctx.Cr3Lru[i];
    }

    // ---------------- exits ----------------

    public ExitAction HandleExit(Cpu cpu, Vmcs v)
    {
        var ctx = _vcpus[cpu.Id] ?? throw new InvalidOperationException($"exit from vCPU {cpu.Id}, which was never launched");
        cpu.Cycles += _machine.Costs.HvDispatch;
        // Only the kernel (EPTP index 0, its own EPT) may cause exits that are emulated;
        // anything else is a violation for the domain policy.
        bool fromKernel = v.EptpIndex == 0 && (v.Eptp & ~0xfffUL) == ctx.KernelEpt.Root;
        // The watchdog's timer expires wherever the vCPU is: it is the one exit a domain may cause.
        if (v.ExitReason == ExitReason.PreemptionTimer) return PreemptionTimer(ctx, fromKernel);
        if (!fromKernel) return Violation(ctx, $"{v.ExitReason} exit while EPTP index {v.EptpIndex} was active (not the kernel EPT)");
        ctx.KernelExits++;
        if (ctx.WatchdogTicks != 0 && (v.PinBased & PinControls.PreemptionTimer) == 0) ArmTimer(ctx);
        // A failing VMFUNC from the kernel EPT is a trampoline switching to a slot whose domain
        // was killed (or never set): the domain's call fails, the kernel goes on.
        if (v.ExitReason == ExitReason.Vmfunc && ctx.AbortEntry != 0) return Violation(ctx, "VMFUNC to an invalid EPTP-list entry");
        return v.ExitReason switch
        {
            ExitReason.Cpuid => Cpuid(ctx),
            ExitReason.Vmcall => HypercallExit(ctx),
            ExitReason.Rdmsr => Rdmsr(ctx),
            ExitReason.Wrmsr => Wrmsr(ctx),
            ExitReason.CrAccess => CrAccess(ctx),
            ExitReason.IoInstruction => Io(ctx),
            ExitReason.GdtrIdtrAccess or ExitReason.LdtrTrAccess => DescriptorTable(ctx),
            ExitReason.MovDr => MovDr(ctx),
            ExitReason.Hlt => Hlt(ctx),
            ExitReason.ExceptionOrNmi => ExceptionOrNmi(ctx),
            ExitReason.NmiWindow => NmiWindow(ctx),
            ExitReason.InterruptWindow => InterruptWindow(ctx),
            ExitReason.Xsetbv => Inject(ctx, Vectors.UD, null),
            // The guest's own crash (also when an exception injected here cannot be delivered):
            // the vCPU shuts down and the machine reports it as without a hypervisor.
            ExitReason.TripleFault => ExitAction.Shutdown,
            ExitReason.EptViolation =>
                Stop($"EPT violation by the kernel on vCPU {cpu.Id}: guest-physical 0x{v.GuestPhysicalAddress:x} (linear " +
                $"0x{v.GuestLinearAddress:x}), qualification 0x{v.ExitQualification:x}, RIP 0x{v.GuestRip:x}: hypervisor memory is not the guest's"),
            ExitReason.EptMisconfiguration =>
                Stop($"EPT misconfiguration at guest-physical 0x{v.GuestPhysicalAddress:x} on vCPU {cpu.Id}: a hypervisor bug"),
            ExitReason.Vmfunc => Stop($"the kernel executed a failing VMFUNC (EAX 0x{cpu.GetRegister(Cpu.RAX):x}, ECX " +
                $"0x{cpu.GetRegister(Cpu.RCX):x}) on vCPU {cpu.Id} at RIP 0x{v.GuestRip:x}"),
            _ => Stop($"unexpected VM exit {v.ExitReason} on vCPU {cpu.Id} at RIP 0x{v.GuestRip:x}"),
        };
    }

    private ExitAction Stop(string report)
    {
        _machine.StopFromVmxRoot("hypervisor: " + report);
        return ExitAction.Stop;
    }

    /// <summary>External interrupts whose delivery a domain broke, re-injected into the kernel, over all vCPUs.</summary>
    public long InterruptsReinjected
    {
        get { long n = 0; foreach (var c in _vcpus) n += c?.Reinjected ?? 0; return n; }
    }

    /// <summary>Violations redirected to the kernel's abort entry, over all vCPUs.</summary>
    public long DomainAborts
    {
        get { long n = 0; foreach (var c in _vcpus) n += c?.DomainAborts ?? 0; return n; }
    }

    /// <summary>
    /// The domain policy (LVD.md section 5, docs/HYPERCALLS.md): an exit caused by a domain is
    /// never emulated. With no abort entry registered the run stops with a report. Otherwise the
    /// vCPU goes back to its kernel EPT at the kernel's abort entry, interrupts off, kernel CS/SS,
    /// with the violation in registers; the kernel kills the domain and fails its call.
    /// </summary>
    private ExitAction Violation(VcpuContext ctx, string what)
    {
        var v = ctx.Vmcs;
        if (ctx.AbortEntry == 0) return Stop($"violation on vCPU {ctx.Cpu.Id}: {what}, RIP 0x{v.GuestRip:x}");
        // An external interrupt or NMI whose delivery the domain broke (e.g. it loaded another
        // CR3, so the IDT or IST no longer translates) is the kernel's, not the domain's: the
        // CPU acknowledged it, so the kernel gets it as soon as it can take it, through the
        // interrupt window (NMI window) once the abort path re-enables interrupts. Exceptions
        // being delivered are the domain's and die with it.
        v.EntryInterruptionInfo = 0;
        uint vectoring = v.IdtVectoringInfo;
        uint vectoringType = (vectoring >> 8) & 7;
        if ((vectoring & InterruptionInfo.Valid) != 0 && vectoringType == InterruptionInfo.TypeExternal)
        {
            ctx.ReinjectVector = (int)(vectoring & 0xff);
            v.ProcBased |= ProcControls.InterruptWindowExiting;
        }
        if (((vectoring & InterruptionInfo.Valid) != 0 && vectoringType == InterruptionInfo.TypeNmi)
            || (v.ExitReason == ExitReason.ExceptionOrNmi && ((v.ExitInterruptionInfo >> 8) & 7) == InterruptionInfo.TypeNmi))
            v.ProcBased |= ProcControls.NmiWindowExiting;   // re-inject the NMI into the kernel
        var cpu = ctx.Cpu;
        cpu.SetRegister(Cpu.RDI, (ulong)v.ExitReason);
        cpu.SetRegister(Cpu.RSI, v.ExitQualification);
        cpu.SetRegister(Cpu.RDX, v.GuestRip);
        cpu.SetRegister(Cpu.R10, v.GuestPhysicalAddress);
        cpu.SetRegister(Cpu.R8, v.EptpIndex);
        v.Eptp = ctx.KernelEpt.Eptp;
        v.EptpIndex = 0;
        v.GuestRip = ctx.AbortEntry;
        v.GuestRflags = 2;
        v.GuestSegs[(int)SegReg.CS] = ctx.AbortCs;
        v.GuestSegs[(int)SegReg.SS] = ctx.AbortSs;
        v.GuestInterruptibility &= 8;   // keep "blocked by NMI"; drop STI/MOV-SS blocking
        v.GuestActivityState = 0;
        ctx.DomainAborts++;
        _machine.Events?.Note(cpu, "domain violation", $"{what}, domain RIP 0x{cpu.GetRegister(Cpu.RDX):x}: to the kernel's abort entry");
        return ExitAction.Resume;
    }

    private static ExitAction Advance(VcpuContext ctx)
    {
        ctx.Vmcs.GuestRip += ctx.Vmcs.ExitInstructionLength;
        return ExitAction.Resume;
    }

    /// <summary>Injects an exception into the guest at the exiting instruction (it does not retire).</summary>
    private static ExitAction Inject(VcpuContext ctx, int vector, uint? errorCode)
    {
        ctx.Vmcs.EntryInterruptionInfo = InterruptionInfo.Make(vector, InterruptionInfo.TypeHardwareException, errorCode != null);
        ctx.Vmcs.EntryExceptionErrorCode = errorCode ?? 0;
        return ExitAction.Resume;
    }

    /// <summary>
    /// Devirtualize (VMXOFF): the calling vCPU leaves VMX operation after its VMCALL and continues
    /// natively, and with <see cref="HypercallAbi.ScopeAllCpus"/> every other launched vCPU too,
    /// wherever it stands; with <see cref="HypercallAbi.ScopeThisCpu"/> the others stay as they are
    /// (Linux's module devirtualizes each CPU, as it launched each). What the hypervisor kept for a
    /// vCPU (VMCS region, kernel EPT, EPTP list, domain EPTs) is freed: a later launch starts afresh.
    /// </summary>
    private ExitAction Devirtualize(VcpuContext ctx, bool allCpus)
    {
        if (allCpus) _launchStartedProcessors = false;
        if (allCpus)
            foreach (var other in _vcpus)
            {
                if (other == null || other == ctx) continue;
                other.Cpu.LeaveVmx(other.Vmcs);
                Release(other);
                _vcpus[other.Cpu.Id] = null;
            }
        Release(ctx);
        _vcpus[ctx.Cpu.Id] = null;
        return ExitAction.LeaveVmx;
    }
}
