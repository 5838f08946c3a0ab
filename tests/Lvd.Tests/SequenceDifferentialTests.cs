using Lvd.Experiments.Differential;

namespace Lvd.Tests;

/// <summary>
/// Random instruction chains (guest/tests/seq) on the host CPU and on the machine, plain and
/// under the hypervisor: every chain's GPRs, defined flags and data buffer must match. CI runs
/// 2,000 chains of a fixed seed each way; `./lvd seqdiff --count N --seed S` runs any number.
/// </summary>
public sealed class SequenceDifferentialTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FixedSeedChainsMatchTheHostCpu(bool hypervisor)
    {
        var rep = new SequenceCampaign(Guest.Cc, Guest.TempDir(hypervisor ? "seqdiff-hv" : "seqdiff")).Run(2000, 20261203, hypervisor);
        Assert.True(rep.Passed, rep.Summary + "\n" + string.Join("\n", rep.Mismatches.Take(20)));
        Assert.True(rep.Instructions > 2000 * 10, $"only {rep.Instructions} instructions ran");
    }
}
