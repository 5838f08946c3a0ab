using Lvd.Machine.Devices;
using Lvd.Machine.Devices.Iommu;
using Lvd.Machine.Devices.Nic;
using Lvd.Machine.Devices.Pci;

namespace Lvd.Tests.Devices;

/// <summary>
/// A Lvd-platform machine with an 82599 (and optionally an IOMMU) that a test drives as a driver
/// would: MMIO through the vCPU at a chosen modeled time, descriptor rings in RAM, timed events
/// fired in order (<see cref="At"/>).
/// </summary>
public sealed class NicBench : DeviceBench
{
    public const ulong TxRing = 0x100000, RxRing = 0x110000, TxBuffers = 0x200000, RxBuffers = 0x400000;
    public Ixgbe82599 Nic { get; }
    public VtdIommu? Iommu { get; }
    public ulong Bar0 => NicSpec.DefaultBar0;
    public ulong Bar4 => NicSpec.DefaultBar4;

    public NicBench(NetworkPeer? peer = null, bool iommu = false, int queues = Ixgbe82599.MaxQueues)
        : base(new MachineConfig { MemoryBytes = 64UL << 20, Devices = Devices(peer, iommu, queues) })
    {
        Nic = Machine.Device<Ixgbe82599>()!;
        Iommu = Machine.Device<VtdIommu>();
    }

    private static List<DeviceSpec> Devices(NetworkPeer? peer, bool iommu, int queues)
    {
        var devices = new List<DeviceSpec> { new NicSpec { Peer = peer, Queues = queues } };
        if (iommu) devices.Add(new IommuSpec());
        return devices;
    }

    public long Now => Cpu.Cycles;

    public uint R(int reg) => ReadMmio(Bar0 + (ulong)reg);
    public void W(int reg, uint value) => WriteMmio(Bar0 + (ulong)reg, value);

    public void BusMaster() => Nic.Function.Write(0x04, 2, PciFunction.CommandMemory | PciFunction.CommandBusMaster);

    /// <summary>Transmit queue <paramref name="q"/>: a ring of <paramref name="count"/> descriptors at <paramref name="ring"/>, enabled.</summary>
    public void SetUpTx(int q, ulong ring, uint count)
    {
        BusMaster();
        int b = q * Ixgbe82599.TxQueueStride;
        W(Ixgbe82599.Tdbal0 + b, (uint)ring);
        W(Ixgbe82599.Tdbah0 + b, (uint)(ring >> 32));
        W(Ixgbe82599.Tdlen0 + b, count * 16);
        W(Ixgbe82599.Tdh0 + b, 0);
        W(Ixgbe82599.Tdt0 + b, 0);
        W(Ixgbe82599.Txdctl0 + b, Ixgbe82599.QueueEnable);
        W(Ixgbe82599.Dmatxctl, Ixgbe82599.TxEnable);
    }

    /// <summary>
    /// Receive queue <paramref name="q"/>: <paramref name="count"/> descriptors, each with a 2 KiB buffer, all but one given to the NIC.
    /// </summary>
    public void SetUpRx(int q, ulong ring, uint count, ulong buffers)
    {
        BusMaster();
        int b = q * Ixgbe82599.RxQueueStride;
        for (uint i = 0; i < count; i++) PostRx(ring, i, buffers + i * 2048);
        W(Ixgbe82599.Rdbal0 + b, (uint)ring);
        W(Ixgbe82599.Rdbah0 + b, (uint)(ring >> 32));
        W(Ixgbe82599.Rdlen0 + b, count * 16);
        W(Ixgbe82599.Rdh0 + b, 0);
        W(Ixgbe82599.Rxdctl0 + b, Ixgbe82599.QueueEnable);
        W(Ixgbe82599.Rdt0 + b, count - 1);
        W(Ixgbe82599.Rxctrl, Ixgbe82599.RxEnable);
    }

    public void PostRx(ulong ring, uint index, ulong buffer)
    {
        Machine.Memory.Write64(ring + index * 16, buffer);
        Machine.Memory.Write64(ring + index * 16 + 8, 0);
    }

    /// <summary>Writes a legacy transmit descriptor.</summary>
    public void TxDescriptor(ulong ring, uint index, ulong buffer, int length, byte cmd, byte cso = 0, byte css = 0)
    {
        Machine.Memory.Write64(ring + index * 16, buffer);
        Machine.Memory.Write64(ring + index * 16 + 8, (ulong)(ushort)length | (ulong)cso << 16 | (ulong)cmd << 24 | (ulong)css << 40);
    }

    /// <summary>A UDP frame of <paramref name="bytes"/> into RAM at <paramref name="at"/>, numbered <paramref name="seq"/>; its length.</summary>
    public int PutFrame(ulong at, int bytes, long seq, ushort srcPort = 7000)
    {
        var f = new byte[Frames.MaxFrame];
        var payload = new byte[Math.Max(0, bytes - Frames.Headers)];
        BitConverter.TryWriteBytes(payload, seq);
        for (int i = 8; i < payload.Length; i++) payload[i] = (byte)(seq * 7 + i);
        int n = Frames.BuildUdp(f, NetworkPeer.DefaultMac, Ixgbe82599.DefaultMac, NetworkPeer.MachineIp, NetworkPeer.DefaultIp, srcPort, 9,
            bytes, payload);
        Machine.Memory.WriteBytes(at, f.AsSpan(0, n));
        return n;
    }

    /// <summary>MSI-X: vector <paramref name="v"/> to APIC 0 with <paramref name="vector"/>, unmasked; MSI-X enabled in config space.</summary>
    public void Msix(int v, int vector)
    {
        ulong e = Bar4 + (ulong)v * 16;
        Machine.Memory.Write(e, 4, 0xfee00000, Cpu);
        Machine.Memory.Write(e + 4, 4, 0, Cpu);
        Machine.Memory.Write(e + 8, 4, (ulong)vector, Cpu);
        Machine.Memory.Write(e + 12, 4, 0, Cpu);
        int cap = MsixCapability();
        Nic.Function.Write(cap + 2, 2, Nic.Function.Read(cap + 2, 2) | 0x8000);
        W(Ixgbe82599.Gpie, Ixgbe82599.GpieMsix);
    }

    public int MsixCapability()
    {
        int p = (int)Nic.Function.Read(0x34, 1);
        while (p != 0 && Nic.Function.Read(p, 1) != 0x11) p = (int)Nic.Function.Read(p + 1, 1);
        return p;
    }

    /// <summary>Maps queue <paramref name="q"/>'s RX (and TX) cause to MSI-X vector <paramref name="v"/> (IVAR).</summary>
    public void Ivar(int q, int v, bool rx = true)
    {
        int reg = Ixgbe82599.Ivar0 + q / 2 * 4;
        int shift = 16 * (q & 1) + (rx ? 0 : 8);
        W(reg, (R(reg) & ~(0xffu << shift)) | (uint)(0x80 | v) << shift);
    }

    /// <summary>Accepts every vector pending at APIC 0 (IRR to ISR, EOI); returns how many.</summary>
    public int DrainApic()
    {
        int n = 0;
        var apic = Machine.Apics[0];
        while (true)
        {
            int v = apic.PendingVector();
            if (v < 0) return n;
            apic.Accept(v);
            apic.Write(0x80b, 0);
            n++;
        }
    }
}
