using System.Text.Json;
using Lvd.Experiments.Bench;
using Lvd.Experiments.Domains;

namespace Lvd.Tests;

/// <summary>
/// What `lvd bench` writes, from made-up results (no guest runs): results.json with its header,
/// numbers as numbers and snake_case keys; every plot as PNG and SVG, with integer thread ticks,
/// the paper's series beside ours and legends.
/// </summary>
public sealed class BenchOutputTests
{
    private static Dictionary<string, LvdEvaluation.JobResult> FakeResults(LvdEvaluation.Options o)
    {
        var r = new Dictionary<string, LvdEvaluation.JobResult>();
        int n = 0;
        foreach (var job in LvdEvaluation.Plan(o))
        {
            n++;
            var values = new Dictionary<string, long> { ["vmfuncs"] = 100 + n, ["exits"] = 10 + n };
            if (job.Key == "call") values["call"] = 555;
            if (job.Key == "irq-native") values["kernel-native"] = 557;
            if (job.Key == "irq-lvd") { values["kernel-virtualized"] = 560; values["domain"] = 971; }
            LvdWorkloadResult? w = job.Spec.Workload == null ? null
                : new LvdWorkloadResult("result: fake", 1000 + n, 10_000_000, 1_000_000 - 1000 * n, 2000 + n, 6000, 1900,
                    new Dictionary<string, long> { ["IoInstruction"] = 1800, ["Cpuid"] = 100 }, 3000, 5);
            r[job.Key] = new LvdEvaluation.JobResult(job, w, values, "");
        }
        return r;
    }

    /// <summary>The text elements of an SVG plot (titles, labels, ticks, legend entries).</summary>
    private static List<string> Texts(string svg) =>
        System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(svg),
            "<text[^>]*>([^<]*)</text>").Select(m => m.Groups[1].Value.Trim()).ToList();

    [Fact]
    public void ResultsJsonAndPlots()
    {
        var o = new LvdEvaluation.Options { Cpus = 4, Threads = [1, 2, 4], Duration = 1_000_000 };
        var r = FakeResults(o);
        string dir = Guest.TempDir("bench-output");
        foreach (var f in Directory.GetFiles(dir)) File.Delete(f);
        var header = Lvd.Experiments.Results.Header("bench", o.Costs, Guest.Root, ["bench", "--out", dir]);
        var files = LvdEvaluation.Write(dir, r, o, LvdEvaluation.Tables(r, o), header);

        var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json"))).RootElement;
        CliTests.AssertHeader(doc, "bench");
        var row = doc.GetProperty("figure6_nullnet").GetProperty("rows")[0];
        Assert.Equal(1, row.GetProperty("threads").GetInt32());
        Assert.Equal(JsonValueKind.Number, row.GetProperty("native_packets_per_second").ValueKind);
        Assert.Equal(JsonValueKind.Number, row.GetProperty("one_crossing_percent_of_native").ValueKind);
        Assert.Equal(555, doc.GetProperty("table1_call_reply").GetProperty("round_trip_cycles").GetInt64());
        Assert.Equal(396, doc.GetProperty("table1_call_reply").GetProperty("paper_round_trip_cycles").GetDouble());

        var tx = doc.GetProperty("figure7_ixgbe_tx").GetProperty("rows")[0];
        Assert.Equal(JsonValueKind.Number, tx.GetProperty("isolated_percent_of_native").ValueKind);
        Assert.Equal(95.7, doc.GetProperty("figure7_ixgbe_tx").GetProperty("paper_one_thread_percent_of_native").GetDouble());
        var rx = doc.GetProperty("figure8_ixgbe_rx").GetProperty("rows");
        Assert.Equal(o.FrameSizes.Length, rx.GetArrayLength());
        Assert.Equal(60, rx[0].GetProperty("frame_bytes").GetInt32());
        Assert.Equal(JsonValueKind.Number, doc.GetProperty("table4_crossings_exits").GetProperty("ixgbe_vm_exits").ValueKind);
        foreach (var name in new[] { "figure6-nullnet", "figure6-nullnet-percent", "figure9-nullblk", "figure9-nullblk-percent", "table1-call-reply",
            "table3-interrupts", "table4-crossings-exits", "figure7-ixgbe-tx", "figure8-ixgbe-rx" })
        {
            Assert.Contains(Path.Combine(dir, name + ".png"), files);
            Assert.True(new FileInfo(Path.Combine(dir, name + ".png")).Length > 1000, name);
            Assert.Contains("<svg", File.ReadAllText(Path.Combine(dir, name + ".svg")));
        }
        var fig6 = Texts(Path.Combine(dir, "figure6-nullnet.svg"));
        Assert.Contains("paper native (1 thread)", fig6);
        Assert.Contains("LVD# isolated, 2 crossings/packet", fig6);
        // Ticks only at the measured thread counts, as integers; the rate axis starts at 0.
        foreach (var t in new[] { "1", "2", "4", "0" }) Assert.Contains(t, fig6);
        Assert.DoesNotContain("1.5", fig6);
        Assert.DoesNotContain("3", fig6);
        var t3 = Texts(Path.Combine(dir, "table3-interrupts.svg"));
        Assert.Contains("paper", t3);
        Assert.Contains("LVD#", t3);
        Assert.Contains("971", t3);   // value labels on the bars
        Assert.Contains("1,060", t3);
        var f8 = Texts(Path.Combine(dir, "figure8-ixgbe-rx.svg"));
        foreach (var t in new[] { "60", "512", "1514", "LVD# isolated", "10 Gb/s line rate" }) Assert.Contains(t, f8);
    }
}
