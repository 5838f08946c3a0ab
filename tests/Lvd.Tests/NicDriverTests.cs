using System.Text.RegularExpressions;
using Lvd.Machine.Devices.Iommu;
using Lvd.Machine.Devices.Nic;

namespace Lvd.Tests;

/// <summary>
/// Guest code driving the 82599 model as an ixgbe-style poll-mode driver (guest/bench/nicpmd.c:
/// probe on PCI, reset, rings, DD polling): transmit to a sink that checks every datagram's
/// checksums, at line rate; receive from the generator with each datagram's checksums and sequence
/// checked in the guest; the same with the NIC in an IOMMU domain of its own under the hypervisor.
/// </summary>
public sealed class NicDriverTests
{
    private static string Elf() => Guest.Build("nicpmd.elf", ["guest/bench/nicpmd.c"], "-O2");

    private static (ProgramResult R, Ixgbe82599 Nic) Run(NetworkPeer peer, bool iommu, params string[] args)
    {
        var devices = new List<Lvd.Machine.Devices.DeviceSpec> { new NicSpec { Peer = peer } };
        if (iommu) devices.Add(new IommuSpec());
        var options = new RunOptions { Devices = devices, Arguments = iommu ? [.. args, "iommu"] : args };
        if (iommu) options = options.With(HypervisorMode.OnRequest);
        var r = Guest.Run(Elf(), options: options);
        Assert.True(r.ExitStatus == 0, r.OutputText + r.Run.CrashReport);
        return (r, r.Machine.Device<Ixgbe82599>()!);
    }

    [Theory]
    [InlineData(false, 1514, 3200)]
    [InlineData(false, 60, 175)]
    [InlineData(true, 1514, 3200)]
    public void TransmitReachesTheSinkIntactAtLineRate(bool iommu, int bytes, int wireCycles)
    {
        var sink = new SinkPeer();
        var (r, nic) = Run(sink, iommu, "tx", "3000", bytes.ToString());
        var m = Regex.Match(r.OutputText, @"nicpmd: tx packets=3000 bytes=\d+ cycles=(\d+) cycles_per_packet=(\d+) gptc=3000");
        Assert.True(m.Success, r.OutputText);
        Assert.Equal(3000, sink.FramesHeard);
        Assert.Equal(3000, sink.UdpHeard);
        Assert.Equal(0, sink.BadFrames);
        Assert.Equal((long)bytes * 3000, sink.BytesHeard);
        // Wire-bound: the ring stays full, so a frame leaves every wire time.
        Assert.Equal(wireCycles, nic.WireCycles(bytes));
        Assert.InRange(int.Parse(m.Groups[2].Value), wireCycles, wireCycles + 2);
        if (iommu) Assert.Empty(r.Machine.Device<VtdIommu>()!.Faults);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReceiveChecksEveryDatagramFromTheGenerator(bool iommu)
    {
        // 300-byte datagrams at 2 Mpps: the driver keeps up, nothing is lost.
        var gen = new GeneratorPeer { FrameBytes = 300, PacketsPerSecond = 2_000_000 };
        var (r, nic) = Run(gen, iommu, "rx", "2000");
        var m = Regex.Match(r.OutputText, @"nicpmd: rx packets=2000 bad=(\d+) lost=(\d+) cycles=\d+ busy_cycles_per_packet=(\d+) missed=(\d+)");
        Assert.True(m.Success, r.OutputText);
        Assert.Equal("0", m.Groups[1].Value);
        Assert.Equal("0", m.Groups[2].Value);
        Assert.Equal("0", m.Groups[4].Value);
        Assert.True(nic.FramesReceived >= 2000);
        Assert.InRange(int.Parse(m.Groups[3].Value), 100, 1300);    // below the 1,300-cycle gap between frames
    }
}
