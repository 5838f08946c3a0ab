using Lvd.Machine.Devices;

namespace Lvd.Tests.Devices;

/// <summary>
/// The local APIC's xAPIC mode and its IA32_APIC_BASE state machine (SDM Vol. 3A 11.4, 11.6,
/// 11.12.5), the way Linux 6.1 uses them on a PC without interrupt remapping: it turns the
/// x2APIC the firmware enabled off (x2APIC, then disabled, then xAPIC) and drives the APIC
/// through its MMIO window at 0xFEE00000 with flat logical destinations.
/// </summary>
public sealed class XApicTests
{
    private const ulong Window = LocalApic.DefaultBase;
    private const uint ApicBase = LocalApic.MsrApicBase;

    /// <summary>What Linux's __x2apic_disable does: EN and EXTD off, then EN on.</summary>
    private static void SwitchToXApic(PcBench b, int cpu = 0)
    {
        var c = b.Machine.Cpus[cpu];
        ulong v = c.ReadMsr(ApicBase);
        c.WriteMsr(ApicBase, v & ~(LocalApic.BaseEnable | LocalApic.BaseExtd));
        c.WriteMsr(ApicBase, (v & ~LocalApic.BaseExtd) | LocalApic.BaseEnable);
    }

    private static uint Read(PcBench b, int cpu, ulong offset) => (uint)b.Machine.Memory.Read(Window + offset, 4, b.Machine.Cpus[cpu]);

    private static void Write(PcBench b, int cpu, ulong offset, uint value) =>
        b.Machine.Memory.Write(Window + offset, 4, value, b.Machine.Cpus[cpu]);

    private static int Gp(Action a) => Assert.Throws<GuestFault>(a).Vector;

    /// <summary>The vector vCPU <paramref name="cpu"/> takes now (or -1), with its EOI written through the window.</summary>
    private static int Take(PcBench b, int cpu)
    {
        int v = b.TakeInterrupt(cpu);
        if (v >= 0) Write(b, cpu, 0xb0, 0);
        return v;
    }

    [Fact]
    public void ApicBaseFollowsTheSdmStateMachine()
    {
        var b = new PcBench();
        var c = b.Cpu;
        Assert.Equal(0xfee00000UL | LocalApic.BaseEnable | LocalApic.BaseExtd | LocalApic.BaseBsp, c.ReadMsr(ApicBase));
        Assert.Equal(ApicMode.X2Apic, b.Machine.Apics[0].Mode);
        // x2APIC -> xAPIC directly, EN=0 with EXTD=1, and reserved bits are #GP; nothing changes.
        Assert.Equal(Vectors.GP, Gp(() => c.WriteMsr(ApicBase, 0xfee00000UL | LocalApic.BaseEnable)));
        Assert.Equal(Vectors.GP, Gp(() => c.WriteMsr(ApicBase, 0xfee00000UL | LocalApic.BaseExtd)));
        Assert.Equal(Vectors.GP, Gp(() => c.WriteMsr(ApicBase, 0xfee00000UL | LocalApic.BaseEnable | LocalApic.BaseExtd | 0x200)));
        Assert.Equal(Vectors.GP, Gp(() => c.WriteMsr(ApicBase, (1UL << 46) | LocalApic.BaseEnable | LocalApic.BaseExtd)));
        Assert.Equal(ApicMode.X2Apic, b.Machine.Apics[0].Mode);
        // x2APIC -> disabled -> xAPIC is the way down; disabled -> x2APIC is not.
        c.WriteMsr(ApicBase, 0xfee00000UL);
        Assert.Equal(ApicMode.Disabled, b.Machine.Apics[0].Mode);
        Assert.Equal(0xfee00000UL | LocalApic.BaseBsp, c.ReadMsr(ApicBase)); // the BSP flag stays: read-only
        Assert.Equal(Vectors.GP, Gp(() => c.WriteMsr(ApicBase, 0xfee00000UL | LocalApic.BaseEnable | LocalApic.BaseExtd)));
        c.WriteMsr(ApicBase, 0xfee00000UL | LocalApic.BaseEnable);
        Assert.Equal(ApicMode.XApic, b.Machine.Apics[0].Mode);
        // xAPIC -> x2APIC is allowed again.
        c.WriteMsr(ApicBase, 0xfee00000UL | LocalApic.BaseEnable | LocalApic.BaseExtd);
        Assert.Equal(ApicMode.X2Apic, b.Machine.Apics[0].Mode);
        // APs are not the BSP.
        var b2 = new PcBench(cpus: 2);
        Assert.Equal(0UL, b2.Machine.Cpus[1].ReadMsr(ApicBase) & LocalApic.BaseBsp);
    }

    [Fact]
    public void X2ApicMsrsFaultOutsideX2ApicModeAndTheWindowDecodesOnlyInXApicMode()
    {
        var b = new PcBench();
        // In x2APIC mode the MMIO window is not decoded: all ones, counted as unclaimed.
        Assert.Equal(0xffffffffu, Read(b, 0, 0x20));
        Assert.Contains(b.Machine.Unclaimed.Entries(), e => e.Address == Window + 0x20 && e.Reads == 1);
        SwitchToXApic(b);
        Assert.Equal(Vectors.GP, Gp(() => b.Cpu.ReadMsr(0x802)));
        Assert.Equal(Vectors.GP, Gp(() => b.Cpu.WriteMsr(0x80b, 0)));
        Assert.Equal(0u, Read(b, 0, 0x20));                  // ID 0 in bits 31:24
        Assert.Equal(0x00050014u, Read(b, 0, 0x30));         // version
        // Disabled: neither interface; the TSC-deadline MSR is #GP too.
        b.Cpu.WriteMsr(ApicBase, 0xfee00000UL);
        Assert.Equal(Vectors.GP, Gp(() => b.Cpu.ReadMsr(0x802)));
        Assert.Equal(Vectors.GP, Gp(() => b.Cpu.ReadMsr(LocalApic.MsrTscDeadline)));
        Assert.Equal(0xffffffffu, Read(b, 0, 0x30));
        // A DMA access (no vCPU) reaches no local APIC.
        SwitchToXApic(b);
        Assert.Equal(0xffffffffUL, b.Machine.Memory.Read(Window + 0x30, 4));
    }

    [Fact]
    public void RegistersReadBackInTheXApicLayout()
    {
        var b = new PcBench(cpus: 3);
        SwitchToXApic(b, 2);
        Assert.Equal(2u << 24, Read(b, 2, 0x20));
        // Leaving x2APIC mode reset everything but the ID: SVR back to 0xFF, LVTs masked, DFR all ones.
        Assert.Equal(0xffu, Read(b, 2, 0xf0));
        Assert.Equal(0x10000u, Read(b, 2, 0x320));
        Assert.Equal(0xffffffffu, Read(b, 2, 0xe0));
        Write(b, 2, 0xf0, 0x1ff);
        Write(b, 2, 0x80, 0x30);
        Write(b, 2, 0xd0, 0x04abcdef);                       // LDR: only bits 31:24 exist
        Write(b, 2, 0xe0, 0x0);                              // DFR: cluster model, bits 27:0 read as ones
        Write(b, 2, 0x20, 0x05000000);                       // the ID is read-only here
        Assert.Equal(0x1ffu, Read(b, 2, 0xf0));
        Assert.Equal(0x30u, Read(b, 2, 0x80));
        Assert.Equal(0x04000000u, Read(b, 2, 0xd0));
        Assert.Equal(0x0fffffffu, Read(b, 2, 0xe0));
        Assert.Equal(2u << 24, Read(b, 2, 0x20));
        // Byte reads see the register's bytes; the rest of a 16-byte slot reads 0.
        Assert.Equal(0x01u, (uint)b.Machine.Memory.Read(Window + 0xf1, 1, b.Machine.Cpus[2]));
        Assert.Equal(0u, Read(b, 2, 0xf4));
        // A reserved register reads 0 and records an illegal register address in ESR (bit 7).
        Assert.Equal(0u, Read(b, 2, 0x40));
        Assert.Equal(1u << 7, Read(b, 2, 0x280) & (1u << 7));
    }

    [Fact]
    public void EoiIcrAndTimerWorkThroughTheWindow()
    {
        var b = new PcBench(cpus: 2);
        SwitchToXApic(b, 0);
        SwitchToXApic(b, 1);
        foreach (int cpu in new[] { 0, 1 }) Write(b, cpu, 0xf0, 0x1ff);
        // A fixed IPI by physical destination: ICR high holds the ID, the ICR low write sends.
        Write(b, 0, 0x310, 1u << 24);
        Write(b, 0, 0x300, 0x41);
        Assert.Equal(0u, Read(b, 0, 0x300) & (1u << 12));    // delivery status: idle
        Assert.Equal(0x41u, Read(b, 0, 0x300));
        Assert.Equal(-1, b.TakeInterrupt(0));
        Assert.Equal(0x41, b.TakeInterrupt(1));
        Assert.Equal(1u << 1, Read(b, 1, 0x100 + 0x20));      // ISR bits 64-95 (at 0x120): vector 0x41
        Write(b, 1, 0xb0, 0x1234);                           // EOI: any value in xAPIC mode
        Assert.Equal(0u, Read(b, 1, 0x100 + 0x20));
        // The broadcast 0xFF reaches both.
        Write(b, 0, 0x310, 0xffu << 24);
        Write(b, 0, 0x300, 0x42);
        Assert.Equal(0x42, Take(b, 0));
        Assert.Equal(0x42, Take(b, 1));
        // One-shot timer: divide by 1, 1000 cycles.
        Write(b, 0, 0x3e0, 0xb);
        Write(b, 0, 0x320, 0x50);
        Write(b, 0, 0x380, 1000);
        b.Advance(999);
        Assert.Equal(-1, b.Machine.Apics[0].PendingVector());
        b.Advance(1);
        Assert.Equal(0x50, b.Machine.Apics[0].PendingVector());
        Assert.Equal(0u, Read(b, 0, 0x390));
    }

    [Fact]
    public void LogicalDestinationsFollowTheFlatAndClusterModels()
    {
        var b = new PcBench(cpus: 3);
        for (int cpu = 0; cpu < 3; cpu++)
        {
            SwitchToXApic(b, cpu);
            Write(b, cpu, 0xf0, 0x1ff);
            Write(b, cpu, 0xd0, (1u << cpu) << 24);          // flat: one bit per CPU, as Linux's flat driver sets it
        }
        // Flat: the destination is a mask of LDR bits (logical mode, ICR bit 11).
        Write(b, 0, 0x310, 0x06u << 24);
        Write(b, 0, 0x300, 0x800 | 0x61);
        Assert.Equal(-1, Take(b, 0));
        Assert.Equal(0x61, Take(b, 1));
        Assert.Equal(0x61, Take(b, 2));
        // The I/O APIC's logical destinations go the same way.
        b.Route(4, 0x800 | 0x62, destination: 0x04);
        b.Pc.SetIsaIrq(4, true, b.Cpu.Cycles);
        Assert.Equal(0x62, Take(b, 2));
        Assert.Equal(-1, Take(b, 1));
        // Cluster: high nibble the cluster, low nibble the members.
        for (int cpu = 0; cpu < 3; cpu++)
        {
            Write(b, cpu, 0xe0, 0x0fffffff);
            Write(b, cpu, 0xd0, (uint)((cpu == 2 ? 0x21 : 0x10 | (1 << cpu)) << 24));
        }
        Write(b, 0, 0x310, 0x13u << 24);                      // cluster 1, members 0 and 1
        Write(b, 0, 0x300, 0x800 | 0x63);
        Assert.Equal(0x63, Take(b, 0));
        Assert.Equal(0x63, Take(b, 1));
        Assert.Equal(-1, Take(b, 2));                 // cluster 2 is not addressed
        // A disabled APIC takes nothing, even a broadcast.
        b.Machine.Cpus[2].WriteMsr(ApicBase, 0xfee00000UL);
        Write(b, 0, 0x310, 0xffu << 24);
        Write(b, 0, 0x300, 0x64);
        Assert.Equal(-1, Take(b, 2));
        Assert.Equal(0x64, Take(b, 1));
    }
}
