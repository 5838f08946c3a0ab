using System.Text.RegularExpressions;
using Lvd.Experiments.Domains;
using Lvd.Machine.Devices.Iommu;
using Lvd.Machine.Devices.Nic;

namespace Lvd.Tests;

/// <summary>
/// The ixgbe driver isolated in an LVD domain (`--isolate ixgbe`, guest/domains/ixgbe over
/// idl/ixgbe.idl): transmit through the domain to a sink that checks every frame, receive
/// through the domain's NAPI poll into the kernel's UDP path, the NIC in an IOMMU domain of
/// the driver's own; a blocked DMA kills the domain, the kernel takes the NIC back, resets it
/// and the restarted driver serves again; the attacks of `lvd attack` by a rogue driver.
/// </summary>
public sealed partial class IsolatedIxgbeTests
{
    [GeneratedRegex(@"^lvd: domain ixgbe(_attack)?: (\d+) calls, (\d+) upcalls", RegexOptions.Multiline)]
    private static partial Regex DomainLine();

    [Fact]
    public void TransmitCrossesIntoTheDomainAndReachesTheSinkIntact()
    {
        var r = NicRuns.Boot(new LvdBootSpec { Cpus = 2, Workload = "ixgbe", Threads = 2, Duration = NicRuns.Duration, Isolate = ["ixgbe"] });
        var m = NicRuns.Result().Match(r.OutputText);
        Assert.True(m.Success, r.OutputText);
        long packets = long.Parse(m.Groups[3].Value);
        var nic = r.Machine.Device<Ixgbe82599>()!;
        var iommu = r.Machine.Device<VtdIommu>()!;
        Assert.Contains("lvd: ixgbe isolated in domain", r.OutputText);
        Assert.Equal(0, nic.Peer.BadFrames);
        Assert.Equal(nic.FramesSent, nic.Peer.FramesHeard);
        Assert.Equal((long)1514 * nic.Peer.FramesHeard, nic.Peer.BytesHeard);
        Assert.InRange(packets - nic.FramesSent, 0, 255);         // the rest still in the domain's ring
        Assert.True(packets > 500, r.OutputText);
        Assert.Empty(iommu.Faults);                              // all its DMA inside its own memory
        // One crossing per packet (and the open), no upcall per packet.
        var d = DomainLine().Match(r.OutputText);
        Assert.True(d.Success, r.OutputText);
        Assert.InRange(long.Parse(d.Groups[2].Value), packets, packets + 8);
        Assert.True(r.TotalExits < packets, $"{r.TotalExits} exits for {packets} packets");
    }

    /// <summary>Smaller datagrams (`--payload-bytes`): 18-byte payloads leave as 60-byte frames, each intact.</summary>
    [Fact]
    public void SmallDatagramsLeaveThroughTheDomainIntact()
    {
        var r = NicRuns.Boot(new LvdBootSpec
        {
            Cpus = 1, Workload = "ixgbe", TxPayloadBytes = 18, Duration = 2_000_000, Isolate = ["ixgbe"],
        });
        var m = NicRuns.Result().Match(r.OutputText);
        Assert.True(m.Success, r.OutputText);
        var sink = r.Machine.Device<Ixgbe82599>()!.Peer;
        Assert.Equal(0, sink.BadFrames);
        Assert.True(sink.FramesHeard > 100);
        Assert.Equal(sink.FramesHeard, sink.UdpHeard);
        Assert.Equal(60 * sink.FramesHeard, sink.BytesHeard);
    }

    [Fact]
    public void ReceiveIsTheDomainsPollDeliveringIntoTheKernelsUdpPath()
    {
        var spec = new LvdBootSpec { Cpus = 1, Workload = "ixgbe-rx", Duration = NicRuns.Duration, Isolate = ["ixgbe"] };
        var r = NicRuns.Boot(spec);
        long received = NicRuns.AssertReceivedAtLineRate(r);
        var nic = r.Machine.Device<Ixgbe82599>()!;
        var d = DomainLine().Match(r.OutputText);
        Assert.True(d.Success);
        Assert.InRange(long.Parse(d.Groups[3].Value), received, received + 2);   // one netif_rx upcall per frame
        Assert.Empty(r.Machine.Device<VtdIommu>()!.Faults);
        var again = NicRuns.Boot(spec);
        Assert.Equal(r.Run.Cycles, again.Run.Cycles);
        Assert.Equal(nic.Peer.Digest, again.Machine.Device<Ixgbe82599>()!.Peer.Digest);
    }

    /// <summary>
    /// NAPI on MSI-X with the driver isolated (`--interrupts`): the driver maps its queue's cause to a vector of
    /// the NIC and asks for the table entry (pci_msix_vector crosses into the kernel, which programs its own
    /// vector and CPU); the kernel's handler wakes the polling thread, whose polls and unmasking cross into
    /// the domain. Every datagram arrives, none missed, every message the NIC sent was the kernel's vector
    /// (its handler counted each one).
    /// </summary>
    [Fact]
    public void ReceiveOnTheKernelsMsixVectorThroughTheDomain()
    {
        var r = NicRuns.Boot(new LvdBootSpec
        {
            Cpus = 1, Workload = "ixgbe-rx", Duration = NicRuns.Duration, Isolate = ["ixgbe"], RxInterrupts = true,
        });
        long received = NicRuns.AssertReceivedAtLineRate(r);
        var nic = r.Machine.Device<Ixgbe82599>()!;
        var irq = NicRuns.IrqLine().Match(r.OutputText);
        Assert.True(irq.Success, r.OutputText);
        long irqs = long.Parse(irq.Groups[1].Value);
        Assert.InRange(irqs, 1, received + 1);
        Assert.InRange(nic.InterruptsSent, irqs, irqs + 1);
        Assert.Empty(r.Machine.Device<VtdIommu>()!.Faults);
    }

    /// <summary>
    /// netperf UDP_RR (`--workload ixgbe-rr`): a user thread's 64-byte requests to the echo peer, each reply
    /// received by the recv system call polling the driver, in the kernel and isolated: every transaction is a
    /// request the peer heard intact and echoed and a reply delivered to the thread; isolated costs more per
    /// transaction (the poll's and the delivery's crossings).
    /// </summary>
    [Fact]
    public void RequestResponseThroughTheEchoPeer()
    {
        long Run(IReadOnlyList<string> isolate)
        {
            var r = NicRuns.Boot(new LvdBootSpec { Cpus = 1, Workload = "ixgbe-rr", Duration = 2_000_000, Isolate = isolate });
            var m = NicRuns.Result().Match(r.OutputText);
            Assert.True(m.Success, r.OutputText);
            long n = long.Parse(m.Groups[3].Value);
            var echo = Assert.IsType<EchoPeer>(r.Machine.Device<Ixgbe82599>()!.Peer);
            Assert.Equal(0, echo.BadFrames);
            Assert.InRange(echo.Echoed, n, n + 1);        // the last request may still be in flight at the deadline
            Assert.Equal(echo.Echoed, echo.UdpHeard);
            return long.Parse(m.Groups[6].Value);
        }
        long native = Run([]), isolated = Run(["ixgbe"]);
        Assert.True(native > 500 && isolated > native, $"{native} vs {isolated} cycles per transaction");
    }

    /// <summary>
    /// A blocked DMA kills the owning domain: the rogue driver aims a receive descriptor at kernel
    /// memory; the IOMMU blocks the generator's next frame there and reports it, the kernel kills
    /// the domain, takes the NIC back (IOMMU_ATTACH to domain 1, CTRL.RST), restarts the driver, and
    /// the receive workload after it gets every datagram through the new instance.
    /// </summary>
    [Fact]
    public void ABlockedDmaKillsTheDomainAndTheRestartedDriverServes()
    {
        var r = NicRuns.Boot(new LvdBootSpec
        {
            Cpus = 1, Workload = "ixgbe-rx", Duration = NicRuns.Duration, Isolate = ["ixgbe"], IxgbeAttack = "kernel-rx",
        });
        var a = IxgbeAttackResult.Parse(r.OutputText);
        Assert.True(a != null, r.OutputText);
        Assert.True(a.Killed && a.Serving && a.DmaFaults > 0 && a.TakenBack >= 1, a.ToString());
        Assert.Matches(@"lvd: domain ixgbe_attack killed on cpu 0: DMA blocked by the IOMMU \(device 03\.0, IOMMU domain 2, fault reason \d+\)",
            r.OutputText);
        Assert.Contains("lvd: domain ixgbe_attack restarted", r.OutputText);
        var iommu = r.Machine.Device<VtdIommu>()!;
        var f = Assert.Single(iommu.Faults.Select(x => (x.SourceId, x.Write, x.DomainId)).Distinct());
        Assert.Equal(((ushort)(3 << 3), true, (ushort)2), f);
        var m = NicRuns.RxLine().Match(r.OutputText);
        Assert.True(m.Success, r.OutputText);
        Assert.Equal("0", m.Groups[2].Value);
        long wire = r.Machine.Device<Ixgbe82599>()!.WireCycles(1514);
        Assert.InRange(long.Parse(m.Groups[1].Value), NicRuns.Duration / wire - 2, NicRuns.Duration / wire + 2);
    }

    /// <summary>
    /// The restart under the transmit workload: a rogue driver's transmit descriptor at kernel memory is
    /// blocked (a read fault: nothing of the kernel reaches the wire), the domain killed, the NIC taken back
    /// and reset, the driver restarted; then the senders' datagrams leave through the new instance and the
    /// sink hears only them, intact.
    /// </summary>
    [Fact]
    public void AfterABlockedTransmitTheRestartedDriverSendsIntactFrames()
    {
        var r = NicRuns.Boot(new LvdBootSpec
        {
            Cpus = 2, Workload = "ixgbe", Duration = NicRuns.Duration, Isolate = ["ixgbe"], IxgbeAttack = "kernel-tx",
        });
        var a = IxgbeAttackResult.Parse(r.OutputText);
        Assert.True(a != null && a.Killed && a.Serving, r.OutputText);
        var iommu = r.Machine.Device<VtdIommu>()!;
        Assert.All(iommu.Faults, f => Assert.False(f.Write));
        var m = NicRuns.Result().Match(r.OutputText);
        Assert.True(m.Success, r.OutputText);
        long packets = long.Parse(m.Groups[3].Value);
        var nic = r.Machine.Device<Ixgbe82599>()!;
        Assert.Equal(0, nic.Peer.BadFrames);
        Assert.Equal((long)1514 * nic.Peer.FramesHeard, nic.Peer.BytesHeard);   // only the senders' datagrams
        Assert.InRange(packets - nic.Peer.FramesHeard, 0, 255);
        Assert.True(packets > 500, r.OutputText);
    }

    /// <summary>
    /// `lvd attack`'s rows for the isolated ixgbe: each DMA attack is blocked by the IOMMU (a fault with
    /// the NIC's source ID in the driver's IOMMU domain), the domain killed and restarted, the memory
    /// aimed at and the kernel's image unchanged (the kernel panics otherwise: the hypervisor hashes
    /// them); the interrupt storm reaches no CPU (the MSI-X table and config space are not the
    /// domain's); touching the MSI-X table is a page fault in the domain.
    /// </summary>
    [Theory]
    [InlineData("kernel-tx")]
    [InlineData("kernel-ring")]
    [InlineData("domain")]
    [InlineData("hypervisor")]
    [InlineData("iommu-regs")]
    [InlineData("nic-regs")]
    [InlineData("irq-flood")]
    [InlineData("msix-table")]
    public void EachAttackOfTheIsolatedDriverIsContained(string attack)
    {
        var r = NicRuns.Boot(IxgbeAttackResult.Spec(attack));
        var a = IxgbeAttackResult.Parse(r.OutputText);
        Assert.True(a != null, r.OutputText);
        Assert.Equal(attack, a.Name);
        Assert.True(a.Serving, a.ToString());
        var iommu = r.Machine.Device<VtdIommu>()!;
        var nic = r.Machine.Device<Ixgbe82599>()!;
        if (attack == "irq-flood")
        {
            Assert.False(a.Killed);
            Assert.Equal(10000, a.Returned);
            Assert.Equal(0, nic.InterruptsSent);
            Assert.Empty(iommu.Faults);
        }
        else if (attack == "msix-table")
        {
            Assert.True(a.Killed);
            Assert.StartsWith("exception #PF", a.KillReason);
            Assert.Empty(iommu.Faults);
        }
        else
        {
            Assert.True(a.Killed && a.DmaFaults > 0, a.ToString());
            Assert.StartsWith("DMA blocked by the IOMMU (device 03.0, IOMMU domain 2", a.KillReason);
            Assert.NotEmpty(iommu.Faults);
            Assert.All(iommu.Faults, f => Assert.Equal((ushort)(3 << 3), f.SourceId));
            Assert.Equal(attack != "kernel-tx", iommu.Faults[0].Write || attack == "kernel-ring");
        }
        Assert.Equal("0", NicRuns.RxLine().Match(r.OutputText).Groups[2].Value);   // the driver after it: every datagram right
    }
}
