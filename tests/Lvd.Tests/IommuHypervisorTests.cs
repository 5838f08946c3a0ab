using System.Text.RegularExpressions;
using Lvd.Machine.Devices.Iommu;
using Lvd.Machine.Devices.Nic;

namespace Lvd.Tests;

/// <summary>
/// The IOMMU under the hypervisor (docs/IOMMU.md): guest code on a machine with the 82599 and an
/// echo peer makes the IOMMU hypercalls, sends and receives through the kernel's DMA domain and
/// through a domain of its own, and attacks kernel memory with a receive descriptor: blocked,
/// reported, the device quarantined, the memory unchanged (guest/tests/hv/iommu.c).
/// </summary>
public sealed class IommuHypervisorTests
{
    [Fact]
    public void IommuHypercallsIsolateTheNicsDma()
    {
        var echo = new EchoPeer();
        var options = new RunOptions { Devices = [new NicSpec { Peer = echo }, new IommuSpec()] }.With(HypervisorMode.OnRequest);
        var r = Guest.Run(Guest.Build("hv-iommu.elf", ["guest/tests/hv/iommu.c"], "-O1"), options: options);
        var fails = r.OutputText.Split('\n').Where(l => l.StartsWith("FAIL")).ToList();
        Assert.True(fails.Count == 0, string.Join("\n", fails) + r.Run.CrashReport + r.OutputText);
        Assert.Matches(new Regex(@"iommu: ([4-9]\d) passed, 0 failed"), r.OutputText);
        Assert.Equal(0, r.ExitStatus);
        var hv = (Lvd.Hypervisor.Hypervisor)r.Machine.Firmware!;
        Assert.Equal(2, hv.IommuFaults);                       // the attack, then the quarantined device's first DMA
        var iommu = r.Machine.Device<VtdIommu>()!;
        Assert.True(iommu.TranslationEnabled);
        Assert.Equal(VtdFaultReason.WriteDenied, iommu.Faults[0].Reason);
        Assert.Equal(VtdFaultReason.ContextNotPresent, iommu.Faults[1].Reason);
        Assert.Equal(0, echo.BadFrames);                       // every datagram the driver sent had right checksums
        Assert.Equal(4, echo.Echoed);
        // Deterministic: the same run again, cycle for cycle and bit for bit on the wire.
        var echo2 = new EchoPeer();
        var again = Guest.Run(Guest.Build("hv-iommu.elf", ["guest/tests/hv/iommu.c"], "-O1"),
            options: options with { Devices = [new NicSpec { Peer = echo2 }, new IommuSpec()] });
        Assert.Equal(r.Run.Cycles, again.Run.Cycles);
        Assert.Equal(r.Run.Instructions, again.Run.Instructions);
        Assert.Equal(echo.Digest, echo2.Digest);
    }
}
