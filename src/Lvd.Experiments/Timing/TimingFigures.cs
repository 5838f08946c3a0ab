using Lvd.Experiments.Bench;
using Lvd.Experiments.Domains;
using Lvd.Machine.Cost;

namespace Lvd.Experiments.Timing;

/// <summary>One of the paper's figures under the cpi1 and haswell profiles.</summary>
public sealed record ProfileFigure(string Name, long Cpi1, long Haswell, double Paper);

/// <summary>`lvd bench timing` (c): Tables 1 and 3, SYSCALL, and one point of Figures 6 and 9 under both profiles.</summary>
public static class TimingFigures
{
    public static List<ProfileFigure> Run()
    {
        var cc = Lvd.Toolchain.GuestCompiler.Locate();
        var images = new LvdBoot.Images(cc);
        var profiles = new[] { CostModel.Named("cpi1"), CostModel.Named("haswell") };
        var values = new Dictionary<string, long>[2];
        Parallel.For(0, 2, p =>
        {
            var o = new LvdEvaluation.Options { Costs = profiles[p], Threads = [1] };
            var v = new Dictionary<string, long>();
            var plan = LvdEvaluation.Plan(o).Where(j => j.Key is "call" or "irq-native" or "irq-lvd" or "nullnet-native-1" or "nullnet-1x-1"
                or "nullblk-native-1-1" or "nullblk-iso-1-1");
            foreach (var job in plan)
            {
                var r = LvdEvaluation.RunJob(job, o, images);
                foreach (var (k, x) in r.Values) v[$"{job.Key}/{k}"] = x;
                if (r.Workload is { } w) v[$"{job.Key}/per-op"] = w.CyclesPerOperation;
            }
            var micro = MicroBenchmark.Run(cc, profiles[p]);
            foreach (var row in micro.Rows) v[$"micro/{row.Name}"] = row.Cycles;
            values[p] = v;
        });
        var list = new List<ProfileFigure>();
        void Add(string name, string key, double paper)
        {
            if (values[0].TryGetValue(key, out long a) && values[1].TryGetValue(key, out long b)) list.Add(new ProfileFigure(name, a, b, paper));
        }
        Add("Table 1: call/reply round trip", "call/call", LvdEvaluation.Paper.CallReply);
        Add("Table 1: SYSCALL+SYSRET", "micro/syscall_native", 140);
        Add("Table 3: interrupt, native (LVD kernel)", "irq-native/kernel-native", LvdEvaluation.Paper.IrqNativeLvdKernel);
        Add("Table 3: interrupt, virtualized, in the kernel", "irq-lvd/kernel-virtualized", LvdEvaluation.Paper.IrqVirtualizedInKernel);
        Add("Table 3: interrupt inside a domain", "irq-lvd/domain", LvdEvaluation.Paper.IrqInDomain);
        Add("Figure 6: nullnet native, cycles per packet", "nullnet-native-1/per-op", 2600e6 / LvdEvaluation.Paper.NullnetNativePps);
        Add("Figure 6: nullnet 1 crossing, cycles per packet", "nullnet-1x-1/per-op",
            2600e6 / (LvdEvaluation.Paper.NullnetNativePps * LvdEvaluation.Paper.NullnetOneCrossingPct / 100));
        Add("Figure 9: nullblk native depth 1, cycles per I/O", "nullblk-native-1-1/per-op", 2600e6 / LvdEvaluation.Paper.NullblkQd1Native);
        Add("Figure 9: nullblk isolated depth 1, cycles per I/O", "nullblk-iso-1-1/per-op", 2600e6 / LvdEvaluation.Paper.NullblkQd1Isolated);
        return list;
    }
}
