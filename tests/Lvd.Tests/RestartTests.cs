using System.Text.RegularExpressions;
using Lvd.Experiments.Domains;
using Lvd.Machine.Cost;

namespace Lvd.Tests;

/// <summary>
/// Driver restart (docs/DOMAINS.md, "Restart and fault injection"): the isolated nullnet and nullblk
/// killed under load on 4 vCPUs come back (the same image in a fresh domain, their registration and
/// configuration replayed), clients keep going (packets dropped and counted, I/Os requeued and
/// served), the rate after is the rate before, repeated kills, a kill during the replay, the
/// policies, and nothing leaks (domain memory reused, glue capabilities and shadows, pool pages).
/// The kills are certain ones (ud2 written into the driver's request function by the kernel's
/// injector, guest/kernel/tests/faults.c).
/// </summary>
public sealed partial class RestartTests
{
    private static readonly long Clock = CostModel.Default.ClockHz;
    private static readonly LvdBoot.Images Images = new(Guest.Cc);

    private static FaultCampaign.DriverImage Image(string driver) => FaultCampaign.ReadImage(DomainBuilder.Build(Guest.Cc, driver).Elf);

    private sealed record Run(string Log, List<FaultCampaign.Outcome> Outcomes, List<FaultCampaign.Failure> Failures,
        FaultCampaign.Accounting? Accounting);

    private static Run Boot(string driver, IReadOnlyList<FaultCampaign.Fault> faults, int threads, int depth = 1, string restart = "always")
    {
        var plan = FaultCampaign.Plan(driver, faults, 0, warmupTicks: 2);
        var spec = FaultCampaign.Spec(driver, plan, faults.Count, 4, Clock, threads, depth, restart, extraTicks: 2);
        var r = LvdBoot.Run(spec, maxInstructions: 6_000_000_000, images: Images);
        if (Environment.GetEnvironmentVariable("LVD_RESTART_LOG") is string dir)
            File.WriteAllText(Path.Combine(dir, $"{driver}-{faults.Count}-{restart}-{threads}.log"), r.OutputText);
        Assert.True(r.ExitStatus == 0, $"exit {r.ExitStatus}: {r.Run.CrashReport}\n{Tail(r.OutputText)}");
        var (o, f) = FaultCampaign.Classify(r.OutputText, r.Run.Outcome, r.Run.ExitCode, faults);
        return new Run(r.OutputText, o, f, FaultCampaign.ReadAccounting(r.OutputText));
    }

    private static string Tail(string log) => string.Join('\n', log.Split('\n').TakeLast(40));

    private static List<FaultCampaign.Fault> Kills(string driver, int n)
    {
        var img = Image(driver);
        return Enumerable.Range(0, n).Select(i => FaultCampaign.Kill(driver, img, i)).ToList();
    }

    [GeneratedRegex(@"^lvd: domain (?<d>\w+) restarted: instance (?<i>\d+) \(domain \d+\), outage (?<c>\d+) cycles", RegexOptions.Multiline)]
    private static partial Regex Restarted();

    private static void AssertRecoveredAtItsRate(Run run, int kills, string driver)
    {
        Assert.True(run.Failures.Count == 0, string.Join('\n', run.Failures.Select(f => f.What)) + "\n" + Tail(run.Log));
        Assert.Equal(kills, run.Outcomes.Count);
        foreach (var o in run.Outcomes)
        {
            Assert.True(o.Result == "recovered", $"fault {o.Index}: {o.Result}\n{Tail(run.Log)}");
            Assert.InRange(o.OutageCycles, 1, Clock / 100);   // reported; well below 10 ms
            Assert.True(o.RateBefore > 0);
            // After the restart the workload runs at its previous rate (one tick each, before and after).
            Assert.True(o.RateAfter >= o.RateBefore * 8 / 10, $"fault {o.Index}: {o.RateBefore} per tick before, {o.RateAfter} after");
        }
        var restarts = Restarted().Matches(run.Log);
        Assert.Equal(kills, restarts.Count);
        Assert.Equal(Enumerable.Range(2, kills).Select(i => i.ToString()), restarts.Select(m => m.Groups["i"].Value));
        Assert.Equal(kills, Regex.Matches(run.Log, $@"^lvd: domain {driver} killed on cpu \d+: exception #UD", RegexOptions.Multiline).Count);
        // Nothing leaks: one live instance's memory (the dead ones' came back and were reused), the
        // kernel glue holds what one instance registered, every packet page is back in the pool.
        var a = run.Accounting;
        Assert.NotNull(a);
        Assert.Equal(kills + 1, a.Instance);
        Assert.Equal(kills, a.Restarts);
        Assert.Equal(0, a.DeadKiB);
        Assert.True(a.LiveKiB is > 0 and < 2048, a.Line);
        Assert.Equal(a.PoolPages, a.PoolFree);
        Assert.Equal(driver == "nullnet" ? 1 : 1, a.Capabilities);
        Assert.Equal(1, a.Shadows);
    }

    [Fact]
    public void NullnetKilledUnderLoadOnFourCpusRestartsRepeatedly()
    {
        var run = Boot("nullnet", Kills("nullnet", 3), threads: 4);
        AssertRecoveredAtItsRate(run, 3, "nullnet");
        // The packets in flight at each kill and those sent during the restart were dropped and counted.
        Assert.True(run.Outcomes.All(o => o.Lost >= 1), string.Join(", ", run.Outcomes.Select(o => o.Lost)));
        Assert.Matches(@"faults: workload: \d+ packets, [1-9]\d* dropped", run.Log);
        Assert.Contains("lvd: domain nullnet: ", run.Log);
    }

    [Fact]
    public void NullblkKilledUnderLoadOnFourCpusRestartsAndNoIoFails()
    {
        var run = Boot("nullblk", Kills("nullblk", 2), threads: 4, depth: 16);
        AssertRecoveredAtItsRate(run, 2, "nullblk");
        // In-flight requests waited in their queues and were served by the new instance: none failed.
        Assert.True(run.Outcomes.All(o => o.Lost == 0));
        Assert.Contains("faults: workload: ", run.Log);
        Assert.Contains("0 readers saw an I/O error", run.Log);
        Assert.Matches(@"requests requeued [1-9]\d*, retried \d+, failed 0", run.Log);
    }

    [Theory]
    [InlineData("nullnet")]
    [InlineData("nullblk")]
    public void KillDuringTheReplayIsRetried(string driver)
    {
        var img = Image(driver);
        // Armed first: the next restart's fresh image gets ud2 where its replay goes (ndo_open,
        // null_init), so the replay itself is killed; the restart tries again with a clean image.
        var faults = new List<FaultCampaign.Fault> { FaultCampaign.Kill(driver, img, 0, FaultCampaign.Kind.ReplayPatch), FaultCampaign.Kill(driver,
            img, 1) };
        var run = Boot(driver, faults, threads: 2, depth: 4);
        Assert.True(run.Failures.Count == 0, string.Join('\n', run.Failures.Select(f => f.What)) + "\n" + Tail(run.Log));
        Assert.Equal(["no-effect", "recovered"], run.Outcomes.Select(o => o.Result));
        Assert.Contains($"faults: patched the fresh instance 2 of {driver} before its init", run.Log);
        Assert.Matches($@"lvd: domain {driver}: restart attempt 1 failed: replay failed", run.Log);
        Assert.Matches($@"lvd: domain {driver} restarted: instance 3 ", run.Log);
        Assert.Equal(2, Regex.Matches(run.Log, $@"^lvd: domain {driver} killed on cpu ", RegexOptions.Multiline).Count);
        var a = run.Accounting!;
        Assert.Equal(0, a.DeadKiB);
        Assert.Equal(1, a.Capabilities);
        Assert.Equal(1, a.Shadows);
    }

    [Fact]
    public void PoliciesNeverAndNPerMinute()
    {
        var never = Boot("nullnet", Kills("nullnet", 1), threads: 1, restart: "never");
        Assert.Equal("not-recovered", Assert.Single(never.Outcomes).Result);
        Assert.Contains("lvd: domain nullnet stays dead: restart policy (lvdrestart=)", never.Log);
        Assert.Empty(never.Failures);
        // Its packets are dropped and counted from then on; the kernel goes on to the end of the workload.
        Assert.Matches(@"faults: workload: \d+ packets, [1-9]\d* dropped", never.Log);

        var two = Boot("nullnet", Kills("nullnet", 3), threads: 1, restart: "2-per-minute");
        Assert.Equal(["recovered", "recovered", "not-recovered"], two.Outcomes.Select(o => o.Result));
    }
}
