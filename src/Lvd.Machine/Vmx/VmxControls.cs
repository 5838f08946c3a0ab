namespace Lvd.Machine.Vmx;

/// <summary>VM-execution control bits (SDM Vol. 3C 24.6) that the machine implements.</summary>
public static class PinControls
{
    public const uint ExternalInterruptExiting = 1u << 0;
    public const uint NmiExiting = 1u << 3;
    public const uint VirtualNmis = 1u << 5;
    public const uint PreemptionTimer = 1u << 6;
}

public static class ProcControls
{
    public const uint InterruptWindowExiting = 1u << 2;
    public const uint HltExiting = 1u << 7;
    public const uint InvlpgExiting = 1u << 9;
    public const uint RdtscExiting = 1u << 12;
    public const uint Cr3LoadExiting = 1u << 15;
    public const uint Cr3StoreExiting = 1u << 16;
    public const uint Cr8LoadExiting = 1u << 19;
    public const uint Cr8StoreExiting = 1u << 20;
    public const uint NmiWindowExiting = 1u << 22;
    public const uint MovDrExiting = 1u << 23;
    public const uint UnconditionalIoExiting = 1u << 24;
    public const uint UseIoBitmaps = 1u << 25;
    public const uint UseMsrBitmaps = 1u << 28;
    public const uint ActivateSecondary = 1u << 31;
}

public static class Proc2Controls
{
    public const uint EnableEpt = 1u << 1;
    public const uint DescriptorTableExiting = 1u << 2;
    public const uint EnableRdtscp = 1u << 3;
    public const uint EnableVpid = 1u << 5;
    public const uint WbinvdExiting = 1u << 6;
    /// <summary>SDM 24.6.2, 26.3.1.1: the guest may run with CR0.PG=0 (and PE=0; real mode is not modeled here); needs "enable EPT".</summary>
    public const uint UnrestrictedGuest = 1u << 7;
    public const uint EnableInvpcid = 1u << 12;
    public const uint EnableVmFunctions = 1u << 13;
}

/// <summary>VM-function controls (SDM 24.6.14): bit n enables VM function n.</summary>
public static class VmFunctionControls
{
    public const ulong EptpSwitching = 1UL << 0;
}

/// <summary>EPT entry bits (SDM 28.3.2) and EPTP bits (SDM 24.6.11).</summary>
public static class Ept
{
    public const ulong Read = 1, Write = 2, Exec = 4, LargePage = 1 << 7, Accessed = 1 << 8, Dirty = 1 << 9;
    public const ulong MemTypeMask = 7UL << 3;
    public const ulong WriteBack = 6UL << 3;
    public const ulong EptpWriteBack = 6, EptpWalkLength4 = 3UL << 3, EptpAccessedDirty = 1UL << 6;

    /// <summary>A valid EPTP for a 4-level write-back EPT rooted at <paramref name="pml4"/>.</summary>
    public static ulong MakeEptp(ulong pml4, bool accessedDirty = false) =>
        (pml4 & ~0xfffUL) | EptpWriteBack | EptpWalkLength4 | (accessedDirty ? EptpAccessedDirty : 0);

    /// <summary>SDM 24.6.11 / 25.5.5.3: the checks an EPTP must pass (VM entry, VMFUNC).</summary>
    public static bool IsValidEptp(ulong eptp, int maxPhysBits)
    {
        ulong type = eptp & 7;
        if (type != 0 && type != 6) return false;
        if (((eptp >> 3) & 7) != 3) return false;
        if ((eptp & 0xf80) != 0) return false; // bits 11:7 reserved
        if ((eptp >> maxPhysBits) != 0) return false;
        return true;
    }
}

/// <summary>Interruption-information format (SDM 24.8.3, 24.9.2): vector 7:0, type 10:8, error-code valid 11, valid 31.</summary>
public static class InterruptionInfo
{
    public const uint TypeExternal = 0, TypeNmi = 2, TypeHardwareException = 3, TypeSoftwareInterrupt = 4,
        TypePrivilegedSoftwareException = 5, TypeSoftwareException = 6;
    public const uint ErrorCodeValid = 1u << 11, Valid = 1u << 31;

    public static uint Make(int vector, uint type, bool errorCode) =>
        (uint)vector | (type << 8) | (errorCode ? ErrorCodeValid : 0) | Valid;
}
