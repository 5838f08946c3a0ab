using Lvd.Machine.Devices;

namespace Lvd.Tests.Devices;

/// <summary>The I/O APIC against the 82093AA datasheet, delivering into the x2APICs.</summary>
public sealed class IoApicTests
{
    private const ulong Base = IoApic.DefaultBase;

    private static uint ReadReg(PcBench b, uint index)
    {
        b.WriteMmio(Base, index);
        return b.ReadMmio(Base + 0x10);
    }

    [Fact]
    public void IdVersionAndRedirectionEntriesReadBack()
    {
        var b = new PcBench();
        Assert.Equal(0x00170020u, ReadReg(b, 1)); // version 0x20, 24 entries
        b.WriteMmio(Base, 0);
        b.WriteMmio(Base + 0x10, 0x0f00_0000);
        Assert.Equal(0x0f00_0000u, ReadReg(b, 0));
        Assert.Equal(0x10000u, ReadReg(b, 0x10 + 2 * 5)); // masked after reset
        // Delivery status (12) and Remote IRR (14) are read-only.
        b.Route(5, 0x0001_ffff, destination: 3);
        Assert.Equal(0x0001_afffu, ReadReg(b, 0x10 + 2 * 5));
        Assert.Equal(0x0300_0000u, ReadReg(b, 0x11 + 2 * 5));
        Assert.Equal(0u, ReadReg(b, 0x80) + 1); // no register there: all ones
        Assert.Equal(0x80u, b.ReadMmio(Base));   // IOREGSEL keeps the index
    }

    [Fact]
    public void EdgePinDeliversOnTheRisingEdgeAndLosesEdgesWhileMasked()
    {
        var b = new PcBench(cpus: 2);
        b.Route(3, 0x31, destination: 1);
        var io = b.Pc.IoApic;
        io.SetWire(3, true, 0);
        Assert.Equal(-1, b.TakeInterrupt(0));
        Assert.Equal(0x31, b.TakeInterrupt(1));
        io.SetWire(3, true, 0);                 // no new edge
        Assert.Equal(-1, b.TakeInterrupt(1));
        b.Eoi(1);
        io.SetWire(3, false, 0);
        b.Route(3, 0x1_0031, destination: 1);  // masked
        io.SetWire(3, true, 0);
        b.Route(3, 0x31, destination: 1);
        Assert.Equal(-1, b.TakeInterrupt(1));   // the edge was lost
        // Active low: the falling edge is the request.
        b.Route(3, 0x2031, destination: 1);
        io.SetWire(3, false, 0);
        Assert.Equal(0x31, b.TakeInterrupt(1));
    }

    [Fact]
    public void LevelPinHoldsRemoteIrrUntilTheLocalApicBroadcastsItsEoi()
    {
        var b = new PcBench();
        b.Route(9, 0x8040);                     // level, vector 0x40, APIC 0
        var io = b.Pc.IoApic;
        io.SetWire(9, true, 0);
        Assert.Equal(0x40, b.TakeInterrupt());
        Assert.NotEqual(0UL, io.Entry(9) & (1 << 14));
        b.Eoi();                                 // TMR set: broadcast; the wire is still high: again
        Assert.Equal(0x40, b.TakeInterrupt());
        io.SetWire(9, false, 0);
        b.Eoi();
        Assert.Equal(0UL, io.Entry(9) & (1 << 14));
        Assert.Equal(-1, b.TakeInterrupt());
        // The version-0x20 EOI register clears Remote IRR too.
        io.SetWire(9, true, 0);
        Assert.Equal(0x40, b.TakeInterrupt());
        b.Machine.Apics[0].Write(0x80f, 0x11ff);  // suppress EOI broadcast
        b.Eoi();
        Assert.NotEqual(0UL, io.Entry(9) & (1 << 14));
        io.SetWire(9, false, 0);
        b.WriteMmio(Base + 0x40, 0x40);
        Assert.Equal(0UL, io.Entry(9) & (1 << 14));
        Assert.Equal(-1, b.TakeInterrupt());
    }

    [Fact]
    public void UnmaskingAnAssertedLevelPinDelivers()
    {
        var b = new PcBench();
        b.Route(10, 0x1_8041);
        b.Pc.IoApic.SetWire(10, true, 0);
        Assert.Equal(-1, b.TakeInterrupt());
        b.Route(10, 0x8041);
        Assert.Equal(0x41, b.TakeInterrupt());
    }

    [Fact]
    public void DestinationsPhysicalLogicalBroadcastLowestPriorityAndNmi()
    {
        var b = new PcBench(cpus: 4);
        var io = b.Pc.IoApic;
        void Pulse(int pin) { io.SetWire(pin, true, 0); io.SetWire(pin, false, 0); }
        int[] Taken() => [.. Enumerable.Range(0, 4).Select(c => b.TakeInterrupt(c))];
        void EoiAll() { for (int c = 0; c < 4; c++) b.Eoi(c); }

        b.Route(1, 0x50, destination: 0xff);          // broadcast
        Pulse(1);
        Assert.Equal([0x50, 0x50, 0x50, 0x50], Taken());
        EoiAll();
        b.Route(1, 0x800 | 0x51, destination: 0x0a);  // logical: x2APIC cluster 0, members 1 and 3
        Pulse(1);
        Assert.Equal([-1, 0x51, -1, 0x51], Taken());
        EoiAll();
        b.Route(1, 0x100 | 0x800 | 0x52, destination: 0x0c); // lowest priority among 2 and 3: one of them
        Pulse(1);
        Assert.Equal([-1, -1, 0x52, -1], Taken());
        EoiAll();
        b.Route(1, 0x400, destination: 2);            // NMI: wakes the halted vCPU 2, no vector
        b.Machine.Cpus[2].State = CpuState.Halted;
        Pulse(1);
        Assert.Equal(CpuState.Running, b.Machine.Cpus[2].State);
        Assert.Equal([-1, -1, -1, -1], Taken());
        b.Route(1, 0x55, destination: 9);             // no such APIC
        Pulse(1);
        Assert.Equal(1, io.Undeliverable);
    }
}
