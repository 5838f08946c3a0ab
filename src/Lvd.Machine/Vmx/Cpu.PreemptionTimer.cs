using Lvd.Machine.Vmx;

namespace Lvd.Machine.Execution;

/// <summary>The VMX-preemption timer (SDM 25.5.1): a deadline in modeled time, kept while halted.</summary>
public sealed partial class Cpu
{
    private long _preemptDeadline = long.MaxValue;

    /// <summary>Unit of the VMX-preemption timer: it counts down once every 2^5 TSC cycles (IA32_VMX_MISC[4:0] = 5).</summary>
    public const int PreemptionTimerShift = 5;

    /// <summary>The modeled time of this vCPU's next timed event while halted (VMX-preemption timer), or long.MaxValue.</summary>
    public long NextTimedEvent => NonRoot ? _preemptDeadline : long.MaxValue;

    /// <summary>Idle time skip: a halted vCPU's clock jumps to its next timed event, which then fires.</summary>
    public void SkipToNextTimedEvent()
    {
        long t = NextTimedEvent;
        if (State != CpuState.Halted || t == long.MaxValue) return;
        if (Cycles < t) Cycles = t;
        // The VMX-preemption timer counts in the HLT state too (SDM 25.5.1); the exit saves
        // activity state HLT.
        _preemptDeadline = long.MaxValue;
        PerformVmExits(new VmExit(ExitReason.PreemptionTimer), 0);
    }
}
