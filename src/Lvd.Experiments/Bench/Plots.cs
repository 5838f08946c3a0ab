using ScottPlot;

namespace Lvd.Experiments.Bench;

/// <summary>PNG plots of the LVD evaluation (ScottPlot).</summary>
internal static class Plots
{
    private const int Width = 900, Height = 520;

    public static string Nullnet(string path, Dictionary<string, LvdEvaluation.JobResult> r, LvdEvaluation.Options o)
    {
        var plt = new Plot();
        double[] xs = o.Threads.Select(t => (double)t).ToArray();
        foreach (var (key, label) in new[] { ("native", "native"), ("1x", "isolated, 1 crossing/packet"), ("2x", "isolated, 2 crossings/packet") })
        {
            double[] ys = o.Threads.Select(t => r[$"nullnet-{key}-{t}"].Workload!.PerSecond / 1000.0).ToArray();
            var s = plt.Add.Scatter(xs, ys);
            s.LegendText = label;
        }
        plt.Title("LVD# Figure 6: nullnet (1472-byte UDP sends)");
        plt.XLabel("sending threads");
        plt.YLabel("thousand packets/s (modeled)");
        plt.ShowLegend(Alignment.UpperLeft);
        plt.Axes.SetLimitsY(0, double.NaN);
        plt.SavePng(path, Width, Height);
        return path;
    }

    public static string Nullblk(string path, Dictionary<string, LvdEvaluation.JobResult> r, LvdEvaluation.Options o)
    {
        var plt = new Plot();
        double[] xs = o.Threads.Select(t => (double)t).ToArray();
        foreach (int depth in new[] { 1, 16 })
            foreach (var (key, label) in new[] { ("native", "native"), ("iso", "isolated") })
            {
                double[] ys = o.Threads.Select(t => r[$"nullblk-{key}-{depth}-{t}"].Workload!.PerSecond / 1000.0).ToArray();
                var s = plt.Add.Scatter(xs, ys);
                s.LegendText = $"{label}, depth {depth}";
            }
        plt.Title("LVD# Figure 9: nullblk (random 512-byte reads)");
        plt.XLabel("threads");
        plt.YLabel("thousand IOPS (modeled)");
        plt.ShowLegend(Alignment.UpperLeft);
        plt.SavePng(path, Width, Height);
        return path;
    }

    public static string Interrupts(string path, Dictionary<string, LvdEvaluation.JobResult> r)
    {
        var plt = new Plot();
        double[] ours = [r["irq-native"].Values["kernel-native"], r["irq-lvd"].Values["kernel-virtualized"], r["irq-lvd"].Values["domain"]];
        double[] paper = [LvdEvaluation.Paper.IrqNativeLvdKernel, LvdEvaluation.Paper.IrqVirtualizedInKernel, LvdEvaluation.Paper.IrqInDomain];
        string[] names = ["native", "virtualized, in kernel", "inside a domain"];
        for (int i = 0; i < 3; i++)
        {
            var a = plt.Add.Bar(i * 3 + 0, ours[i]);
            a.Color = Colors.SteelBlue;
            var b = plt.Add.Bar(i * 3 + 1, paper[i]);
            b.Color = Colors.Gray;
        }
        plt.Axes.Bottom.SetTicks([0.5, 3.5, 6.5], names);
        plt.Title("LVD# Table 3: one interrupt (blue: LVD#, gray: paper)");
        plt.YLabel("modeled cycles");
        plt.Axes.SetLimitsY(0, 1200);
        plt.SavePng(path, Width, Height);
        return path;
    }
}
