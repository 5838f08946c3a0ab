namespace Lvd.Machine.Vmx;

/// <summary>
/// Thrown inside an instruction that causes a VM exit: the run loop catches it at the block
/// boundary, saves the guest state and calls the hypervisor. Exits happen about 10^4 times
/// per experiment, so a .NET throw is affordable; it is never on a hot path.
/// </summary>
public sealed class VmExit : Exception
{
    public ExitReason Reason { get; }
    public ulong Qualification { get; }
    public ulong GuestPhysical { get; init; }
    public ulong GuestLinear { get; init; }
    public uint InterruptionInfo { get; init; }
    public uint InterruptionErrorCode { get; init; }
    public uint InstructionInfo { get; init; }

    public VmExit(ExitReason reason, ulong qualification = 0)
        : base($"VM exit {reason}")
    {
        Reason = reason;
        Qualification = qualification;
    }
}
