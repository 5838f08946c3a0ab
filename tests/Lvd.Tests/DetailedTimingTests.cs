using System.Text.Json;
using Lvd.Machine.Cost;

namespace Lvd.Tests;

/// <summary>
/// `--timing detailed` (docs/COST-MODEL.md, Detailed timing): the caches' LRU sets, the branch predictor's
/// learning, the cost file's penalties charged, and runs that stay deterministic.
/// </summary>
public sealed class DetailedTimingTests
{
    [Fact]
    public void ACacheSetKeepsItsWaysAndEvictsTheLeastRecentlyUsedLine()
    {
        var c = new CacheLevel(8 * 64 * 4, 4);       // 4 ways, 8 sets of 64-byte lines
        ulong Line(int set, int tag) => (ulong)(tag * 8 + set) * 64;
        for (int t = 0; t < 4; t++) Assert.False(c.Access(Line(3, t)));
        for (int t = 0; t < 4; t++) Assert.True(c.Access(Line(3, t) + 17));   // any byte of the line
        Assert.True(c.Access(Line(3, 0)));           // tag 1 is now the least recent
        Assert.False(c.Access(Line(3, 9)));          // evicts tag 1
        Assert.False(c.Access(Line(3, 1)));
        Assert.True(c.Access(Line(3, 0)));
        Assert.True(c.Access(Line(2, 1)) == false && c.Access(Line(2, 1)));    // other sets are independent
    }

    [Fact]
    public void TheHierarchyChargesTheLevelThatHasTheLine()
    {
        var costs = CostModel.Default;
        var llc = DataCaches.NewSharedLlc();
        var a = new DataCaches(llc, costs);
        var b = new DataCaches(llc, costs);
        Assert.Equal(costs.Dram, a.Load(0x10000));
        Assert.Equal(0, a.Load(0x10008));            // same line: L1
        Assert.Equal(costs.LlcHit, b.Load(0x10000)); // the other vCPU finds it in the shared LLC
        // 64 KiB later every line of a's L1 (32 KiB) has been replaced: L2.
        for (ulong pa = 0x100000; pa < 0x110000; pa += 64) a.Load(pa);
        Assert.Equal(costs.L2Hit, a.Load(0x10000));
        a.Store(0x900000);
        Assert.Equal(0, a.Load(0x900000));           // write-allocate
    }

    [Fact]
    public void ThePredictorLearnsLoopsPatternsReturnsAndIndirectTargets()
    {
        var p = new BranchPredictor(CostModel.Default);
        int late = 0;
        for (int i = 0; i < 2000; i++)
        {
            int extra = p.Conditional(0x401000, taken: i % 4 != 3);   // a loop of 4: taken, taken, taken, exit
            if (i >= 1000) late += extra;
        }
        Assert.Equal(0, late);                       // the global history learns the pattern
        p.Call(0x401234);
        p.Call(0x402000);
        Assert.Equal(0, p.Return(0x402000));
        Assert.Equal(0, p.Return(0x401234));
        Assert.Equal(CostModel.Default.BranchMispredict, p.Return(0x401234));   // the stack is empty
        Assert.Equal(CostModel.Default.BranchMispredict, p.Indirect(0x403000, 0x500000));
        Assert.Equal(0, p.Indirect(0x403000, 0x500000));
        Assert.Equal(CostModel.Default.BranchMispredict, p.Indirect(0x403000, 0x600000));
    }

    private const string Strided = """
        #include <stdio.h>
        #include <stdlib.h>
        int main(int argc, char **argv)
        {
            // A pointer chase through 4 MiB: every load misses L1 and L2 (the LLC holds it after the first pass).
            unsigned long n = (4u << 20) / 64, *a = malloc(n * 64);
            for (unsigned long i = 0; i < n; i++) a[i * 8] = ((i + 4099) % n) * 8;   // one cycle through every line
            unsigned long p = 0, sum = 0;
            for (int r = 0; r < 3; r++) for (unsigned long i = 0; i < n; i++) { p = a[p]; sum += p; }
            printf("%lu\n", sum);
            return 0;
        }
        """;

    [Fact]
    public void DetailedRunsChargeCacheMissesAndMispredictsAndStayDeterministic()
    {
        string elf = Guest.BuildSource("detailed_chase", Strided, "-O2");
        string dir = Guest.TempDir("detailed");
        JsonElement Stats(string name, params string[] extra)
        {
            string path = Path.Combine(dir, name);
            var r = CliTests.Lvd(["exec", elf, "--stats-json", path, .. extra]);
            Assert.Equal(0, r.Status);
            return JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        }
        var basic = Stats("basic.json");
        var d1 = Stats("d1.json", "--timing", "detailed");
        var d2 = Stats("d2.json", "--timing", "detailed");
        Assert.Equal(d1.GetProperty("cycles").GetInt64(), d2.GetProperty("cycles").GetInt64());
        Assert.Equal(basic.GetProperty("instructions").GetInt64(), d1.GetProperty("instructions").GetInt64());
        var t = d1.GetProperty("detailed_timing");
        long l2Misses = t.GetProperty("l2_misses").GetInt64();
        Assert.True(l2Misses > 3 * 65536 * 9 / 10, $"{l2Misses} L2 misses for 3 x 65,536 chased lines");
        long extra = d1.GetProperty("cycles").GetInt64() - basic.GetProperty("cycles").GetInt64();
        // At least the LLC latency for each chased load that missed L2, at most DRAM's for all and the mispredicts.
        var costs = CostModel.Default;
        Assert.True(extra >= (long)(0.9 * 3 * 65536) * costs.LlcHit, $"{extra} extra cycles");
        Assert.True(extra <= l2Misses * costs.Dram + t.GetProperty("l1_misses").GetInt64() * costs.L2Hit
            + t.GetProperty("mispredicts").GetInt64() * costs.BranchMispredict, $"{extra} extra cycles");
        Assert.False(basic.TryGetProperty("detailed_timing", out _));
        // Several vCPUs share the LLC; the kernel with an isolated driver under the hypervisor runs its workload.
        var boot = CliTests.Lvd("boot", "--cpus", "4", "--isolate", "nullnet", "--workload", "nullnet", "--costs", "haswell", "--timing", "detailed");
        Assert.True(boot.Status == 0, boot.Stderr);
        Assert.Contains("result: workload=nullnet", boot.Stdout);
        var bad = CliTests.Lvd("exec", elf, "--timing", "fast");
        Assert.Equal(2, bad.Status);
        Assert.Contains("--timing fast: basic or detailed", bad.Stderr);
    }
}
