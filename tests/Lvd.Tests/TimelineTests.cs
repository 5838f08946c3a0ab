using System.Text.Json;
using System.Text.RegularExpressions;
using Lvd.Tests.Support;

namespace Lvd.Tests;

/// <summary>
/// `--timeline FILE` (docs/DEBUGGING.md, Timelines): a Chrome/Perfetto trace-event file of a
/// known run, its events counted against the run's own statistics, its filters, and a run that
/// records it ending with the same modeled cycles as one that does not.
/// </summary>
public sealed class TimelineTests
{
    private static JsonElement Load(string path)
    {
        var root = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        var events = root.GetProperty("traceEvents");
        Assert.Equal(JsonValueKind.Array, events.ValueKind);
        // The trace-event format: every event has a phase, a name, pid and tid; timed ones a timestamp.
        foreach (var e in events.EnumerateArray())
        {
            string ph = e.GetProperty("ph").GetString()!;
            Assert.Contains(ph, new[] { "M", "X", "i" });
            Assert.False(string.IsNullOrEmpty(e.GetProperty("name").GetString()));
            e.GetProperty("pid").GetInt32();
            e.GetProperty("tid").GetInt32();
            if (ph == "M") continue;
            Assert.True(e.GetProperty("ts").GetDouble() >= 0);
            if (ph == "X") Assert.True(e.GetProperty("dur").GetDouble() >= 0);
            e.GetProperty("args").GetProperty("cycle").GetInt64();
        }
        return root;
    }

    private static IEnumerable<JsonElement> Timed(JsonElement root) =>
        root.GetProperty("traceEvents").EnumerateArray().Where(e => e.GetProperty("ph").GetString() != "M");

    private static string Cat(JsonElement e) => e.GetProperty("cat").GetString()!;

    [Fact]
    public void ANullnetRunHasItsCrossingsExitsAndInterruptsInModeledTime()
    {
        string dir = Guest.TempDir("timeline");
        string trace = Path.Combine(dir, "nullnet.json"), stats = Path.Combine(dir, "nullnet-stats.json"), plainStats = Path.Combine(dir,
            "plain-stats.json");
        string[] boot = ["boot", "--cpus", "4", "--isolate", "nullnet", "--workload", "nullnet", "--duration", "1000000"];
        var plain = CliTests.Lvd([.. boot, "--stats-json", plainStats]);
        Assert.True(plain.Status == 0, plain.Stderr);
        var run = CliTests.Lvd([.. boot, "--stats-json", stats, "--timeline", trace]);
        Assert.True(run.Status == 0, run.Stderr);
        Assert.Equal(plain.Stdout, run.Stdout);
        var s = JsonDocument.Parse(File.ReadAllText(stats)).RootElement;
        var p = JsonDocument.Parse(File.ReadAllText(plainStats)).RootElement;
        Assert.Equal(p.GetProperty("cycles").GetInt64(), s.GetProperty("cycles").GetInt64());
        Assert.Equal(p.GetProperty("instructions").GetInt64(), s.GetProperty("instructions").GetInt64());

        var root = Load(trace);
        var names = root.GetProperty("traceEvents").EnumerateArray().Where(e => e.GetProperty("name").GetString() == "thread_name")
            .Select(e => e.GetProperty("args").GetProperty("name").GetString()).ToList();
        Assert.Equal(["vCPU 0", "vCPU 1", "vCPU 2", "vCPU 3"], names);
        var events = Timed(root).ToList();
        // Every stay in the domain: one per call and one per upcall's return into it (lvd's own count).
        var m = Regex.Match(run.Stdout + run.Stderr, @"domain nullnet: (\d+) calls, (\d+) upcalls");
        Assert.True(m.Success, run.Stdout);
        int stays = events.Count(e => Cat(e) == "calls" && e.GetProperty("name").GetString() == "in nullnet");
        Assert.Equal(int.Parse(m.Groups[1].Value) + int.Parse(m.Groups[2].Value), stays);
        Assert.Equal(s.GetProperty("vmfuncs").GetInt64(), 2L * stays);
        // Every VM exit of the run, with its SDM reason and qualification.
        var exits = events.Where(e => Cat(e) == "exits").ToList();
        Assert.Equal(s.GetProperty("vm_exits").GetInt64(), exits.Count);
        Assert.Contains(exits, e => e.GetProperty("args").GetProperty("reason_name").GetString() == "IoInstruction"
            && e.GetProperty("args").GetProperty("reason").GetInt32() == 30 && e.GetProperty("args").GetProperty("qualification")
                .GetString()!.StartsWith("0x"));
        // Timer interrupts on every vCPU, each saying whether it arrived inside a domain.
        var interrupts = events.Where(e => Cat(e) == "interrupts").ToList();
        for (int c = 0; c < 4; c++) Assert.Contains(interrupts, e => e.GetProperty("tid").GetInt32() == c);
        Assert.All(interrupts, e => Assert.True(e.GetProperty("args").GetProperty("in_domain")
            .ValueKind is JsonValueKind.True or JsonValueKind.False));
        // Timestamps are modeled time: cycle / clock in microseconds.
        double hz = root.GetProperty("otherData").GetProperty("clock_hz").GetDouble();
        var first = exits[0];
        Assert.Equal(first.GetProperty("args").GetProperty("cycle").GetInt64() * 1e6 / hz, first.GetProperty("ts").GetDouble(), 6);
    }

    [Fact]
    public void AKilledDomainShowsItsFaultInsideTheDomainThenTheKill()
    {
        string trace = Path.Combine(Guest.TempDir("timeline"), "scribbler.json");
        var run = CliTests.Lvd("boot", "--cpus", "2", "--domain", Guest.Path("guest", "domains", "examples", "scribbler.c"), "--timeline", trace);
        Assert.True(run.Status == ProgramReport.StatusDriverKilled, run.Stderr);   // a user's driver was killed: 3 (docs/EXEC-ABI.md)
        var events = Timed(Load(trace)).ToList();
        var fault = events.First(e => Cat(e) == "exceptions" && e.GetProperty("args").GetProperty("in_domain").GetBoolean());
        Assert.Equal(14, fault.GetProperty("args").GetProperty("vector").GetInt32());
        Assert.Equal("scribbler", fault.GetProperty("args").GetProperty("domain").GetString());
        var kill = events.First(e => Cat(e) == "kills");
        Assert.Equal("domain kill", kill.GetProperty("name").GetString());
        Assert.True(kill.GetProperty("args").GetProperty("cycle").GetInt64() > fault.GetProperty("args").GetProperty("cycle").GetInt64());
    }

    [Fact]
    public void FiltersKeepOnlyTheWindowTheVcpuAndTheKindsAsked()
    {
        string trace = Path.Combine(Guest.TempDir("timeline"), "filtered.json");
        const long from = 50_000_000, to = 90_000_000;
        var run = CliTests.Lvd("boot", "--cpus", "2", "--timeline", trace, "--timeline-cpus", "1", "--timeline-events", "exits,interrupts",
            "--timeline-from", $"{from}", "--timeline-to", $"{to}", "--hypervisor");
        Assert.True(run.Status == 0, run.Stderr);
        var root = Load(trace);
        double cyclesPerUs = root.GetProperty("otherData").GetProperty("clock_hz").GetDouble() / 1e6;
        var events = Timed(root).ToList();
        Assert.NotEmpty(events);
        Assert.Contains(events, e => Cat(e) == "exits");
        Assert.Contains(events, e => Cat(e) == "interrupts");
        foreach (var e in events)
        {
            Assert.Equal(1, e.GetProperty("tid").GetInt32());
            Assert.Contains(Cat(e), new[] { "exits", "interrupts" });
            long start = e.GetProperty("args").GetProperty("cycle").GetInt64();
            Assert.InRange(start, 0, to);
            long end = start + (e.GetProperty("ph").GetString() == "X" ? (long)Math.Ceiling(e.GetProperty("dur").GetDouble() * cyclesPerUs) : 0);
            Assert.True(end >= from, $"event at {start} ends before the window");
        }
    }

    [Theory]
    [InlineData("--timeline-events", "calls,bogus", "--timeline-events calls,bogus: unknown kind 'bogus'")]
    [InlineData("--timeline-cpus", "x", "--timeline-cpus x: a comma list of vCPU numbers")]
    public void BadTimelineOptionsAreUsageErrors(string option, string value, string message)
    {
        var (status, stdout, stderr) = CliTests.Lvd("boot", "--timeline", Path.Combine(Guest.TempDir("timeline"), "bad.json"), option, value);
        Assert.Equal(2, status);
        Assert.Equal("", stdout);
        Assert.Contains(message, stderr);
        var (status2, _, stderr2) = CliTests.Lvd("boot", "--timeline-from", "5");
        Assert.Equal(2, status2);
        Assert.Contains("--timeline-from needs --timeline", stderr2);
    }
}
