using System.Collections.Concurrent;
using Lvd.Experiments.Differential;

namespace Lvd.Tests;

/// <summary>
/// csmith programs built natively with gcc and with lvd cc at -O0 and -O2 must print the same
/// bytes. The fixed seeds are in tests/data/csmith-seeds.txt; `./lvd csmith --count N` runs
/// fresh random ones.
/// </summary>
public sealed class CsmithDifferentialTests
{
    [Fact]
    public void FixedSeedsMatchNativeAtO0AndO2()
    {
        var seeds = CsmithSeeds.Parse(File.ReadAllText(Guest.Path("tests", "data", "csmith-seeds.txt")), "csmith-seeds.txt");
        Assert.True(seeds.Count >= 100, "at least 100 seeds are required");
        var campaign = new CsmithCampaign(Guest.Cc, Guest.TempDir("csmith")) { NativeTimeout = TimeSpan.FromSeconds(30) };
        var cases = seeds.SelectMany(s => new[] { (s, "-O0"), (s, "-O2") }).ToList();
        var results = new ConcurrentBag<CsmithCampaign.CaseResult>();
        Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, c => results.Add(campaign.Run(c.Item1,
            c.Item2)));
        var bad = results.Where(r => r.Verdict != CsmithCampaign.Verdict.Pass).OrderBy(r => r.Seed).ToList();
        Assert.True(bad.Count == 0, $"{bad.Count} of {cases.Count} csmith cases failed:\n" +
            string.Join("\n", bad.Select(r => $"  seed {r.Seed} {r.Opt}: {r.Verdict} {r.Detail}")));
        Assert.Equal(cases.Count, results.Count);
        Assert.True(results.Sum(r => r.Instructions) > 100_000_000, "the csmith programs executed suspiciously little");
    }

    /// <summary>The first 25 fixed seeds at -O2 again, as a VT-x guest under an identity EPT.</summary>
    [Fact]
    public void FixedSeedsMatchNativeUnderTheHypervisor()
    {
        var seeds = CsmithSeeds.Parse(File.ReadAllText(Guest.Path("tests", "data", "csmith-seeds.txt")), "csmith-seeds.txt").Take(25).ToList();
        var campaign = new CsmithCampaign(Guest.Cc, Guest.TempDir("csmith-hv"))
        {
            NativeTimeout = TimeSpan.FromSeconds(30),
            Hypervisor = Lvd.Hypervisor.HypervisorMode.LaunchAtStart,
        };
        var results = new ConcurrentBag<CsmithCampaign.CaseResult>();
        Parallel.ForEach(seeds, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, s => results.Add(campaign.Run(s,
            "-O2")));
        var bad = results.Where(r => r.Verdict != CsmithCampaign.Verdict.Pass).OrderBy(r => r.Seed).ToList();
        Assert.True(bad.Count == 0, string.Join("\n", bad.Select(r => $"  seed {r.Seed}: {r.Verdict} {r.Detail}")));
    }
}
