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

    /// <summary>
    /// Leaf 0BH (SDM Vol. 2A, "Extended topology enumeration"): the vCPUs are the cores of one package, one thread each.
    /// Linux derives its package as the x2APIC ID shifted right by the core level's width; with every vCPU in one package
    /// an AP copies the boot CPU's delay-loop calibration (calibrate_delay_is_known) and the TSC warp check lasts 2 ms
    /// instead of 20 (loop_timeout): before, each AP of a 4-vCPU boot cost ~160 modeled ms (docs/LINUX.md, SMP).
    /// </summary>
    [Theory]
    [InlineData(1, 0u)]
    [InlineData(2, 1u)]
    [InlineData(3, 2u)]
    [InlineData(4, 2u)]
    [InlineData(16, 4u)]
    public void ExtendedTopologyPutsEveryVcpuInOnePackage(int cpus, uint coreShift)
    {
        var m = new MachineT(new MachineConfig { Platform = MachinePlatform.Pc, MemoryBytes = 64UL << 20, CpuCount = cpus });
        Assert.True(m.Cpus[0].CpuidLeaf(0, 0).a >= 0xb, "the maximum basic leaf covers 0xb");
        foreach (var cpu in m.Cpus)
        {
            uint id = (uint)cpu.Id;
            // Level 0, SMT (type 1): one logical processor, no x2APIC ID bits below the core level.
            Assert.Equal((0u, 1u, (1u << 8) | 0, id), cpu.CpuidLeaf(0xb, 0));
            // Level 1, core (type 2): every vCPU; shifting the x2APIC ID right by EAX[4:0] gives the package: 0 for all.
            var (a, b, c, d) = cpu.CpuidLeaf(0xb, 1);
            Assert.Equal((coreShift, (uint)cpus, (2u << 8) | 1, id), (a, b, c, d));
            Assert.Equal(0u, id >> (int)a);
            Assert.True(1 << (int)a >= cpus && (a == 0 || 1 << (int)(a - 1) < cpus), "the narrowest width that holds every core");
            // Level 2 and up: invalid (type 0), ECX[7:0] the level number, EDX still the x2APIC ID.
            Assert.Equal((0u, 0u, 2u, id), cpu.CpuidLeaf(0xb, 2));
            Assert.Equal((0u, 0u, 7u, id), cpu.CpuidLeaf(0xb, 7));
            // The same ID as leaf 1's initial APIC ID.
            Assert.Equal(id, cpu.CpuidLeaf(1, 0).b >> 24);
        }
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
        foreach (uint leaf in (uint[])[4, 5, 6, 0xa, 0xd])
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
