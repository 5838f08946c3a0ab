namespace Lvd.Machine.Devices;

/// <summary>The states of a local APIC that IA32_APIC_BASE selects (SDM 11.12.5): EN=0; EN=1, EXTD=0; EN=1, EXTD=1.</summary>
public enum ApicMode { Disabled, XApic, X2Apic }
