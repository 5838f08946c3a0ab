using Lvd.Experiments.Domains;

namespace Lvd.Tests;

/// <summary>
/// `lvd fuzz-domains` (docs/DOMAINS.md, "Random domains"): the CI seed's campaign finds nothing,
/// the generator is reproducible, and the classifier turns a panic, a hang, a machine stop or a
/// missing outcome into a failure naming the domain.
/// </summary>
public sealed class DomainFuzzTests
{
    public const long CiSeed = 20261202;

    [Fact]
    public void CiSeedCampaignFindsNoCorruptionStopOrHang()
    {
        var cc = GuestCompiler.Locate();
        var rep = DomainFuzz.Run(new DomainFuzz.Options { Count = 300, Seed = CiSeed, Cpus = 2, PerBoot = 60 }, cc);
        Assert.True(rep.Passed, rep.Summary + "\n" + string.Join('\n', rep.Failures.Select(f => $"domain {f.Index} {f.Path}: {f.What}")));
        Assert.Equal(300, rep.Outcomes.Count);
        Assert.Equal(5, rep.Boots);
        Assert.Equal(300, rep.Returned + rep.Killed + rep.Refused);
        Assert.True(rep.Killed > 150, rep.Summary);
        // Many kinds of death, each a reason the kernel named.
        Assert.True(rep.Outcomes.Select(o => o.Class).Distinct().Count() >= 6, string.Join(", ", rep.Outcomes.Select(o => o.Class).Distinct()));
        Assert.DoesNotContain(rep.Outcomes, o => o.Kind == "killed" && o.Class.Length == 0);
    }

    [Fact]
    public void SameSeedSameSources()
    {
        var a = Enumerable.Range(0, 40).Select(i => DomainFuzz.Source(7, i).Source).ToList();
        var b = Enumerable.Range(0, 40).Select(i => DomainFuzz.Source(7, i).Source).ToList();
        Assert.Equal(a, b);
        Assert.NotEqual(a, Enumerable.Range(0, 40).Select(i => DomainFuzz.Source(8, i).Source).ToList());
        Assert.Equal(40, a.Distinct().Count());
        Assert.Equal(DomainFuzz.Name(7, 3), DomainFuzz.Name(7, 3));
        Assert.True(DomainFuzz.Name(7, 999_999).Length <= 15);
        var dir = Path.Combine(Path.GetTempPath(), $"lvd-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var g1 = DomainFuzz.Generate(7, 0, 6, Path.Combine(dir, "1"));
            var g2 = DomainFuzz.Generate(7, 0, 6, Path.Combine(dir, "2"));
            for (int i = 0; i < 6; i++)
            {
                Assert.Equal(File.ReadAllText(g1[i].Path), File.ReadAllText(g2[i].Path));
                Assert.Equal(i % 2 == 0, g1[i].RandomBytes);
                Assert.Contains("driver_call", File.ReadAllText(g1[i].Path));
                if (!g1[i].RandomBytes) Assert.InRange(g1[i].Instructions, 10, 60);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    private static readonly DomainFuzz.Generated[] Two =
    [
        new(0, "fzaaaaaaa000000", "/x/fzaaaaaaa000000.c", true, 20),
        new(1, "fzaaaaaaa000001", "/x/fzaaaaaaa000001.c", false, 12),
    ];

    private const string Good =
        "lvd: loading your driver fzaaaaaaa000000\n" +
        "lvd: domain fzaaaaaaa000000 killed on cpu 0: exception #UD (vector 6) at rip 0x1000, err 0, cr2 0\n" +
        "lvd: fzaaaaaaa000000: call failed (-5): the domain was killed\n" +
        "lvd: kernel still running after fzaaaaaaa000000\n" +
        "lvd: loading your driver fzaaaaaaa000001\n" +
        "lvd: fzaaaaaaa000001: driver_call returned 3, w1 = 0\n" +
        "lvd: kernel still running after fzaaaaaaa000001\n";
    private const string End =
        "lvd: after the domains the kernel's user, network and block tests pass again\n" +
        "kernel: all tests passed, 100 pages free\n";

    [Fact]
    public void ClassifierReadsOutcomes()
    {
        var (o, f) = DomainFuzz.Classify(Good + End, RunOutcome.Exited, 0, Two);
        Assert.Empty(f);
        Assert.Equal(["killed", "returned"], o.Select(x => x.Kind));
        Assert.Equal("exception #UD", o[0].Class);
        Assert.Equal("VM exit CR access", DomainFuzz.KillClass("CR access (VM exit 28) at rip 0x1, qualification 0x4 (EPTP index 1)"));
        Assert.Equal("budget", DomainFuzz.KillClass("kept the CPU for over 5 ms in one call (budget, lvdbudget=) at rip 0x1"));
        Assert.Equal("watchdog",
            DomainFuzz.KillClass("watchdog: interrupts off and no progress for a whole preemption-timer period (VM exit 52) at rip 0x1"));
        Assert.Equal("GS base", DomainFuzz.KillClass("changed the GS base (swapgs/wrgsbase)"));
    }

    [Fact]
    public void ClassifierDetectsFailures()
    {
        string firstOnly = Good.Split("lvd: loading your driver fzaaaaaaa000001")[0] + "lvd: loading your driver fzaaaaaaa000001\n";
        // A panic inside domain 1 (e.g. the probe after its call: "CR4 changed by the domain").
        var (_, f) = DomainFuzz.Classify(firstOnly + "panic: cpu 0: lvd: fzaaaaaaa000001: CR4 changed by the domain\n", RunOutcome.Exited, 1, Two);
        var p = Assert.Single(f);
        Assert.StartsWith("kernel corruption in domain 1", p.What);
        Assert.Equal("/x/fzaaaaaaa000001.c", p.Path);
        // A hang inside domain 1: the boot ran out of instructions.
        (_, f) = DomainFuzz.Classify(firstOnly, RunOutcome.InstructionLimit, 0, Two);
        Assert.StartsWith("hang in domain 1", Assert.Single(f).What);
        // The machine stopped (triple fault, hypervisor stop).
        (_, f) = DomainFuzz.Classify(firstOnly, RunOutcome.StoppedByVmxRoot, 0, Two);
        Assert.StartsWith("machine stop in domain 1", Assert.Single(f).What);
        (_, f) = DomainFuzz.Classify(firstOnly, RunOutcome.Crashed, 0, Two);
        Assert.StartsWith("machine stop in domain 1", Assert.Single(f).What);
        // The boot finished but a domain never reported, or the kernel's tests did not pass again.
        (_, f) = DomainFuzz.Classify(firstOnly + End, RunOutcome.Exited, 0, Two);
        Assert.Equal(1, Assert.Single(f).Index);
        (_, f) = DomainFuzz.Classify(Good + "kernel: all tests passed, 1 pages free\n", RunOutcome.Exited, 0, Two);
        Assert.StartsWith("kernel corruption after the domains", Assert.Single(f).What);
        // A panic after every domain reported.
        (_, f) = DomainFuzz.Classify(Good + "panic: cpu 1: lock test: counter 3\n", RunOutcome.Exited, 1, Two);
        Assert.StartsWith("kernel corruption after the domains", Assert.Single(f).What);
        var rep = new DomainFuzz.Report(1, 2, 1, [], f, 0, 0);
        Assert.False(rep.Passed);
        Assert.Contains("1 kernel corruptions", rep.Summary);
    }
}
