using Lvd.Machine.Devices;
using Lvd.Machine.Devices.Pci;
using Lvd.Machine.Execution;
using Lvd.Machine.Memory;

namespace Lvd.Tests.Devices;

/// <summary>PCI configuration mechanism #1 and BARs against the PCI 3.0 specification, as Linux's pci_check_type1 probes it.</summary>
public sealed class PciTests
{
    private static uint Config(PcBench b, int dev, int fn, int reg, int size = 4)
    {
        b.Out(0xcf8, 0x80000000u | (uint)(dev << 11) | (uint)(fn << 8) | (uint)(reg & 0xfc), 4);
        return (uint)b.In((ushort)(0xcfc + (reg & 3)), size);
    }

    private static void SetConfig(PcBench b, int dev, int reg, uint value, int size = 4)
    {
        b.Out(0xcf8, 0x80000000u | (uint)(dev << 11) | (uint)(reg & 0xfc), 4);
        b.Out((ushort)(0xcfc + (reg & 3)), value, size);
    }

    [Fact]
    public void Type1ProbeAndHostBridge()
    {
        var b = new PcBench();
        // pci_check_type1: a byte to 0xCFB is no address write; the dword reads back.
        b.Out(0xcfb, 0x01);
        b.Out(0xcf8, 0x80000000, 4);
        Assert.Equal(0x80000000UL, b.In(0xcf8, 4));
        Assert.Equal(0x29c08086u, Config(b, 0, 0, 0));
        Assert.Equal(0x0600u, Config(b, 0, 0, 0x0a, 2));    // class: host bridge
        Assert.Equal(0x86u, Config(b, 0, 0, 0, 1));
        Assert.Equal(0x29u, Config(b, 0, 0, 3, 1));
        Assert.Equal(0u, Config(b, 0, 0, 0x0e, 1));         // header type 0, single function
        Assert.Equal(0xffffffffu, Config(b, 3, 0, 0));      // empty slot
        Assert.Equal(0xffffu, Config(b, 0, 1, 0, 2));       // function 1 of a single-function device
        b.Out(0xcf8, 0x00000000, 4);                         // enable bit clear
        Assert.Equal(0xffffffffUL, b.In(0xcfc, 4));
        b.Out(0xcf8, 0x80010000, 4);                         // bus 1: nothing there
        Assert.Equal(0xffffffffUL, b.In(0xcfc, 4));
        // IDs and class are read-only.
        SetConfig(b, 0, 0, 0x12345678);
        Assert.Equal(0x29c08086u, Config(b, 0, 0, 0));
    }

    private sealed class Regs : IMmioDevice, IPortDevice
    {
        public readonly Dictionary<ulong, ulong> Written = new();
        public ulong Read(Cpu? cpu, long now, ulong offset, int size) => 0x1000 + offset;
        public void Write(Cpu? cpu, long now, ulong offset, int size, ulong value) => Written[offset] = value;
        public ulong In(Cpu cpu, ushort port, int size) => 0x77;
        public void Out(Cpu cpu, ushort port, int size, ulong value) => Written[port] = value;
    }

    [Fact]
    public void BarsSizeThemselvesAndDecodeWhenTheCommandRegisterSaysSo()
    {
        var b = new PcBench();
        var regs = new Regs();
        var f = new PciFunction(0x8086, 0x10fb, 0x020000);
        f.AddMemoryBar(0, 0x20000, regs, is64Bit: true);
        f.AddIoBar(2, 32, regs);
        f.SetInterruptPin(1);
        int cap = f.AddCapability(0x05, new byte[12]);       // MSI
        b.Pc.Pci.Add(3, 0, f);
        Assert.Equal(0x10fb8086u, Config(b, 3, 0, 0));
        // Sizing: all ones in, the mask out (memory, 64-bit type), the upper half all writable.
        SetConfig(b, 3, 0x10, 0xffffffff);
        Assert.Equal(0xfffe0004u, Config(b, 3, 0, 0x10));
        SetConfig(b, 3, 0x14, 0xffffffff);
        Assert.Equal(0xffffffffu, Config(b, 3, 0, 0x14));
        SetConfig(b, 3, 0x18, 0xffffffff);
        Assert.Equal(0x0000ffe1u, Config(b, 3, 0, 0x18));
        Assert.Equal(0x0100u, Config(b, 3, 0, 0x3c, 2) & 0xff00); // INTA#
        Assert.Equal(0x10u, Config(b, 3, 0, 0x06, 2) & 0x10);      // capability list
        Assert.Equal((uint)cap, Config(b, 3, 0, 0x34, 1));
        // Program and enable: the BARs decode.
        SetConfig(b, 3, 0x10, 0xe0000000);
        SetConfig(b, 3, 0x14, 0);
        SetConfig(b, 3, 0x18, 0xc000);
        Assert.Equal(0xffffffffu, b.ReadMmio(0xe0000010));  // decoding off
        SetConfig(b, 3, 0x04, PciFunction.CommandMemory | PciFunction.CommandIo, 2);
        Assert.Equal(0x1010u, b.ReadMmio(0xe0000010));
        b.WriteMmio(0xe0000020, 5);
        Assert.Equal(5UL, regs.Written[0x20]);
        Assert.Equal(0x77, b.In(0xc004));
        Assert.Equal(0xe0000000UL, f.BarAddress(0));
        // Moving the BAR moves the decode; clearing the command bit stops it.
        SetConfig(b, 3, 0x10, 0xe0100000);
        Assert.Equal(0xffffffffu, b.ReadMmio(0xe0000010));
        Assert.Equal(0x1010u, b.ReadMmio(0xe0100010));
        SetConfig(b, 3, 0x04, 0, 2);
        Assert.Equal(0xffffffffu, b.ReadMmio(0xe0100010));
        Assert.Equal(0xff, b.In(0xc004));
    }

    [Fact]
    public void AddressRegisterNeedsDwordAccessAndOtherWidthsAreCountedUnclaimed()
    {
        var b = new PcBench();
        b.Out(0xcf8, 0x80000000, 4);
        b.Out(0xcf8, 0x12, 1);
        Assert.Equal(0x80000000UL, b.In(0xcf8, 4));
        Assert.Equal(0xffffUL, b.In(0xcfa, 2));
        var entries = b.Machine.Unclaimed.Entries();
        Assert.Contains(entries, e => e.Address == 0xcf8 && e.Writes == 1);
        Assert.Contains(entries, e => e.Address == 0xcfa && e.Reads == 1);
    }
}
