using System.Text.RegularExpressions;
using Lvd.Experiments.Domains;
using Lvd.Machine.Devices.Iommu;
using Lvd.Machine.Devices.Nic;

namespace Lvd.Tests;

/// <summary>
/// The in-kernel ixgbe driver (guest/drivers/ixgbe) under `--workload ixgbe`: user threads' UDP
/// datagrams through the kernel's send path, the driver's transmit ring and the 82599 model to a
/// sink on the cable that checks every frame's IPv4 and UDP checksums; held to 10 Gb/s line rate;
/// under the hypervisor through the IOMMU's kernel DMA domain, with no VM exit per packet;
/// deterministic.
/// </summary>
public sealed partial class IxgbeWorkloadTests
{
    private const long Duration = NicRuns.Duration;

    private static (ProgramResult R, long Packets, long Cycles, long Rate, Ixgbe82599 Nic) Boot(bool hypervisor, int threads = 1)
    {
        var spec = new LvdBootSpec { Cpus = 2, Workload = "ixgbe", Threads = threads, Duration = Duration, Hypervisor = hypervisor };
        var r = NicRuns.Boot(spec);
        var m = NicRuns.Result().Match(r.OutputText);
        Assert.True(m.Success, r.OutputText);
        return (r, long.Parse(m.Groups[3].Value), long.Parse(m.Groups[4].Value), long.Parse(m.Groups[5].Value), r.Machine.Device<Ixgbe82599>()!);
    }

    [Fact]
    public void DatagramsReachTheSinkIntactAtLineRate()
    {
        var (r, packets, cycles, rate, nic) = Boot(hypervisor: false, threads: 2);
        var sink = nic.Peer;
        Assert.Equal(0, sink.BadFrames);
        Assert.Equal(sink.FramesHeard, sink.UdpHeard);
        Assert.Equal(nic.FramesSent, sink.FramesHeard);
        // Every datagram the driver took left on the wire but those still in its ring (255 descriptors).
        Assert.InRange(packets - nic.FramesSent, 0, 255);
        Assert.Equal((long)1514 * sink.FramesHeard, sink.BytesHeard);  // 1,472-byte payloads
        // Wire-bound: a 1,514-byte frame every 3,200 cycles, plus at most a ring's worth taken ahead.
        long wire = nic.WireCycles(1514);
        Assert.InRange(packets, cycles / wire, cycles / wire + 256);
        long hz = r.Machine.Costs.ClockHz;
        Assert.Equal((long)((Int128)packets * hz / cycles), rate);
    }

    [Fact]
    public void UnderTheHypervisorTheNicIsInTheKernelsDmaDomainWithoutExitsPerPacket()
    {
        var (r, packets, _, _, nic) = Boot(hypervisor: true);
        var iommu = r.Machine.Device<VtdIommu>()!;
        Assert.True(iommu.TranslationEnabled);
        Assert.Empty(iommu.Faults);
        Assert.True(iommu.IotlbEntries > 0);             // the NIC's DMA was translated
        Assert.Equal(0, nic.Peer.BadFrames);
        Assert.True(packets > 1000);
        // The exits of the run are the boot's and the workload's process set-up, not per packet.
        Assert.True(r.TotalExits < packets, $"{r.TotalExits} exits for {packets} packets");
        var again = Boot(hypervisor: true);
        Assert.Equal(r.Run.Cycles, again.R.Run.Cycles);
        Assert.Equal(nic.Peer.Digest, again.Nic.Peer.Digest);
    }

    /// <summary>
    /// NAPI on MSI-X (`--interrupts`): the receive queue's cause is vector 0 through IVAR, its table entry
    /// programmed by the kernel's PCI code; the thread sleeps until the message, polls the ring empty and
    /// unmasks the vector (auto-masked when sent). Every datagram arrives at line rate, none missed, each
    /// interrupt is one the NIC sent, and the CPU is idle between them.
    /// </summary>
    [Fact]
    public void ReceiveOnMsixInterruptsTakesEveryDatagram()
    {
        var spec = new LvdBootSpec { Cpus = 1, Workload = "ixgbe-rx", Duration = Duration, RxInterrupts = true };
        var r = NicRuns.Boot(spec);
        long received = NicRuns.AssertReceivedAtLineRate(r);
        var nic = r.Machine.Device<Ixgbe82599>()!;
        var irq = NicRuns.IrqLine().Match(r.OutputText);
        Assert.True(irq.Success, r.OutputText);
        long irqs = long.Parse(irq.Groups[1].Value);
        Assert.InRange(irqs, 1, received + 1);
        Assert.Equal(received, long.Parse(irq.Groups[2].Value));
        Assert.InRange(nic.InterruptsSent, irqs, irqs + 1);   // the last may arrive after the count was read
        var polled = LvdBoot.Run(spec with { RxInterrupts = false }, maxInstructions: 2_000_000_000);
        Assert.True(r.Run.Instructions < polled.Run.Instructions, "the interrupt-driven run should execute fewer instructions than polling");
    }

    [Fact]
    public void ReceiveTakesEveryDatagramAtLineRateIntoTheUdpPath()
    {
        // The generator's 1,514-byte datagrams at 10 Gb/s: the driver's poll and udp_rcv's checks keep up.
        var spec = new LvdBootSpec { Cpus = 1, Workload = "ixgbe-rx", Duration = Duration };
        var r = NicRuns.Boot(spec);
        long received = NicRuns.AssertReceivedAtLineRate(r);
        long wire = r.Machine.Device<Ixgbe82599>()!.WireCycles(1514);
        Assert.InRange(long.Parse(NicRuns.RxLine().Match(r.OutputText).Groups[4].Value), 100, wire);   // busy cycles per datagram
        var res = NicRuns.Result().Match(r.OutputText);
        Assert.True(res.Success);
        Assert.Equal(received, long.Parse(res.Groups[3].Value));
    }
}
