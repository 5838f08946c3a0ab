namespace Lvd.Machine.Execution;

/// <summary>
/// An architectural exception raised by an instruction (#PF, #GP, #UD ...). Thrown inside the
/// executor and caught at the block boundary, where RIP is rewound to the faulting instruction
/// and the exception is delivered through the guest's IDT. Faults are rare, so the cost of a
/// .NET throw is not on any hot path.
/// </summary>
public sealed class GuestFault : Exception
{
    public int Vector { get; }
    public bool HasErrorCode { get; }
    public uint ErrorCode { get; }
    /// <summary>Faulting linear address for #PF (becomes CR2).</summary>
    public ulong Address { get; }

    public GuestFault(int vector, uint errorCode, bool hasErrorCode, ulong address = 0)
        : base($"{Vectors.Name(vector)}")
    {
        Vector = vector;
        ErrorCode = errorCode;
        HasErrorCode = hasErrorCode;
        Address = address;
    }

    public static GuestFault Gp(uint error = 0) => new(Vectors.GP, error, true);
    public static GuestFault Ud() => new(Vectors.UD, 0, false);
    public static GuestFault De() => new(Vectors.DE, 0, false);
    public static GuestFault Pf(ulong address, uint error) => new(Vectors.PF, error, true, address);
}

/// <summary>Architectural exception vectors.</summary>
public static class Vectors
{
    public const int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
        TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19, VE = 20;

    public static string Name(int v) => v switch
    {
        DE => "#DE (divide error)", DB => "#DB (debug)", NMI => "NMI", BP => "#BP (breakpoint)", OF => "#OF (overflow)",
        BR => "#BR (bound)", UD => "#UD (invalid opcode)", NM => "#NM (device not available)", DF => "#DF (double fault)",
        TS => "#TS (invalid TSS)", NP => "#NP (segment not present)", SS => "#SS (stack fault)", GP => "#GP (general protection)",
        PF => "#PF (page fault)", MF => "#MF (x87 error)", AC => "#AC (alignment check)", MC => "#MC (machine check)",
        XM => "#XM (SIMD exception)", VE => "#VE (virtualization exception)", _ => $"vector {v}",
    };

    /// <summary>SDM 6.15 Table 6-4: contributory exceptions for the double-fault rules.</summary>
    public static bool IsContributory(int v) => v is DE or TS or NP or SS or GP;

    /// <summary>SDM Table 6-1: exceptions reported as faults (the RIP is that of the faulting instruction).</summary>
    public static bool IsFault(int v) => v is DE or BR or UD or NM or TS or NP or SS or GP or PF or MF or AC or XM or VE;

    public static bool HasErrorCode(int v) => v is DF or TS or NP or SS or GP or PF or AC;
}
