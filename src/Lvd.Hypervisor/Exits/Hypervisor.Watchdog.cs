using Lvd.Machine.Execution;
using Lvd.Machine.Vmx;

namespace Lvd.Hypervisor;

/// <summary>
/// The domain watchdog (LVD.md section 6: "domain never returns with IF cleared"; docs/HYPERCALLS.md,
/// "Watchdog"). A domain that executes CLI and loops takes no interrupt and causes no exit, so only
/// a timer the guest cannot mask gets the CPU back: the VMX-preemption timer, armed on every vCPU
/// with VM functions enabled. At each expiry the hypervisor samples the vCPU: in a domain EPT with
/// RFLAGS.IF = 0 makes it a suspect; still so at the next expiry, with no progress in between, is a
/// violation (the kernel's abort entry kills the domain). Progress is what a domain cannot forge:
/// the kernel's progress word (read-only in domain EPTs; the kernel bumps it when an outermost call
/// returns and on every interrupt taken in a domain) or an exit from the kernel EPT. A stuck domain
/// dies between one and two periods after it stopped making progress; legitimate calls made with
/// interrupts off are far shorter than a period (10 ms by default).
/// </summary>
public sealed partial class Hypervisor
{
    private const ulong RflagsIf = 1UL << 9;

    /// <summary>Domains killed by the watchdog, over all vCPUs.</summary>
    public long WatchdogKills
    {
        get { long n = 0; foreach (var c in _vcpus) n += c?.WatchdogKills ?? 0; return n; }
    }

    private static void ArmWatchdog(VcpuContext ctx, ulong periodCycles)
    {
        ctx.WatchdogTicks = (uint)(periodCycles >> Cpu.PreemptionTimerShift);
        ArmTimer(ctx);
    }

    /// <summary>A full period from the next VM entry (the timer exit leaves the VMCS value stale).</summary>
    private static void ArmTimer(VcpuContext ctx)
    {
        ctx.Vmcs.PinBased |= PinControls.PreemptionTimer;
        ctx.Vmcs.PreemptionTimerValue = ctx.WatchdogTicks;
    }

    private ExitAction PreemptionTimer(VcpuContext ctx, bool fromKernel)
    {
        var v = ctx.Vmcs;
        if (ctx.WatchdogTicks == 0)
        {
            v.PinBased &= ~PinControls.PreemptionTimer;
            return ExitAction.Resume;
        }
        bool interruptsOff = (v.GuestRflags & RflagsIf) == 0;
        if (v.GuestActivityState == 1)
        {
            // Halted: the kernel's, never a domain's (HLT in a domain exits). Halted with interrupts
            // off (or no APIC timer) only an NMI wakes it, and that exits: the timer waits for the
            // next exit, so that a guest that really stopped is still seen as deadlocked.
            ctx.WatchdogSuspect = false;
            if (interruptsOff || _machine.Apics[ctx.Cpu.Id].NextTimerEvent == long.MaxValue) v.PinBased &= ~PinControls.PreemptionTimer;
            else ArmTimer(ctx);
            return ExitAction.Resume;
        }
        ArmTimer(ctx);
        if (fromKernel || !interruptsOff)
        {
            ctx.WatchdogSuspect = false;
            return ExitAction.Resume;
        }
        ulong progress = ReadProgress(ctx);
        if (ctx.WatchdogSuspect && progress == ctx.SuspectProgress && ctx.KernelExits == ctx.SuspectKernelExits)
        {
            ctx.WatchdogSuspect = false;
            ctx.WatchdogKills++;
            return Violation(ctx, $"watchdog: a domain ran with interrupts off for a whole period " +
                $"({(ulong)ctx.WatchdogTicks << Cpu.PreemptionTimerShift} cycles) without progress");
        }
        ctx.WatchdogSuspect = true;
        ctx.SuspectProgress = progress;
        ctx.SuspectKernelExits = ctx.KernelExits;
        return ExitAction.Resume;
    }

    /// <summary>The progress word through this vCPU's kernel EPT (the state page is remapped per CPU).</summary>
    private ulong ReadProgress(VcpuContext ctx)
    {
        if (ctx.ProgressGpa == 0) return 0;
        ulong leaf = ctx.KernelEpt.Lookup(ctx.ProgressGpa);
        if (leaf == 0) return 0;
        ulong pageMask = (leaf & Ept.LargePage) != 0 ? (2UL << 20) - 1 : 0xfffUL;
        ulong hpa = (leaf & 0x000f_ffff_ffff_f000UL & ~pageMask) | (ctx.ProgressGpa & pageMask);
        return _machine.Memory.Read64(hpa);
    }
}
