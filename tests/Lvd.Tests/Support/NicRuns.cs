using System.Text.RegularExpressions;
using Lvd.Experiments.Domains;

namespace Lvd.Tests;

/// <summary>
/// What the NIC workloads' tests share (IxgbeWorkloadTests, IsolatedIxgbeTests): a boot that must end
/// well, and the kernel's result and receive lines (guest/kernel/tests/workload.c).
/// </summary>
internal static partial class NicRuns
{
    public const long Duration = 5_000_000;

    /// <summary>Groups: 1 the workload's suffix (-rx, -rr), 2 threads, 3 packets, 4 cycles, 5 per second, 6 cycles per packet.</summary>
    [GeneratedRegex(@"^result: workload=ixgbe(-r[xr])? threads=(\d+) packets=(\d+) cycles=(\d+) pkts_per_sec=(\d+) cycles_per_packet=(\d+)$",
        RegexOptions.Multiline)]
    public static partial Regex Result();

    /// <summary>Groups: 1 datagrams, 2 bad, 3 missed by the NIC, 4 busy cycles per datagram.</summary>
    [GeneratedRegex(@"^ixgbe: received (\d+) datagrams, (\d+) bad, (\d+) missed by the NIC, (\d+) busy cycles per datagram$",
        RegexOptions.Multiline)]
    public static partial Regex RxLine();

    /// <summary>Groups: 1 interrupts, 2 datagrams.</summary>
    [GeneratedRegex(@"^ixgbe: (\d+) MSI-X interrupts for (\d+) datagrams$", RegexOptions.Multiline)]
    public static partial Regex IrqLine();

    /// <summary>
    /// A receive run of <see cref="Duration"/> took the generator's 1,514-byte datagrams at line rate: none bad,
    /// none missed for want of a descriptor; the datagrams received.
    /// </summary>
    public static long AssertReceivedAtLineRate(ProgramResult r)
    {
        var m = RxLine().Match(r.OutputText);
        Assert.True(m.Success, r.OutputText);
        long received = long.Parse(m.Groups[1].Value);
        Assert.Equal("0", m.Groups[2].Value);   // every checksum right
        Assert.Equal("0", m.Groups[3].Value);   // no frame missed for want of a descriptor
        long wire = r.Machine.Device<Lvd.Machine.Devices.Nic.Ixgbe82599>()!.WireCycles(1514);
        Assert.InRange(received, Duration / wire - 2, Duration / wire + 2);
        return received;
    }

    public static ProgramResult Boot(LvdBootSpec spec)
    {
        var r = LvdBoot.Run(spec, maxInstructions: 2_000_000_000);
        Assert.True(r.ExitStatus == 0, $"exit {r.ExitStatus}: {r.Run.CrashReport}\n{r.OutputText}");
        return r;
    }
}
