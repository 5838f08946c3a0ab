using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Machine.Devices;

/// <summary>
/// The xAPIC MMIO window of the PC platform (4 KiB at 0xFEE00000, SDM 11.4.1): each access goes
/// to the local APIC of the vCPU that makes it, if that APIC is in xAPIC mode with its base
/// here. Otherwise (x2APIC mode, disabled, a relocated base, an access by no vCPU: DMA or a
/// loader) nothing decodes it: it reads all ones, drops writes and is counted as unclaimed.
/// Relocating the window (another base in IA32_APIC_BASE) is not modeled: the APIC then decodes
/// nothing, and its accesses show up among the unclaimed ones.
/// </summary>
public sealed class LocalApicWindow(Machine machine) : IMmioDevice
{
    public const ulong Size = 0x1000;

    private LocalApic? Decoder(Cpu? cpu)
    {
        if (cpu == null) return null;
        var apic = machine.Apics[cpu.Id];
        return apic.Mode == ApicMode.XApic && apic.BaseAddress == LocalApic.DefaultBase ? apic : null;
    }

    public ulong Read(Cpu? cpu, long now, ulong offset, int size)
    {
        if (Decoder(cpu) is { } apic) return apic.ReadMmio(offset, size);
        machine.Unclaimed.Note(UnclaimedAccesses.Space.Memory, LocalApic.DefaultBase + offset, write: false);
        return IoBus.AllOnes(size);
    }

    public void Write(Cpu? cpu, long now, ulong offset, int size, ulong value)
    {
        if (Decoder(cpu) is { } apic) apic.WriteMmio(offset, size, value);
        else machine.Unclaimed.Note(UnclaimedAccesses.Space.Memory, LocalApic.DefaultBase + offset, write: true);
    }
}
