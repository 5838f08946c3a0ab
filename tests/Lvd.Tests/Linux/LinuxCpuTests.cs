using MachineT = Lvd.Machine.Machine;
using Lvd.Machine.Devices;

namespace Lvd.Tests.Linux;

/// <summary>
/// The CPUID leaves and MSRs Linux 6.1 reads at boot that the machine gained for it: honest
/// about what is implemented (SDM Vol. 2A CPUID; Vol. 4 MSRs).
/// </summary>
public sealed class LinuxCpuTests
{
    private static MachineT Pc() => new(new MachineConfig { Platform = MachinePlatform.Pc, MemoryBytes = 64UL << 20 });

    [Fact]
    public void TscAndCrystalLeavesNameTheClockTheApicTimerCounts()
    {
        var m = Pc();
        var cpu = m.Cpus[0];
        Assert.True(cpu.CpuidLeaf(0, 0).a >= 0x16, "the maximum basic leaf covers 0x15 and 0x16");
        var (den, num, crystal, _) = cpu.CpuidLeaf(0x15, 0);
        Assert.Equal((uint)m.Costs.ClockHz, crystal);
        Assert.Equal(m.Costs.ClockHz, (long)crystal * num / den); // TSC = crystal * EBX / EAX
        var (baseMhz, maxMhz, bus, _) = cpu.CpuidLeaf(0x16, 0);
        Assert.Equal((uint)(m.Costs.ClockHz / 1_000_000), baseMhz);
        Assert.Equal(baseMhz, maxMhz);
        Assert.Equal(0u, bus);
        // Linux sets lapic_timer_period = crystal Hz / HZ from leaf 0x15: the APIC timer must tick
        // at the crystal rate. Divide by 1, a count of crystal/100 ends exactly 10 ms of TSC later.
        var apic = m.Apics[0];
        apic.Write(0x80f, 0x1ff);
        apic.Write(0x83e, 0xb);
        apic.Write(0x832, 0x40);
        ulong start = cpu.Tsc;
        apic.Write(0x838, crystal / 100);
        Assert.Equal((long)(start + crystal / 100 * num / den), apic.NextTimerEvent + (long)cpu.TscOffset);
    }

    [Fact]
    public void InvariantTscBrandStringAndNoUnimplementedFeatures()
    {
        var cpu = Pc().Cpus[0];
        Assert.Equal(1u << 8, cpu.CpuidLeaf(0x80000007, 0).d); // invariant TSC, and nothing else of that leaf
        var brand = new List<byte>();
        for (uint leaf = 0x80000002; leaf <= 0x80000004; leaf++)
        {
            var (a, b, c, d) = cpu.CpuidLeaf(leaf, 0);
            foreach (uint r in (uint[])[a, b, c, d]) brand.AddRange(BitConverter.GetBytes(r));
        }
        Assert.Equal("LVD# emulated CPU", System.Text.Encoding.ASCII.GetString([.. brand]).TrimEnd('\0', ' '));
        var (_, _, ecx, edx) = cpu.CpuidLeaf(1, 0);
        // Not implemented, so not reported: MCE/MCA (no machine-check MSRs), MTRR, PSE-36, DS, ACPI
        // thermal MSRs, MMX, SS, HTT, TM, PBE; MONITOR, VMX, SSE3+, XSAVE, AVX, RDRAND, hypervisor.
        uint edxAbsent = (1u << 7) | (1u << 12) | (1u << 14) | (1u << 17) | (1u << 21) | (1u << 22) | (1u << 23) | (1u << 27) | (1u << 28)
            | (1u << 29) | (1u << 31);
        uint ecxAbsent = 1u | (1u << 3) | (1u << 5) | (1u << 9) | (1u << 19) | (1u << 20) | (1u << 26) | (1u << 28) | (1u << 30) | (1u << 31);
        Assert.Equal(0u, edx & edxAbsent);
        Assert.Equal(0u, ecx & ecxAbsent);
        // Leaves Linux walks that describe hardware the machine does not have read as zeros.
        foreach (uint leaf in (uint[])[4, 5, 6, 0xa, 0xb, 0xd])
            Assert.Equal((0u, 0u, 0u, 0u), cpu.CpuidLeaf(leaf, 0));
    }

    [Fact]
    public void MicrocodeSignatureMsrReadsNoUpdateLoaded()
    {
        // Linux's intel_get_microcode_revision writes 0, runs CPUID, reads the revision (not _safe).
        var cpu = Pc().Cpus[0];
        cpu.WriteMsr(0x8b, 0);
        Assert.Equal(0UL, cpu.ReadMsr(0x8b));
        // MSRs the machine does not implement stay #GP (Linux probes them with rdmsr_safe).
        foreach (uint msr in (uint[])[0x3a, 0xce, 0x10a, 0x179, 0xbd])
            Assert.Equal(Vectors.GP, Assert.Throws<GuestFault>(() => cpu.ReadMsr(msr)).Vector);
    }
}
