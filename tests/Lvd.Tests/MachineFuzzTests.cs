using Lvd.Experiments.Robustness;

namespace Lvd.Tests;

/// <summary>
/// The robustness campaign in CI (docs/EXEC-ABI.md, "Robustness campaign"): a fixed seed, 500
/// runs of random code, system-instruction snippets, damaged ELF files and odd `lvd exec` command
/// lines, plain and under the hypervisor; each must end within its bound with a documented
/// status and report. Long run: `./lvd fuzz-machine --count 100000 --seed 1`.
/// </summary>
public sealed class MachineFuzzTests
{
    public const long CiSeed = 20261203;

    [Fact]
    public void FixedSeedCampaignEndsEveryRunWithADocumentedStatus()
    {
        var o = new MachineFuzz.Options
        {
            Count = 500, Seed = CiSeed, OutDir = Guest.TempDir("fuzz-machine"), MaxInstructions = 300_000,
            CliDll = Path.Combine(AppContext.BaseDirectory, "lvd.dll"),
        };
        var rep = MachineFuzz.Run(o);
        Assert.True(rep.Passed, rep.Summary + "\n" + string.Join("\n", rep.Failures.Select(f => $"  run {f.Index} ({f.Kind}): {f.Failure}")));
        Assert.Equal(500, rep.Results.Count);
        // The campaign reaches every kind and every way a run can end, plain and under the hypervisor.
        foreach (var k in Enum.GetValues<MachineFuzz.Kind>()) Assert.Contains(rep.Results, r => r.Kind == k);
        foreach (int s in new[] { 2, 124, 125, 126 }) Assert.Contains(rep.Results, r => r.Status == s && r.Kind != MachineFuzz.Kind.CommandLine);
        Assert.Contains(rep.Results, r => r.Hypervisor && r.Status == 125);
        Assert.Contains(rep.Results, r => !r.Hypervisor && r.Status == 125);
    }

    [Fact]
    public void TheSameSeedMakesTheSameCases()
    {
        var a = MachineFuzz.SystemSnippets(new MachineFuzz.Rng(42));
        var b = MachineFuzz.SystemSnippets(new MachineFuzz.Rng(42));
        var c = MachineFuzz.SystemSnippets(new MachineFuzz.Rng(43));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }
}
