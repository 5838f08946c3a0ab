using ScottPlot;

namespace Lvd.Experiments.Bench;

/// <summary>
/// Plots of the LVD evaluation (ScottPlot), each as PNG and SVG, drawn as a reader of the paper
/// expects: thread counts as integer ticks, the paper's values beside ours (dashed or gray),
/// absolute rates and % of native, legends, labelled bars.
/// </summary>
public static class Plots
{
    private const int Width = 900, Height = 520;

    /// <summary>Colors of LVD#'s series and of the paper's.</summary>
    private static readonly Color Ours = Colors.SteelBlue, Paper = Colors.Gray;

    private static readonly Color[] SeriesColors = [Colors.Black, Colors.SteelBlue, Colors.DarkOrange, Colors.SeaGreen, Colors.Crimson];

    /// <summary>Saves base.png and base.svg.</summary>
    private static IEnumerable<string> Save(Plot plt, string basePath)
    {
        plt.SavePng(basePath + ".png", Width, Height);
        plt.SaveSvg(basePath + ".svg", Width, Height);
        return [basePath + ".png", basePath + ".svg"];
    }

    /// <summary>Ticks at the thread counts measured, as integers.</summary>
    public static void ThreadTicks(Plot plt, IReadOnlyList<int> threads)
    {
        plt.Axes.Bottom.SetTicks(threads.Select(t => (double)t).ToArray(), threads.Select(t => t.ToString()).ToArray());
        plt.Axes.SetLimitsX(threads[0] - 0.5, threads[^1] + 0.5);
    }

    /// <summary>The frame of a figure over thread counts: title, axis labels, integer thread ticks, legend, y from 0; saved.</summary>
    private static IEnumerable<string> ThreadFigure(Plot plt, string basePath, IReadOnlyList<int> threads, string title,
        string xLabel, string yLabel, Alignment legend, double yTop)
    {
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        ThreadTicks(plt, threads);
        plt.ShowLegend(legend);
        plt.Axes.SetLimitsY(0, yTop);
        return Save(plt, basePath);
    }

    private static void Line(Plot plt, double[] xs, double[] ys, string label, Color color, bool dashed = false)
    {
        var s = plt.Add.Scatter(xs, ys);
        s.LegendText = label;
        s.Color = color;
        s.MarkerSize = 7;
        s.LineWidth = 2;
        if (dashed) s.LinePattern = LinePattern.Dashed;
    }

    /// <summary>A paper value at one thread count: a hollow marker of the series' color.</summary>
    private static void PaperPoint(Plot plt, double x, double y, string label, Color color)
    {
        var m = plt.Add.Marker(x, y, MarkerShape.OpenDiamond, 12, color);
        m.LegendText = label;
    }

    public static IEnumerable<string> Nullnet(string basePath, Dictionary<string, LvdEvaluation.JobResult> r, LvdEvaluation.Options o)
    {
        var plt = new Plot();
        double[] xs = o.Threads.Select(t => (double)t).ToArray();
        var series = new[] { ("native", "LVD# native"), ("1x", "LVD# isolated, 1 crossing/packet"), ("2x", "LVD# isolated, 2 crossings/packet") };
        for (int i = 0; i < series.Length; i++)
        {
            var (key, label) = series[i];
            Line(plt, xs, o.Threads.Select(t => r[$"nullnet-{key}-{t}"].Workload!.PerSecond / 1000.0).ToArray(), label, SeriesColors[i]);
        }
        double paperNative = LvdEvaluation.Paper.NullnetNativePps / 1000;
        double top = Math.Max(paperNative, o.Threads.Max(t => r[$"nullnet-native-{t}"].Workload!.PerSecond / 1000.0));
        PaperPoint(plt, 1, paperNative, "paper native (1 thread)", SeriesColors[0]);
        PaperPoint(plt, 1, paperNative * LvdEvaluation.Paper.NullnetOneCrossingPct / 100, "paper 1 crossing (1 thread)", SeriesColors[1]);
        PaperPoint(plt, 1, paperNative * LvdEvaluation.Paper.NullnetTwoCrossingsPct / 100, "paper 2 crossings (1 thread)", SeriesColors[2]);
        return ThreadFigure(plt, basePath, o.Threads, "Figure 6: nullnet, 1472-byte UDP sends (LVD#: lines; paper: diamonds)",
            "sending threads", "thousand packets/s (modeled)", Alignment.UpperLeft, top * 1.25);
    }

    public static IEnumerable<string> NullnetPercent(string basePath, Dictionary<string, LvdEvaluation.JobResult> r, LvdEvaluation.Options o)
    {
        var plt = new Plot();
        double[] xs = o.Threads.Select(t => (double)t).ToArray();
        double Pct(string key, int t) => 100.0 * r[$"nullnet-{key}-{t}"].Workload!.PerSecond / r[$"nullnet-native-{t}"].Workload!.PerSecond;
        Line(plt, xs, o.Threads.Select(t => Pct("1x", t)).ToArray(), "LVD# 1 crossing/packet", SeriesColors[1]);
        Line(plt, xs, o.Threads.Select(t => Pct("2x", t)).ToArray(), "LVD# 2 crossings/packet", SeriesColors[2]);
        PaperPoint(plt, 1, LvdEvaluation.Paper.NullnetOneCrossingPct, "paper 1 crossing (1 thread)", SeriesColors[1]);
        PaperPoint(plt, 1, LvdEvaluation.Paper.NullnetTwoCrossingsPct, "paper 2 crossings (1 thread)", SeriesColors[2]);
        plt.Add.HorizontalLine(100, 1, Colors.Black, LinePattern.Dotted);
        return ThreadFigure(plt, basePath, o.Threads, "Figure 6: nullnet isolated, % of native (LVD#: lines; paper: diamonds)",
            "sending threads", "% of native packets/s", Alignment.LowerLeft, 120);
    }

    public static IEnumerable<string> Nullblk(string basePath, Dictionary<string, LvdEvaluation.JobResult> r, LvdEvaluation.Options o)
    {
        var plt = new Plot();
        double[] xs = o.Threads.Select(t => (double)t).ToArray();
        int i = 0;
        foreach (int depth in new[] { 1, 16 })
            foreach (var (key, label) in new[] { ("native", "native"), ("iso", "isolated") })
                Line(plt, xs, o.Threads.Select(t => r[$"nullblk-{key}-{depth}-{t}"].Workload!.PerSecond / 1000.0).ToArray(),
                    $"LVD# {label}, depth {depth}", SeriesColors[i++ % SeriesColors.Length], dashed: key == "iso");
        PaperPoint(plt, 1, LvdEvaluation.Paper.NullblkQd1Native / 1000, "paper native, depth 1", SeriesColors[0]);
        PaperPoint(plt, 1, LvdEvaluation.Paper.NullblkQd1Isolated / 1000, "paper isolated, depth 1", SeriesColors[1]);
        PaperPoint(plt, 1, LvdEvaluation.Paper.NullblkQd16Native / 1000, "paper native, depth 16", SeriesColors[2]);
        PaperPoint(plt, 1, LvdEvaluation.Paper.NullblkQd16Isolated / 1000, "paper isolated, depth 16", SeriesColors[3]);
        double top = Math.Max(LvdEvaluation.Paper.NullblkQd16Native / 1000,
            r.Values.Where(x => x.Job.Key.StartsWith("nullblk-")).Max(x => x.Workload!.PerSecond / 1000.0));
        return ThreadFigure(plt, basePath, o.Threads, "Figure 9: nullblk, random 512-byte reads (LVD#: lines; paper: diamonds)",
            "threads", "thousand IOPS (modeled)", Alignment.UpperLeft, top * 1.25);
    }

    public static IEnumerable<string> NullblkPercent(string basePath, Dictionary<string, LvdEvaluation.JobResult> r, LvdEvaluation.Options o)
    {
        var plt = new Plot();
        double[] xs = o.Threads.Select(t => (double)t).ToArray();
        int i = 1;
        foreach (int depth in new[] { 1, 16 })
            Line(plt, xs, o.Threads.Select(t =>
                100.0 * r[$"nullblk-iso-{depth}-{t}"].Workload!.PerSecond / r[$"nullblk-native-{depth}-{t}"].Workload!.PerSecond).ToArray(),
                $"LVD# isolated, depth {depth}", SeriesColors[i++]);
        PaperPoint(plt, 1, 100 * LvdEvaluation.Paper.NullblkQd1Isolated / LvdEvaluation.Paper.NullblkQd1Native, "paper, depth 1", SeriesColors[1]);
        PaperPoint(plt, 1, 100 * LvdEvaluation.Paper.NullblkQd16Isolated / LvdEvaluation.Paper.NullblkQd16Native, "paper, depth 16", SeriesColors[2]);
        plt.Add.HorizontalLine(100, 1, Colors.Black, LinePattern.Dotted);
        return ThreadFigure(plt, basePath, o.Threads, "Figure 9: nullblk isolated, % of native (LVD#: lines; paper: diamonds)",
            "threads", "% of native IOPS", Alignment.LowerLeft, 120);
    }

    /// <summary>Thousand frames/s of <paramref name="bytes"/> at 10 Gb/s in modeled time (the NIC model's pacing).</summary>
    private static double LineRate(int bytes, LvdEvaluation.Options o) =>
        o.Costs.ClockHz / (double)Lvd.Machine.Devices.Nic.Ixgbe82599.WireCycles(bytes, o.Costs.ClockHz) / 1000;

    public static IEnumerable<string> IxgbeTx(string basePath, Dictionary<string, LvdEvaluation.JobResult> r, LvdEvaluation.Options o)
    {
        var plt = new Plot();
        double[] xs = o.Threads.Select(t => (double)t).ToArray();
        double Rate(string key, int t) => r[$"ixgbe-tx-{key}-{t}"].Workload!.PerSecond / 1000.0;
        Line(plt, xs, o.Threads.Select(t => Rate("native", t)).ToArray(), "LVD# native", SeriesColors[0]);
        Line(plt, xs, o.Threads.Select(t => Rate("iso", t)).ToArray(), "LVD# isolated", SeriesColors[1]);
        PaperPoint(plt, 1, Rate("native", o.Threads[0]) * LvdEvaluation.Paper.IxgbeTxOneThreadPct / 100,
            "paper isolated (1 thread, % of our native)", SeriesColors[1]);
        double line = LineRate(1514, o);
        plt.Add.HorizontalLine(line, 1, Colors.Gray, LinePattern.Dotted);
        double top = o.Threads.Max(t => Math.Max(Rate("native", t), Rate("iso", t)));
        return ThreadFigure(plt, basePath, o.Threads, "Figure 7: ixgbe transmit, 1472-byte UDP sends (dotted: 10 Gb/s)",
            "sending threads", "thousand packets/s (modeled)", Alignment.LowerRight, Math.Max(top, line) * 1.25);
    }

    /// <summary>Figure 8 over frame sizes: datagrams/s received, native and isolated, and the line rate.</summary>
    public static IEnumerable<string> IxgbeRx(string basePath, Dictionary<string, LvdEvaluation.JobResult> r, LvdEvaluation.Options o)
    {
        var plt = new Plot();
        double[] xs = Enumerable.Range(0, o.FrameSizes.Length).Select(i => (double)i).ToArray();
        double Rate(string key, int size) => r[$"ixgbe-rx-{key}-{size}"].Workload!.PerSecond / 1000.0;
        Line(plt, xs, o.FrameSizes.Select(s => Rate("native", s)).ToArray(), "LVD# native", SeriesColors[0]);
        Line(plt, xs, o.FrameSizes.Select(s => Rate("iso", s)).ToArray(), "LVD# isolated", SeriesColors[1]);
        Line(plt, xs, o.FrameSizes.Select(s => LineRate(s, o)).ToArray(), "10 Gb/s line rate", Paper, dashed: true);
        plt.Axes.Bottom.SetTicks(xs, o.FrameSizes.Select(s => s.ToString()).ToArray());
        plt.Axes.SetLimitsX(-0.5, o.FrameSizes.Length - 0.5);
        plt.Title("Figure 8: ixgbe receive, 1 vCPU polling (paper: isolated within 1-11% of native)");
        plt.XLabel("frame bytes (without CRC)");
        plt.YLabel("thousand datagrams/s (modeled)");
        plt.ShowLegend(Alignment.UpperRight);
        double top = o.FrameSizes.Max(s => Math.Max(Rate("native", s), Rate("iso", s)));
        plt.Axes.SetLimitsY(0, top * 1.25);
        return Save(plt, basePath);
    }

    /// <summary>Grouped bars, LVD# beside the paper, each labelled with its value, and a legend.</summary>
    private static Plot PairedBars(string title, string yLabel, string[] names, double[] ours, double?[] paper)
    {
        var plt = new Plot();
        var bars = new List<Bar>();
        for (int i = 0; i < names.Length; i++)
        {
            bars.Add(new Bar { Position = i * 3, Value = ours[i], FillColor = Ours, Label = ours[i].ToString("#,0") });
            if (paper[i] is double p) bars.Add(new Bar { Position = i * 3 + 1, Value = p, FillColor = Paper, Label = p.ToString("#,0") });
        }
        var plot = plt.Add.Bars(bars);
        plot.ValueLabelStyle.FontSize = 13;
        plt.Axes.Bottom.SetTicks(names.Select((_, i) => i * 3 + 0.5).ToArray(), names);
        plt.Legend.ManualItems.Add(new LegendItem { LabelText = "LVD#", FillColor = Ours });
        plt.Legend.ManualItems.Add(new LegendItem { LabelText = "paper", FillColor = Paper });
        plt.ShowLegend(Alignment.UpperLeft);
        plt.Title(title);
        plt.YLabel(yLabel);
        double max = Math.Max(ours.Max(), paper.Max(p => p ?? 0));
        plt.Axes.SetLimitsY(0, max * 1.2);
        return plt;
    }

    public static IEnumerable<string> CallReply(string basePath, Dictionary<string, LvdEvaluation.JobResult> r, LvdEvaluation.Options o) =>
        Save(PairedBars("Table 1: cross-domain call/reply", "modeled cycles",
            ["VMFUNC", "call/reply round trip"],
            [o.Costs.Vmfunc, r["call"].Values["call"]],
            [LvdEvaluation.Paper.Vmfunc, LvdEvaluation.Paper.CallReply]), basePath);

    public static IEnumerable<string> Interrupts(string basePath, Dictionary<string, LvdEvaluation.JobResult> r) =>
        Save(PairedBars("Table 3: cost of one interrupt", "modeled cycles",
            ["native", "virtualized, in the kernel", "inside a domain"],
            [r["irq-native"].Values["kernel-native"], r["irq-lvd"].Values["kernel-virtualized"], r["irq-lvd"].Values["domain"]],
            [LvdEvaluation.Paper.IrqNativeLvdKernel, LvdEvaluation.Paper.IrqVirtualizedInKernel, LvdEvaluation.Paper.IrqInDomain]), basePath);

    /// <summary>
    /// Table 4 as crossings per VM exit of one run (log scale would hide the point): our runs are
    /// milliseconds of modeled time and the paper's minutes, so absolute counts do not compare,
    /// the ratio does.
    /// </summary>
    public static IEnumerable<string> Crossings(string basePath, Dictionary<string, LvdEvaluation.JobResult> r)
    {
        var n1 = r["nullnet-1x-1"];
        var b1 = r["nullblk-iso-1-1"];
        double Ratio(long calls, long exits) => exits == 0 ? calls : (double)calls / exits;
        return Save(PairedBars("Table 4: domain crossings per VM exit in one run", "crossings per VM exit",
            ["nullnet, 1 crossing, 1 thread", "nullblk, depth 1, 1 thread"],
            [Math.Round(Ratio(n1.Workload!.DomainCalls, n1.Values["exits"]), 1), Math.Round(Ratio(b1.Workload!.DomainCalls, b1.Values["exits"]), 1)],
            [Math.Round(LvdEvaluation.Paper.NullnetCrossings / LvdEvaluation.Paper.NullnetExits),
                Math.Round(LvdEvaluation.Paper.NullblkCrossings / LvdEvaluation.Paper.NullblkExits)]), basePath);
    }
}
