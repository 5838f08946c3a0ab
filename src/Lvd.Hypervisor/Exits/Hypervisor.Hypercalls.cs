using Lvd.Machine.Execution;
using Lvd.Machine.Memory;
using Lvd.Machine.Vmx;

namespace Lvd.Hypervisor;

/// <summary>
/// The hypercall ABI (<see cref="Hypercall"/>, docs/HYPERCALLS.md). Every argument is checked
/// before anything changes: a bad call returns an error status and leaves all state as it was.
/// Only the kernel EPT may call (checked in <see cref="HandleExit"/> for every exit).
/// </summary>
public sealed partial class Hypervisor
{
    private const ulong PhysLimit = 1UL << Cpu.MaxPhysAddrBits;
    private const ulong Rwx = Ept.Read | Ept.Write | Ept.Exec;

    private ExitAction HypercallExit(VcpuContext ctx)
    {
        var cpu = ctx.Cpu;
        Hypercalls++;
        ulong a0 = cpu.GetRegister(Cpu.RDI), a1 = cpu.GetRegister(Cpu.RSI), a2 = cpu.GetRegister(Cpu.RDX);
        ulong a3 = cpu.GetRegister(Cpu.R10), a4 = cpu.GetRegister(Cpu.R8);
        ulong value = 0;
        var call = (Hypercall)(uint)cpu.GetRegister(Cpu.RAX);
        HypercallStatus status;
        switch (call)
        {
            case Hypercall.Version: value = HypercallAbi.Version; status = HypercallStatus.Ok; break;
            case Hypercall.Devirtualize when a0 is not (HypercallAbi.ScopeAllCpus or HypercallAbi.ScopeThisCpu):
                status = HypercallStatus.Invalid;
                break;
            case Hypercall.Devirtualize:
                cpu.SetRegister(Cpu.RAX, 0);
                cpu.SetRegister(Cpu.RDX, 0);
                Advance(ctx);
                return Devirtualize(ctx, a0 == HypercallAbi.ScopeAllCpus);
            case Hypercall.EnableVmfunc: status = EnableVmfunc(ctx); break;
            case Hypercall.EptCreate: status = EptCreate(ctx, out value); break;
            case Hypercall.EptDestroy: status = EptDestroy(ctx, (int)a0); break;
            case Hypercall.EptMap: status = EptMap(ctx, (int)a0, a1, a2, a3, a4); break;
            case Hypercall.EptUnmap: status = EptUnmap(ctx, (int)a0, a1, a2); break;
            case Hypercall.EptpListSet: status = EptpListSet(ctx, a0, (long)a1); break;
            case Hypercall.KernelRemap: status = KernelRemap(ctx, a0, a1); break;
            case Hypercall.KillDomain:
                status = EptDestroy(ctx, (int)a0);
                _machine.Events?.Note(ctx.Cpu, "domain kill", $"KILL_DOMAIN of EPT {a0} on vCPU {ctx.Cpu.Id}: {status}");
                break;
            case Hypercall.DomainAbortEntry: status = SetAbortEntry(ctx, a0); break;
            case Hypercall.Watchdog: status = SetWatchdog(ctx, a0, a1); break;
            case Hypercall.HashMemory: status = HashMemory(ctx, a0, a1, out value); break;
            case Hypercall.Counter:
                status = a0 is HypercallAbi.CounterVmExits or HypercallAbi.CounterVmfuncs ? HypercallStatus.Ok : HypercallStatus.Invalid;
                value = a0 == HypercallAbi.CounterVmExits ? (ulong)cpu.VmExits : a0 == HypercallAbi.CounterVmfuncs ? (ulong)cpu.VmFuncs : 0;
                break;
            case Hypercall.IommuDomainCreate: status = IommuDomainCreate(out value); break;
            case Hypercall.IommuDomainDestroy: status = IommuDomainDestroy((int)a0); break;
            case Hypercall.IommuMap: status = IommuMap((int)a0, a1, a2, a3, a4); break;
            case Hypercall.IommuUnmap: status = IommuUnmap((int)a0, a1, a2); break;
            case Hypercall.IommuAttach: status = IommuAttach(a0, (long)a1); break;
            case Hypercall.IommuFault: status = IommuFault(out value); break;
            case Hypercall.IommuFaultVector: status = IommuFaultVector(a0, a1); break;
            default: status = HypercallStatus.NoSuchCall; break;
        }
        cpu.SetRegister(Cpu.RAX, (ulong)(long)status);
        cpu.SetRegister(Cpu.RDX, value);
        return Advance(ctx);
    }

    private HypercallStatus EnableVmfunc(VcpuContext ctx)
    {
        var v = ctx.Vmcs;
        v.ProcBased2 |= Proc2Controls.EnableVmFunctions;
        v.VmFunctionControls = VmFunctionControls.EptpSwitching;
        v.EptpListAddress = ctx.EptpList;
        ctx.VmfuncEnabled = true;
        if (ctx.WatchdogTicks == 0) ArmWatchdog(ctx, WatchdogDefaultCycles);
        return HypercallStatus.Ok;
    }

    private ulong WatchdogDefaultCycles => (ulong)(_machine.Costs.ClockHz / 1000 * HypercallAbi.WatchdogDefaultMs);

    private HypercallStatus SetWatchdog(VcpuContext ctx, ulong progressGpa, ulong periodCycles)
    {
        if (!ctx.VmfuncEnabled) return HypercallStatus.NotEnabled;
        if (periodCycles == 0) periodCycles = WatchdogDefaultCycles;
        if (periodCycles < HypercallAbi.WatchdogMinCycles || (periodCycles >> Cpu.PreemptionTimerShift) > uint.MaxValue)
            return HypercallStatus.Invalid;
        if (progressGpa != 0 && ((progressGpa & 7) != 0 || progressGpa >= _machine.GuestRamTop)) return HypercallStatus.Invalid;
        ctx.ProgressGpa = progressGpa;
        ctx.WatchdogSuspect = false;
        ArmWatchdog(ctx, periodCycles);
        return HypercallStatus.Ok;
    }

    private HypercallStatus EptCreate(VcpuContext ctx, out ulong id)
    {
        id = 0;
        var ept = EptTable.Create(_memory, _machine.Memory);
        if (ept == null) return HypercallStatus.NoMemory;
        int n = ctx.NextEptId++;
        ctx.DomainEpts[n] = ept;
        id = (ulong)n;
        return HypercallStatus.Ok;
    }

    private HypercallStatus EptDestroy(VcpuContext ctx, int id)
    {
        if (!ctx.DomainEpts.Remove(id, out var ept)) return HypercallStatus.Invalid;
        // Any list slot that still names this EPT becomes an invalid EPTP: a VMFUNC to it exits.
        for (ulong slot = 1; slot < 512; slot++)
            if ((_machine.Memory.Read64(ctx.EptpList + slot * 8) & ~0xfffUL) == ept.Root) _machine.Memory.Write64(ctx.EptpList + slot * 8, 0);
        ctx.Cpu.InvalidateEpt(ept.Eptp);
        ept.Destroy();
        return HypercallStatus.Ok;
    }

    /// <summary>Checks a range: page-aligned, non-empty, no overflow, within the physical-address width.</summary>
    private static bool ValidRange(ulong start, ulong size) =>
        size != 0 && (start & PhysicalMemory.PageMask) == 0 && (size & PhysicalMemory.PageMask) == 0
        && start + size > start && start + size <= PhysLimit;

    private HypercallStatus EptMap(VcpuContext ctx, int id, ulong gpa, ulong hpa, ulong size, ulong perms)
    {
        if (!ctx.DomainEpts.TryGetValue(id, out var ept)) return HypercallStatus.Invalid;
        if (!ValidRange(gpa, size) || !ValidRange(hpa, size)) return HypercallStatus.Invalid;
        // R/W/X only, never write-without-read (an EPT misconfiguration).
        if ((perms & ~Rwx) != 0 || (perms & Rwx) == 0 || ((perms & Ept.Write) != 0 && (perms & Ept.Read) == 0)) return HypercallStatus.Invalid;
        if (HypervisorOwned(hpa, size)) return HypercallStatus.Denied;
        if (!ept.Map(gpa, hpa, size, perms)) return HypercallStatus.NoMemory;
        ctx.Cpu.InvalidateEpt(ept.Eptp);
        return HypercallStatus.Ok;
    }

    private HypercallStatus EptUnmap(VcpuContext ctx, int id, ulong gpa, ulong size)
    {
        if (!ctx.DomainEpts.TryGetValue(id, out var ept)) return HypercallStatus.Invalid;
        if (!ValidRange(gpa, size)) return HypercallStatus.Invalid;
        if (!ept.Unmap(gpa, size)) return HypercallStatus.NoMemory;
        ctx.Cpu.InvalidateEpt(ept.Eptp);
        return HypercallStatus.Ok;
    }

    private HypercallStatus EptpListSet(VcpuContext ctx, ulong slot, long id)
    {
        if (!ctx.VmfuncEnabled) return HypercallStatus.NotEnabled;
        if (slot is 0 or >= 512) return HypercallStatus.Invalid; // slot 0 is the kernel's, for good
        ulong entry = 0;
        if (id != -1)
        {
            if (!ctx.DomainEpts.TryGetValue((int)id, out var ept)) return HypercallStatus.Invalid;
            entry = ept.Eptp;
        }
        _machine.Memory.Write64(ctx.EptpList + slot * 8, entry);
        return HypercallStatus.Ok;
    }

    private HypercallStatus HashMemory(VcpuContext ctx, ulong gpa, ulong size, out ulong hash)
    {
        hash = 0;
        if (!ValidRange(gpa, size) || size > (64UL << 20)) return HypercallStatus.Invalid;
        ulong h = 0xcbf29ce484222325UL;
        for (ulong page = gpa; page < gpa + size; page += PhysicalMemory.PageSize)
        {
            if (!ctx.Cpu.TryGuestPhysToHost(page, out ulong hpa)) return HypercallStatus.Invalid;
            if (HypervisorOwned(hpa, PhysicalMemory.PageSize)) return HypercallStatus.Denied;
            for (ulong o = 0; o < PhysicalMemory.PageSize; o += 8)
                h = (h ^ _machine.Memory.Read64(hpa + o)) * 0x100000001b3UL;
        }
        hash = h;
        return HypercallStatus.Ok;
    }

    private static HypercallStatus SetAbortEntry(VcpuContext ctx, ulong rip)
    {
        if (rip == 0 || !Cpu.IsCanonicalAddress(rip)) return HypercallStatus.Invalid;
        ctx.AbortEntry = rip;
        ctx.AbortCs = ctx.Vmcs.GuestSegs[(int)Lvd.Machine.Execution.SegReg.CS];
        ctx.AbortSs = ctx.Vmcs.GuestSegs[(int)Lvd.Machine.Execution.SegReg.SS];
        return HypercallStatus.Ok;
    }

    private HypercallStatus KernelRemap(VcpuContext ctx, ulong gpa, ulong hpa)
    {
        if (!ValidRange(gpa, PhysicalMemory.PageSize) || !ValidRange(hpa, PhysicalMemory.PageSize)) return HypercallStatus.Invalid;
        if (gpa >= _machine.GuestRamTop || HypervisorOwned(hpa, PhysicalMemory.PageSize)) return HypercallStatus.Denied;
        if (!ctx.KernelEpt.Map(gpa, hpa, PhysicalMemory.PageSize, Rwx)) return HypercallStatus.NoMemory;
        ctx.Cpu.InvalidateEpt(ctx.KernelEpt.Eptp);
        return HypercallStatus.Ok;
    }
}
